// Fetching frames from a store: run planning (range coalescing), one ranged
// GET per run, then decode and verify every frame of it.
//
// A run is a set of frames of one pack whose stored ranges are back to back,
// so one GetRange returns exactly their bytes. Every frame is decoded into a
// buffer of its own (never a slice of the GET buffer, which would pin the
// whole run in the cache) and its SHA-256 checked against its chunk id
// before anyone sees it.
//
// Pure functions over their arguments; thread-safe as long as the store is
// (every ObjectStore is). Returned Buffers are owned by the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

class MemoryBudget;

// Counters a fetch adds to (the context's statistics).
struct FetchCounters {
  std::atomic<uint64_t> store_requests{0};
  std::atomic<uint64_t> store_bytes{0};
  std::atomic<uint64_t> frames_fetched{0};
};

// Groups frames into runs for one ranged GET each: same pack, adjacent
// stored ranges, at most `max_run_bytes` stored bytes per run (a larger
// frame is a run of its own). `indices` are frame indices (no zero frames,
// no chunk twice, any order); each run is a list of positions into
// `indices`, in stored order, and runs come out ordered by (pack, offset).
std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes);

// Decodes a stored frame into a new buffer of f.length bytes (its memory
// accounted to `live` if given) and checks its hash. Errors are kCorruption
// naming `pack_key` and the frame's offset.
Result<Buffer> DecodeVerified(const FrameRef& f, std::span<const uint8_t> stored,
                              std::string_view pack_key, MemoryBudget* live);

// One ranged GET of pack `pack_key` covering `run` (frames in stored order,
// adjacent), then DecodeVerified of each. Returns one result per frame, in
// the order of `run`; a failed GET fails every frame with its error.
std::vector<Result<Buffer>> FetchRun(ObjectStore& store, std::string_view pack_key,
                                     std::span<const FrameRef> frames, std::span<const size_t> run,
                                     MemoryBudget* live, FetchCounters* counters);

}  // namespace hugeblob
