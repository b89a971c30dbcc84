// The reader's side of fetching frames: its counters, and its calls into
// the repository layer's planner (repo/frames.h), which plans the coalesced
// reads, reads them and decodes and verifies every frame.
//
// Thread-safe as long as the store is (every ObjectStore is). Returned
// Buffers are owned by the caller.
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
#include "repo/frames.h"

namespace hugeblob {

class MemoryBudget;

// Counters a fetch adds to (the context's statistics).
struct FetchCounters {
  std::atomic<uint64_t> store_requests{0};
  std::atomic<uint64_t> store_bytes{0};
  std::atomic<uint64_t> frames_fetched{0};
  std::atomic<uint64_t> segment_requests{0};  // manifest segments loaded
  std::atomic<uint64_t> segment_bytes{0};
  RequestCost cost;
};

// Groups frames `indices` of `frames` (no zero frames, any order) into runs
// for one ranged GET each, with PlanReads (repo/frames.h): same pack,
// at most `max_gap_bytes` apart, at most `max_run_bytes` each (cut evenly).
// Each run is a list of positions into `indices`, in stored order; runs
// come out ordered by (pack, offset).
std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes,
                                          uint64_t max_gap_bytes = 0);

// One ranged GET of pack `pack_key` covering `run` (frame indices in stored
// order; gaps between them are read and dropped), then DecodeVerified of
// each. Records the GET in counters->cost. Returns one result per frame, in
// the order of `run`; a failed GET fails every frame with its error.
std::vector<Result<Buffer>> FetchRun(ObjectStore& store, std::string_view pack_key,
                                     std::span<const FrameRef> frames, std::span<const size_t> run,
                                     MemoryBudget* live, FetchCounters* counters);

}  // namespace hugeblob
