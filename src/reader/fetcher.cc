#include "reader/fetcher.h"

#include <algorithm>
#include <chrono>

#include "codec/codec.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "util/budget.h"

namespace hugeblob {

namespace {

std::string FrameWhere(const FrameRef& f, std::string_view pack_key) {
  return std::string(pack_key) + " offset " + std::to_string(f.stored_offset) + " (" +
         std::to_string(f.stored_length) + " bytes, chunk " + f.chunk.Short() + ")";
}

}  // namespace

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

std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes,
                                          uint64_t max_gap_bytes) {
  std::vector<size_t> order(indices.size());
  for (size_t p = 0; p < order.size(); ++p) order[p] = p;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const FrameRef& x = frames[indices[a]];
    const FrameRef& y = frames[indices[b]];
    if (x.pack != y.pack) return x.pack < y.pack;
    return x.stored_offset < y.stored_offset;
  });
  const uint64_t cap = std::max<uint64_t>(1, max_run_bytes);
  std::vector<std::vector<size_t>> runs;
  // A stretch: frames of one pack, each within max_gap_bytes of the one
  // before (never overlapping it). Cut into n = ceil(span / cap) runs of
  // about span / n each, at frame boundaries, so 8.1 MiB under an 8 MiB cap
  // is two requests of ~4 MiB rather than 8 MiB and 0.1 MiB: same count,
  // and the two finish together.
  size_t s = 0;
  while (s < order.size()) {
    const FrameRef& head = frames[indices[order[s]]];
    const uint64_t begin = head.stored_offset;
    uint64_t end = begin + head.stored_length;
    size_t e = s + 1;
    for (; e < order.size(); ++e) {
      const FrameRef& f = frames[indices[order[e]]];
      if (f.pack != head.pack || f.stored_offset < end || f.stored_offset - end > max_gap_bytes) {
        break;
      }
      end = f.stored_offset + f.stored_length;
    }
    const uint64_t span = end - begin;
    const uint64_t parts = (span + cap - 1) / cap;
    const uint64_t target = std::max<uint64_t>(1, span / parts);
    uint64_t part = 0;
    uint64_t run_begin = 0;
    for (size_t k = s; k < e; ++k) {
      const FrameRef& f = frames[indices[order[k]]];
      const uint64_t f_end = f.stored_offset + f.stored_length;
      const uint64_t middle = f.stored_offset + f.stored_length / 2 - begin;
      const bool fresh = k == s || f_end - run_begin > cap || middle >= (part + 1) * target;
      if (fresh) {
        if (k != s) part = std::max(part + 1, middle / target);
        runs.emplace_back();
        run_begin = f.stored_offset;
      }
      runs.back().push_back(order[k]);
    }
    s = e;
  }
  return runs;
}

Result<Buffer> DecodeVerified(const FrameRef& f, std::span<const uint8_t> stored,
                              std::string_view pack_key, MemoryBudget* live) {
  Reservation r;
  if (live != nullptr) r = live->ForceReserve(f.length);
  Buffer out = Buffer::AllocateReusable(f.length, std::move(r));
  Status decoded = DecodeFrame(f.codec, stored, {out.mutable_data(), out.size()});
  if (!decoded) return Fail(decoded.error().Wrap("frame at " + FrameWhere(f, pack_key)));
  if (ChunkHash(f.hash, out.span()) != f.chunk) {
    return Fail(ErrorCode::kCorruption, "frame at " + FrameWhere(f, pack_key) +
                                            ": decoded bytes do not match the chunk id");
  }
  return out;
}

std::vector<Result<Buffer>> FetchRun(ObjectStore& store, std::string_view pack_key,
                                     std::span<const FrameRef> frames, std::span<const size_t> run,
                                     MemoryBudget* live, FetchCounters* counters) {
  std::vector<Result<Buffer>> out;
  out.reserve(run.size());
  if (run.empty()) return out;
  const uint64_t start = frames[run.front()].stored_offset;
  const FrameRef& back = frames[run.back()];
  const uint64_t length = back.stored_offset + back.stored_length - start;

  const auto began = std::chrono::steady_clock::now();
  Result<Buffer> got = store.GetRange(pack_key, start, length);
  if (counters != nullptr) {
    if (got) {
      counters->cost.Record(
          got->size(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    }
    counters->store_requests.fetch_add(1, std::memory_order_relaxed);
    if (got) counters->store_bytes.fetch_add(got->size(), std::memory_order_relaxed);
  }
  if (got && got->size() != length) {
    got = Fail(ErrorCode::kCorruption, std::string(pack_key) + ": range at offset " +
                                           std::to_string(start) + " of " + std::to_string(length) +
                                           " bytes is truncated to " + std::to_string(got->size()));
  }
  for (size_t i : run) {
    const FrameRef& f = frames[i];
    if (!got) {
      out.push_back(Fail(got.error().Wrap("fetching frame at " + FrameWhere(f, pack_key))));
      continue;
    }
    std::span<const uint8_t> stored = got->span().subspan(f.stored_offset - start, f.stored_length);
    out.push_back(DecodeVerified(f, stored, pack_key, live));
  }
  if (counters != nullptr)
    counters->frames_fetched.fetch_add(run.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace hugeblob
