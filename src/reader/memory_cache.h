// The memory cache of decoded chunks: byte-bounded, sharded LRU keyed by
// chunk id, shared by every BlobReader of a ReaderContext (so a chunk shared
// by two files, or two versions of one file, is decoded once).
//
// Bound: the bytes of cached chunks never exceed capacity() once Insert
// returns. A Buffer handed out by Lookup keeps its block alive after the entry
// is evicted, so the memory of decoded chunks is at most the capacity plus
// the chunks callers hold at that instant.
//
// Eviction: one global byte count, one LRU list per shard, and a global
// LRU order across them: every insert and hit stamps its entry with a clock
// (a counter advanced by inserts), each shard publishes the stamp of its
// least recently used entry, and Insert evicts, until the total fits, the
// tail of whichever shard's is oldest. Evicting from the inserting shard
// instead would freeze each shard's share of the cache at whatever the
// first fill gave it, and a sequential reader's read-ahead (up to half the
// cache, not read yet, so newer than everything it has read) would then be
// evicted in the shards that happened to be small. A chunk of any size up
// to the whole capacity can be cached (per-shard budgets would cap a chunk
// at 1/shards).
//
// Thread-safe. A hit locks one shard mutex, moves the entry to the front of
// its list, stamps it with the clock (a relaxed load, no read-modify-write)
// and copies a Buffer (one atomic increment): no allocation, and no
// hashing beyond reading the first 8 bytes of the id. Blocks of evicted
// entries are freed after the shard lock is released.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "hash/sha256.h"
#include "hugeblob/buffer.h"

namespace hugeblob {

class ChunkCache {
 public:
  // 32 shards: enough that 16 threads rarely meet on one mutex, few enough
  // that the per-shard overhead (a map and a list head) stays negligible.
  static constexpr size_t kShards = 32;

  explicit ChunkCache(uint64_t capacity_bytes);
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // On a hit, sets *out to the cached chunk (shared, not copied), makes it
  // the most recently used and returns true.
  bool Lookup(const ChunkId& id, Buffer* out);
  // True if cached; does not count as a use.
  bool Contains(const ChunkId& id) const;
  // Caches `chunk` as the most recently used entry (an existing entry is
  // kept and refreshed). A chunk larger than the capacity is not cached.
  void Insert(const ChunkId& id, const Buffer& chunk);
  void Erase(const ChunkId& id);
  void Clear();

  uint64_t capacity() const { return capacity_; }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  size_t entries() const;
  uint64_t hits() const;
  uint64_t misses() const;
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Node {
    Buffer chunk;
    Node* prev = nullptr;         // towards the most recently used
    Node* next = nullptr;         // towards the least recently used
    const ChunkId* id = nullptr;  // the map key (stable: map nodes do not move)
    uint64_t stamp = 0;           // clock_ at its last insert or hit
  };
  // Aligned so two shards never share a cache line.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<ChunkId, Node, Hash256Hasher> map;  // guarded by mu
    Node head;            // sentinel: head.next is the MRU, head.prev the LRU; guarded by mu
    uint64_t hits = 0;    // guarded by mu
    uint64_t misses = 0;  // guarded by mu
    // The stamp of the LRU entry (UINT64_MAX when empty); written under mu,
    // read without it to pick the shard to evict from.
    std::atomic<uint64_t> tail_stamp{UINT64_MAX};
    Shard() { head.prev = head.next = &head; }
  };

  Shard& ShardFor(const ChunkId& id) const {
    // The top bits of the first word pick the shard; unordered_map buckets
    // use the word modulo a prime, so the two choices are independent.
    return shards_[Hash256Hasher()(id) >> 59];
  }
  static void Unlink(Node* n);
  static void PushFront(Shard& s, Node* n);
  // Publishes the stamp of s's LRU entry; called with s.mu held after any
  // change to its list.
  static void UpdateTail(Shard& s);
  // The shard whose LRU entry is the oldest, among those not in `skip` (a
  // bit per shard); kShards if none has entries.
  size_t OldestShard(uint32_t skip) const;
  // Evicts the LRU entry of `s` unless it is `keep`; returns its bytes (0 if
  // nothing could be evicted). The block is moved to *freed to be released
  // outside the lock.
  uint64_t EvictOne(Shard& s, const Node* keep, Buffer* freed);

  static_assert(kShards == 32, "ShardFor takes the top 5 bits");
  const uint64_t capacity_;
  mutable Shard shards_[kShards];
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> clock_{0};  // advanced by every insert
};

}  // namespace hugeblob
