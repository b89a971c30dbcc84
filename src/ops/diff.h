// diff: which byte ranges of two stored files differ, by content, and what
// a seeded get of the second from the first would fetch. Pure functions
// over two manifests: no chunk is read.
#pragma once

#include <cstdint>
#include <vector>

#include "format/manifest.h"

namespace hugeblob {

struct DiffReport {
  struct Range {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  uint64_t size_a = 0;
  uint64_t size_b = 0;
  // Ranges of [0, max(size_a, size_b)) that differ, merged and in order. A
  // range is equal where both files have the same chunk (same id, offset
  // and length) or zeros in both; anything else counts as different, so
  // two files cut differently (other chunker settings) differ wherever
  // their chunk boundaries do not line up, even where the bytes agree.
  std::vector<Range> ranges;
  uint64_t differing_bytes = 0;  // sum of `ranges`
  bool same_chunker = true;      // both files cut with the same chunker settings
  // A get of B seeded with a copy of A (cut with B's chunker: with the same
  // settings that finds exactly A's chunks):
  uint64_t seeded_bytes = 0;       // bytes of B whose chunk A holds (anywhere)
  uint64_t fetch_chunks = 0;       // distinct chunks of B that A does not hold
  uint64_t fetch_bytes = 0;        // their stored (compressed) size: what is fetched
  uint64_t fetch_plain_bytes = 0;  // their uncompressed size
  uint64_t holes_b = 0;            // bytes of B in zero chunks (never fetched)
};

DiffReport DiffManifests(const Manifest& a, const Manifest& b);

}  // namespace hugeblob
