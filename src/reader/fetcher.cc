#include "reader/fetcher.h"

#include <algorithm>

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

std::vector<std::vector<size_t>> PlanRuns(std::span<const FrameRef> frames,
                                          std::span<const size_t> indices, uint64_t max_run_bytes) {
  std::vector<size_t> order(indices.size());
  for (size_t p = 0; p < order.size(); ++p) order[p] = p;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const FrameRef& x = frames[indices[a]];
    const FrameRef& y = frames[indices[b]];
    if (x.pack != y.pack) return x.pack < y.pack;
    return x.stored_offset < y.stored_offset;
  });
  std::vector<std::vector<size_t>> runs;
  uint64_t run_bytes = 0;
  const FrameRef* last = nullptr;
  for (size_t p : order) {
    const FrameRef& f = frames[indices[p]];
    bool adjacent = last != nullptr && last->pack == f.pack &&
                    last->stored_offset + last->stored_length == f.stored_offset;
    if (adjacent && run_bytes + f.stored_length <= max_run_bytes) {
      runs.back().push_back(p);
      run_bytes += f.stored_length;
    } else {
      runs.push_back({p});
      run_bytes = f.stored_length;
    }
    last = &f;
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

  Result<Buffer> got = store.GetRange(pack_key, start, length);
  if (counters != nullptr) {
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
