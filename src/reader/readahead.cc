#include "reader/readahead.h"

#include <algorithm>
#include <vector>

#include "format/manifest.h"
#include "reader/chunk_loader.h"
#include "reader/context.h"

namespace hugeblob {

namespace {

// The index of the frame holding `offset` (< size).
size_t FrameAt(const std::vector<FrameRef>& frames, uint64_t offset) {
  auto it = std::upper_bound(frames.begin(), frames.end(), offset,
                             [](uint64_t off, const FrameRef& f) { return off < f.offset; });
  return static_cast<size_t>(it - frames.begin()) - 1;
}

}  // namespace

Readahead Readahead::For(const ContextImpl& ctx, const Manifest& m) {
  const ReaderOptions& o = ctx.options();
  const uint64_t average = m.frames.empty() ? 0 : m.size / m.frames.size();
  return Readahead(average, std::min(o.readahead_bytes, o.memory_cache_bytes / 2),
                   o.readahead_chunks, std::min(o.readahead_bytes, o.memory_cache_bytes / 4));
}

uint64_t Readahead::Observe(uint64_t offset, uint64_t length) {
  // Plain loads and stores, not read-modify-writes: a warm pread from many
  // threads must not serialise on this cache line more than necessary.
  const uint64_t prev = last_end_.load(std::memory_order_relaxed);
  const uint64_t end = offset + length;
  const uint64_t slack = SlackFor(length);
  const bool near = prev != UINT64_MAX && offset + slack >= prev && offset <= prev + slack;
  if (!near) {
    last_end_.store(end, std::memory_order_relaxed);
    if (streak_.load(std::memory_order_relaxed) != 0) streak_.store(0, std::memory_order_relaxed);
    if (streak_bytes_.load(std::memory_order_relaxed) != length) {
      streak_bytes_.store(length, std::memory_order_relaxed);
    }
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
  // Capped, so that doubling it cannot overflow however long the stream.
  const uint64_t bytes =
      std::min(streak_bytes_.load(std::memory_order_relaxed) + (end - prev), max_bytes_);
  streak_bytes_.store(bytes, std::memory_order_relaxed);
  if (streak < kTrigger || max_bytes_ == 0) return 0;
  return std::clamp(2 * bytes, min_bytes_, max_bytes_);
}

std::pair<size_t, size_t> Readahead::Claim(size_t first, size_t last, unsigned parts) {
  size_t claimed = claimed_until_.load(std::memory_order_relaxed);
  for (;;) {
    // A jump resets claimed_until_ (Observe), so a window behind it is a
    // late duplicate from a concurrent reader: nothing new to fetch.
    size_t from = std::max(first, claimed);
    if (from >= last) return {first, first};
    // Hand out at least 1/parts of a window at a time (unless the reader has
    // caught up with what was claimed): one frame per read would make one
    // request per frame, defeating coalescing.
    if (from > first && (last - from) * parts < last - first) return {first, first};
    if (claimed_until_.compare_exchange_weak(claimed, last, std::memory_order_relaxed)) {
      return {from, last};
    }
  }
}

void Readahead::Unclaim(size_t from, size_t until) {
  size_t expected = until;
  claimed_until_.compare_exchange_strong(expected, from, std::memory_order_relaxed);
}

bool Readahead::Remote(ContextImpl& ctx) {
  const RequestCost& cost = ctx.counters().cost;
  return cost.min_seconds() >= kRemoteLatency && cost.BreakEvenBytes() >= kRemoteBreakEven;
}

void Readahead::Start(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src, uint64_t end,
                      uint64_t window) {
  const std::vector<FrameRef>& frames = src->manifest->frames;
  const uint64_t size = src->manifest->size;
  if (window == 0 || end >= size || frames.empty()) return;
  // On a remote store the window is large (up to half the memory cache)
  // and handed out in quarters, so that fetching goes on while the reader
  // works through a quarter (in halves, the store sat idle for a quarter of
  // a cold read through the mount); a quarter still holds several MiB.
  const bool remote = Remote(ctx);
  if (window > local_max_bytes_ && !remote) window = local_max_bytes_;
  // The frame holding the last byte read is the reader's own business (at
  // 0, from Continue, nothing was read here yet).
  const size_t next = end == 0 ? 0 : FrameAt(frames, end - 1) + 1;
  const uint64_t stop = std::min(end + window, size);
  const size_t last = std::min(FrameAt(frames, stop - 1) + 1, next + max_chunks_);
  if (next >= last) return;
  auto [first, claimed_last] = Claim(next, last, remote ? 4 : 2);
  if (first >= claimed_last) return;
  const size_t started = PrefetchFrames(ctx, src, first, claimed_last);
  if (started < claimed_last) Unclaim(started, claimed_last);
}

void Readahead::Continue(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src,
                         uint64_t streak_bytes, uint64_t ahead) {
  if (max_bytes_ == 0) return;
  // Primed only while nothing was read here: as if the stream had read up
  // to byte 0 of this file, one read short of the trigger.
  uint64_t unread = UINT64_MAX;
  if (last_end_.compare_exchange_strong(unread, 0, std::memory_order_relaxed) || unread == 0) {
    streak_bytes_.store(
        std::max(std::min(streak_bytes, max_bytes_), streak_bytes_.load(std::memory_order_relaxed)),
        std::memory_order_relaxed);
    streak_.store(kTrigger - 1, std::memory_order_relaxed);
  }
  if (ahead > 0) Start(ctx, src, 0, std::min(ahead, max_bytes_));
}

}  // namespace hugeblob
