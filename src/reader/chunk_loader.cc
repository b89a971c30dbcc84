#include "reader/chunk_loader.h"

#include <algorithm>

#include "reader/context.h"
#include "reader/fetcher.h"
#include "reader/readahead.h"

namespace hugeblob {

namespace {

// The smallest run a prefetch is split into for parallelism, whatever the
// store: below this, on any store, a request costs more than the
// parallelism gains.
constexpr uint64_t kMinParallelRunBytes = 1 << 20;

// Bytes of frames not wanted (cached already) that a run may read and drop
// to join two wanted ones: half of what the store moves in one request's
// latency (RequestCost), so reading them costs less than the request they
// save. On loopback or a local disk that is a few KiB (no frame fits: runs
// stay exact); on S3 at 30 ms, hundreds of KiB to MiBs. Capped at 1/8 of
// the largest request, so at most 1/8 of a run is waste.
uint64_t MaxGapBytes(ContextImpl& ctx) {
  return std::min(ctx.counters().cost.BreakEvenBytes() / 2, ctx.options().max_coalesce_bytes / 8);
}

// The smallest run worth a request of its own: twice the break-even bytes
// (so a request spends at least 2/3 of its time moving data), within
// [kMinParallelRunBytes, max_coalesce_bytes]. 1 MiB on loopback and local
// disks; the full 8 MiB on S3 at tens of ms per request.
//
// On a remote store (no recent request answered in under
// Readahead::kRemoteLatency: S3 never answers under its round trip) always
// the full max_coalesce_bytes: the break-even fit comes out low when the
// client is short of CPU (a loaded machine stretches every transfer), and
// read-ahead then cut each batch into ~2 MiB requests, each paying the whole
// wait. Parallelism comes from the batches in flight, not from small runs.
uint64_t MinRunBytes(ContextImpl& ctx) {
  const uint64_t cap = std::max<uint64_t>(1, ctx.options().max_coalesce_bytes);
  if (ctx.counters().cost.min_seconds() >= Readahead::kRemoteLatency) return cap;
  const uint64_t worth = 2 * ctx.counters().cost.BreakEvenBytes();
  return std::min(std::max(worth, kMinParallelRunBytes), cap);
}

// A frame this thread leads the fetch of.
struct Led {
  size_t frame;
  ChunkFlights::Lease lease;
  Buffer* out;  // where the caller wants the chunk; null for prefetch
};

// How long a reader waits for another process to fetch a chunk it claimed
// before fetching the chunk itself: longer than any sane fetch of one run,
// short enough that a hung process elsewhere only slows us down.
constexpr int64_t kClaimWaitMs = 60000;

// Fetches the led frames at `positions` from the store in coalesced runs of
// at most `max_run_bytes`, completes their leases, and writes them to the
// disk cache (after every lease is completed: see the single-flight
// header). Returns the first error.
Status FetchLed(ContextImpl& ctx, const BlobSource& src, std::vector<Led>& led,
                const std::vector<size_t>& positions, uint64_t max_run_bytes) {
  const std::vector<FrameRef>& frames = src.manifest->frames;
  DiskCache* disk = ctx.disk();
  Status first_error = OkStatus();
  std::vector<size_t> need_frames;  // frame indices of `positions`
  for (size_t j : positions) need_frames.push_back(led[j].frame);
  std::vector<std::pair<ChunkId, Buffer>> to_disk;
  std::vector<size_t> run_frames;
  for (const std::vector<size_t>& run :
       PlanRuns(frames, need_frames, max_run_bytes, MaxGapBytes(ctx))) {
    run_frames.clear();
    for (size_t p : run) run_frames.push_back(need_frames[p]);
    const std::string& pack_key = src.pack_keys[frames[run_frames.front()].pack];
    std::vector<Result<Buffer>> results =
        FetchRun(*src.store, pack_key, frames, run_frames, ctx.live(), &ctx.counters());
    for (size_t q = 0; q < run.size(); ++q) {
      Led& l = led[positions[run[q]]];
      Result<Buffer>& r = results[q];
      if (r) {
        const ChunkId& id = frames[l.frame].chunk;
        // Cache first, then complete: see the single-flight header.
        ctx.memory().Insert(id, *r);
        if (l.out != nullptr) *l.out = *r;
        if (disk != nullptr && ctx.AdmitToDisk(id)) to_disk.emplace_back(id, *r);
      } else if (first_error) {
        first_error = Fail(r.error());
      }
      l.lease.Complete(std::move(r));
    }
  }
  for (const auto& [id, chunk] : to_disk) disk->Put(id, chunk);
  return first_error;
}

// Serves `l` from the disk cache; false on a miss.
bool FromDisk(ContextImpl& ctx, const BlobSource& src, Led& l) {
  DiskCache* disk = ctx.disk();
  const FrameRef& f = src.manifest->frames[l.frame];
  Buffer b;
  if (disk == nullptr || !disk->Get(f.chunk, f.length, &b, ctx.live())) return false;
  ctx.memory().Insert(f.chunk, b);
  if (l.out != nullptr) *l.out = b;
  l.lease.Complete(std::move(b));
  return true;
}

// Resolves led frames from the disk cache, then from the store in coalesced
// runs of at most `max_run_bytes`. Completes every lease; returns the first
// error.
//
// With a disk cache that admits every load (remote stores), a chunk another
// process is fetching right now is not fetched again: this process claims
// the chunks it fetches (DiskCache::TryClaim), fetches those, releases its
// claims, and only then waits for the others' and reads those chunks from
// the cache (fetching any that did not arrive).
Status ResolveLed(ContextImpl& ctx, const BlobSource& src, std::vector<Led>& led,
                  uint64_t max_run_bytes) {
  const std::vector<FrameRef>& frames = src.manifest->frames;
  DiskCache* disk = ctx.disk();
  const bool claims =
      disk != nullptr && ctx.options().disk_cache_admission == DiskCacheAdmission::kAlways;

  std::vector<size_t> need;  // positions in `led`
  std::vector<size_t> busy;  // positions whose chunk another process is fetching
  std::vector<DiskCache::Claim> held;
  for (size_t j = 0; j < led.size(); ++j) {
    if (FromDisk(ctx, src, led[j])) continue;
    if (claims) {
      DiskCache::Claim claim;
      DiskCache::ClaimState state = disk->TryClaim(frames[led[j].frame].chunk, &claim);
      if (state == DiskCache::ClaimState::kBusy) {
        busy.push_back(j);
        continue;
      }
      if (state == DiskCache::ClaimState::kClaimed) {
        // Its last holder may have published it between our miss and our claim.
        if (FromDisk(ctx, src, led[j])) continue;
        held.push_back(std::move(claim));
      }
    }
    need.push_back(j);
  }
  Status first_error = OkStatus();
  if (!need.empty()) first_error = FetchLed(ctx, src, led, need, max_run_bytes);
  held.clear();  // published (or failed): let the waiters in
  if (busy.empty()) return first_error;
  need.clear();
  for (size_t j : busy) {
    const ChunkId& id = frames[led[j].frame].chunk;
    if (disk->WaitUnclaimed(id, kClaimWaitMs) && FromDisk(ctx, src, led[j])) continue;
    need.push_back(j);  // its fetcher failed, did not cache it, or is stuck
  }
  if (need.empty()) return first_error;
  Status st = FetchLed(ctx, src, led, need, max_run_bytes);
  return first_error ? st : first_error;
}

}  // namespace

Status LoadFrames(ContextImpl& ctx, const BlobSource& src, std::span<const size_t> indices,
                  std::span<Buffer> out) {
  const std::vector<FrameRef>& frames = src.manifest->frames;
  std::vector<Led> led;
  std::vector<std::pair<std::shared_ptr<const ChunkFlights::Flight>, size_t>> follows;
  for (size_t k = 0; k < indices.size(); ++k) {
    const FrameRef& f = frames[indices[k]];
    if (f.zero)
      return Fail(ErrorCode::kInternal,
                  "LoadFrames: frame " + std::to_string(indices[k]) + " is a hole");
    if (ctx.memory().Lookup(f.chunk, &out[k])) continue;
    ChunkFlights::Joined joined = ctx.flights().Join(f.chunk);
    if (!joined.lease) {
      follows.emplace_back(std::move(joined.follow), k);
      continue;
    }
    // We lead: the previous leader may have cached it and finished between
    // our miss and our Join.
    if (ctx.memory().Lookup(f.chunk, &out[k])) {
      joined.lease.Complete(out[k]);
      continue;
    }
    led.push_back(Led{indices[k], std::move(joined.lease), &out[k]});
  }

  // Our own leases are all completed before we wait on anyone else's: that
  // is what keeps two readers that follow each other from deadlocking.
  Status status = ResolveLed(ctx, src, led, ctx.options().max_coalesce_bytes);
  led.clear();
  for (auto& [flight, k] : follows) {
    Result<Buffer> r = flight->Wait();
    if (r) {
      out[k] = std::move(*r);
    } else if (status) {
      status = Fail(r.error());
    }
  }
  if (!status) return status;
  // The caches are keyed by chunk id alone and shared by every file. A chunk
  // id always names bytes of one length, so a frame whose length disagrees
  // with what its id yields comes from a corrupt manifest; catch it here, or
  // the caller would copy past the end of the chunk.
  for (size_t k = 0; k < indices.size(); ++k) {
    const FrameRef& f = frames[indices[k]];
    if (out[k].size() != f.length) {
      return Fail(ErrorCode::kCorruption,
                  "frame " + std::to_string(indices[k]) + ": chunk " + f.chunk.Short() + " is " +
                      std::to_string(out[k].size()) + " bytes, the manifest says " +
                      std::to_string(f.length));
    }
  }
  return status;
}

size_t PrefetchFrames(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src, size_t first,
                      size_t last) {
  const std::vector<FrameRef>& frames = src->manifest->frames;
  last = std::min(last, frames.size());
  if (ctx.stopping() || ctx.prefetch_limit() == 0) return last;

  // Which frames are missing and not being fetched?
  std::vector<size_t> want;
  for (size_t i = first; i < last; ++i) {
    const FrameRef& f = frames[i];
    if (f.zero || ctx.memory().Contains(f.chunk) || ctx.flights().Busy(f.chunk)) continue;
    want.push_back(i);
  }
  if (want.empty()) return last;
  // Sliding-window callers (get: Prefetch(i, i + w) before reading frame i)
  // free one frame per call. Fetching that one at once would make one
  // request per frame; wait until half the window is free and fetch it in
  // bulk, unless the caller's next frame itself is missing.
  if (want.front() != first && want.size() * 2 < last - first) return first;

  std::vector<size_t> claimed;  // frame indices
  std::vector<ChunkFlights::Lease> leases;
  uint64_t stored = 0;
  size_t started_until = last;
  for (size_t i : want) {
    const FrameRef& f = frames[i];
    if (!ctx.TryReservePrefetch(f.length)) {  // over the bound: the rest is dropped
      started_until = i;
      break;
    }
    ChunkFlights::Lease lease = ctx.flights().TryLead(f.chunk);
    Buffer cached;
    if (lease && ctx.memory().Lookup(f.chunk, &cached)) lease.Complete(std::move(cached));
    if (!lease) {  // someone else is fetching it, or it just arrived
      ctx.ReleasePrefetch(f.length);
      continue;
    }
    claimed.push_back(i);
    leases.push_back(std::move(lease));
    stored += f.stored_length;
  }
  if (claimed.empty()) return started_until;

  // Split into up to one run per fetch thread so the runs download and
  // decode in parallel, but not below MinRunBytes: below that the request
  // (an S3 round trip) costs more than the parallelism gains.
  const uint64_t threads = ctx.fetch_threads();
  const uint64_t per_run =
      std::min<uint64_t>(std::max<uint64_t>((stored + threads - 1) / threads, MinRunBytes(ctx)),
                         std::max<uint64_t>(1, ctx.options().max_coalesce_bytes));
  for (const std::vector<size_t>& run : PlanRuns(frames, claimed, per_run, MaxGapBytes(ctx))) {
    struct Task {
      std::shared_ptr<const BlobSource> src;
      std::vector<Led> led;
      uint64_t bytes = 0;
    };
    auto task = std::make_shared<Task>();
    task->src = src;
    for (size_t p : run) {
      task->led.push_back(Led{claimed[p], std::move(leases[p]), nullptr});
      task->bytes += frames[claimed[p]].length;
    }
    ContextImpl* c = &ctx;  // outlives its pool's tasks; see context.h
    c->Submit([c, task] {
      if (c->stopping()) {
        for (Led& l : task->led) l.lease.Complete(Fail(ErrorCode::kCancelled, "reader closed"));
      } else {
        // Errors reach whoever waits on the flights; a prefetch has no caller.
        (void)ResolveLed(*c, *task->src, task->led, c->options().max_coalesce_bytes);
      }
      task->led.clear();
      c->ReleasePrefetch(task->bytes);
    });
  }
  return started_until;
}

}  // namespace hugeblob
