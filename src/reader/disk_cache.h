// The disk cache of decoded chunks: a content-addressed directory, bounded in
// bytes, shared by every process that points at it and surviving restarts.
//
//   <dir>/v1/<h2>/<hex64>   one decoded chunk, named by its id
//   <dir>/v1/tmp/           entries being written
//   <dir>/v1/lock           flock()ed by whoever evicts
//
// Entries hold the decoded chunk, not the stored frame: the bytes are then a
// pure function of the name (the same chunk compressed differently in two
// stores is one entry), and a hit costs one read and one SHA-256, with no
// decompression on the latency path. The price is disk space; the bound is
// in decoded bytes.
//
// Safety between processes and on a shared directory:
//  * Publication is atomic: an entry is written to tmp/ and renamed into
//    place, so a reader opens a whole entry or none. Entries are never
//    modified in place; eviction unlinks, and a reader that has the file
//    open keeps reading the old inode.
//  * Every load is verified against the id; a bad entry (torn by a crash
//    without fsync, truncated, bit rot, a foreign file) is deleted and the
//    caller fetches the chunk again. That is also why nothing is fsynced.
//  * Size: each process starts from a scan, adds what it writes, and
//    rescans under an exclusive flock on the lock file when its count goes
//    over the bound or after writing 1/16 of the bound (to see what the
//    others wrote). A rescan that finds more than the bound deletes the
//    least recently used entries (by mtime; hits refresh a stale mtime)
//    down to 7/8 of it.
//  * A write that fails (ENOSPC, EDQUOT, EROFS, ...) never fails a read:
//    ENOSPC/EDQUOT evict and retry once, then the cache stops writing for a
//    minute; any such failure is logged once per process.
//
// Thread-safe. A cache that cannot be set up is disabled (logged once), and
// then every Get misses and every Put is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "hash/sha256.h"
#include "hugeblob/buffer.h"

namespace hugeblob {

class MemoryBudget;

class DiskCache {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t corrupt = 0;  // bad entries found and deleted
    uint64_t writes = 0;   // entries published
    uint64_t write_failures = 0;
    uint64_t evicted = 0;  // entries deleted by eviction
    uint64_t scans = 0;
  };

  // $XDG_CACHE_HOME/hugeblob, else $HOME/.cache/hugeblob.
  static std::string DefaultDir();

  // Never fails; see the class comment.
  static std::unique_ptr<DiskCache> Open(const std::string& dir, uint64_t capacity_bytes);
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  bool enabled() const { return enabled_; }
  const std::string& root() const { return root_; }
  uint64_t capacity() const { return capacity_; }

  // The chunk `id` of `length` bytes, if cached and intact. The buffer's
  // memory is accounted to `live` if given.
  bool Get(const ChunkId& id, uint32_t length, Buffer* out, MemoryBudget* live = nullptr);
  // Publishes `chunk` under `id` unless present. Best effort.
  void Put(const ChunkId& id, const Buffer& chunk);

  // Rescans the directory (under the lock file) and evicts down to
  // `target_bytes` if above it. Returns the bytes left.
  uint64_t Evict(uint64_t target_bytes);
  // This process's estimate of the bytes in the cache.
  uint64_t usage() const { return usage_.load(std::memory_order_relaxed); }
  std::string PathFor(const ChunkId& id) const;
  Stats stats() const;

 private:
  DiskCache(std::string root, uint64_t capacity);
  bool Setup();
  // Writes a temp file and renames it into place; false with errno set.
  bool Publish(const ChunkId& id, const Buffer& chunk);
  void MaybeEvict();
  // Scans every entry (and deletes stale temp files); if they add up to
  // more than `trigger_bytes`, deletes the least recently used down to
  // `target_bytes`. Caller holds evict_mu_ and the flock. Returns bytes left.
  uint64_t ScanLocked(uint64_t trigger_bytes, uint64_t target_bytes);
  void WarnOnce(const std::string& what, int err);

  const std::string root_;  // <dir>/v1
  const uint64_t capacity_;
  bool enabled_ = false;  // set once by Open
  int lock_fd_ = -1;      // the lock file, kept open

  std::atomic<uint64_t> usage_{0};
  std::atomic<uint64_t> written_since_scan_{0};
  std::atomic<int64_t> bypass_until_{0};  // steady-clock seconds; writes off until then
  std::atomic<uint64_t> temp_counter_{0};
  std::atomic<bool> warned_{false};
  std::mutex evict_mu_;  // one evicting thread per process (flock covers processes)

  std::atomic<uint64_t> hits_{0}, misses_{0}, corrupt_{0}, writes_{0}, write_failures_{0},
      evicted_{0}, scans_{0};
};

}  // namespace hugeblob
