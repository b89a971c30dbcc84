// Pack objects: frames appended back to back, then a trailer that indexes
// them, so a store can always be re-indexed from its packs alone.
//
//   [frame 0][frame 1]...[frame n-1][trailer]
//   trailer = entries ... + footer (fixed size, the last kPackFooterSize bytes)
//
// The pack id is the SHA-256 of the trailer bytes: it covers every chunk id,
// offset, length and codec, so it is content-addressed without hashing the
// frames again (each frame is already checked against its chunk id on read).
// Exact byte layout: docs/format.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "codec/codec.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

struct PackEntry {
  ChunkId chunk;
  uint64_t offset = 0;         // of the frame within the pack
  uint32_t stored_length = 0;  // frame bytes
  uint32_t length = 0;         // uncompressed bytes
  Codec codec = Codec::kNone;
  friend bool operator==(const PackEntry&, const PackEntry&) = default;
};

struct PackFooter {
  uint32_t version = 0;
  uint32_t entry_count = 0;
  uint64_t trailer_length = 0;  // entries + footer
};

inline constexpr uint32_t kPackVersion = 1;
inline constexpr size_t kPackFooterSize = 32;
inline constexpr size_t kPackEntrySize = 49;

// Limits every decoder enforces on a frame, whatever the object claims, so
// that no length read from a store makes a reader allocate more than a real
// frame can need: a chunk is at most 64 MiB (the chunker's maximum, which
// manifests enforce too), and a stored frame at most that plus the worst
// expansion of a codec on incompressible input (zstd and lz4 add well under
// 1/128 + 64 KiB).
inline constexpr uint32_t kMaxFrameLength = 64u << 20;
inline constexpr uint32_t kMaxStoredFrameLength =
    kMaxFrameLength + (kMaxFrameLength >> 7) + (1u << 20);

}  // namespace hugeblob
