#include "codec/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "util/budget.h"

namespace hugeblob {
namespace {

Buffer RandomBuffer(size_t n, uint64_t seed) {
  Buffer b = Buffer::Allocate(n);
  uint64_t x = seed | 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b.mutable_data()[i] = static_cast<uint8_t>(x >> 32);
  }
  return b;
}

// Text-like data: words from a small vocabulary, compresses several-fold.
Buffer CompressibleBuffer(size_t n, uint64_t seed) {
  static const char* kWords[] = {"chunk ", "pack ",     "frame ", "index ", "manifest ",
                                 "store ", "hugeblob ", "zstd ",  "lz4\n",  "0123456789 "};
  std::string s;
  uint64_t x = seed | 1;
  while (s.size() < n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s += kWords[x % 10];
  }
  s.resize(n);
  return Buffer::Copy(std::string_view(s));
}

struct CodecLevel {
  Codec codec;
  int level;
};
const CodecLevel kCompressors[] = {
    {Codec::kZstd, 1},  {Codec::kZstd, 3}, {Codec::kZstd, 19},
    {Codec::kZstd, -5}, {Codec::kLz4, 0},  {Codec::kLz4, 9},
};

std::vector<uint8_t> Decode(const Frame& f, size_t size) {
  std::vector<uint8_t> out(size);
  auto s = DecodeFrame(f.codec, f.bytes.span(), out);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return out;
}

bool SameBytes(const std::vector<uint8_t>& a, const Buffer& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

TEST(CodecTest, NamesRoundTrip) {
  for (Codec c : {Codec::kNone, Codec::kZstd, Codec::kLz4}) {
    auto parsed = ParseCodec(CodecName(c));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c);
    EXPECT_TRUE(IsValidCodec(static_cast<uint8_t>(c)));
  }
  EXPECT_FALSE(IsValidCodec(3));
  EXPECT_FALSE(IsValidCodec(255));
  auto bad = ParseCodec("gzip");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(DefaultLevel(Codec::kZstd), 3);
}

TEST(CodecTest, CompressibleRoundTrip) {
  for (size_t size : {size_t{64}, size_t{4096}, size_t{256 << 10}, size_t{1 << 20}}) {
    Buffer chunk = CompressibleBuffer(size, size);
    for (auto [codec, level] : kCompressors) {
      auto f = EncodeFrame(codec, level, chunk);
      ASSERT_TRUE(f);
      if (size >= 4096) {
        EXPECT_EQ(f->codec, codec) << CodecName(codec) << " " << level << " size " << size;
        EXPECT_LT(f->bytes.size(), size / 2);
      }
      EXPECT_TRUE(SameBytes(Decode(*f, size), chunk)) << CodecName(codec) << " " << level;
    }
  }
}

TEST(CodecTest, ZstdFrameIsStandard) {
  // A standard frame records its content size, which `zstd -d` and
  // ZstdDecompress rely on.
  Buffer chunk = CompressibleBuffer(100000, 5);
  auto f = EncodeFrame(Codec::kZstd, 3, chunk);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->codec, Codec::kZstd);
  auto whole = ZstdDecompress(f->bytes.span(), 100000);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->view(), chunk.view());
}

TEST(CodecTest, IncompressibleFallsBackToNoneSharingInput) {
  Buffer chunk = RandomBuffer(256 << 10, 7);
  for (auto [codec, level] : kCompressors) {
    auto f = EncodeFrame(codec, level, chunk);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->codec, Codec::kNone) << CodecName(codec) << " " << level;
    EXPECT_EQ(f->bytes.data(), chunk.data()) << "not shared";
    EXPECT_EQ(f->bytes.size(), chunk.size());
    EXPECT_TRUE(SameBytes(Decode(*f, chunk.size()), chunk));
  }
}

// Random bytes are recognised from a sample and not compressed at all
// (EncodeFrameInto writes nothing); a chunk that is random in part is
// compressed, since the sample spans the whole chunk.
TEST(CodecTest, SampleSkipsRandomButNotPartlyCompressibleChunks) {
  std::vector<uint8_t> dst(FrameBound(Codec::kZstd, 256 << 10));
  Buffer random = RandomBuffer(256 << 10, 11);
  std::fill(dst.begin(), dst.end(), 0xEE);
  auto r = EncodeFrameInto(Codec::kZstd, 1, random.span(), dst);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->codec, Codec::kNone);
  EXPECT_EQ(dst[0], 0xEE) << "the compressor ran";

  for (size_t compressible : {size_t{32} << 10, size_t{128} << 10, size_t{224} << 10}) {
    Buffer mixed = Buffer::Allocate(256 << 10);
    std::memcpy(mixed.mutable_data(), random.data(), mixed.size() - compressible);
    Buffer text = CompressibleBuffer(compressible, 5);
    std::memcpy(mixed.mutable_data() + mixed.size() - compressible, text.data(), compressible);
    for (auto [codec, level] : kCompressors) {
      auto f = EncodeFrame(codec, level, mixed);
      ASSERT_TRUE(f);
      EXPECT_NE(f->codec, Codec::kNone) << CodecName(codec) << " " << level << " " << compressible;
      EXPECT_TRUE(SameBytes(Decode(*f, mixed.size()), mixed));
    }
  }
}

TEST(CodecTest, NoneSharesInput) {
  Buffer chunk = CompressibleBuffer(10000, 1);
  auto f = EncodeFrame(Codec::kNone, 0, chunk);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->codec, Codec::kNone);
  EXPECT_EQ(f->bytes.data(), chunk.data());
}

TEST(CodecTest, EmptyAndTinyChunks) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{2}, size_t{63}}) {
    Buffer chunk = CompressibleBuffer(size, 3);
    for (auto [codec, level] : kCompressors) {
      auto f = EncodeFrame(codec, level, chunk);
      ASSERT_TRUE(f);
      // Below 64 bytes a frame header would eat any saving.
      EXPECT_EQ(f->codec, Codec::kNone);
      EXPECT_TRUE(SameBytes(Decode(*f, size), chunk));
    }
  }
}

TEST(CodecTest, AllZeroChunkCompresses) {
  Buffer chunk = Buffer::Zeros(1 << 20);
  for (auto [codec, level] : kCompressors) {
    auto f = EncodeFrame(codec, level, chunk);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->codec, codec);
    EXPECT_LT(f->bytes.size(), 8192u);
    EXPECT_TRUE(SameBytes(Decode(*f, chunk.size()), chunk));
  }
}

TEST(CodecTest, OutputAccountedToBudget) {
  auto budget = MemoryBudget::Create(64 << 20);
  Buffer chunk = CompressibleBuffer(1 << 20, 9);
  {
    auto f = EncodeFrame(Codec::kZstd, 3, chunk, budget.get());
    ASSERT_TRUE(f);
    ASSERT_EQ(f->codec, Codec::kZstd);
    EXPECT_GT(budget->used(), 0u);
    // The worst-case bound is not kept once the frame is truncated to fit.
    EXPECT_LT(budget->used(), chunk.size());
  }
  EXPECT_EQ(budget->used(), 0u);
  {
    auto f = EncodeFrame(Codec::kLz4, 0, RandomBuffer(1 << 20, 1), budget.get());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->codec, Codec::kNone);
  }
  EXPECT_EQ(budget->used(), 0u);  // the discarded attempt is returned
}

// ----------------------------------------------------------------- decoding bad frames

void ExpectCorruption(Codec codec, std::span<const uint8_t> frame, size_t out_size,
                      const std::string& what) {
  std::vector<uint8_t> out(out_size);
  auto s = DecodeFrame(codec, frame, out);
  ASSERT_FALSE(s) << CodecName(codec) << ": " << what;
  EXPECT_EQ(s.error().code(), ErrorCode::kCorruption) << what;
  EXPECT_FALSE(s.error().message().empty());
}

TEST(CodecTest, DecodeRejectsWrongOutputSize) {
  const size_t size = 100000;
  Buffer chunk = CompressibleBuffer(size, 11);
  for (auto [codec, level] : kCompressors) {
    auto f = EncodeFrame(codec, level, chunk);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->codec, codec);
    ExpectCorruption(codec, f->bytes.span(), size - 1, "one byte short");
    ExpectCorruption(codec, f->bytes.span(), size + 1, "one byte long");
    ExpectCorruption(codec, f->bytes.span(), 0, "empty output");
    ExpectCorruption(codec, f->bytes.span(), size * 2, "twice the size");
  }
  ExpectCorruption(Codec::kNone, chunk.span(), size - 1, "raw, short");
  ExpectCorruption(Codec::kNone, chunk.span(), size + 1, "raw, long");
}

TEST(CodecTest, DecodeRejectsTruncatedFrames) {
  const size_t size = 100000;
  Buffer chunk = CompressibleBuffer(size, 12);
  for (auto [codec, level] : kCompressors) {
    auto f = EncodeFrame(codec, level, chunk);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->codec, codec);
    const size_t n = f->bytes.size();
    for (size_t keep : {size_t{0}, size_t{1}, size_t{4}, n / 2, n - 1}) {
      ExpectCorruption(codec, f->bytes.span().first(keep), size,
                       "truncated to " + std::to_string(keep) + " of " + std::to_string(n));
    }
  }
}

TEST(CodecTest, DecodeRejectsGarbage) {
  Buffer garbage = RandomBuffer(5000, 99);
  ExpectCorruption(Codec::kZstd, garbage.span(), 100000, "random bytes as zstd");
  ExpectCorruption(Codec::kLz4, garbage.span(), 100000, "random bytes as lz4");
  ExpectCorruption(static_cast<Codec>(9), garbage.span(), 5000, "unknown codec");

  // A damaged zstd magic number or frame header.
  Buffer chunk = CompressibleBuffer(100000, 13);
  auto f = EncodeFrame(Codec::kZstd, 3, chunk);
  ASSERT_TRUE(f);
  std::vector<uint8_t> bad(f->bytes.data(), f->bytes.data() + f->bytes.size());
  bad[0] ^= 0xFF;
  ExpectCorruption(Codec::kZstd, bad, 100000, "bad magic");

  // A frame followed by trailing bytes decodes to more than expected.
  std::vector<uint8_t> doubled(f->bytes.data(), f->bytes.data() + f->bytes.size());
  doubled.insert(doubled.end(), f->bytes.data(), f->bytes.data() + f->bytes.size());
  ExpectCorruption(Codec::kZstd, doubled, 100000, "two frames");

  // Corruption anywhere in an LZ4 block: never a crash; either an error or,
  // where the damage hits a literal, the right length (the hash catches it).
  auto l = EncodeFrame(Codec::kLz4, 0, chunk);
  ASSERT_TRUE(l);
  ASSERT_EQ(l->codec, Codec::kLz4);
  std::vector<uint8_t> out(100000);
  for (size_t i = 0; i < l->bytes.size(); i += 7) {
    std::vector<uint8_t> damaged(l->bytes.data(), l->bytes.data() + l->bytes.size());
    damaged[i] ^= 0x5A;
    auto s = DecodeFrame(Codec::kLz4, damaged, out);
    if (!s) {
      EXPECT_EQ(s.error().code(), ErrorCode::kCorruption);
    }
  }
}

// ----------------------------------------------------------------- metadata zstd

TEST(CodecTest, ZstdWholeBufferRoundTrip) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{3 << 20}}) {
    Buffer data = CompressibleBuffer(size, size + 1);
    auto z = ZstdCompress(data.span(), 3);
    ASSERT_TRUE(z);
    auto back = ZstdDecompress(z->span(), size);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->view(), data.view());
  }
}

TEST(CodecTest, ZstdDecompressSizeLimit) {
  Buffer data = CompressibleBuffer(1 << 20, 21);
  auto z = ZstdCompress(data.span(), 3);
  ASSERT_TRUE(z);
  auto limited = ZstdDecompress(z->span(), (1 << 20) - 1);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code(), ErrorCode::kCorruption);

  // A decompression bomb: 64 MiB of zeros is a few KiB of frame.
  std::vector<uint8_t> big(64 << 20, 0);
  auto bomb = ZstdCompress(big, 1);
  ASSERT_TRUE(bomb);
  EXPECT_LT(bomb->size(), 64u << 10);
  auto r = ZstdDecompress(bomb->span(), 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
}

TEST(CodecTest, ZstdDecompressRejectsBadInput) {
  for (size_t n : {size_t{0}, size_t{3}, size_t{100}}) {
    Buffer garbage = RandomBuffer(n, n + 5);
    auto r = ZstdDecompress(garbage.span(), 1 << 20);
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  }
  Buffer data = CompressibleBuffer(50000, 22);
  auto z = ZstdCompress(data.span(), 3);
  ASSERT_TRUE(z);
  auto truncated = ZstdDecompress(z->span().first(z->size() - 1), 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace hugeblob
