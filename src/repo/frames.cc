#include "repo/frames.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>

#include "format/layout.h"
#include "util/budget.h"
#include "util/thread_pool.h"

namespace hugeblob {

// ---- RequestCost ----

void RequestCost::Record(uint64_t bytes, double seconds) {
  std::lock_guard lock(mu_);
  samples_[count_ % kSamples] = Sample{static_cast<double>(bytes), seconds};
  ++count_;
}

void RequestCost::Fit(double* latency, double* bandwidth) const {
  *latency = 0;
  *bandwidth = 0;
  const size_t n = std::min(count_, kSamples);
  if (n < 4) return;
  std::vector<Sample> v(samples_, samples_ + n);
  std::sort(v.begin(), v.end(), [](const Sample& a, const Sample& b) { return a.bytes < b.bytes; });
  // Sizes all alike say nothing about what a byte costs apart from a request.
  if (v.back().bytes < 1.5 * v.front().bytes || v.back().bytes - v.front().bytes < 64 * 1024)
    return;
  double sb = 0, ss = 0;
  for (const Sample& x : v) {
    sb += x.bytes;
    ss += x.seconds;
  }
  const double mb = sb / static_cast<double>(n), ms = ss / static_cast<double>(n);
  double cov = 0, var = 0;
  for (const Sample& x : v) {
    cov += (x.bytes - mb) * (x.seconds - ms);
    var += (x.bytes - mb) * (x.bytes - mb);
  }
  const double per_byte = var > 0 && cov > 0 ? cov / var : 0;
  double fixed = ms - per_byte * mb;
  if (per_byte == 0 || fixed <= 0) {
    // Bigger requests are not measurably slower (a store whose requests
    // cost mostly waiting), or the line crosses below zero (noise): take
    // what the smallest quarter of the requests cost as the latency.
    const size_t q = std::max<size_t>(1, n / 4);
    fixed = 0;
    for (size_t i = 0; i < q; ++i) fixed += v[i].seconds;
    fixed /= static_cast<double>(q);
  }
  *latency = fixed;
  // No measurable cost per byte: as if 100 GB/s, so that the break-even
  // size is as large as the planner allows.
  *bandwidth = per_byte > 0 ? 1.0 / per_byte : 1e11;
}

uint64_t RequestCost::BreakEvenBytes() const {
  std::lock_guard lock(mu_);
  double latency = 0, bandwidth = 0;
  Fit(&latency, &bandwidth);
  const double bytes = latency * bandwidth;
  return bytes >= 1e15 ? uint64_t{1} << 50 : static_cast<uint64_t>(bytes);
}

double RequestCost::latency_seconds() const {
  std::lock_guard lock(mu_);
  double latency = 0, bandwidth = 0;
  Fit(&latency, &bandwidth);
  return latency;
}

double RequestCost::bytes_per_second() const {
  std::lock_guard lock(mu_);
  double latency = 0, bandwidth = 0;
  Fit(&latency, &bandwidth);
  return bandwidth;
}

double RequestCost::min_seconds() const {
  std::lock_guard lock(mu_);
  const size_t n = std::min(count_, kSamples);
  if (n == 0) return 0;
  double least = samples_[0].seconds;
  for (size_t i = 1; i < n; ++i) least = std::min(least, samples_[i].seconds);
  return least;
}

// ---- the plan ----

namespace {

// Where a frame is stored, whatever lists it.
struct Place {
  uint32_t pack;
  uint64_t offset;
  uint64_t end;
};
Place PlaceOf(const StoredFrame& f) { return {f.pack, f.offset, f.offset + f.stored_length}; }
Place PlaceOf(const FrameRef& f) {
  return {f.pack, f.stored_offset, f.stored_offset + f.stored_length};
}

template <typename Frame>
void SortBy(std::span<const Frame> frames, std::vector<size_t>* order) {
  std::stable_sort(order->begin(), order->end(), [&](size_t a, size_t b) {
    const Place x = PlaceOf(frames[a]);
    const Place y = PlaceOf(frames[b]);
    return x.pack != y.pack ? x.pack < y.pack : x.offset < y.offset;
  });
}

template <typename Frame>
std::vector<PlannedRead> Plan(std::span<const Frame> frames, std::span<const size_t> order,
                              uint64_t max_request, uint64_t max_gap) {
  const uint64_t cap = std::max<uint64_t>(1, max_request);
  // First the longest stretches of nearby frames...
  std::vector<PlannedRead> stretches;
  for (size_t k = 0; k < order.size(); ++k) {
    const Place f = PlaceOf(frames[order[k]]);
    if (!stretches.empty()) {
      PlannedRead& r = stretches.back();
      if (r.pack == f.pack && f.offset >= r.begin && f.offset <= r.end + max_gap) {
        r.end = std::max(r.end, f.end);
        r.last = k + 1;
        continue;
      }
    }
    stretches.push_back(PlannedRead{f.pack, f.offset, f.end, k, k + 1});
  }
  // ...then each cut at frames into about equal parts of at most the cap.
  std::vector<PlannedRead> reads;
  for (const PlannedRead& s : stretches) {
    const uint64_t parts = (s.bytes() + cap - 1) / cap;
    const uint64_t target = (s.bytes() + parts - 1) / parts;
    for (size_t k = s.first; k < s.last; ++k) {
      const Place f = PlaceOf(frames[order[k]]);
      if (k > s.first) {
        PlannedRead& r = reads.back();
        // Grow until the part has its share; a part may then run up to the
        // cap so that no sliver is left over for a read of its own. A frame
        // inside the read so far (listed twice) always joins.
        if (f.end <= r.end || (r.bytes() < target && std::max(f.end, r.end) - r.begin <= cap)) {
          r.end = std::max(r.end, f.end);
          r.last = k + 1;
          continue;
        }
      }
      reads.push_back(PlannedRead{f.pack, f.offset, f.end, k, k + 1});
    }
  }
  return reads;
}

}  // namespace

void SortForReading(std::span<const StoredFrame> frames, std::vector<size_t>* order) {
  SortBy(frames, order);
}
void SortForReading(std::span<const FrameRef> frames, std::vector<size_t>* order) {
  SortBy(frames, order);
}

std::vector<PlannedRead> PlanReads(std::span<const StoredFrame> frames,
                                   std::span<const size_t> order, uint64_t max_request,
                                   uint64_t max_gap) {
  return Plan(frames, order, max_request, max_gap);
}
std::vector<PlannedRead> PlanReads(std::span<const FrameRef> frames, std::span<const size_t> order,
                                   uint64_t max_request, uint64_t max_gap) {
  return Plan(frames, order, max_request, max_gap);
}

ReadShape ShapeReads(const RequestCost* cost, uint64_t total, uint64_t pack_bytes, uint64_t memory,
                     unsigned min_window, unsigned max_window) {
  constexpr uint64_t kMiB = 1ull << 20;
  min_window = std::max(1u, min_window);
  max_window = std::max(min_window, max_window);
  ReadShape s;
  // A whole pack per request when the budget holds min_window of them: one
  // request per pack is the fewest there can be.
  uint64_t request = std::max<uint64_t>(memory / min_window, kMiB);
  if (pack_bytes > 0) request = std::min(request, pack_bytes + pack_bytes / 16);
  // No larger than an even share of what is to be read, so that a small
  // read still spreads over min_window requests in parallel.
  if (total > 0)
    request = std::min(request, std::max<uint64_t>((total + min_window - 1) / min_window, kMiB));
  s.max_request = request;
  const double latency = cost != nullptr ? cost->latency_seconds() : 0;
  const double bandwidth = cost != nullptr ? cost->bytes_per_second() : 0;
  const unsigned by_memory =
      static_cast<unsigned>(std::clamp<uint64_t>(memory / request, 1, max_window));
  if (latency > 0 && bandwidth > 0) {
    // Requests needed so that one starts as the one before reaches its last
    // byte: the bandwidth-delay product in requests, plus the one moving.
    const double bdp = latency * std::min(bandwidth, 1e10);
    const double in_flight = std::ceil(bdp / static_cast<double>(request)) + 1;
    s.window = static_cast<unsigned>(std::clamp<double>(in_flight, min_window, by_memory));
    s.max_gap = std::min<uint64_t>(static_cast<uint64_t>(std::min(bdp / 2, 1e15)), request / 8);
  } else {
    s.window = std::min(min_window, by_memory);
    s.max_gap = std::min<uint64_t>(64 << 10, request / 8);
  }
  s.window = std::max(1u, s.window);
  return s;
}

// ---- decoding ----

std::string FrameWhere(const StoredFrame& f, std::string_view pack_key) {
  return std::string(pack_key) + " offset " + std::to_string(f.offset) + " (" +
         std::to_string(f.stored_length) + " bytes, chunk " + f.chunk.Short() + ")";
}

namespace {

Status CheckId(const StoredFrame& f, std::span<const uint8_t> plain, std::string_view pack_key,
               const HashAlgo* also) {
  if (ChunkHash(f.hash, plain) == f.chunk) return OkStatus();
  if (also != nullptr && *also != f.hash && ChunkHash(*also, plain) == f.chunk) return OkStatus();
  return Fail(ErrorCode::kCorruption,
              "frame at " + FrameWhere(f, pack_key) + ": decoded bytes do not match the chunk id");
}

}  // namespace

Status DecodeVerifiedInto(const StoredFrame& f, std::span<const uint8_t> stored,
                          std::span<uint8_t> out, std::string_view pack_key, const HashAlgo* also) {
  if (out.size() != f.length) {
    return Fail(ErrorCode::kInternal, "frame at " + FrameWhere(f, pack_key) + ": buffer of " +
                                          std::to_string(out.size()) + " bytes for " +
                                          std::to_string(f.length));
  }
  if (Status st = DecodeFrame(f.codec, stored, out); !st) {
    return Fail(ErrorCode::kCorruption,
                "frame at " + FrameWhere(f, pack_key) + ": " + st.error().message());
  }
  return CheckId(f, out, pack_key, also);
}

Result<std::span<const uint8_t>> DecodeVerifiedView(const StoredFrame& f,
                                                    std::span<const uint8_t> stored,
                                                    std::span<uint8_t> scratch,
                                                    std::string_view pack_key,
                                                    const HashAlgo* also) {
  if (f.codec == Codec::kNone) {
    if (stored.size() != f.length) {
      return Fail(ErrorCode::kCorruption, "frame at " + FrameWhere(f, pack_key) +
                                              ": raw frame of " + std::to_string(stored.size()) +
                                              " bytes for a chunk of " + std::to_string(f.length));
    }
    HB_TRY(CheckId(f, stored, pack_key, also));
    return stored;
  }
  if (scratch.size() < f.length) {
    return Fail(ErrorCode::kInternal, "frame at " + FrameWhere(f, pack_key) + ": scratch of " +
                                          std::to_string(scratch.size()) + " bytes");
  }
  std::span<uint8_t> out = scratch.first(f.length);
  HB_TRY(DecodeVerifiedInto(f, stored, out, pack_key, also));
  return std::span<const uint8_t>(out);
}

Result<std::span<const uint8_t>> DecodeVerifiedView(const StoredFrame& f,
                                                    std::span<const uint8_t> stored,
                                                    std::vector<uint8_t>* scratch,
                                                    std::string_view pack_key,
                                                    const HashAlgo* also) {
  if (f.codec != Codec::kNone && scratch->size() < f.length) scratch->resize(f.length);
  return DecodeVerifiedView(f, stored, std::span<uint8_t>(*scratch), pack_key, also);
}

Result<Buffer> DecodeVerified(const StoredFrame& f, std::span<const uint8_t> stored,
                              std::string_view pack_key, MemoryBudget* live) {
  Reservation r;
  if (live != nullptr) r = live->ForceReserve(f.length);
  Buffer out = Buffer::AllocateReusable(f.length, std::move(r));
  HB_TRY(DecodeVerifiedInto(f, stored, {out.mutable_data(), out.size()}, pack_key));
  return out;
}

// ---- reading ranges ----

namespace {

std::string RangeWhere(std::string_view pack_key, const PlannedRead& read) {
  return std::string(pack_key) + " bytes " + std::to_string(read.begin) + ".." +
         std::to_string(read.end);
}

Error ReadError(const Error& e, std::string_view pack_key, const PlannedRead& read) {
  if (e.code() == ErrorCode::kNotFound) {
    return Error(ErrorCode::kCorruption, std::string(pack_key) + ": pack is missing");
  }
  return e.Wrap("reading " + RangeWhere(pack_key, read));
}

class Timer {
 public:
  explicit Timer(RequestCost* cost) : cost_(cost), began_(std::chrono::steady_clock::now()) {}
  void Done(uint64_t bytes) {
    if (cost_ == nullptr) return;
    cost_->Record(bytes,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count());
  }

 private:
  RequestCost* cost_;
  std::chrono::steady_clock::time_point began_;
};

}  // namespace

Result<Buffer> ReadRange(ObjectStore& store, std::string_view pack_key, const PlannedRead& read,
                         RequestCost* cost) {
  Timer timer(cost);
  Result<Buffer> got = store.GetRange(pack_key, read.begin, read.bytes());
  if (!got) return Fail(ReadError(got.error(), pack_key, read));
  timer.Done(got->size());
  if (got->size() != read.bytes()) {
    return Fail(ErrorCode::kCorruption,
                RangeWhere(pack_key, read) + ": the store returned " + std::to_string(got->size()) +
                    " bytes for a range of " + std::to_string(read.bytes()) +
                    (got->size() < read.bytes() ? " (pack truncated?)" : ""));
  }
  return got;
}

Status ReadRangeInto(ObjectStore& store, std::string_view pack_key, const PlannedRead& read,
                     const Buffer& owner, std::span<uint8_t> dst, RequestCost* cost) {
  if (dst.size() != read.bytes()) {
    return Fail(ErrorCode::kInternal, RangeWhere(pack_key, read) + ": buffer of " +
                                          std::to_string(dst.size()) + " bytes");
  }
  Timer timer(cost);
  Status got = store.GetRangeIntoBuffer(pack_key, read.begin, owner, dst);
  if (!got) return Fail(ReadError(got.error(), pack_key, read));
  timer.Done(dst.size());
  return OkStatus();
}

// ---- FetchInOrder ----

namespace {

struct Pending {
  size_t read = 0;  // set before it is shared
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;                        // guarded by mu
  Result<std::vector<Buffer>> frames = {};  // guarded by mu
};

// Reads one planned read and checks every frame in it; returns what the
// sink gets for each (see WindowOptions).
Result<std::vector<Buffer>> FetchOne(ObjectStore& store, std::string_view key,
                                     std::span<const StoredFrame> frames,
                                     std::span<const size_t> order, const PlannedRead& r,
                                     const WindowOptions& o) {
  // A pooled buffer read into in place (no fresh allocation per request on
  // a store that reads straight into it, such as S3 and the local store).
  Buffer bytes = Buffer::AllocateReusable(static_cast<size_t>(r.bytes()));
  HB_TRY(ReadRangeInto(store, key, r, bytes, {bytes.mutable_data(), bytes.size()}, o.cost));
  std::vector<Buffer> out;
  out.reserve(r.last - r.first);
  std::vector<uint8_t> scratch;
  for (size_t k = r.first; k < r.last; ++k) {
    const StoredFrame& f = frames[order[k]];
    const size_t at = static_cast<size_t>(f.offset - r.begin);
    auto stored = bytes.span().subspan(at, f.stored_length);
    if (o.stored_bytes) {
      HB_TRY(DecodeVerifiedView(f, stored, &scratch, key));
      out.push_back(o.private_copies ? Buffer::Copy(stored) : bytes.Slice(at, f.stored_length));
    } else {
      HB_ASSIGN_OR_RETURN(Buffer plain, DecodeVerified(f, stored, key, nullptr));
      out.push_back(std::move(plain));
    }
  }
  return out;
}

}  // namespace

Status FetchInOrder(ObjectStore& store, std::span<const std::string> pack_keys,
                    std::span<const StoredFrame> frames, std::span<const size_t> order,
                    std::span<const PlannedRead> reads, const WindowOptions& options,
                    const std::function<Status(size_t, const Buffer&)>& sink, WindowStats* stats) {
  const unsigned max_window = std::max(1u, options.max_window);
  const unsigned min_window = std::clamp(options.min_window, 1u, max_window);
  unsigned window = min_window;
  if (options.cost != nullptr && !reads.empty()) {
    // Measured before (by earlier requests of this store): start at the
    // bandwidth-delay product rather than relearn it by stalling.
    uint64_t largest = 0;
    for (const PlannedRead& r : reads) largest = std::max(largest, r.bytes());
    const ReadShape s =
        ShapeReads(options.cost, 0, largest, largest * max_window, min_window, max_window);
    window = std::clamp(s.window, min_window, max_window);
  }
  unsigned ready_in_a_row = 0;  // requests done before the sink came for them
  WindowStats local;
  WindowStats& st = stats != nullptr ? *stats : local;
  st = WindowStats{};
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  std::atomic<bool> stop{false};
  std::deque<std::shared_ptr<Pending>> inflight;
  Status result = OkStatus();
  {
    // One thread per request of the largest window: a GET holds its thread
    // for the whole round trip, so fewer threads would cap the window.
    ThreadPool pool(std::max(std::max(1u, options.threads), max_window), max_window + 1);
    size_t next = 0;
    while (result && (next < reads.size() || !inflight.empty())) {
      while (next < reads.size() && inflight.size() < window) {
        auto p = std::make_shared<Pending>();
        p->read = next;
        inflight.push_back(p);
        st.requests += 1;
        st.bytes += reads[next].bytes();
        pool.Submit([&store, &pack_keys, frames, order, &options, &stop, p, r = reads[next]] {
          Result<std::vector<Buffer>> got =
              stop.load() ? Result<std::vector<Buffer>>(Fail(CancelledError("read")))
                          : FetchOne(store, pack_keys[r.pack], frames, order, r, options);
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
        // The sink caught up with the store: start requests earlier (double
        // the window), if the budget allows. Requests that were ready all
        // along say the window is more than the store needs.
        if (!p->done) {
          ++st.stalls;
          ready_in_a_row = 0;
          window = std::min(max_window, window * 2);
        } else if (++ready_in_a_row >= 8) {
          ready_in_a_row = 0;
          if (window > min_window) --window;
        }
        // Polls so that Ctrl-C is seen within a fraction of a second even
        // while a slow GET is outstanding.
        while (!p->done && !cancelled()) p->cv.wait_for(lock, std::chrono::milliseconds(50));
        if (!p->done) {
          result = Fail(CancelledError("read"));
          break;
        }
        got = std::move(p->frames);
      }
      if (!got) {
        result = Fail(got.error());
        break;
      }
      const size_t first = reads[p->read].first;
      for (size_t i = 0; i < got->size(); ++i) {
        if (cancelled()) {
          result = Fail(CancelledError("read"));
          break;
        }
        if (Status s = sink(first + i, (*got)[i]); !s) {
          result = Fail(s.error());
          break;
        }
      }
    }
    // Outstanding GETs finish (their results are dropped); queued ones are
    // skipped. The pool's destructor waits, so nothing outlives the spans.
    stop.store(true);
  }
  st.final_window = window;
  return result;
}

// ---- FrameList ----

void FrameList::Add(const Hash256& pack, const FrameRef& f) {
  auto [it, fresh] = numbers.emplace(pack, static_cast<uint32_t>(pack_keys.size()));
  if (fresh) pack_keys.push_back(PackKey(pack));
  StoredFrame s = StoredOf(f);
  s.pack = it->second;
  frames.push_back(s);
}

uint64_t FrameList::stored_bytes() const {
  uint64_t n = 0;
  for (const StoredFrame& f : frames) n += f.stored_length;
  return n;
}

Status FetchFrames(ObjectStore& store, const FrameList& list, const ReadShape& shape,
                   const WindowOptions& options,
                   const std::function<Status(const StoredFrame&, const Buffer&)>& sink,
                   WindowStats* stats) {
  std::vector<size_t> order(list.frames.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  SortForReading(list.frames, &order);
  const std::vector<PlannedRead> reads =
      PlanReads(list.frames, order, shape.max_request, shape.max_gap);
  return FetchInOrder(
      store, list.pack_keys, list.frames, order, reads, options,
      [&](size_t k, const Buffer& b) { return sink(list.frames[order[k]], b); }, stats);
}

}  // namespace hugeblob
