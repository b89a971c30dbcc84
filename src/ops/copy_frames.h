// Reading stored frames out of packs for copy and gc's repack: coalesced
// ranged GETs, several in flight, every frame decoded and checked against its
// chunk id before anyone sees it. Frames are handed on still compressed (a
// copy never recompresses).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "codec/codec.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"
#include "util/cancel.h"

namespace hugeblob {

struct FrameToCopy {
  Hash256 pack;
  uint64_t offset = 0;  // in the pack
  uint32_t stored_length = 0;
  uint32_t length = 0;  // uncompressed
  Codec codec = Codec::kNone;
  ChunkId chunk;
  HashAlgo hash = HashAlgo::kBlake3;  // what `chunk` is
};

struct FetchOptions {
  unsigned threads = 4;               // GETs (and decodes) in parallel
  unsigned window = 4;                // requests fetched ahead of the sink
  uint64_t max_request = 4ull << 20;  // largest coalesced GET
  uint64_t max_gap = 64ull << 10;     // bytes read and dropped to join two frames
  const CancelToken* cancel = nullptr;
};

// Bytes a fetch may hold at once: every request of the window twice (the
// range read, then the frames copied out of it).
inline uint64_t FetchMemory(const FetchOptions& o) { return 2ull * o.window * o.max_request; }

// Fetches `frames` (in this order; sort by pack and offset so neighbours
// coalesce) from `src` and calls `sink(frame, stored_bytes)` for each, in
// order, on the calling thread. `stored_bytes` is a private copy (it pins no
// larger read buffer), so the sink may keep it. The first error (a failed
// GET, a frame that does not decode or does not match its chunk id, naming
// the pack and offset) or a sink error stops everything and is returned.
Status FetchVerifiedFrames(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                           const FetchOptions& options,
                           const std::function<Status(const FrameToCopy&, const Buffer&)>& sink);

}  // namespace hugeblob
