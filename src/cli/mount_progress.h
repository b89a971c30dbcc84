// Progress of a mount's first-use fetches (issue 15): what the mount reads
// from the store because no cache had it. A mount serves reads for as long
// as it is mounted, so there is no total, no percent and no ETA: the line
// shows the chunk data fetched so far, the current rate, the store reads in
// flight and the reads made.
//
//   foreground, stderr a terminal   a line redrawn at most 5 times a second
//                                   while fetches happen, cleared at unmount
//   --progress json (foreground)    JSON lines: "progress":"mount", "done"
//                                   (bytes fetched), "rate", "requests",
//                                   "in_flight"; a last one with "finished"
//   otherwise                       nothing while mounted
//   at unmount (foreground)         one summary line on stderr unless -q
//
// A detached mount has no terminal (stderr is /dev/null after it detaches):
// it shows nothing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cli/progress.h"
#include "store/wrapper_store.h"

namespace hugeblob::cli {

// Counts reads of pack objects (chunk data) on their way to `base`: the
// fetches the mount's caches did not answer. Manifests, refs and listings
// are not counted (the mount re-lists names every few seconds).
class FetchCountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) override;
  Status GetRangeIntoBuffer(std::string_view key, uint64_t offset, const Buffer& owner,
                            std::span<uint8_t> dst) override;

  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  class Flight;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> in_flight_{0};
};

// Reports a FetchCountingStore's counters while the mount runs, on its own
// thread (started by Start, after the mount is up; stopped by Stop).
class MountProgress {
 public:
  MountProgress(std::shared_ptr<FetchCountingStore> store, std::string mountpoint,
                ProgressMode mode);
  ~MountProgress() { Stop(); }
  void Start();
  // Stops the thread and clears the line (the last JSON line in JSON mode).
  void Stop();
  // "mount DIR: fetched 1.2 GiB from the store in 310 requests over 12.0s\n"
  std::string Summary() const;

 private:
  void Loop();

  std::shared_ptr<FetchCountingStore> store_;
  std::string mountpoint_;
  ProgressMode mode_;
  ProgressLine line_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace hugeblob::cli
