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

// The trailer for frames laid out as `entries` say (offsets must be
// contiguous from 0 and end at `frames_length`).
Buffer EncodePackTrailer(std::span<const PackEntry> entries, uint64_t frames_length);

// Parses the last kPackFooterSize bytes of a pack of `pack_size` bytes.
Result<PackFooter> DecodePackFooter(std::span<const uint8_t> footer, uint64_t pack_size);

// Parses a whole trailer (entries + footer) of a pack of `pack_size` bytes
// and checks that every frame lies inside the frames region without overlap.
Result<std::vector<PackEntry>> DecodePackTrailer(std::span<const uint8_t> trailer,
                                                 uint64_t pack_size);

}  // namespace hugeblob
