#include "reader/fetcher.h"

#include <algorithm>

namespace hugeblob {

std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes,
                                          uint64_t max_gap_bytes) {
  std::vector<StoredFrame> stored;
  stored.reserve(indices.size());
  for (size_t i : indices) stored.push_back(StoredOf(frames[i]));
  std::vector<size_t> order(indices.size());
  for (size_t p = 0; p < order.size(); ++p) order[p] = p;
  SortForReading(stored, &order);
  std::vector<std::vector<size_t>> runs;
  for (const PlannedRead& r : PlanReads(stored, order, max_run_bytes, max_gap_bytes)) {
    runs.emplace_back(order.begin() + static_cast<ptrdiff_t>(r.first),
                      order.begin() + static_cast<ptrdiff_t>(r.last));
  }
  return runs;
}

std::vector<Result<Buffer>> FetchRun(ObjectStore& store, std::string_view pack_key,
                                     std::span<const FrameRef> frames, std::span<const size_t> run,
                                     MemoryBudget* live, FetchCounters* counters) {
  std::vector<Result<Buffer>> out;
  out.reserve(run.size());
  if (run.empty()) return out;
  PlannedRead read;
  read.pack = frames[run.front()].pack;
  read.begin = frames[run.front()].stored_offset;
  for (size_t i : run) {
    read.end = std::max(read.end, frames[i].stored_offset + frames[i].stored_length);
  }
  // A pooled buffer read into in place: no fresh allocation (and no page
  // faults) per request on a store that reads straight into it.
  Result<Buffer> got = Buffer::AllocateReusable(static_cast<size_t>(read.bytes()));
  if (Status st = ReadRangeInto(store, pack_key, read, *got, {got->mutable_data(), got->size()},
                                counters != nullptr ? &counters->cost : nullptr);
      !st) {
    got = Fail(st.error());
  }
  if (counters != nullptr) {
    counters->store_requests.fetch_add(1, std::memory_order_relaxed);
    if (got) counters->store_bytes.fetch_add(got->size(), std::memory_order_relaxed);
  }
  for (size_t i : run) {
    const StoredFrame f = StoredOf(frames[i]);
    if (!got) {
      out.push_back(Fail(got.error().Wrap("fetching frame at " + FrameWhere(f, pack_key))));
      continue;
    }
    out.push_back(DecodeVerified(f, got->span().subspan(f.offset - read.begin, f.stored_length),
                                 pack_key, live));
  }
  if (counters != nullptr)
    counters->frames_fetched.fetch_add(run.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace hugeblob
