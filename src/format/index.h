// Index objects map chunk ids to where their frames are: (pack, offset,
// stored length, length, codec). A writer loads every index object of a store
// to know which chunks it already holds; any pack can be re-indexed from its
// trailer if an index object is lost. Binary, versioned, checksummed,
// zstd-compressed; exact layout in docs/format.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "codec/codec.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

struct IndexEntry {
  ChunkId chunk;
  Hash256 pack;
  uint64_t offset = 0;
  uint32_t stored_length = 0;
  uint32_t length = 0;
  Codec codec = Codec::kNone;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

inline constexpr uint32_t kIndexVersion = 1;

}  // namespace hugeblob
