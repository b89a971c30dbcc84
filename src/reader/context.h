// The process-wide state behind ReaderContext: the memory and disk chunk
// caches, the single-flight table, the fetch threads, the byte bound on
// background fetches, and the statistics.
//
// Thread-safe: every member is itself thread-safe and fixed after Make.
//
// Lifetime: BlobReaders hold a shared_ptr to their context, so it outlives
// them. Background tasks hold only a raw pointer: the pool is the last
// member, so its destructor (which waits for running tasks and lets queued
// ones finish quickly, see stopping()) runs while everything a task touches
// is still alive. A task never holds a shared_ptr to the context, so the
// context is never destroyed on one of its own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "hash/sha256.h"
#include "reader/blob_reader.h"
#include "reader/disk_cache.h"
#include "reader/fetcher.h"
#include "reader/memory_cache.h"
#include "reader/seen_once.h"
#include "reader/single_flight.h"
#include "util/budget.h"
#include "util/thread_pool.h"

namespace hugeblob {

using ChunkFlights = SingleFlight<ChunkId, Result<Buffer>, Hash256Hasher>;

class ContextImpl final : public ReaderContext {
 public:
  static Result<std::shared_ptr<ContextImpl>> Make(const ReaderOptions& options);
  ~ContextImpl() override;

  const ReaderOptions& options() const override { return options_; }
  ReaderStats stats() const override;

  ChunkCache& memory() { return memory_; }
  // Null when the disk cache is off or could not be set up.
  DiskCache* disk() { return disk_ != nullptr && disk_->enabled() ? disk_.get() : nullptr; }
  // The same, shared: for what may outlive the context (reader/object_cache.h).
  std::shared_ptr<DiskCache> shared_disk() { return disk() != nullptr ? disk_ : nullptr; }
  // Whether a chunk just loaded from the store goes to the disk cache
  // (ReaderOptions::disk_cache_admission). Call once per load.
  bool AdmitToDisk(const ChunkId& id);
  SeenOnce& seen() { return seen_; }
  ChunkFlights& flights() { return flights_; }
  FetchCounters& counters() { return counters_; }
  // Accounts every decoded chunk buffer while it lives (cached or held by a
  // caller): tests and benchmarks check the memory bound against it.
  MemoryBudget* live() { return live_.get(); }
  uint64_t live_bytes() const { return live_->used(); }
  uint64_t live_peak_bytes() const { return live_->peak(); }

  // The byte bound on background fetches in flight (decoded bytes): half the
  // memory cache, so what read-ahead and Prefetch bring in fits beside the
  // working set instead of evicting it, or itself, before it is read.
  uint64_t prefetch_limit() const { return prefetch_limit_; }
  bool TryReservePrefetch(uint64_t bytes);
  void ReleasePrefetch(uint64_t bytes);
  uint64_t prefetch_in_flight() const { return prefetch_bytes_.load(); }

  void Submit(std::function<void()> task) { pool_->Submit(std::move(task)); }
  size_t fetch_threads() const { return pool_->size(); }
  // Set while the context is being destroyed: queued tasks give up.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Waits until no background fetch is queued or running (tests, benches).
  void WaitIdle() { pool_->Wait(); }

 private:
  explicit ContextImpl(const ReaderOptions& options);

  const ReaderOptions options_;
  const uint64_t prefetch_limit_;
  std::shared_ptr<MemoryBudget> live_;
  ChunkCache memory_;
  std::shared_ptr<DiskCache> disk_;
  SeenOnce seen_;  // chunks loaded once (kSecondLoad admission)
  std::atomic<uint64_t> disk_deferred_{0};
  ChunkFlights flights_;
  FetchCounters counters_;
  std::atomic<uint64_t> prefetch_bytes_{0};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<ThreadPool> pool_;  // last member: joined before the rest dies
};

}  // namespace hugeblob
