#include "reader/readahead.h"

#include <algorithm>

namespace hugeblob {

unsigned Readahead::Observe(uint64_t offset, uint64_t length) {
  // Plain loads and stores, not read-modify-writes: a warm pread from many
  // threads must not serialise on this cache line more than necessary.
  const uint64_t prev = last_end_.load(std::memory_order_relaxed);
  const uint64_t end = offset + length;
  const bool near = prev != UINT64_MAX && offset + kSlack >= prev && offset <= prev + kSlack;
  if (!near) {
    last_end_.store(end, std::memory_order_relaxed);
    if (streak_.load(std::memory_order_relaxed) != 0) streak_.store(0, std::memory_order_relaxed);
    if (claimed_until_.load(std::memory_order_relaxed) != 0) {
      claimed_until_.store(0, std::memory_order_relaxed);
    }
    return 0;
  }
  // Near but not past the end (a late, reordered block, or threads
  // re-reading one spot): neither progress nor a reason to reset.
  if (end <= prev) return 0;
  last_end_.store(end, std::memory_order_relaxed);
  unsigned streak = streak_.load(std::memory_order_relaxed) + 1;
  if (streak < 64) streak_.store(streak, std::memory_order_relaxed);
  if (streak < kTrigger || max_chunks_ == 0) return 0;
  unsigned shift = std::min(streak - kTrigger, 31u);
  return static_cast<unsigned>(std::min<uint64_t>(uint64_t{1} << shift, max_chunks_));
}

std::pair<size_t, size_t> Readahead::Claim(size_t first, size_t last) {
  size_t claimed = claimed_until_.load(std::memory_order_relaxed);
  for (;;) {
    // A jump resets claimed_until_ (Observe), so a window behind it is a
    // late duplicate from a concurrent reader: nothing new to fetch.
    size_t from = std::max(first, claimed);
    if (from >= last) return {first, first};
    // Hand out at least half a window at a time (unless the reader has
    // caught up with what was claimed): one frame per read would make one
    // request per frame, defeating coalescing.
    if (from > first && (last - from) * 2 < last - first) return {first, first};
    if (claimed_until_.compare_exchange_weak(claimed, last, std::memory_order_relaxed)) {
      return {from, last};
    }
  }
}

}  // namespace hugeblob
