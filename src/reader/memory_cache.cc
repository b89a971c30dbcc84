#include "reader/memory_cache.h"

namespace hugeblob {

ChunkCache::ChunkCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

ChunkCache::~ChunkCache() = default;

void ChunkCache::Unlink(Node* n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = nullptr;
}

void ChunkCache::PushFront(Shard& s, Node* n) {
  n->next = s.head.next;
  n->prev = &s.head;
  s.head.next->prev = n;
  s.head.next = n;
}

void ChunkCache::UpdateTail(Shard& s) {
  s.tail_stamp.store(s.head.prev == &s.head ? UINT64_MAX : s.head.prev->stamp,
                     std::memory_order_relaxed);
}

size_t ChunkCache::OldestShard(uint32_t skip) const {
  size_t best = kShards;
  uint64_t oldest = UINT64_MAX;
  for (size_t i = 0; i < kShards; ++i) {
    if ((skip >> i) & 1u) continue;
    uint64_t stamp = shards_[i].tail_stamp.load(std::memory_order_relaxed);
    if (stamp < oldest) {
      oldest = stamp;
      best = i;
    }
  }
  return best;
}

bool ChunkCache::Lookup(const ChunkId& id, Buffer* out) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    ++s.misses;
    return false;
  }
  Node* n = &it->second;
  n->stamp = clock_.load(std::memory_order_relaxed);
  if (s.head.next != n) {
    const bool was_tail = s.head.prev == n;
    Unlink(n);
    PushFront(s, n);
    if (was_tail) UpdateTail(s);
  }
  *out = n->chunk;
  ++s.hits;
  return true;
}

bool ChunkCache::Contains(const ChunkId& id) const {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  return s.map.find(id) != s.map.end();
}

uint64_t ChunkCache::EvictOne(Shard& s, const Node* keep, Buffer* freed) {
  Node* victim = s.head.prev;
  if (victim == &s.head || victim == keep) return 0;
  Unlink(victim);
  uint64_t size = victim->chunk.size();
  *freed = std::move(victim->chunk);
  s.map.erase(*victim->id);
  UpdateTail(s);
  bytes_.fetch_sub(size, std::memory_order_relaxed);
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return size;
}

void ChunkCache::Insert(const ChunkId& id, const Buffer& chunk) {
  const uint64_t size = chunk.size();
  if (size > capacity_ || capacity_ == 0) return;
  const size_t home = Hash256Hasher()(id) >> 59;
  const uint64_t stamp = clock_.fetch_add(1, std::memory_order_relaxed) + 1;
  Node* inserted;
  {
    Shard& s = shards_[home];
    std::lock_guard lock(s.mu);
    auto [it, fresh] = s.map.try_emplace(id);
    Node* n = &it->second;
    n->stamp = stamp;
    if (!fresh) {
      if (s.head.next != n) {
        Unlink(n);
        PushFront(s, n);
        UpdateTail(s);
      }
      return;
    }
    n->chunk = chunk;
    n->id = &it->first;
    PushFront(s, n);
    UpdateTail(s);
    inserted = n;
    bytes_.fetch_add(size, std::memory_order_relaxed);
  }
  // Evict until the total fits, the globally least recently used first: the
  // tail of the shard whose tail is oldest. The stamps are read without the
  // locks, so a concurrent hit may make the choice slightly stale; that only
  // costs LRU precision. A shard with nothing to evict (empty, or holding
  // only what we just inserted) is skipped for the rest of this insert.
  // `inserted` is only compared by address (never dereferenced here), so it
  // does not matter if another thread evicts it meanwhile.
  uint32_t skip = 0;
  while (bytes_.load(std::memory_order_relaxed) > capacity_) {
    const size_t shard = OldestShard(skip);
    if (shard == kShards) break;
    Buffer freed;  // destroyed after the lock is released
    uint64_t got;
    {
      Shard& s = shards_[shard];
      std::lock_guard lock(s.mu);
      got = EvictOne(s, shard == home ? inserted : nullptr, &freed);
    }
    if (got == 0) skip |= 1u << shard;
  }
}

void ChunkCache::Erase(const ChunkId& id) {
  Buffer freed;
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) return;
  Unlink(&it->second);
  bytes_.fetch_sub(it->second.chunk.size(), std::memory_order_relaxed);
  freed = std::move(it->second.chunk);
  s.map.erase(it);
  UpdateTail(s);
}

void ChunkCache::Clear() {
  for (Shard& s : shards_) {
    std::unordered_map<ChunkId, Node, Hash256Hasher> dropped;
    {
      std::lock_guard lock(s.mu);
      for (auto& [id, node] : s.map) bytes_.fetch_sub(node.chunk.size(), std::memory_order_relaxed);
      dropped.swap(s.map);
      s.head.prev = s.head.next = &s.head;
      UpdateTail(s);
    }
  }
}

size_t ChunkCache::entries() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.map.size();
  }
  return n;
}

uint64_t ChunkCache::hits() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.hits;
  }
  return n;
}

uint64_t ChunkCache::misses() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.misses;
  }
  return n;
}

}  // namespace hugeblob
