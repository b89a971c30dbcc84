// A manifest is the recipe of one file: its size, whole-file SHA-256, the
// chunking parameters, and the ordered frame table. Binary, versioned,
// checksummed, zstd-compressed; an unknown version is refused, never guessed.
// Exact layout in docs/format.md.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "chunking/chunker.h"
#include "codec/codec.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// One chunk of the file, in file order. `offset` is derived (the sum of the
// lengths before it) and not stored.
struct FrameRef {
  uint64_t offset = 0;         // uncompressed offset in the file
  uint32_t length = 0;         // uncompressed length
  bool zero = false;           // all-zero chunk: not stored; pack fields unused
  ChunkId chunk;               // SHA-256 of the uncompressed bytes (unused if zero)
  uint32_t pack = 0;           // index into Manifest::packs
  uint64_t stored_offset = 0;  // frame offset in the pack
  uint32_t stored_length = 0;  // frame length
  Codec codec = Codec::kNone;
  friend bool operator==(const FrameRef&, const FrameRef&) = default;
};

struct Manifest {
  uint64_t size = 0;
  Hash256 sha256;  // of the whole file
  ChunkerParams chunker;
  int64_t created_unix = 0;
  std::vector<Hash256> packs;  // distinct packs referenced, in first-use order
  std::vector<FrameRef> frames;

  // Index of the frame holding byte `offset` (binary search); frames.size()
  // if offset >= size.
  size_t FindFrame(uint64_t offset) const;
  // Sanity checks that decoding also runs: offsets contiguous and summing to
  // size, pack indices in range, lengths within the chunker maximum.
  Status Validate() const;
};

inline constexpr uint32_t kManifestVersion = 1;

Result<Buffer> EncodeManifest(const Manifest& manifest);
// `name` is used in error messages.
Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes, std::string_view name);

// A ref is a small text object naming a manifest:
//   hugeblob-ref 1\nmanifest <hex>\nsize <bytes>\ncreated <unix>\nadded <bytes>\nshared <bytes>\n
// `added` is the stored (compressed) bytes this put wrote to the store,
// `shared` the uncompressed bytes of chunks the store already held. Lines
// with unknown keys are ignored (forward compatible); a missing
// added/shared line reads as 0.
struct Ref {
  Hash256 manifest;
  uint64_t size = 0;
  int64_t created_unix = 0;
  uint64_t added_bytes = 0;
  uint64_t shared_bytes = 0;
};
Buffer EncodeRef(const Ref& ref);
Result<Ref> DecodeRef(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace hugeblob
