#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hash/blake3.h"
#include "hash/sha256.h"
#include "util/zeros.h"

namespace hugeblob {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  uint64_t x = seed | 1;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

// FIPS 180-2 / NIST test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Of(std::string_view("")).Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of(std::string_view("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Of(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).Hex(),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(Sha256Of(million).Hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  auto data = Bytes(300000, 1);
  Hash256 want = Sha256Of(data);
  Sha256 h;
  // Pieces that straddle the 64-byte block boundary in every way.
  size_t pos = 0, step = 0;
  while (pos < data.size()) {
    size_t n = std::min(data.size() - pos, (step++ * 37) % 200);
    h.Update(std::span<const uint8_t>(data).subspan(pos, n));
    pos += n;
  }
  EXPECT_EQ(h.Finish(), want);

  // Finish resets: the same object hashes the next stream from scratch.
  h.Update(std::string_view("ab"));
  h.Update(std::string_view("c"));
  EXPECT_EQ(h.Finish().Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h.Finish(), Sha256Of(std::string_view("")));
}

TEST(Sha256Test, UpdateZerosEqualsZeroBytes) {
  for (uint64_t n : {0ull, 1ull, 63ull, 64ull, 65ull, 65536ull, 65537ull, 200000ull}) {
    Sha256 a;
    a.Update(std::string_view("prefix"));
    a.UpdateZeros(n);
    a.Update(std::string_view("suffix"));
    Sha256 b;
    b.Update(std::string_view("prefix"));
    b.Update(std::vector<uint8_t>(n, 0));
    b.Update(std::string_view("suffix"));
    EXPECT_EQ(a.Finish(), b.Finish()) << n;
  }
}

TEST(Hash256Test, HexRoundTrip) {
  for (uint64_t seed = 1; seed < 20; ++seed) {
    Hash256 h = Sha256Of(Bytes(seed * 10, seed));
    std::string hex = h.Hex();
    EXPECT_EQ(hex.size(), 64u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(h.Short(), hex.substr(0, 12));
    auto back = Hash256::FromHex(hex);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, h);
  }
  Hash256 zero;
  EXPECT_EQ(zero.Hex(), std::string(64, '0'));
  std::vector<uint8_t> raw(32);
  for (int i = 0; i < 32; ++i) raw[i] = static_cast<uint8_t>(i * 8);
  EXPECT_EQ(Hash256::FromBytes(raw.data()).Hex(),
            "0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8");
}

TEST(Hash256Test, BadHexRejected) {
  const std::string good = Sha256Of(std::string_view("abc")).Hex();
  std::vector<std::string> bad = {
      "", good.substr(0, 63), good + "0", good.substr(0, 63) + "g",
      std::string("x").append(good, 1), good.substr(0, 32) + " " + good.substr(33),
      // Keys are lower case only, so one hash has exactly one spelling.
      "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
      good.substr(0, 62) + std::string(1, '\0') + "0",  // embedded NUL
  };
  for (const auto& s : bad) {
    auto r = Hash256::FromHex(s);
    EXPECT_FALSE(r) << "'" << s << "'";
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(Hash256Test, OrderingAndHasher) {
  Hash256 a = Sha256Of(std::string_view("a"));
  Hash256 b = Sha256Of(std::string_view("b"));
  EXPECT_NE(a, b);
  EXPECT_EQ(a < b, a.Hex() < b.Hex());  // byte order == hex order
  EXPECT_NE(Hash256Hasher()(a), Hash256Hasher()(b));
}

TEST(IsAllZeroTest, EveryAlignmentAndLength) {
  std::vector<uint8_t> buf(320, 0);
  for (size_t offset = 0; offset < 72; ++offset) {
    for (size_t len = 0; len < 200; ++len) {
      std::span<const uint8_t> s(buf.data() + offset, len);
      ASSERT_TRUE(IsAllZero(s)) << offset << "+" << len;
    }
  }
  // One non-zero byte anywhere inside the span is seen; outside it is not.
  for (size_t offset = 0; offset < 72; ++offset) {
    for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{63}, size_t{64}, size_t{65},
                       size_t{129}, size_t{200}}) {
      std::span<const uint8_t> s(buf.data() + offset, len);
      for (size_t at = 0; at < buf.size(); ++at) {
        buf[at] = 0x80;
        bool inside = at >= offset && at < offset + len;
        ASSERT_EQ(IsAllZero(s), !inside) << offset << "+" << len << " nonzero at " << at;
        buf[at] = 0;
      }
    }
  }
  EXPECT_TRUE(IsAllZero({}));
  std::vector<uint8_t> big(1 << 20, 0);
  EXPECT_TRUE(IsAllZero(big));
  big.back() = 1;
  EXPECT_FALSE(IsAllZero(big));
}

}  // namespace
}  // namespace hugeblob

namespace hugeblob {
namespace {

// The BLAKE3 reference test vectors (test_vectors.json of the BLAKE3
// repository): input byte i is i % 251.
std::vector<uint8_t> Blake3VectorInput(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 251);
  return v;
}

TEST(Blake3Test, ReferenceVectors) {
  const std::pair<size_t, const char*> kVectors[] = {
      {0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
      {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
      {2, "7b7015bb92cf0b318037702a6cdd81dee41224f734684c2c122cd6359cb1ee63"},
      {3, "e1be4d7a8ab5560aa4199eea339849ba8e293d55ca0a81006726d184519e647f"},
      {4, "f30f5ab28fe047904037f77b6da4fea1e27241c5d132638d8bedce9d40494f32"},
      {63, "e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b"},
      {64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98"},
      {65, "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee"},
      {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
      {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
  };
  for (const auto& [n, want] : kVectors) {
    EXPECT_EQ(Blake3Of(Blake3VectorInput(n)).Hex(), want) << "input length " << n;
  }
}

// Large inputs take the SIMD paths (many 1 KiB chunks hashed in parallel);
// the incremental hasher, fed in odd pieces, must agree with the one-shot.
TEST(Blake3Test, IncrementalEqualsOneShotOnLargeInputs) {
  for (size_t n : {size_t{1025}, size_t{65536}, size_t{300001}, size_t{4 << 20}}) {
    auto data = Blake3VectorInput(n);
    Hash256 want = Blake3Of(data);
    Blake3 h;
    size_t pos = 0, step = 1;
    while (pos < n) {
      size_t take = std::min(step, n - pos);
      h.Update(std::span<const uint8_t>(data).subspan(pos, take));
      pos += take;
      step = step * 3 + 7;
    }
    EXPECT_EQ(h.Finish(), want) << n;
    // Finish resets: the same hasher hashes the next input from scratch.
    h.Update(data);
    EXPECT_EQ(h.Finish(), want) << n;
  }
}

TEST(Blake3Test, ChunkHashFollowsTheAlgorithm) {
  auto data = Blake3VectorInput(5000);
  EXPECT_EQ(ChunkHash(HashAlgo::kBlake3, data), Blake3Of(data));
  EXPECT_EQ(ChunkHash(HashAlgo::kSha256, data), Sha256Of(data));
  EXPECT_EQ(*ParseHashAlgo("blake3"), HashAlgo::kBlake3);
  EXPECT_EQ(*ParseHashAlgo("sha256"), HashAlgo::kSha256);
  EXPECT_EQ(ParseHashAlgo("md5").error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(HashAlgoName(HashAlgo::kBlake3), "blake3");
}

}  // namespace
}  // namespace hugeblob
