// Reading stored frames out of packs for copy and gc's repack: coalesced
// ranged GETs, several in flight, every frame decoded and checked against its
// chunk id before anyone sees it. Frames are handed on still compressed (a
// copy never recompresses).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
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
  unsigned threads = 4;  // GETs (and decodes) in parallel, at least
  // Requests fetched ahead of the sink: the window starts at min_window and
  // adapts to the store (below), never past `window`, which is what the
  // memory budget allows (FetchMemory).
  unsigned window = 4;
  unsigned min_window = 2;
  uint64_t max_request = 4ull << 20;  // largest coalesced GET (copy sets its own)
  uint64_t max_gap = 64ull << 10;     // bytes read and dropped to join two frames
  // true: each frame handed to the sink is a private copy (the sink may keep
  // it for long without pinning a whole request). false: a slice of the
  // request's buffer (shared ownership, still safe to keep, but it holds the
  // whole request in memory): for a sink that copies what it keeps, such as
  // PackWriter::Append, this halves the memory of a request.
  bool private_copies = true;
  const CancelToken* cancel = nullptr;
};

// Bytes a fetch may hold at once: every request of the full window, twice
// with private copies (the range read, then the frames copied out of it).
inline uint64_t FetchMemory(const FetchOptions& o) {
  return (o.private_copies ? 2ull : 1ull) * o.window * o.max_request;
}

// What a fetch did: requests, bytes read (gaps included), and the window it
// settled on.
struct FetchStats {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  unsigned final_window = 0;
  unsigned max_window_used = 0;
  uint64_t stalls = 0;  // times the sink waited for the oldest request
};

// The read plan: consecutive frames of `frames` (in this order) in the same
// pack, each at most max_gap bytes after the one before, joined into
// requests of at most max_request bytes; a longer stretch is cut into equal
// parts (16.3 MiB under an 8 MiB cap: three requests of ~5.4 MiB, not
// 8 + 8 + 0.3). Returns [first, last) positions of each request.
std::vector<std::pair<size_t, size_t>> PlanFetch(const std::vector<FrameToCopy>& frames,
                                                 uint64_t max_request, uint64_t max_gap);

// Fetches `frames` (in this order; sort by pack and offset so neighbours
// coalesce) from `src` and calls `sink(frame, stored_bytes)` for each, in
// order, on the calling thread; see FetchOptions::private_copies for what
// `stored_bytes` holds. The first error (a failed GET, a frame that does not
// decode or does not match its chunk id, naming the pack and offset) or a
// sink error stops everything and is returned.
//
// The window adapts to the store: every time the sink finds the oldest
// request still running (it had to wait: the store is slower than the sink,
// so requests need to start earlier), the window grows by one, up to
// options.window; after 8 requests in a row that were already done, it
// shrinks by one, down to min_window (memory the sink does not need). On a
// store that answers in 30 ms this settles at the budget's window; on a
// local disk at the minimum.
Status FetchVerifiedFrames(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                           const FetchOptions& options,
                           const std::function<Status(const FrameToCopy&, const Buffer&)>& sink,
                           FetchStats* stats = nullptr);

}  // namespace hugeblob
