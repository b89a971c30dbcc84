#include "ops/diff.h"

#include <algorithm>
#include <unordered_set>

namespace hugeblob {
namespace {

// Whether every byte of [begin, end) is in a zero frame of `m` (past its end
// counts as not).
bool AllZero(const Manifest& m, uint64_t begin, uint64_t end) {
  if (end > m.size) return false;
  for (size_t i = m.FindFrame(begin); i < m.frames.size() && m.frames[i].offset < end; ++i) {
    if (!m.frames[i].zero) return false;
  }
  return true;
}

bool SameChunkAt(const Manifest& a, const FrameRef& f) {
  const size_t i = a.FindFrame(f.offset);
  if (i >= a.frames.size()) return false;
  const FrameRef& g = a.frames[i];
  return !g.zero && g.offset == f.offset && g.length == f.length && g.chunk == f.chunk;
}

}  // namespace

DiffReport DiffManifests(const Manifest& a, const Manifest& b) {
  DiffReport r;
  r.size_a = a.size;
  r.size_b = b.size;
  r.same_chunker = a.chunker.kind == b.chunker.kind && a.chunker.min_size == b.chunker.min_size &&
                   a.chunker.avg_size == b.chunker.avg_size &&
                   a.chunker.max_size == b.chunker.max_size && a.chunk_hash == b.chunk_hash;
  auto add = [&](uint64_t offset, uint64_t length) {
    if (length == 0) return;
    r.differing_bytes += length;
    if (!r.ranges.empty() && r.ranges.back().offset + r.ranges.back().length == offset) {
      r.ranges.back().length += length;
    } else {
      r.ranges.push_back({offset, length});
    }
  };
  for (const FrameRef& f : b.frames) {
    const bool equal = f.zero ? AllZero(a, f.offset, f.offset + f.length) : SameChunkAt(a, f);
    if (!equal) add(f.offset, f.length);
  }
  if (a.size > b.size) add(b.size, a.size - b.size);  // what B no longer has

  std::unordered_set<ChunkId, Hash256Hasher> in_a;
  if (a.chunk_hash == b.chunk_hash) {
    for (const FrameRef& f : a.frames) {
      if (!f.zero) in_a.insert(f.chunk);
    }
  }
  std::unordered_set<ChunkId, Hash256Hasher> counted;
  for (const FrameRef& f : b.frames) {
    if (f.zero) {
      r.holes_b += f.length;
    } else if (in_a.count(f.chunk) != 0) {
      r.seeded_bytes += f.length;
    } else if (counted.insert(f.chunk).second) {
      ++r.fetch_chunks;
      r.fetch_bytes += f.stored_length;
      r.fetch_plain_bytes += f.length;
    }
  }
  return r;
}

}  // namespace hugeblob
