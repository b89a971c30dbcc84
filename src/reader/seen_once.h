// A bounded "seen once" set of 64-bit keys (chunk id prefixes), for the disk
// cache's second-load admission (DiskCacheAdmission::kSecondLoad): the first
// load of a chunk is remembered, the second is admitted.
//
// FIFO-bounded: a ring of the keys in insertion order plus a hash set; when
// the ring is full the oldest key is forgotten. Memory is about 50 bytes per
// key of capacity, whatever is read. A key collision (two chunks with the
// same 64-bit prefix) only admits a chunk one load early. Thread-safe (one
// mutex; taken once per chunk loaded from the store, not per read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace hugeblob {

class SeenOnce {
 public:
  explicit SeenOnce(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // True if `key` was seen before and is still remembered; otherwise
  // remembers it (forgetting the oldest key if full) and returns false.
  bool CheckAndInsert(uint64_t key) {
    std::lock_guard lock(mu_);
    if (set_.count(key) != 0) return true;
    if (ring_.size() < capacity_) {
      ring_.push_back(key);
    } else {
      set_.erase(ring_[next_]);
      ring_[next_] = key;
      next_ = (next_ + 1) % capacity_;
    }
    set_.insert(key);
    return false;
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return set_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<uint64_t> ring_;        // guarded by mu_; once full, ring_[next_] is the oldest
  size_t next_ = 0;                   // guarded by mu_
  std::unordered_set<uint64_t> set_;  // guarded by mu_: the keys in ring_
};

}  // namespace hugeblob
