// Sequential-pattern detection and read-ahead for one BlobReader.
//
// A read is sequential if it starts near where the previous read ended:
// within kSlack bytes, or within kSlackReads reads of its own length (FUSE
// and a kernel's own read-ahead deliver sequential reads out of order, from
// several threads: with 1 MiB requests and 8 MiB of kernel read-ahead, the
// read at 2 MiB often comes before the one at 1 MiB). After
// kTrigger sequential reads in a row, Observe returns a read-ahead window in
// bytes: twice what the stream has read so far (at least `min_bytes`, at
// most `max_bytes`), so it grows with the stream the way the kernel's does.
// A short sequential burst costs little (at most about twice what it read),
// while a sustained stream soon keeps tens of MiB fetching ahead. Any other
// read resets the streak and the window: random access causes no read-ahead
// at all.
//
// A read that starts near the previous end but does not go past it (a late
// block, or threads re-reading one spot) neither advances nor resets the
// streak.
//
// Claim hands out each frame index at most once per streak, so overlapping
// windows of consecutive reads are not fetched twice, and in batches of at
// least half a window (a quarter on a remote store, whose window is larger),
// so that they coalesce into large store reads. A
// caller that could not start all of a claimed batch (the background-fetch
// byte bound was reached) gives the rest back with Unclaim, so a later read
// fetches it instead of leaving it to the reader's own, synchronous, miss.
//
// Thread-safe and lock-free; the state is a heuristic, so concurrent readers
// may race on it without harm (at worst a window is skipped or repeated, and
// a repeat is absorbed by the cache and single-flight).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace hugeblob {

class ContextImpl;
struct BlobSource;
struct Manifest;

class Readahead {
 public:
  static constexpr uint64_t kSlack = uint64_t{128} << 10;
  static constexpr uint64_t kSlackReads = 8;
  static constexpr uint64_t kMaxSlack = uint64_t{8} << 20;
  static constexpr unsigned kTrigger = 2;

  // How far from the previous end a read of `length` bytes may start and
  // still count as sequential.
  static uint64_t SlackFor(uint64_t length) {
    return std::max(kSlack, std::min(kSlackReads * length, kMaxSlack));
  }

  // Windows of [min_bytes, max_bytes]; max_bytes == 0 disables read-ahead.
  // max_chunks also bounds a window, in frames (0 disables it too). Start
  // holds a window to local_max_bytes (default: max_bytes) unless requests
  // to the store are measured to cost more than moving kRemoteBreakEven
  // bytes (see Start).
  Readahead(uint64_t min_bytes, uint64_t max_bytes, size_t max_chunks,
            uint64_t local_max_bytes = UINT64_MAX)
      : max_bytes_(max_chunks == 0 ? 0 : max_bytes),
        min_bytes_(std::min(min_bytes, max_bytes_)),
        local_max_bytes_(std::min(local_max_bytes, max_bytes_)),
        max_chunks_(max_chunks) {}

  // A store none of whose recent requests took less than kRemoteLatency
  // (RequestCost::min_seconds: S3 never answers under its round trip) and
  // whose requests cost more than moving kRemoteBreakEven bytes (the
  // break-even size of RequestCost; S3 at 30 ms: several MiB) gets the
  // larger window. Both: a memory or local store whose requests take
  // microseconds can fit a large break-even size from noise (no measurable
  // cost per byte), and a loaded machine can make a few of them slow.
  static constexpr uint64_t kRemoteBreakEven = 1ull << 20;
  static constexpr double kRemoteLatency = 0.002;

  // Records a read of [offset, offset + length); returns how many bytes past
  // its end to have fetched ahead (0: none).
  uint64_t Observe(uint64_t offset, uint64_t length);

  // Narrows the frame range [first, last) to the frames not handed out yet
  // in this streak and marks them handed out. Empty (first == last) if none,
  // or if fewer than 1/parts of [first, last) are new.
  std::pair<size_t, size_t> Claim(size_t first, size_t last, unsigned parts = 2);

  // Gives back the frames from `from` on of a range Claim handed out up to
  // `until`, if nothing was claimed since.
  void Unclaim(size_t from, size_t until);

  // The whole step for a sequential read that ended at byte `end` with a
  // window of `window` bytes (from Observe; held to local_max_bytes on a
  // store that is not measured to be remote): maps the window to frames
  // (capped at max_chunks), claims them and starts their background fetch
  // (PrefetchFrames), giving back what the byte bound did not let start.
  void Start(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src, uint64_t end,
             uint64_t window);

  // Continues here a sequential stream that has read `streak_bytes`
  // elsewhere and is about to reach this file's byte 0 (the next leaf of a
  // segmented file): unless this file has been read since it was opened,
  // its first read counts as the next read of that stream, with the
  // stream's window rather than a fresh small one. Then claims and starts
  // the fetch of this file's first `ahead` bytes (the part of the stream's
  // window past the previous leaf's end), as Start does.
  void Continue(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src,
                uint64_t streak_bytes, uint64_t ahead);

  // `window` (from Observe) as Start uses it: held to local_max_bytes unless
  // the store is measured to be remote.
  uint64_t Cap(ContextImpl& ctx, uint64_t window) const {
    return window > local_max_bytes_ && !Remote(ctx) ? local_max_bytes_ : window;
  }

  // Bytes the current sequential streak has read (0 before any read).
  uint64_t streak_bytes() const { return streak_bytes_.load(std::memory_order_relaxed); }
  // Whether the last read continued a streak of at least kTrigger reads.
  bool streaming() const { return streak_.load(std::memory_order_relaxed) >= kTrigger; }

  // The read-ahead of a reader of manifest `m` on context `ctx`: windows
  // from one average chunk up to ReaderOptions::readahead_bytes and a
  // quarter of the memory cache. Fetched chunks wait in the cache until read,
  // so the window must leave room there for what the reader (and any other)
  // still uses; a quarter is also half the bound on background fetches
  // (prefetch_limit), so a window always fits in it. On a remote store
  // (requests measured to cost tens of ms) the window may grow to half the
  // memory cache, the whole background bound: it is handed out in batches
  // of half a window, and a batch must hold several MiB of stored frames to
  // make requests large enough that the wait before the first byte does
  // not dominate (a quarter of 64 MiB made batches of ~3 MiB stored, one
  // request each, 187 requests for a cold 1 GiB read over S3).
  static Readahead For(const ContextImpl& ctx, const Manifest& m);

  // Whether the context's store is measured to be remote (see
  // kRemoteLatency): read-ahead then takes the larger window.
  static bool Remote(ContextImpl& ctx);

  uint64_t max_bytes() const { return max_bytes_; }

 private:
  const uint64_t max_bytes_;
  const uint64_t min_bytes_;        // <= max_bytes_
  const uint64_t local_max_bytes_;  // <= max_bytes_
  const size_t max_chunks_;
  std::atomic<uint64_t> last_end_{UINT64_MAX};
  std::atomic<unsigned> streak_{0};
  std::atomic<uint64_t> streak_bytes_{0};  // bytes the current streak has read
  std::atomic<size_t> claimed_until_{0};   // frames below this were handed out
};

}  // namespace hugeblob
