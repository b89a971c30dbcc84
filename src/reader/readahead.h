// Sequential-pattern detection for one BlobReader.
//
// A read is sequential if it starts within kSlack bytes of where the
// previous read ended (FUSE and a kernel's own read-ahead deliver
// sequential reads slightly out of order, from several threads). After
// kTrigger sequential reads in a row, Observe returns a window of chunks to
// fetch ahead, doubling with the streak (1, 2, 4, ...) up to the maximum, the
// way the kernel grows its read-ahead, so a short sequential burst costs
// little. Any other read resets the streak: random access causes no
// read-ahead at all.
//
// A read that starts near the previous end but does not go past it (a late
// block, or threads re-reading one spot) neither advances nor resets the
// streak.
//
// Claim then hands out each frame index at most once per streak, so
// overlapping windows of consecutive reads are not fetched twice, and in
// batches of at least half a window, so that they coalesce.
//
// Thread-safe and lock-free; the state is a heuristic, so concurrent readers
// may race on it without harm (at worst a window is skipped or repeated, and
// a repeat is absorbed by the cache and single-flight).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace hugeblob {

class Readahead {
 public:
  static constexpr uint64_t kSlack = 128 * 1024;
  static constexpr unsigned kTrigger = 2;

  explicit Readahead(unsigned max_chunks) : max_chunks_(max_chunks) {}

  // Records a read of [offset, offset + length); returns how many chunks
  // past its end to fetch ahead (0: none).
  unsigned Observe(uint64_t offset, uint64_t length);

  // Narrows the frame range [first, last) to the frames not handed out yet
  // in this streak and marks them handed out. Empty (first == last) if none.
  std::pair<size_t, size_t> Claim(size_t first, size_t last);

 private:
  const unsigned max_chunks_;
  std::atomic<uint64_t> last_end_{UINT64_MAX};
  std::atomic<unsigned> streak_{0};
  std::atomic<size_t> claimed_until_{0};  // frames below this were handed out
};

}  // namespace hugeblob
