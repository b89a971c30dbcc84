#include "ops/copy_frames.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "format/layout.h"
#include "util/thread_pool.h"

namespace hugeblob {
namespace {

// Frames [first, last) of the list, read with one GET of [begin, end).
struct Range {
  Hash256 pack;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t first = 0;
  size_t last = 0;
};

struct Pending {
  size_t range = 0;  // set before it is shared
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;                        // guarded by mu
  Result<std::vector<Buffer>> frames = {};  // guarded by mu
};

// Reads one range and checks every frame in it; returns the stored frames,
// as private copies (the range buffer is freed at once) or as slices of it.
Result<std::vector<Buffer>> FetchRange(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                                       const Range& r, bool private_copies) {
  const std::string key = PackKey(r.pack);
  auto bytes = src.GetRange(key, r.begin, r.end - r.begin);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kCorruption, key + ": pack is missing");
    }
    return Fail(bytes.error());
  }
  if (bytes->size() != r.end - r.begin) {
    return Fail(ErrorCode::kCorruption, key + ": pack is shorter than its frames (truncated?)");
  }
  std::vector<Buffer> out;
  out.reserve(r.last - r.first);
  std::vector<uint8_t> scratch;
  for (size_t i = r.first; i < r.last; ++i) {
    const FrameToCopy& f = frames[i];
    auto stored = bytes->span().subspan(f.offset - r.begin, f.stored_length);
    scratch.resize(f.length);
    auto where = [&] {
      return key + ": frame at offset " + std::to_string(f.offset) + " (chunk " + f.chunk.Short() +
             ")";
    };
    if (Status st = DecodeFrame(f.codec, stored, scratch); !st) {
      return Fail(ErrorCode::kCorruption, where() + ": " + st.error().message());
    }
    if (ChunkHash(f.hash, scratch) != f.chunk) {
      return Fail(ErrorCode::kCorruption, where() + ": does not match its chunk id");
    }
    out.push_back(private_copies ? Buffer::Copy(stored)
                                 : bytes->Slice(f.offset - r.begin, f.stored_length));
  }
  return out;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> PlanFetch(const std::vector<FrameToCopy>& frames,
                                                 uint64_t max_request, uint64_t max_gap) {
  const uint64_t cap = std::max<uint64_t>(1, max_request);
  std::vector<std::pair<size_t, size_t>> plan;
  size_t s = 0;
  while (s < frames.size()) {
    // A stretch [s, e): one pack, each frame within max_gap after the last.
    const uint64_t begin = frames[s].offset;
    uint64_t end = begin + frames[s].stored_length;
    size_t e = s + 1;
    for (; e < frames.size(); ++e) {
      const FrameToCopy& f = frames[e];
      if (f.pack != frames[s].pack || f.offset < end || f.offset - end > max_gap) break;
      end = f.offset + f.stored_length;
    }
    // Cut into ceil(span / cap) parts of about equal size, at frames.
    const uint64_t parts = (end - begin + cap - 1) / cap;
    const uint64_t target = std::max<uint64_t>(1, (end - begin) / parts);
    uint64_t part = 0;
    uint64_t run_begin = begin;
    for (size_t k = s; k < e; ++k) {
      const FrameToCopy& f = frames[k];
      const uint64_t middle = f.offset + f.stored_length / 2 - begin;
      if (k != s &&
          (f.offset + f.stored_length - run_begin > cap || middle >= (part + 1) * target)) {
        part = std::max(part + 1, middle / target);
        plan.back().second = k;
        run_begin = f.offset;
        plan.emplace_back(k, k + 1);
      } else if (k == s) {
        plan.emplace_back(k, k + 1);
      }
    }
    plan.back().second = e;
    s = e;
  }
  return plan;
}

Status FetchVerifiedFrames(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                           const FetchOptions& options,
                           const std::function<Status(const FrameToCopy&, const Buffer&)>& sink,
                           FetchStats* stats) {
  std::vector<Range> ranges;
  for (auto [first, last] : PlanFetch(frames, options.max_request, options.max_gap)) {
    const FrameToCopy& back = frames[last - 1];
    ranges.push_back(Range{frames[first].pack, frames[first].offset,
                           back.offset + back.stored_length, first, last});
  }
  const unsigned max_window = std::max(1u, options.window);
  unsigned window = std::clamp(options.min_window, 1u, max_window);
  unsigned ready_in_a_row = 0;  // requests done before the sink came for them
  FetchStats local;
  FetchStats& st = stats != nullptr ? *stats : local;
  st = FetchStats{};
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  std::atomic<bool> stop{false};
  std::deque<std::shared_ptr<Pending>> inflight;
  Status result = OkStatus();
  {
    // One thread per request of the largest window: a GET holds its thread
    // for the whole round trip, so fewer threads would cap the window.
    ThreadPool pool(std::max(std::max(1u, options.threads), max_window), max_window + 1);
    size_t next = 0;
    while (result && (next < ranges.size() || !inflight.empty())) {
      while (next < ranges.size() && inflight.size() < window) {
        auto p = std::make_shared<Pending>();
        p->range = next;
        inflight.push_back(p);
        st.requests += 1;
        st.bytes += ranges[next].end - ranges[next].begin;
        pool.Submit([&src, &frames, &stop, p, r = ranges[next], copies = options.private_copies] {
          Result<std::vector<Buffer>> got =
              stop.load() ? Result<std::vector<Buffer>>(Fail(CancelledError("copy")))
                          : FetchRange(src, frames, r, copies);
          {
            std::lock_guard lock(p->mu);
            p->frames = std::move(got);
            p->done = true;
          }
          p->cv.notify_one();
        });
        ++next;
      }
      st.max_window_used = std::max<unsigned>(st.max_window_used, inflight.size());
      std::shared_ptr<Pending> p = inflight.front();
      inflight.pop_front();
      Result<std::vector<Buffer>> got;
      {
        std::unique_lock lock(p->mu);
        // The sink caught up with the store: start requests earlier (a
        // larger window), if the budget allows. Requests that were ready
        // all along say the window is more than the store needs.
        if (!p->done) {
          ++st.stalls;
          ready_in_a_row = 0;
          if (window < max_window) ++window;
        } else if (++ready_in_a_row >= 8) {
          ready_in_a_row = 0;
          if (window > std::clamp(options.min_window, 1u, max_window)) --window;
        }
        // Polls so that Ctrl-C is seen within a fraction of a second even
        // while a slow GET is outstanding.
        while (!p->done && !cancelled()) p->cv.wait_for(lock, std::chrono::milliseconds(50));
        if (!p->done) {
          result = Fail(CancelledError("copy"));
          break;
        }
        got = std::move(p->frames);
      }
      if (!got) {
        result = Fail(got.error());
        break;
      }
      const size_t first = ranges[p->range].first;
      for (size_t i = 0; i < got->size(); ++i) {
        if (cancelled()) {
          result = Fail(CancelledError("copy"));
          break;
        }
        if (Status s = sink(frames[first + i], (*got)[i]); !s) {
          result = Fail(s.error());
          break;
        }
      }
    }
    // Outstanding GETs finish (their results are dropped); queued ones are
    // skipped. The pool's destructor waits, so nothing outlives `frames`.
    stop.store(true);
  }
  st.final_window = window;
  return result;
}

}  // namespace hugeblob
