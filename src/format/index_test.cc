#include "format/index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "format/envelope.h"
#include "format/format_test_util.h"
#include "format/index_codec.h"

namespace hugeblob {
namespace {

using format_test::Filled;
using format_test::FromHex;
using format_test::ToHex;

std::vector<IndexEntry> SampleEntries(int packs, int per_pack) {
  std::vector<IndexEntry> entries;
  for (int p = 0; p < packs; ++p) {
    uint64_t offset = 0;
    for (int i = 0; i < per_pack; ++i) {
      IndexEntry e;
      Sha256 h;
      h.Update(std::to_string(p) + "/" + std::to_string(i));
      e.chunk = h.Finish();
      e.pack = Filled(static_cast<uint8_t>(0xf0 - 16 * p));  // packs in descending id order
      e.offset = offset;
      e.length = 65536 + i;
      e.codec = static_cast<Codec>(i % 3);
      e.stored_length = e.codec == Codec::kNone ? e.length : 30000 + i;
      offset += e.stored_length;
      entries.push_back(e);
    }
  }
  return entries;
}

std::vector<IndexEntry> Sorted(std::vector<IndexEntry> v) {
  std::sort(v.begin(), v.end(), [](const IndexEntry& a, const IndexEntry& b) {
    return a.pack != b.pack ? a.pack < b.pack : a.offset < b.offset;
  });
  return v;
}

TEST(IndexTest, RoundTripSorted) {
  auto entries = SampleEntries(3, 50);
  auto encoded = EncodeIndex(entries);
  ASSERT_TRUE(encoded) << encoded.error().message();
  auto decoded = DecodeIndex(encoded->span(), "index/x");
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, Sorted(entries));
}

TEST(IndexTest, Empty) {
  auto encoded = EncodeIndex({});
  ASSERT_TRUE(encoded);
  auto decoded = DecodeIndex(encoded->span(), "i");
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_TRUE(decoded->empty());
}

TEST(IndexTest, DeterministicWhateverTheInputOrder) {
  auto entries = SampleEntries(4, 20);
  auto a = EncodeIndex(entries);
  std::mt19937 rng(42);
  std::shuffle(entries.begin(), entries.end(), rng);
  entries.push_back(entries[7]);  // an exact duplicate is dropped
  auto b = EncodeIndex(entries);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->view(), b->view());
}

TEST(IndexTest, SameChunkInTwoPacksIsKept) {
  auto entries = SampleEntries(2, 1);
  entries[1].chunk = entries[0].chunk;
  auto encoded = EncodeIndex(entries);
  ASSERT_TRUE(encoded);
  auto decoded = DecodeIndex(encoded->span(), "i");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size(), 2u);
}

TEST(IndexTest, EncodeRejectsImpossibleEntries) {
  auto entries = SampleEntries(1, 3);
  auto overlap = entries;
  overlap[1].offset -= 1;
  EXPECT_EQ(EncodeIndex(overlap).error().code(), ErrorCode::kInvalidArgument);
  auto codec = entries;
  codec[0].codec = static_cast<Codec>(9);
  EXPECT_EQ(EncodeIndex(codec).error().code(), ErrorCode::kInvalidArgument);
  auto empty = entries;
  empty[2].length = 0;
  EXPECT_EQ(EncodeIndex(empty).error().code(), ErrorCode::kInvalidArgument);
}

TEST(IndexTest, GoldenHeader) {
  auto encoded = EncodeIndex(SampleEntries(2, 3));
  ASSERT_TRUE(encoded);
  EXPECT_EQ(ToHex(encoded->span().subspan(0, 24)),
            ToHex(FromHex("48424958"              // "HBIX"
                          "01000000"              // version
                          "00000000"              // flags
                          "02000000"              // pack count
                          "0600000000000000")));  // entry count
  // The body is an exact function of the counts: 2*32 + 6*53.
  auto body = ZstdDecompress(encoded->span().subspan(24, encoded->size() - 24 - 16), 1 << 20);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->size(), 2u * 32 + 6 * 53);
  // First pack id (smallest) and first entry's fixed-width fields.
  EXPECT_EQ(ToHex(body->span().subspan(0, 32)), format_test::Repeat("e0", 32));
  EXPECT_EQ(ToHex(body->span().subspan(64 + 32, 21)),
            "00000000"          // pack index 0
            "0000000000000000"  // offset
            "00000100"          // stored length 65536 (codec none)
            "00000100"          // length 65536
            "00");              // codec none
}

TEST(IndexTest, EveryByteFlipIsDetected) {
  auto encoded = EncodeIndex(SampleEntries(2, 4));
  ASSERT_TRUE(encoded);
  std::vector<uint8_t> bytes(encoded->data(), encoded->data() + encoded->size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      bytes[i] ^= mask;
      auto r = DecodeIndex(bytes, "index/abc");
      ASSERT_FALSE(r) << "byte " << i;
      EXPECT_TRUE(r.error().code() == ErrorCode::kCorruption ||
                  r.error().code() == ErrorCode::kUnsupported);
      EXPECT_EQ(r.error().message().rfind("index/abc: ", 0), 0u) << r.error().message();
      bytes[i] ^= mask;
    }
  }
}

TEST(IndexTest, TruncationAtEveryLength) {
  auto encoded = EncodeIndex(SampleEntries(2, 4));
  ASSERT_TRUE(encoded);
  for (size_t n = 0; n < encoded->size(); ++n) {
    auto r = DecodeIndex(encoded->span().subspan(0, n), "i");
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << n << r.error().message();
  }
}

TEST(IndexTest, UnknownVersion) {
  auto encoded = EncodeIndex(SampleEntries(1, 1));
  ASSERT_TRUE(encoded);
  std::vector<uint8_t> bytes(encoded->data(), encoded->data() + encoded->size());
  bytes[4] = 3;
  auto r = DecodeIndex(bytes, "ab12");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.error().message(),
            "index ab12: format version 3 is not supported (this hugeblob reads version 1)");
}

// Bodies with a valid checksum but impossible content.
TEST(IndexTest, RejectsNonCanonicalBodies) {
  using format_internal::EnvelopeHeader;
  using format_internal::SealEnvelope;
  auto encoded = EncodeIndex(SampleEntries(2, 2));
  ASSERT_TRUE(encoded);
  auto body0 = ZstdDecompress(encoded->span().subspan(24, encoded->size() - 40), 1 << 20);
  ASSERT_TRUE(body0);
  std::vector<uint8_t> good(body0->data(), body0->data() + body0->size());
  auto decode = [&](const std::vector<uint8_t>& body, uint32_t packs, uint64_t entries) {
    EnvelopeHeader h{kIndexVersion, 0, packs, entries};
    auto sealed = SealEnvelope("HBIX", h, body);
    EXPECT_TRUE(sealed);
    return DecodeIndex(sealed->span(), "i");
  };
  ASSERT_TRUE(decode(good, 2, 4));
  EXPECT_FALSE(decode(good, 2, 3)) << "body longer than the counts";
  EXPECT_FALSE(decode(good, 3, 4)) << "body shorter than the counts";
  EXPECT_FALSE(decode(good, 0xffffffff, 0xffffffffffff)) << "absurd counts";
  auto swapped = good;  // pack table out of order
  std::swap_ranges(swapped.begin(), swapped.begin() + 32, swapped.begin() + 32);
  EXPECT_FALSE(decode(swapped, 2, 4));
  auto pack_index = good;  // entry 1 names pack 5
  pack_index[64 + 53 + 32] = 5;
  EXPECT_FALSE(decode(pack_index, 2, 4));
  auto skip = good;  // entry 2 jumps back to pack 0
  skip[64 + 2 * 53 + 32] = 0;
  EXPECT_FALSE(decode(skip, 2, 4));
  EnvelopeHeader h{kIndexVersion, 4, 0, 0};
  auto with_flags = SealEnvelope("HBIX", h, {});
  ASSERT_TRUE(with_flags);
  auto r = DecodeIndex(with_flags->span(), "i");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace hugeblob
