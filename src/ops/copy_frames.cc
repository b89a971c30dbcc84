#include "ops/copy_frames.h"

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

std::vector<Range> Coalesce(const std::vector<FrameToCopy>& frames, const FetchOptions& o) {
  std::vector<Range> ranges;
  for (size_t i = 0; i < frames.size(); ++i) {
    const FrameToCopy& f = frames[i];
    const uint64_t end = f.offset + f.stored_length;
    if (!ranges.empty()) {
      Range& r = ranges.back();
      if (r.pack == f.pack && f.offset >= r.end && f.offset - r.end <= o.max_gap &&
          end - r.begin <= o.max_request) {
        r.end = end;
        r.last = i + 1;
        continue;
      }
    }
    ranges.push_back(Range{f.pack, f.offset, end, i, i + 1});
  }
  return ranges;
}

// Reads one range and checks every frame in it; returns private copies of
// the stored frames, so the (larger) range buffer is freed at once.
Result<std::vector<Buffer>> FetchRange(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                                       const Range& r) {
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
    out.push_back(Buffer::Copy(stored));
  }
  return out;
}

}  // namespace

Status FetchVerifiedFrames(ObjectStore& src, const std::vector<FrameToCopy>& frames,
                           const FetchOptions& options,
                           const std::function<Status(const FrameToCopy&, const Buffer&)>& sink) {
  const std::vector<Range> ranges = Coalesce(frames, options);
  const unsigned window = std::max(1u, options.window);
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  std::atomic<bool> stop{false};
  std::deque<std::shared_ptr<Pending>> inflight;
  Status result = OkStatus();
  {
    ThreadPool pool(std::max(1u, options.threads), window + 1);
    size_t next = 0;
    while (result && (next < ranges.size() || !inflight.empty())) {
      while (next < ranges.size() && inflight.size() < window) {
        auto p = std::make_shared<Pending>();
        p->range = next;
        inflight.push_back(p);
        pool.Submit([&src, &frames, &stop, p, r = ranges[next]] {
          Result<std::vector<Buffer>> got =
              stop.load() ? Result<std::vector<Buffer>>(Fail(CancelledError("copy")))
                          : FetchRange(src, frames, r);
          {
            std::lock_guard lock(p->mu);
            p->frames = std::move(got);
            p->done = true;
          }
          p->cv.notify_one();
        });
        ++next;
      }
      std::shared_ptr<Pending> p = inflight.front();
      inflight.pop_front();
      Result<std::vector<Buffer>> got;
      {
        std::unique_lock lock(p->mu);
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
        if (Status st = sink(frames[first + i], (*got)[i]); !st) {
          result = Fail(st.error());
          break;
        }
      }
    }
    // Outstanding GETs finish (their results are dropped); queued ones are
    // skipped. The pool's destructor waits, so nothing outlives `frames`.
    stop.store(true);
  }
  return result;
}

}  // namespace hugeblob
