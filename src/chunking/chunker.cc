#include "chunking/chunker.h"

#include <algorithm>
#include <array>
#include <bit>
#include <string>

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
constexpr uint64_t TopBitsMask(int bits) {
  return bits <= 0 ? 0 : (bits >= 64 ? ~0ull : ~0ull << (64 - bits));
}
constexpr int kGearWindow = 64;

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
        mask_strict_(TopBitsMask(std::countr_zero(p.avg_size) + 2)),
        mask_loose_(TopBitsMask(std::countr_zero(p.avg_size) - 2)) {}

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
    size_t i = min_ - kGearWindow;
    uint64_t h = 0;
    for (; i < min_; ++i) h = (h << 1) + kGear[p[i]];

    // A hit at position i cuts after byte i: the chunk is i + 1 bytes long
    // and its end depends only on bytes up to i, so a cut found in a partial
    // buffer is the same cut the whole stream would give.
    for (; i < normal; ++i) {
      h = (h << 1) + kGear[p[i]];
      if ((h & mask_strict_) == 0) return i + 1;
    }
    for (; i < end; ++i) {
      h = (h << 1) + kGear[p[i]];
      if ((h & mask_loose_) == 0) return i + 1;
    }
    if (end == max_) return max_;  // forced cut
    return eof ? n : 0;            // no cut in the bytes we have
  }
  uint32_t max_size() const override { return max_; }

 private:
  const uint32_t min_;
  const uint32_t avg_;
  const uint32_t max_;
  const uint64_t mask_strict_;
  const uint64_t mask_loose_;
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
