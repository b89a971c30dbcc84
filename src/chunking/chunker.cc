#include "chunking/chunker.h"

#include <algorithm>
#include <array>
#include <bit>
#include <string>

#include "util/zeros.h"

namespace hugeblob {
namespace {

// Bounds from the header: a chunk below 64 bytes costs more in its frame
// table entry than it holds, and 64 MiB caps the memory one chunk may pin in
// the pipeline and in the reader's cache.
constexpr uint32_t kMinChunkSize = 64;
constexpr uint32_t kMaxChunkSize = 64u * 1024 * 1024;

// ---------------------------------------------------------------------------
// Gear table.
//
// FORMAT-STABLE: these 256 values decide every FastCDC cut point, and cut
// points decide what deduplicates against what is already in a store. If a
// single bit changed, every file put afterwards would share nothing with the
// chunks stored before. The golden test in chunking_test.cc pins both the
// table and the cut points of a seeded buffer; never "fix" either.
//
// The values come from SplitMix64 (Steele, Lea and Flood's 64-bit mixer) run
// from a fixed seed, computed at compile time so that there is no table to
// mistype and no start-up cost. Its output passes BigCrush, which is all the
// gear hash needs: each byte value must map to an independent-looking 64-bit
// word so that the hash's high bits are uniform on any input.
constexpr uint64_t kGearSeed = 0x6875676562C0B1E5ull;  // "hugeb" + arbitrary tail; fixed forever.

constexpr uint64_t SplitMix64(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::array<uint64_t, 256> MakeGearTable() {
  std::array<uint64_t, 256> table{};
  uint64_t state = kGearSeed;
  for (auto& v : table) v = SplitMix64(state);
  return table;
}

constexpr std::array<uint64_t, 256> kGear = MakeGearTable();

// The gear hash is h = (h << 1) + gear[byte], so bit k of h depends on the
// last k + 1 bytes only, and a byte leaves the hash entirely after 64 steps:
// the window is 64 bytes. The masks therefore take the TOP bits, which see
// the whole window; low bits would see only the last few bytes and cut on
// short repeated patterns.
//
// "The top `bits` bits of h are zero" is the same as "h < 2^(64 - bits)"; the
// scan below tests it in that form, so that each hash value needs just one
// compare against a constant limit.
constexpr uint64_t CutLimit(int bits) { return uint64_t{1} << (64 - bits); }
constexpr int kGearWindow = 64;

// Advances the gear hash `h` over p[i], p[i + 1], ... and returns the first
// position j < stop whose hash (after hashing p[j]) is below `limit`, or stop
// if there is none, in which case h is left as the hash after p[stop - 1].
// A limit of 0 never matches, which makes this the plain hash for warm-up.
//
// Byte at a time this loop is latency-bound: each byte waits for the
// previous byte's shift and add (1.2-1.5 cycles a byte on Zen 4). Unrolled
// over four bytes a, b, c, d the recurrence is
//   h1 = (h << 1) + G[a]
//   h2 = (h << 2) + t2,  t2 = (G[a] << 1) + G[b]
//   h3 = (h << 3) + t3,  t3 = (t2 << 1) + G[c]
//   h4 = (h3 << 1) + G[d]
// t2 and t3 do not depend on h, so the CPU computes them ahead; h1, h2 and
// h3 each take one shift-and-add (one LEA on x86-64) from h, and the chain
// from one step to the next is h -> h3 -> h4, two LEAs for four bytes. The
// loop is then bound by instruction throughput instead (about 0.8 cycles a
// byte). All arithmetic is mod 2^64 as in the byte-at-a-time form, so every
// hash value, and so every cut, is bit-identical to it.
//
// The four tests stay separate branches, earliest position first, which
// resolves the first hit exactly at no extra cost: a compare and a branch
// that is almost never taken fuse into one instruction, whereas folding the
// four tests into one branch (min of the four, or OR of the compares) adds
// instructions to a throughput-bound loop and measured 30% slower.
inline size_t ScanGear(const uint8_t* p, size_t i, size_t stop, uint64_t& h, uint64_t limit) {
  uint64_t x = h;
  // Whole steps of four bytes; phase bounds are arbitrary sizes, so up to
  // three bytes are left for the byte-at-a-time tail below.
  const size_t step_end = i + (stop - i) / 4 * 4;
  for (; i != step_end; i += 4) {
    const uint64_t ga = kGear[p[i]];
    const uint64_t gb = kGear[p[i + 1]];
    const uint64_t gc = kGear[p[i + 2]];
    const uint64_t gd = kGear[p[i + 3]];
    const uint64_t t2 = (ga << 1) + gb;
    const uint64_t t3 = (t2 << 1) + gc;
    const uint64_t h1 = (x << 1) + ga;
    const uint64_t h2 = (x << 2) + t2;
    const uint64_t h3 = (x << 3) + t3;
    const uint64_t h4 = (h3 << 1) + gd;
    if (h1 < limit) return i;
    if (h2 < limit) return i + 1;
    if (h3 < limit) return i + 2;
    if (h4 < limit) return i + 3;
    x = h4;
  }
  for (; i < stop; ++i) {
    x = (x << 1) + kGear[p[i]];
    if (x < limit) return i;
  }
  h = x;
  return stop;
}

class FixedChunker final : public Chunker {
 public:
  explicit FixedChunker(uint32_t size) : size_(size) {}

  size_t NextCut(std::span<const uint8_t> data, bool eof) const override {
    if (data.size() >= size_) return size_;
    return eof ? data.size() : 0;
  }
  uint32_t max_size() const override { return size_; }

 private:
  const uint32_t size_;
};

// FastCDC (Xia et al., USENIX ATC 2016) with normalised chunking level 2:
//  - no cut is considered before min_size (cut-point skipping: those bytes
//    are not even hashed, only the 64 bytes before min_size that fill the
//    window);
//  - between min_size and avg_size the mask has log2(avg) + 2 bits, so a cut
//    is 4x less likely than at the nominal rate;
//  - between avg_size and max_size the mask has log2(avg) - 2 bits, 4x more
//    likely;
//  - max_size forces a cut.
// This squeezes the chunk size distribution around avg_size (fewer tiny and
// fewer huge chunks than plain gear CDC) without hurting dedup much.
//
// Warming the hash over the 64 bytes before min_size (rather than starting
// from zero at min_size) makes every cut decision a function of the 64 bytes
// before it alone, independent of where the chunk started. A cut that exists
// in two versions of a file is then found in both whenever the search
// reaches it, which is what resynchronises chunking after an edit.
class FastCdcChunker final : public Chunker {
 public:
  explicit FastCdcChunker(const ChunkerParams& p)
      : min_(p.min_size),
        avg_(p.avg_size),
        max_(p.max_size),
        // Validation keeps avg_size in [64, 64 MiB], so these are 4..28 bits.
        limit_strict_(CutLimit(std::countr_zero(p.avg_size) + 2)),
        limit_loose_(CutLimit(std::countr_zero(p.avg_size) - 2)) {}

  size_t NextCut(std::span<const uint8_t> data, bool eof) const override {
    const size_t n = data.size();
    if (n <= min_) {
      // Nothing at or below min_size can be a cut (except the end of input).
      return eof ? n : 0;
    }
    const uint8_t* p = data.data();
    const size_t end = std::min<size_t>(n, max_);
    const size_t normal = std::min<size_t>(end, avg_);

    // Validation guarantees min_ >= 64, so the warm-up never underflows.
    if (IsAllZero({p + min_ - kGearWindow, end - (min_ - kGearWindow)})) return ZeroCut(n, eof);
    uint64_t h = 0;
    ScanGear(p, min_ - kGearWindow, min_, h, /*limit=*/0);

    // A hit at position i cuts after byte i: the chunk is i + 1 bytes long
    // and its end depends only on bytes up to i, so a cut found in a partial
    // buffer is the same cut the whole stream would give.
    if (size_t i = ScanGear(p, min_, normal, h, limit_strict_); i < normal) return i + 1;
    if (size_t i = ScanGear(p, normal, end, h, limit_loose_); i < end) return i + 1;
    if (end == max_) return max_;  // forced cut
    return eof ? n : 0;            // no cut in the bytes we have
  }
  uint32_t max_size() const override { return max_; }

 private:
  // The cut over bytes that are all zero from min_size - 64 to where the
  // scan would stop: runs of zeros (preallocated images, zeroed free space,
  // the free pages of a VM's memory) are cut without hashing them. Over
  // zeros the hash settles after the 64-byte warm-up, since the window then
  // holds 64 zeros whatever came before: h = sum of G[0] << k for k < 64,
  // which is -G[0] mod 2^64, and (h << 1) + G[0] is that value again. So
  // either every position hits (and the first one cuts) or none does, and
  // the answer is the one the scan would give, hash for hash.
  size_t ZeroCut(size_t n, bool eof) const {
    const size_t end = std::min<size_t>(n, max_);
    const size_t normal = std::min<size_t>(end, avg_);
    const uint64_t settled = uint64_t{0} - kGear[0];
    if (min_ < normal && settled < limit_strict_) return min_ + 1;
    if (normal < end && settled < limit_loose_) return normal + 1;
    if (end == max_) return max_;
    return eof ? n : 0;
  }

  const uint32_t min_;
  const uint32_t avg_;
  const uint32_t max_;
  const uint64_t limit_strict_;  // a hit is h < limit (top bits all zero)
  const uint64_t limit_loose_;
};

}  // namespace

ChunkerParams ChunkerParams::For(ChunkerKind kind, uint32_t avg) {
  ChunkerParams p;
  p.kind = kind;
  p.avg_size = avg;
  if (kind == ChunkerKind::kFixed) {
    p.min_size = avg;
    p.max_size = avg;
  } else {
    // avg/4 .. avg*4 is the FastCDC paper's range: wide enough that the
    // normalised masks, not the bounds, decide almost every cut.
    p.min_size = avg / 4;
    p.max_size = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{avg} * 4, UINT32_MAX));
  }
  return p;
}

std::string_view ChunkerName(ChunkerKind kind) {
  switch (kind) {
    case ChunkerKind::kFixed:
      return "fixed";
    case ChunkerKind::kFastCdc:
      return "cdc";
  }
  return "unknown";
}

Result<ChunkerKind> ParseChunkerKind(std::string_view name) {
  if (name == "fixed") return ChunkerKind::kFixed;
  if (name == "cdc" || name == "fastcdc") return ChunkerKind::kFastCdc;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown chunker '" + std::string(name) + "' (expected cdc or fixed)");
}

Status ValidateChunkerParams(const ChunkerParams& p) {
  if (p.kind != ChunkerKind::kFixed && p.kind != ChunkerKind::kFastCdc) {
    return Fail(ErrorCode::kInvalidArgument,
                "unknown chunker kind " + std::to_string(static_cast<int>(p.kind)));
  }
  const std::string sizes = "min " + std::to_string(p.min_size) + ", avg " +
                            std::to_string(p.avg_size) + ", max " + std::to_string(p.max_size);
  if (p.min_size < kMinChunkSize || p.min_size > p.avg_size || p.avg_size > p.max_size ||
      p.max_size > kMaxChunkSize) {
    return Fail(ErrorCode::kInvalidArgument,
                "chunk sizes must satisfy 64 <= min <= avg <= max <= 64 MiB (got " + sizes + ")");
  }
  if (p.kind == ChunkerKind::kFastCdc && !std::has_single_bit(p.avg_size)) {
    // The masks are log2(avg) +- 2 bits wide.
    return Fail(ErrorCode::kInvalidArgument,
                "cdc average chunk size must be a power of two (got " + sizes + ")");
  }
  return OkStatus();
}

std::unique_ptr<Chunker> MakeChunker(const ChunkerParams& params) {
  // Callers validate first (parameters come from flags or from a manifest,
  // and both deserve an error message); invalid ones get no chunker.
  if (!ValidateChunkerParams(params)) return nullptr;
  if (params.kind == ChunkerKind::kFixed) return std::make_unique<FixedChunker>(params.avg_size);
  return std::make_unique<FastCdcChunker>(params);
}

}  // namespace hugeblob
