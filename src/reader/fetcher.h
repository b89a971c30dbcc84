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
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

class MemoryBudget;

// What one request to the store costs, learnt from the requests themselves:
// a fit of duration = latency + bytes / bandwidth over the last kSamples
// ranged GETs (least squares). On loopback the latency is a fraction of a
// millisecond; on S3 it is tens of ms, and a request should then carry
// several MiB, or the connection spends most of its time waiting.
//
// Thread-safe (one mutex; a few per request, never on the warm path).
class RequestCost {
 public:
  static constexpr size_t kSamples = 64;

  void Record(uint64_t bytes, double seconds);

  // Bytes one connection moves in the time a request waits for its first
  // byte (latency x bandwidth): below that a request is mostly waiting. 0
  // until there are at least 4 samples whose sizes differ by 1.5x or more
  // (the first sequential reads of a file, before read-ahead starts).
  // When bigger requests are not measurably slower (loopback transfer under
  // a 20 ms wait), the latency is what the smallest requests cost and the
  // break-even size is huge: as large as a caller allows.
  uint64_t BreakEvenBytes() const;
  double latency_seconds() const;   // 0 if unknown
  double bytes_per_second() const;  // 0 if unknown

 private:
  void Fit(double* latency, double* bandwidth) const;  // holds mu_

  mutable std::mutex mu_;
  struct Sample {
    double bytes;
    double seconds;
  };
  Sample samples_[kSamples] = {};  // guarded by mu_
  size_t count_ = 0;               // guarded by mu_: samples recorded, ever
};

// Counters a fetch adds to (the context's statistics).
struct FetchCounters {
  std::atomic<uint64_t> store_requests{0};
  std::atomic<uint64_t> store_bytes{0};
  std::atomic<uint64_t> frames_fetched{0};
  std::atomic<uint64_t> segment_requests{0};  // manifest segments loaded
  std::atomic<uint64_t> segment_bytes{0};
  RequestCost cost;
};

// Groups frames into runs for one ranged GET each: same pack, stored ranges
// at most `max_gap_bytes` apart (the bytes between are read and dropped: on
// a store where a request costs more than reading them, that saves a
// request; 0 joins only back-to-back frames), at most `max_run_bytes` from
// a run's first stored byte to its last (a larger frame is a run of its
// own). A stretch longer than the cap is cut into equal parts, not into
// full runs and a small remainder. `indices` are frame indices (no zero
// frames, no chunk twice, any order); each run is a list of positions into
// `indices`, in stored order, and runs come out ordered by (pack, offset).
std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes,
                                          uint64_t max_gap_bytes = 0);

// Decodes a stored frame into a new buffer of f.length bytes (its memory
// accounted to `live` if given) and checks its hash. Errors are kCorruption
// naming `pack_key` and the frame's offset.
Result<Buffer> DecodeVerified(const FrameRef& f, std::span<const uint8_t> stored,
                              std::string_view pack_key, MemoryBudget* live);

// One ranged GET of pack `pack_key` covering `run` (frames in stored order,
// gaps between them are read and dropped), then DecodeVerified of each.
// Records the GET's size and duration in counters->cost. Returns one result per frame, in
// the order of `run`; a failed GET fails every frame with its error.
std::vector<Result<Buffer>> FetchRun(ObjectStore& store, std::string_view pack_key,
                                     std::span<const FrameRef> frames, std::span<const size_t> run,
                                     MemoryBudget* live, FetchCounters* counters);

}  // namespace hugeblob
