// The disk cache of decoded chunks: a content-addressed directory, bounded in
// bytes, shared by every process that points at it and surviving restarts.
//
//   <dir>/v1/<h2>/<hex64>   one decoded chunk, named by its id, or one
//                           manifest or segment object (named by its
//                           SHA-256; reader/object_cache.h)
//   <dir>/v1/tmp/           entries being written
//   <dir>/v1/lock           flock()ed by whoever evicts
//   <dir>/v1/claims/<hex64> flock()ed by the process fetching that chunk
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
//  * An entry is verified against its id (size, then SHA-256) the first
//    time this process reads it; a bad entry (torn by a crash without fsync,
//    truncated, bit rot, a foreign file) is deleted and the caller fetches
//    the chunk again. That is also why nothing is fsynced.
//
// Trust model (verify once): after an entry has been read whole and found
// to match its id, or written by this process from bytes it verified, the
// process remembers id -> (st_dev, st_ino, size) in a bounded LRU map. Later
// Gets of the same inode skip the SHA-256, and ReadRange copies just a byte
// range of it, which is what makes a 4 KiB read that misses the memory cache
// cost one pread instead of reading and hashing a whole chunk. Entries are
// immutable and published by rename, so a replaced entry is a new inode and
// is verified again before any of it is served; an entry that was never
// verified by this process is never range-read. What is NOT detected is an
// inode modified in place after it was verified (bit rot, someone writing
// into the cache directory): such damage is served until the entry is
// evicted, falls out of the verified map, or the process restarts. Chunks
// from the store are always verified.
//
// Open files: ReadRange keeps a bounded LRU of open fds of verified entries,
// so a hot entry costs one pread, not open + fstat + pread + close. An fd
// keeps reading the inode it was verified on even after another process
// evicts (unlinks) or replaces the entry; those bytes are the right ones.
// The space of such unlinked entries is held until the fd is closed: the
// number of open fds is bounded so that this is at most about 1/8 of the
// capacity, and this process's own evictions close the fds they unlink.
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
// One fetch per chunk across processes (claims): a process about to fetch
// a chunk from the store takes a non-blocking flock on claims/<id> (created
// for the occasion). If another process holds it, that process is fetching
// the chunk right now: this one fetches its other chunks first, releases
// its own claims, then waits (bounded) for that claim to go and reads the
// chunk from the cache. Nobody waits while holding a claim, so two
// processes can never wait on each other. The holder publishes the entry,
// then unlinks the claim file and closes it; a process that locked a claim
// file that was unlinked meanwhile (fstat and stat disagree) tries again. A
// process killed while holding claims releases them with its fds; at worst
// an empty claim file stays, which the next claim of that id reuses and
// removes (and a scan removes after an hour).
//
// Thread-safe. A cache that cannot be set up is disabled (logged once), and
// then every Get misses and every Put is dropped.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

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
    uint64_t object_hits = 0;    // GetObject (manifests, segments; not in hits)
    uint64_t object_misses = 0;  // GetObject (not in misses)
    uint64_t object_writes = 0;  // PutObject (not in writes)
    uint64_t range_hits = 0;     // ReadRange served from a verified entry
    uint64_t range_misses = 0;   // ReadRange not served (absent, unverified, replaced)
    uint64_t verified = 0;       // entries known verified now (bounded)
    uint64_t open_files = 0;     // fds kept open now (bounded)
  };

  // Bounds of the per-process state; kAuto derives them from the capacity
  // (and the fd limit): see Open.
  static constexpr size_t kAuto = SIZE_MAX;
  struct Limits {
    size_t max_verified = kAuto;    // verified entries remembered (LRU)
    size_t max_open_files = kAuto;  // fds kept open for ReadRange (LRU); 0: none
  };

  // $XDG_CACHE_HOME/hugeblob, else $HOME/.cache/hugeblob.
  static std::string DefaultDir();

  // Never fails; see the class comment. By default the verified map holds
  // capacity / 128 KiB entries (1024 to 65536, ~170 bytes each), and up to
  // min(4096, RLIMIT_NOFILE / 4, capacity / 8 / 64 KiB) fds stay open.
  static std::unique_ptr<DiskCache> Open(const std::string& dir, uint64_t capacity_bytes);
  static std::unique_ptr<DiskCache> Open(const std::string& dir, uint64_t capacity_bytes,
                                         const Limits& limits);
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  bool enabled() const { return enabled_; }
  const std::string& root() const { return root_; }
  uint64_t capacity() const { return capacity_; }

  // The chunk `id` of `length` bytes, if cached and intact. The buffer's
  // memory is accounted to `live` if given.
  // An entry this process verified before (same inode) is not hashed again.
  bool Get(const ChunkId& id, uint32_t length, Buffer* out, MemoryBudget* live = nullptr);
  // The immutable store object `id` (a manifest or a segment, named by the
  // SHA-256 of its bytes; see reader/object_cache.h) of at most `max_bytes`
  // (a larger entry is a miss), if cached and intact: checked like a chunk,
  // its size read from the entry. Same directory, bound and eviction as
  // the chunks; PutObject stores one (best effort, like Put).
  bool GetObject(const Hash256& id, uint64_t max_bytes, Buffer* out);
  void PutObject(const Hash256& id, const Buffer& bytes);
  // Copies out.size() bytes at `offset` of the chunk `id` (`length` bytes
  // in all) into `out`, only if this process verified the entry before and
  // it is still that inode (or an fd to it is open). False otherwise:
  // absent, never verified here, replaced by a new inode (forgotten, so the
  // next Get verifies it), or a range outside the chunk. No allocation on
  // a hit with an open fd; never fails a read.
  bool ReadRange(const ChunkId& id, uint32_t length, uint64_t offset, std::span<uint8_t> out);
  // True if `id` is known verified by this process (tests).
  bool IsVerified(const ChunkId& id) const;
  // Forgets what this process knows of `id` and closes its fd (tests;
  // eviction and bad entries do this themselves).
  void Forget(const ChunkId& id);
  // Publishes `chunk` under `id` unless present. Best effort.
  void Put(const ChunkId& id, const Buffer& chunk);

  // A claim on fetching one chunk; released (file unlinked, then closed)
  // when destroyed. Move-only.
  class Claim {
   public:
    Claim() = default;
    Claim(Claim&& other) noexcept { *this = std::move(other); }
    Claim& operator=(Claim&& other) noexcept;
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim() { Release(); }
    bool held() const { return fd_ >= 0; }
    void Release();

   private:
    friend class DiskCache;
    std::string path_;
    int fd_ = -1;
  };
  enum class ClaimState {
    kClaimed,  // *claim holds it: fetch, Put, then drop the claim
    kBusy,     // another process is fetching it: WaitUnclaimed, then Get
    kOff,      // claims cannot be taken (cache disabled, a file error): just fetch
  };
  // Never blocks. One process must not claim the same id twice at once
  // (flock locks belong to the open file: the second try says kBusy).
  ClaimState TryClaim(const ChunkId& id, Claim* claim);
  // Waits until no process holds a claim on `id`, at most `max_ms`
  // milliseconds. False on timeout (the caller then fetches the chunk).
  bool WaitUnclaimed(const ChunkId& id, int64_t max_ms);
  // How many times this process waited for another's claim.
  uint64_t claim_waits() const { return claim_waits_.load(std::memory_order_relaxed); }

  // Rescans the directory (under the lock file) and evicts down to
  // `target_bytes` if above it. Returns the bytes left.
  uint64_t Evict(uint64_t target_bytes);
  // This process's estimate of the bytes in the cache.
  uint64_t usage() const { return usage_.load(std::memory_order_relaxed); }
  std::string PathFor(const ChunkId& id) const;
  std::string ClaimPathFor(const ChunkId& id) const { return root_ + "/claims/" + id.Hex(); }
  Stats stats() const;

 private:
  // An open entry, closed when the last user lets go (an fd is never closed
  // while another thread may pread it, so a reused fd number cannot be read
  // by mistake).
  struct OpenFile {
    explicit OpenFile(int f) : fd(f) {}
    ~OpenFile();
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    const int fd;
  };
  // What this process knows of a verified entry.
  struct Known {
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t size = 0;
    int64_t touched = 0;                  // steady seconds of the last mtime refresh
    std::shared_ptr<OpenFile> file;       // null when not kept open
    std::list<ChunkId>::iterator lru;     // in Shard::lru
    std::list<ChunkId>::iterator fd_lru;  // in Shard::fd_lru while `file` is set
  };
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<ChunkId, Known, Hash256Hasher> map;  // guarded by mu
    std::list<ChunkId> lru;     // front: most recently used; guarded by mu
    std::list<ChunkId> fd_lru;  // entries with an open fd, same order; guarded by mu
  };
  Shard& ShardFor(const ChunkId& id) const { return shards_[Hash256Hasher()(id) >> 60]; }

  DiskCache(std::string root, uint64_t capacity, const Limits& limits);
  // Get and GetObject: `length` is the entry's size (exact) or its bound.
  bool GetEntry(const ChunkId& id, uint64_t length, bool exact, Buffer* out, MemoryBudget* live);
  // Put (a chunk) and PutObject (`object`).
  void PutEntry(const ChunkId& id, const Buffer& chunk, bool object);
  bool Setup();
  // Records that the inode `st` holds the verified chunk `id`; keeps `file`
  // open for ReadRange if given (and the fd budget allows).
  void Remember(const ChunkId& id, const struct stat& st, std::shared_ptr<OpenFile> file);
  // Keeps `file` (an fd of the verified inode of `id`) open, if `id` is
  // still known with that inode and has none.
  void Adopt(const ChunkId& id, const struct stat& st, std::shared_ptr<OpenFile> file);
  // True if `st` is the inode this process verified for `id`.
  bool KnownInode(const ChunkId& id, const struct stat& st) const;
  // Closes the least recently used fds of `s` down to the per-shard bound;
  // the files are moved to *closed, to be released outside the lock.
  void TrimFiles(Shard& s, std::vector<std::shared_ptr<OpenFile>>* closed);
  // Erases what this process knows of the entry at `it` (caller holds s.mu);
  // its fd, if any, goes to `closed`, to be closed after the lock.
  void EraseLocked(Shard& s, std::unordered_map<ChunkId, Known, Hash256Hasher>::iterator it,
                   std::vector<std::shared_ptr<OpenFile>>* closed);
  // Writes a temp file and renames it into place; false with errno set. On
  // success *st is the published inode.
  bool Publish(const ChunkId& id, const Buffer& chunk, struct stat* st);
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

  size_t max_verified_per_shard_ = 1;
  size_t max_files_per_shard_ = 0;
  mutable Shard shards_[kShards];
  std::atomic<uint64_t> verified_{0}, open_files_{0};

  std::atomic<uint64_t> claim_waits_{0};
  std::atomic<uint64_t> hits_{0}, misses_{0}, corrupt_{0}, writes_{0}, write_failures_{0},
      evicted_{0}, scans_{0}, range_hits_{0}, range_misses_{0}, object_hits_{0}, object_misses_{0},
      object_writes_{0};
};

}  // namespace hugeblob
