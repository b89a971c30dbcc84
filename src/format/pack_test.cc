#include "format/pack.h"

#include <gtest/gtest.h>

#include <vector>

#include "format/format_test_util.h"
#include "format/pack_codec.h"

namespace hugeblob {
namespace {

using format_test::Filled;
using format_test::FromHex;
using format_test::ToHex;

std::vector<PackEntry> SampleEntries() {
  std::vector<PackEntry> entries;
  uint64_t offset = 0;
  for (int i = 0; i < 4; ++i) {
    PackEntry e;
    e.chunk = Filled(static_cast<uint8_t>(0x10 + i));
    e.offset = offset;
    e.length = 1000 + i;
    e.codec = i % 2 ? Codec::kNone : Codec::kZstd;
    e.stored_length = e.codec == Codec::kNone ? e.length : 300 + i;
    offset += e.stored_length;
    entries.push_back(e);
  }
  return entries;
}

uint64_t FramesLength(const std::vector<PackEntry>& entries) {
  return entries.empty() ? 0 : entries.back().offset + entries.back().stored_length;
}

TEST(PackTest, RoundTrip) {
  auto entries = SampleEntries();
  uint64_t frames = FramesLength(entries);
  Buffer trailer = EncodePackTrailer(entries, frames);
  ASSERT_EQ(trailer.size(), entries.size() * 49 + kPackFooterSize);
  uint64_t pack_size = frames + trailer.size();

  auto footer =
      DecodePackFooter(trailer.span().subspan(trailer.size() - kPackFooterSize), pack_size);
  ASSERT_TRUE(footer) << footer.error().message();
  EXPECT_EQ(footer->version, kPackVersion);
  EXPECT_EQ(footer->entry_count, entries.size());
  EXPECT_EQ(footer->trailer_length, trailer.size());

  auto decoded = DecodePackTrailer(trailer.span(), pack_size);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, entries);
}

TEST(PackTest, EmptyPack) {
  Buffer trailer = EncodePackTrailer({}, 0);
  ASSERT_EQ(trailer.size(), kPackFooterSize);
  auto decoded = DecodePackTrailer(trailer.span(), trailer.size());
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_TRUE(decoded->empty());
}

// Guards the byte layout: if this fails, the format changed and needs a new
// version (and docs/format.md an update), not a new golden string.
TEST(PackTest, GoldenTrailer) {
  PackEntry e;
  for (int i = 0; i < 32; ++i) e.chunk.bytes[i] = static_cast<uint8_t>(i);
  e.offset = 0;
  e.stored_length = 100;
  e.length = 200;
  e.codec = Codec::kZstd;
  Buffer trailer = EncodePackTrailer({&e, 1}, 100);
  EXPECT_EQ(ToHex(trailer.span()),
            ToHex(FromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                          "0000000000000000"  // offset
                          "64000000"          // stored length 100
                          "c8000000"          // length 200
                          "01"                // codec zstd
                          // footer
                          "5100000000000000"  // trailer length 81
                          "01000000"          // entry count
                          "00000000"          // reserved
                          "973dbc816ea08a58"  // SHA-256(trailer[0:65])[0:8]
                          "01000000"          // version
                          "4842504b")));      // "HBPK"
}

TEST(PackTest, EveryByteFlipIsDetected) {
  auto entries = SampleEntries();
  uint64_t frames = FramesLength(entries);
  Buffer good = EncodePackTrailer(entries, frames);
  uint64_t pack_size = frames + good.size();
  std::vector<uint8_t> bytes(good.data(), good.data() + good.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      bytes[i] ^= mask;
      auto r = DecodePackTrailer(bytes, pack_size);
      ASSERT_FALSE(r) << "byte " << i << " mask " << int(mask);
      EXPECT_TRUE(r.error().code() == ErrorCode::kCorruption ||
                  r.error().code() == ErrorCode::kUnsupported)
          << r.error().message();
      bytes[i] ^= mask;
    }
  }
}

TEST(PackTest, TruncationAtEveryLength) {
  auto entries = SampleEntries();
  uint64_t frames = FramesLength(entries);
  Buffer good = EncodePackTrailer(entries, frames);
  for (size_t n = 0; n < good.size(); ++n) {
    // A suffix, as a reader that guessed the trailer length wrong would see.
    auto suffix = good.span().subspan(good.size() - n);
    auto r = DecodePackTrailer(suffix, frames + good.size());
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << r.error().message();
    // A prefix: the footer is gone.
    auto p = DecodePackTrailer(good.span().subspan(0, n), frames + good.size());
    ASSERT_FALSE(p) << n;
    auto f = DecodePackFooter(good.span().subspan(0, std::min<size_t>(n, kPackFooterSize)),
                              frames + good.size());
    EXPECT_FALSE(f) << n;
  }
}

TEST(PackTest, PackSizeTooSmall) {
  auto entries = SampleEntries();
  uint64_t frames = FramesLength(entries);
  Buffer good = EncodePackTrailer(entries, frames);
  // The frames region shrinks: the last frame no longer fits.
  auto r = DecodePackTrailer(good.span(), frames + good.size() - 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  // Smaller than the trailer itself.
  auto f = DecodePackFooter(good.span().subspan(good.size() - kPackFooterSize), good.size() - 1);
  ASSERT_FALSE(f);
  // A larger pack is fine (frames region with unreferenced bytes at the end).
  EXPECT_TRUE(DecodePackTrailer(good.span(), frames + good.size() + 10));
}

TEST(PackTest, UnknownVersion) {
  Buffer good = EncodePackTrailer({}, 0);
  std::vector<uint8_t> bytes(good.data(), good.data() + good.size());
  bytes[24] = 2;  // version field
  auto r = DecodePackTrailer(bytes, bytes.size());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message().find("version 2"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("reads version 1"), std::string::npos);
}

// An independent writer of the trailer layout, so tests can forge trailers
// that EncodePackTrailer would refuse to produce (it asserts contiguity).
std::vector<uint8_t> Forge(const std::vector<PackEntry>& entries) {
  std::vector<uint8_t> b;
  auto put = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const PackEntry& e : entries) {
    b.insert(b.end(), e.chunk.bytes.begin(), e.chunk.bytes.end());
    put(e.offset, 8);
    put(e.stored_length, 4);
    put(e.length, 4);
    put(static_cast<uint8_t>(e.codec), 1);
  }
  put(entries.size() * 49 + 32, 8);
  put(entries.size(), 4);
  put(0, 4);
  Hash256 sum = Sha256Of(std::span<const uint8_t>(b));
  b.insert(b.end(), sum.bytes.begin(), sum.bytes.begin() + 8);
  put(1, 4);
  b.insert(b.end(), {'H', 'B', 'P', 'K'});
  return b;
}

TEST(PackTest, ForgedTrailerMatchesEncoder) {
  auto entries = SampleEntries();
  Buffer t = EncodePackTrailer(entries, FramesLength(entries));
  EXPECT_EQ(ToHex(t.span()), ToHex(Forge(entries)));
}

// Well-formed bytes with a valid checksum that describe impossible frames
// (an encoder bug or a forged pack).
TEST(PackTest, RejectsBadEntries) {
  const auto base = SampleEntries();
  const uint64_t frames = FramesLength(base);
  auto rejected = [&](const std::vector<PackEntry>& entries) {
    auto t = Forge(entries);
    auto r = DecodePackTrailer(t, frames + t.size());
    if (r) return false;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    return true;
  };
  ASSERT_FALSE(rejected(base));
  auto e = base;
  e[1].codec = static_cast<Codec>(7);
  EXPECT_TRUE(rejected(e)) << "unknown codec";
  e = base;
  e[1].length = 5;
  EXPECT_TRUE(rejected(e)) << "raw frame with stored != length";
  e = base;
  e[0].length = 0;
  EXPECT_TRUE(rejected(e)) << "empty frame";
  e = base;
  e[2].offset -= 1;
  EXPECT_TRUE(rejected(e)) << "overlap";
  e = base;
  std::swap(e[0], e[1]);
  EXPECT_TRUE(rejected(e)) << "out of order";
  e = base;
  e[3].offset += 1;
  EXPECT_TRUE(rejected(e)) << "past the frames region";
  e = base;
  e[3].offset = UINT64_MAX - 2;
  EXPECT_TRUE(rejected(e)) << "offset overflow";
  e = base;
  // A length no frame can have: a tiny forged pack must not make a reader
  // allocate 4 GiB to decode it.
  e[0].codec = Codec::kZstd;
  e[0].length = 0xffffffffu;
  EXPECT_TRUE(rejected(e)) << "length beyond kMaxFrameLength";
  e = base;
  e[0].codec = Codec::kZstd;
  e[0].length = kMaxFrameLength;
  EXPECT_FALSE(rejected(e)) << "the largest valid frame";
  e = base;
  e[2].offset += 1;  // a gap is allowed: frames stay inside the region
  e[3].stored_length -= 1;
  e[3].length -= 1;
  e[3].offset += 1;
  EXPECT_FALSE(rejected(e));
}

}  // namespace
}  // namespace hugeblob
