// Chunkers decide where a byte stream is cut into chunks.
//
// Fixed: every chunk is `avg_size` bytes (the last may be shorter).
// FastCDC: content-defined cut points from a gear rolling hash with
// normalised chunking (a stricter mask before the average size, a looser one
// after), so an insertion moves only the cut points near it. Chunks are
// between min_size and max_size bytes (the last may be shorter).
//
// A Chunker is stateless between chunks and thread-compatible (const methods
// may be called from several threads).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "hugeblob/error.h"

namespace hugeblob {

enum class ChunkerKind : uint8_t { kFixed = 0, kFastCdc = 1 };

struct ChunkerParams {
  ChunkerKind kind = ChunkerKind::kFastCdc;
  uint32_t min_size = 64 * 1024;
  uint32_t avg_size = 256 * 1024;
  uint32_t max_size = 1024 * 1024;

  // Defaults for a kind, scaled to `avg` (min = avg/4, max = avg*4 for CDC;
  // min = max = avg for fixed).
  static ChunkerParams For(ChunkerKind kind, uint32_t avg);
  friend bool operator==(const ChunkerParams&, const ChunkerParams&) = default;
};

std::string_view ChunkerName(ChunkerKind kind);
Result<ChunkerKind> ParseChunkerKind(std::string_view name);
// Sizes must satisfy 64 <= min <= avg <= max <= 64 MiB (CDC: avg a power of two).
Status ValidateChunkerParams(const ChunkerParams& params);

// A file is cut island by island: a hole of at least this many bytes (found
// with SEEK_HOLE) is never read and ends the chunk before it, so an island
// of data chunks the same wherever it sits. Shorter holes are read as data
// (a 4 KiB hole would otherwise force a cut and a tiny chunk). put cuts
// files this way, and a seeded get cuts its seeds the same way.
inline constexpr uint64_t kMinSkippedHole = 1 << 20;

class Chunker {
 public:
  virtual ~Chunker() = default;
  // Length of the chunk that starts at data[0]. Returns 0 when the cut point
  // cannot be decided yet: !eof and data.size() < max_size(). With eof, it
  // returns a length > 0 for non-empty data (the whole rest at most).
  virtual size_t NextCut(std::span<const uint8_t> data, bool eof) const = 0;
  virtual uint32_t max_size() const = 0;
};

// Null if `params` fail ValidateChunkerParams: callers validate first, so
// that a bad flag or manifest gets an error message rather than a crash.
std::unique_ptr<Chunker> MakeChunker(const ChunkerParams& params);

}  // namespace hugeblob
