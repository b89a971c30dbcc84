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

bool ChunkCache::Lookup(const ChunkId& id, Buffer* out) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    ++s.misses;
    return false;
  }
  Node* n = &it->second;
  if (s.head.next != n) {
    Unlink(n);
    PushFront(s, n);
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
  bytes_.fetch_sub(size, std::memory_order_relaxed);
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return size;
}

void ChunkCache::Insert(const ChunkId& id, const Buffer& chunk) {
  const uint64_t size = chunk.size();
  if (size > capacity_ || capacity_ == 0) return;
  const size_t home = Hash256Hasher()(id) >> 59;
  Node* inserted;
  {
    Shard& s = shards_[home];
    std::lock_guard lock(s.mu);
    auto [it, fresh] = s.map.try_emplace(id);
    Node* n = &it->second;
    if (!fresh) {
      if (s.head.next != n) {
        Unlink(n);
        PushFront(s, n);
      }
      return;
    }
    n->chunk = chunk;
    n->id = &it->first;
    PushFront(s, n);
    inserted = n;
    bytes_.fetch_add(size, std::memory_order_relaxed);
  }
  // Evict until the total fits: own shard first, then the others in turn.
  // `inserted` is only compared by address (never dereferenced here), so it
  // does not matter if another thread evicts it meanwhile.
  size_t shard = home;
  size_t fruitless = 0;  // shards in a row with nothing to evict
  while (bytes_.load(std::memory_order_relaxed) > capacity_ && fruitless < kShards) {
    Buffer freed;  // destroyed after the lock is released
    uint64_t got;
    {
      Shard& s = shards_[shard];
      std::lock_guard lock(s.mu);
      got = EvictOne(s, shard == home ? inserted : nullptr, &freed);
    }
    if (got == 0) {
      ++fruitless;
      shard = (shard + 1) % kShards;
    } else {
      fruitless = 0;
    }
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
}

void ChunkCache::Clear() {
  for (Shard& s : shards_) {
    std::unordered_map<ChunkId, Node, Hash256Hasher> dropped;
    {
      std::lock_guard lock(s.mu);
      for (auto& [id, node] : s.map) bytes_.fetch_sub(node.chunk.size(), std::memory_order_relaxed);
      dropped.swap(s.map);
      s.head.prev = s.head.next = &s.head;
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
