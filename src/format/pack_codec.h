// The encoder and decoders of pack trailers (layout: pack.h, docs/format.md).
// Only the format, the repository layer (src/repo/packs.h reads trailers)
// and the writer (which streams packs) include this: docs/layers.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/pack.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// The trailer for frames laid out as `entries` say (offsets must be
// contiguous from 0 and end at `frames_length`).
Buffer EncodePackTrailer(std::span<const PackEntry> entries, uint64_t frames_length);

// Parses the last kPackFooterSize bytes of a pack of `pack_size` bytes.
Result<PackFooter> DecodePackFooter(std::span<const uint8_t> footer, uint64_t pack_size);

// Parses entry `index` (kPackEntrySize bytes) of a trailer whose frames
// region is `frames_end` bytes, and checks it: codec known, lengths within
// the limits of pack.h, raw frames at their length, the frame inside the region
// and at or after `*prev_end` (the end of the previous frame), which it then
// advances. Lets a reader stream a trailer of any size in bounded memory.
Result<PackEntry> DecodePackEntry(std::span<const uint8_t> bytes, uint32_t index,
                                  uint64_t frames_end, uint64_t* prev_end);

// Parses a whole trailer (entries + footer) of a pack of `pack_size` bytes
// and checks that every frame lies inside the frames region without overlap.
Result<std::vector<PackEntry>> DecodePackTrailer(std::span<const uint8_t> trailer,
                                                 uint64_t pack_size);

}  // namespace hugeblob
