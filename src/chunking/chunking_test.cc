#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "chunking/chunker.h"
#include "hash/sha256.h"

namespace hugeblob {
namespace {

// A fixed pseudo-random byte stream, written here rather than taken from
// <random> so that the golden cut points below do not depend on the standard
// library's distributions (which differ between implementations).
std::vector<uint8_t> SeededBytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> out(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    // xorshift64*: tiny, stable, good enough for test data.
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    out[i] = static_cast<uint8_t>((x * 0x2545F4914F6CDD1Dull) >> 56);
  }
  return out;
}

struct Rng {
  uint64_t x;
  uint64_t Next() {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1Dull;
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
};

std::unique_ptr<Chunker> Make(const ChunkerParams& p) {
  auto c = MakeChunker(p);
  EXPECT_NE(c, nullptr);
  return c;
}

// Chunk lengths for the whole buffer given at once (the last call with eof).
std::vector<size_t> CutAll(const Chunker& c, std::span<const uint8_t> data) {
  std::vector<size_t> lens;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = c.NextCut(data.subspan(pos), /*eof=*/true);
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, data.size() - pos);
    if (n == 0) break;
    lens.push_back(n);
    pos += n;
  }
  return lens;
}

// Chunk lengths as a streaming writer sees them: bytes arrive in pieces of
// random size, the chunker sees only what has arrived and not yet been cut.
std::vector<size_t> CutStreaming(const Chunker& c, std::span<const uint8_t> data, Rng& rng,
                                 size_t max_piece) {
  std::vector<size_t> lens;
  size_t start = 0;  // first byte not yet in a chunk
  size_t have = 0;   // bytes that have arrived
  while (start < data.size()) {
    bool eof = have == data.size();
    auto pending = data.subspan(start, have - start);
    size_t n = c.NextCut(pending, eof);
    if (n == 0) {
      // The contract: 0 only while more data may come and less than
      // max_size() bytes are pending.
      EXPECT_FALSE(eof);
      EXPECT_LT(pending.size(), c.max_size());
      have = std::min(data.size(), have + 1 + rng.Below(max_piece));
      continue;
    }
    EXPECT_LE(n, pending.size());
    lens.push_back(n);
    start += n;
  }
  return lens;
}

std::vector<size_t> Offsets(const std::vector<size_t>& lens) {
  std::vector<size_t> offs;
  size_t pos = 0;
  for (size_t n : lens) offs.push_back(pos += n);
  return offs;
}

// ----------------------------------------------------------------- params

TEST(ChunkerParamsTest, DefaultsAreValidCdc) {
  ChunkerParams p;
  EXPECT_EQ(p.kind, ChunkerKind::kFastCdc);
  EXPECT_TRUE(ValidateChunkerParams(p));
}

TEST(ChunkerParamsTest, ForScalesToAverage) {
  ChunkerParams cdc = ChunkerParams::For(ChunkerKind::kFastCdc, 128 * 1024);
  EXPECT_EQ(cdc.min_size, 32u * 1024);
  EXPECT_EQ(cdc.avg_size, 128u * 1024);
  EXPECT_EQ(cdc.max_size, 512u * 1024);
  EXPECT_TRUE(ValidateChunkerParams(cdc));

  ChunkerParams fixed = ChunkerParams::For(ChunkerKind::kFixed, 1000);
  EXPECT_EQ(fixed.kind, ChunkerKind::kFixed);
  EXPECT_EQ(fixed.min_size, 1000u);
  EXPECT_EQ(fixed.avg_size, 1000u);
  EXPECT_EQ(fixed.max_size, 1000u);
  EXPECT_TRUE(ValidateChunkerParams(fixed));

  // Does not wrap around; validation then refuses it.
  ChunkerParams huge = ChunkerParams::For(ChunkerKind::kFastCdc, 1u << 31);
  EXPECT_EQ(huge.max_size, UINT32_MAX);
  EXPECT_FALSE(ValidateChunkerParams(huge));
}

TEST(ChunkerParamsTest, NamesRoundTrip) {
  EXPECT_EQ(ChunkerName(ChunkerKind::kFixed), "fixed");
  EXPECT_EQ(ChunkerName(ChunkerKind::kFastCdc), "cdc");
  for (auto kind : {ChunkerKind::kFixed, ChunkerKind::kFastCdc}) {
    auto parsed = ParseChunkerKind(ChunkerName(kind));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, kind);
  }
  auto fastcdc = ParseChunkerKind("fastcdc");
  ASSERT_TRUE(fastcdc);
  EXPECT_EQ(*fastcdc, ChunkerKind::kFastCdc);
  for (const char* bad : {"", "CDC", "rabin", "fixed "}) {
    auto r = ParseChunkerKind(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ChunkerParamsTest, ValidationRejectsBadSizes) {
  auto check_bad = [](ChunkerKind kind, uint32_t min, uint32_t avg, uint32_t max) {
    ChunkerParams p{kind, min, avg, max};
    auto s = ValidateChunkerParams(p);
    EXPECT_FALSE(s) << min << " " << avg << " " << max;
    if (!s) {
      EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    }
    EXPECT_EQ(MakeChunker(p), nullptr);
  };
  const uint32_t k64M = 64u << 20;
  for (auto kind : {ChunkerKind::kFixed, ChunkerKind::kFastCdc}) {
    check_bad(kind, 32, 64, 128);              // min below 64
    check_bad(kind, 0, 0, 0);                  // zero
    check_bad(kind, 4096, 2048, 8192);         // min > avg
    check_bad(kind, 1024, 4096, 2048);         // avg > max
    check_bad(kind, 1 << 20, k64M, 2 * k64M);  // max above 64 MiB
  }
  check_bad(ChunkerKind::kFastCdc, 1000, 3000, 9000);  // avg not a power of two
  check_bad(static_cast<ChunkerKind>(7), 64, 64, 64);  // unknown kind (e.g. from a manifest)

  // The extremes are fine.
  EXPECT_TRUE(ValidateChunkerParams({ChunkerKind::kFastCdc, 64, 64, 64}));
  EXPECT_TRUE(ValidateChunkerParams({ChunkerKind::kFastCdc, 64, 1u << 26, k64M}));
  EXPECT_TRUE(ValidateChunkerParams({ChunkerKind::kFixed, 100, 1000, 1000}));
  EXPECT_TRUE(ValidateChunkerParams({ChunkerKind::kFixed, k64M, k64M, k64M}));
}

// ----------------------------------------------------------------- fixed

TEST(FixedChunkerTest, EdgeSizes) {
  auto c = Make(ChunkerParams::For(ChunkerKind::kFixed, 4096));
  EXPECT_EQ(c->max_size(), 4096u);
  std::vector<uint8_t> buf(3 * 4096 + 1, 0xAB);
  std::span<const uint8_t> all(buf);
  EXPECT_EQ(c->NextCut(all.first(0), false), 0u);
  EXPECT_EQ(c->NextCut(all.first(0), true), 0u);
  EXPECT_EQ(c->NextCut(all.first(1), false), 0u);
  EXPECT_EQ(c->NextCut(all.first(1), true), 1u);
  EXPECT_EQ(c->NextCut(all.first(4095), false), 0u);
  EXPECT_EQ(c->NextCut(all.first(4095), true), 4095u);
  EXPECT_EQ(c->NextCut(all.first(4096), false), 4096u);
  EXPECT_EQ(c->NextCut(all.first(4096), true), 4096u);
  EXPECT_EQ(c->NextCut(all.first(4097), false), 4096u);
  EXPECT_EQ(c->NextCut(all, true), 4096u);

  EXPECT_EQ(CutAll(*c, all), (std::vector<size_t>{4096, 4096, 4096, 1}));
  EXPECT_EQ(CutAll(*c, all.first(size_t{2} * 4096)), (std::vector<size_t>{4096, 4096}));
  EXPECT_TRUE(CutAll(*c, all.first(0)).empty());
}

TEST(FixedChunkerTest, UsesAverageEvenWithWiderBounds) {
  auto c = Make({ChunkerKind::kFixed, 100, 1000, 5000});
  std::vector<uint8_t> buf(2500);
  EXPECT_EQ(CutAll(*c, buf), (std::vector<size_t>{1000, 1000, 500}));
  EXPECT_EQ(c->max_size(), 1000u);
}

// ----------------------------------------------------------------- FastCDC

// Small sizes so a few MiB of data give hundreds of chunks.
const ChunkerParams kSmall = ChunkerParams::For(ChunkerKind::kFastCdc, 8 * 1024);

TEST(FastCdcTest, EmptyAndShortInput) {
  auto c = Make(kSmall);
  EXPECT_EQ(c->max_size(), 32u * 1024);
  auto data = SeededBytes(100, 1);
  std::span<const uint8_t> s(data);
  EXPECT_EQ(c->NextCut(s.first(0), true), 0u);
  EXPECT_EQ(c->NextCut(s.first(0), false), 0u);
  EXPECT_EQ(c->NextCut(s.first(1), true), 1u);
  EXPECT_EQ(c->NextCut(s, true), 100u);
  EXPECT_EQ(c->NextCut(s, false), 0u);
}

TEST(FastCdcTest, BoundsRespected) {
  for (uint32_t avg : {64u, 1024u, 8192u, 65536u}) {
    ChunkerParams p = ChunkerParams::For(ChunkerKind::kFastCdc, avg);
    if (p.min_size < 64) p.min_size = 64;
    auto c = Make(p);
    auto data = SeededBytes(size_t{avg} * 200, avg);
    auto lens = CutAll(*c, data);
    ASSERT_FALSE(lens.empty());
    EXPECT_EQ(std::accumulate(lens.begin(), lens.end(), size_t{0}), data.size());
    for (size_t i = 0; i + 1 < lens.size(); ++i) {
      EXPECT_GE(lens[i], p.min_size) << "avg " << avg << " chunk " << i;
      EXPECT_LE(lens[i], p.max_size) << "avg " << avg << " chunk " << i;
    }
    EXPECT_LE(lens.back(), p.max_size);
    // Normalised chunking keeps the mean near the nominal average.
    double mean = static_cast<double>(data.size()) / static_cast<double>(lens.size());
    EXPECT_GT(mean, 0.7 * avg) << "avg " << avg;
    EXPECT_LT(mean, 1.5 * avg) << "avg " << avg;
  }
}

TEST(FastCdcTest, MaxForcesCutOnUniformData) {
  // A constant byte gives a constant hash: no content cut, so max_size
  // decides every cut.
  auto c = Make(kSmall);
  std::vector<uint8_t> zeros(10 * kSmall.max_size + 123, 0);
  auto lens = CutAll(*c, zeros);
  ASSERT_EQ(lens.size(), 11u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(lens[i], kSmall.max_size);
  EXPECT_EQ(lens.back(), 123u);
  // And with exactly max_size pending and no eof, the cut is decided.
  EXPECT_EQ(c->NextCut(std::span<const uint8_t>(zeros).first(kSmall.max_size), false),
            kSmall.max_size);
}

TEST(FastCdcTest, Deterministic) {
  auto data = SeededBytes(4 << 20, 42);
  auto a = CutAll(*Make(kSmall), data);
  auto b = CutAll(*Make(kSmall), data);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 100u);
}

TEST(FastCdcTest, StreamingEqualsAllAtOnce) {
  Rng rng{12345};
  for (auto params : {kSmall, ChunkerParams::For(ChunkerKind::kFixed, 5000),
                      ChunkerParams{ChunkerKind::kFastCdc, 64, 256, 1024}}) {
    auto c = Make(params);
    auto data = SeededBytes(3 << 20, 7);
    auto expected = CutAll(*c, data);
    for (size_t max_piece : {size_t{1000}, size_t{9000}, size_t{100000}}) {
      EXPECT_EQ(CutStreaming(*c, data, rng, max_piece), expected)
          << ChunkerName(params.kind) << " avg " << params.avg_size << " pieces " << max_piece;
    }
  }
}

TEST(FastCdcTest, InsertionOnlyChangesNearbyCuts) {
  auto c = Make(kSmall);
  auto base = SeededBytes(8 << 20, 99);
  const size_t at = base.size() / 2 + 12345;
  for (size_t inserted : {size_t{1}, size_t{7}, size_t{4096}}) {
    std::vector<uint8_t> edited(base.begin(), base.begin() + at);
    auto extra = SeededBytes(inserted, inserted);
    edited.insert(edited.end(), extra.begin(), extra.end());
    edited.insert(edited.end(), base.begin() + at, base.end());

    auto offs_a = Offsets(CutAll(*c, base));
    auto offs_b = Offsets(CutAll(*c, edited));
    // Cut points before the insertion are untouched; those after it are the
    // same ones shifted, except the few nearest the edit.
    std::set<size_t> after_a, after_b;
    size_t before_a = 0, before_b = 0;
    for (size_t o : offs_a) {
      if (o < at) {
        ++before_a;
      } else {
        after_a.insert(o + inserted);
      }
    }
    for (size_t o : offs_b) {
      if (o < at) {
        ++before_b;
      } else {
        after_b.insert(o);
      }
    }
    EXPECT_EQ(before_a, before_b);
    size_t lost = 0;
    for (size_t o : after_a) lost += after_b.count(o) == 0;
    EXPECT_LE(lost, 2u) << "inserted " << inserted;
    EXPECT_GT(after_a.size(), 400u);

    // In chunk terms: the edited file shares all but a few chunks.
    std::set<Hash256> chunks_a;
    size_t pos = 0;
    for (size_t n : CutAll(*c, base)) {
      chunks_a.insert(Sha256Of({base.data() + pos, n}));
      pos += n;
    }
    size_t new_chunks = 0;
    pos = 0;
    for (size_t n : CutAll(*c, edited)) {
      new_chunks += chunks_a.count(Sha256Of({edited.data() + pos, n})) == 0;
      pos += n;
    }
    EXPECT_LE(new_chunks, 3u) << "inserted " << inserted;
  }
}

// ------------------------------------------------------- reference FastCDC

// The FastCDC cut rule written the obvious way, one byte at a time with the
// masks as masks, to check the unrolled scan in chunker.cc against. The gear
// table is rebuilt here from its definition (SplitMix64 from the fixed seed)
// rather than shared, so the two cannot drift together.
class ReferenceFastCdc {
 public:
  explicit ReferenceFastCdc(const ChunkerParams& p) : p_(p) {
    uint64_t state = 0x6875676562C0B1E5ull;
    for (auto& v : gear_) {
      state += 0x9E3779B97F4A7C15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      v = z ^ (z >> 31);
    }
  }

  size_t NextCut(std::span<const uint8_t> data, bool eof) const {
    const size_t n = data.size();
    if (n <= p_.min_size) return eof ? n : 0;
    const size_t end = std::min<size_t>(n, p_.max_size);
    const size_t normal = std::min<size_t>(end, p_.avg_size);
    const int avg_bits = std::countr_zero(p_.avg_size);
    const uint64_t strict = ~0ull << (64 - (avg_bits + 2));
    const uint64_t loose = ~0ull << (64 - (avg_bits - 2));
    uint64_t h = 0;
    for (size_t i = p_.min_size - 64; i < end; ++i) {
      h = (h << 1) + gear_[data[i]];
      if (i < p_.min_size) continue;  // warm-up: no cut before min_size
      if ((h & (i < normal ? strict : loose)) == 0) return i + 1;
    }
    if (end == p_.max_size) return p_.max_size;
    return eof ? n : 0;
  }

 private:
  ChunkerParams p_;
  std::array<uint64_t, 256> gear_{};
};

// Random valid CDC parameters: the usual For() shapes and arbitrary ones
// (min and max anywhere in range, so phase bounds fall at every offset
// within the chunker's multi-byte steps).
ChunkerParams RandomCdcParams(Rng& rng) {
  const uint32_t avg = 64u << rng.Below(9);  // 64 B .. 16 KiB: many cuts per buffer
  if (rng.Below(3) == 0) {
    ChunkerParams p = ChunkerParams::For(ChunkerKind::kFastCdc, avg);
    p.min_size = std::max<uint32_t>(p.min_size, 64);
    return p;
  }
  ChunkerParams p{ChunkerKind::kFastCdc, 0, avg, 0};
  p.min_size = static_cast<uint32_t>(64 + rng.Below(avg - 64 + 1));
  p.max_size = static_cast<uint32_t>(avg + rng.Below(rng.Below(2) ? 8 : 4 * size_t{avg} + 1));
  return p;
}

// Bytes from a few kinds of source: random (cuts at the nominal rate), a
// small alphabet and runs (hashes that repeat, cuts at max_size).
std::vector<uint8_t> RandomContent(Rng& rng, size_t n) {
  std::vector<uint8_t> out(n);
  switch (rng.Below(4)) {
    case 0:
      for (auto& b : out) b = static_cast<uint8_t>(rng.Next() >> 56);
      break;
    case 1: {
      const size_t alphabet = 1 + rng.Below(4);
      for (auto& b : out) b = static_cast<uint8_t>(rng.Below(alphabet));
      break;
    }
    case 2:
      for (size_t i = 0; i < n;) {
        const uint8_t v = static_cast<uint8_t>(rng.Next() >> 56);
        for (size_t run = 1 + rng.Below(200); run > 0 && i < n; --run) out[i++] = v;
      }
      break;
    default:
      // Zero runs of every length, some longer than max_size (the chunker's
      // zero path), between random bytes; out is zero-initialised.
      for (size_t i = 0; i < n;) {
        i += rng.Below(n / 2 + 1);  // zeros
        for (size_t run = rng.Below(500); run > 0 && i < n; --run) {
          out[i++] = static_cast<uint8_t>(rng.Next() >> 56);
        }
      }
  }
  return out;
}

TEST(FastCdcTest, MatchesByteAtATimeReference) {
  Rng rng{0xFA57CDC};
  size_t calls = 0;
  size_t content_cuts = 0;  // cuts strictly between min_size and max_size
  for (int trial = 0; trial < 600; ++trial) {
    const ChunkerParams params = RandomCdcParams(rng);
    ASSERT_TRUE(ValidateChunkerParams(params));
    auto c = Make(params);
    const ReferenceFastCdc ref(params);
    const auto data = RandomContent(rng, params.max_size * (1 + rng.Below(6)) + rng.Below(300));
    std::span<const uint8_t> all(data);
    // Walk the buffer as a writer would, and at each chunk start also ask
    // about prefixes of random length (a partial buffer), with and without eof.
    for (size_t pos = 0; pos < data.size();) {
      const auto rest = all.subspan(pos);
      for (int k = 0; k < 4; ++k) {
        const auto part =
            rest.first(rng.Below(std::min<size_t>(rest.size(), params.max_size + 8) + 1));
        const bool eof = rng.Below(2) == 0;
        ASSERT_EQ(c->NextCut(part, eof), ref.NextCut(part, eof))
            << "min " << params.min_size << " avg " << params.avg_size << " max " << params.max_size
            << " len " << part.size() << " eof " << eof << " trial " << trial;
        ++calls;
      }
      const size_t n = c->NextCut(rest, /*eof=*/true);
      ASSERT_EQ(n, ref.NextCut(rest, /*eof=*/true))
          << "min " << params.min_size << " avg " << params.avg_size << " max " << params.max_size
          << " at " << pos << " trial " << trial;
      ASSERT_GT(n, 0u);
      content_cuts += n > params.min_size && n < params.max_size;
      pos += n;
      ++calls;
    }
  }
  // The comparison saw plenty of content-defined cuts, not just forced ones.
  EXPECT_GT(content_cuts, 2000u);
  EXPECT_GT(calls, 15000u);
}

// Zero runs take the chunker's shortcut (no hashing): at every average from
// 64 B to 1 MiB, buffers that are all zero, zero with one byte set at each
// edge of the scanned window, and zero then data, cut as the reference does.
TEST(FastCdcTest, ZeroRunsMatchReference) {
  for (uint32_t avg = 64; avg <= (1u << 20); avg *= 2) {
    ChunkerParams params = ChunkerParams::For(ChunkerKind::kFastCdc, avg);
    params.min_size = std::max<uint32_t>(params.min_size, 64);
    auto c = Make(params);
    const ReferenceFastCdc ref(params);
    std::vector<uint8_t> data(params.max_size + 100, 0);
    // (min_size - 65 wraps at min_size 64; the mark is then skipped.)
    const std::vector<size_t> marks = {0,
                                       params.min_size - 65,
                                       params.min_size - 64,
                                       params.min_size,
                                       params.avg_size,
                                       params.max_size - 1,
                                       params.max_size};
    for (size_t mark : marks) {
      if (mark >= data.size()) continue;
      std::fill(data.begin(), data.end(), 0);
      if (mark != 0) data[mark] = 0x5A;  // mark 0: all zero
      for (size_t len : {size_t{params.min_size} + 1, size_t{params.avg_size},
                         size_t{params.max_size}, data.size()}) {
        for (bool eof : {false, true}) {
          const auto part = std::span<const uint8_t>(data).first(len);
          ASSERT_EQ(c->NextCut(part, eof), ref.NextCut(part, eof))
              << "avg " << avg << " mark " << mark << " len " << len << " eof " << eof;
        }
      }
    }
  }
}

// ----------------------------------------------------------------- golden

// FORMAT-STABLE. These cut points pin the gear table and the algorithm: if
// this test fails, the change would make every file chunk differently from
// what stores already hold, so nothing new would deduplicate against them.
// Do not update the expected values; revert the change instead.
TEST(FastCdcGoldenTest, DefaultParamsCutPoints) {
  auto data = SeededBytes(8 << 20, 0x5EED);
  // Explicit sizes, not ChunkerParams{}: a change of the default must not
  // look like a change of the algorithm.
  auto lens = CutAll(*Make({ChunkerKind::kFastCdc, 64 << 10, 256 << 10, 1 << 20}), data);
  const std::vector<size_t> expected = {
      313451, 365269, 355556, 364262, 277097, 294683, 272307, 226016, 260053, 273458,
      299942, 319559, 294085, 339926, 285515, 327722, 282517, 229003, 201858, 285079,
      450893, 290005, 272059, 266373, 296267, 306506, 222560, 200421, 95444,  120722};
  EXPECT_EQ(lens, expected);
}

TEST(FastCdcGoldenTest, SmallParamsCutPoints) {
  // Hundreds of cuts with a 4 KiB average exercise every byte value of the
  // gear table many times; pinned as a digest of the lengths plus the first few.
  auto data = SeededBytes(2 << 20, 0xC0FFEE);
  auto lens = CutAll(*Make(ChunkerParams::For(ChunkerKind::kFastCdc, 4096)), data);
  std::string text;
  for (size_t n : lens) text += std::to_string(n) + ",";
  ASSERT_GE(lens.size(), 8u);
  EXPECT_EQ(std::vector<size_t>(lens.begin(), lens.begin() + 8),
            (std::vector<size_t>{4202, 4206, 2785, 4809, 4713, 2977, 6244, 4891}));
  EXPECT_EQ(lens.size(), 460u);
  EXPECT_EQ(Sha256Of(text).Hex(),
            "ba9c6b20df7d0bcee8f7d1662ae14e33b09e972967604e0548bca8ef2b25833e");
}

}  // namespace
}  // namespace hugeblob
