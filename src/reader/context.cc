#include "reader/context.h"

#include <algorithm>

namespace hugeblob {

namespace {

// Tasks wait in the pool's queue for a thread; Prefetch must not block on a
// full queue for long, and the prefetch byte bound already limits how many
// tasks can exist, so the queue is sized never to be the limit.
constexpr size_t kMaxQueuedTasks = 4096;

// The "seen once" set of second-load admission remembers one chunk per this
// many bytes of disk cache (a chunk that could not fit in the cache anyway
// need not be remembered), within these bounds: at most ~3 MiB.
constexpr uint64_t kSeenPerBytes = 64 << 10;
constexpr size_t kMinSeen = 4096;
constexpr size_t kMaxSeen = 65536;

size_t SeenCapacity(const ReaderOptions& o) {
  if (!o.disk_cache || o.disk_cache_admission != DiskCacheAdmission::kSecondLoad) return 1;
  return static_cast<size_t>(
      std::clamp<uint64_t>(o.disk_cache_bytes / kSeenPerBytes, kMinSeen, kMaxSeen));
}

}  // namespace

Result<std::shared_ptr<ContextImpl>> ContextImpl::Make(const ReaderOptions& options) {
  if (options.fetch_threads > 256) {
    return Fail(ErrorCode::kInvalidArgument,
                "fetch_threads " + std::to_string(options.fetch_threads) + " is more than 256");
  }
  return std::shared_ptr<ContextImpl>(new ContextImpl(options));
}

ContextImpl::ContextImpl(const ReaderOptions& options)
    : options_(options),
      prefetch_limit_(options.memory_cache_bytes / 2),
      live_(MemoryBudget::Create(UINT64_MAX)),
      memory_(options.memory_cache_bytes),
      seen_(SeenCapacity(options)),
      flights_(Fail(ErrorCode::kCancelled, "chunk fetch abandoned")),
      pool_(std::make_unique<ThreadPool>(std::max(1u, options.fetch_threads), kMaxQueuedTasks)) {
  if (options.disk_cache) disk_ = DiskCache::Open(options.disk_cache_dir, options.disk_cache_bytes);
}

ContextImpl::~ContextImpl() {
  stopping_.store(true, std::memory_order_release);
  pool_.reset();  // joins the workers while every other member is alive
}

bool ContextImpl::TryReservePrefetch(uint64_t bytes) {
  uint64_t cur = prefetch_bytes_.load(std::memory_order_relaxed);
  do {
    if (cur + bytes > prefetch_limit_) return false;
  } while (!prefetch_bytes_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  return true;
}

bool ContextImpl::AdmitToDisk(const ChunkId& id) {
  if (options_.disk_cache_admission == DiskCacheAdmission::kAlways) return true;
  if (seen_.CheckAndInsert(Hash256Hasher()(id))) return true;
  disk_deferred_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void ContextImpl::ReleasePrefetch(uint64_t bytes) {
  prefetch_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

ReaderStats ContextImpl::stats() const {
  ReaderStats s;
  s.store_requests = counters_.store_requests.load();
  s.store_bytes = counters_.store_bytes.load();
  s.memory_hits = memory_.hits();
  if (disk_ != nullptr) {
    DiskCache::Stats d = disk_->stats();
    s.disk_hits = d.hits;
    s.disk_range_hits = d.range_hits;
  }
  s.disk_deferred = disk_deferred_.load();
  s.misses = counters_.frames_fetched.load();
  s.segment_requests = counters_.segment_requests.load();
  s.segment_bytes = counters_.segment_bytes.load();
  return s;
}

Result<std::shared_ptr<ReaderContext>> ReaderContext::Create(const ReaderOptions& options) {
  HB_ASSIGN_OR_RETURN(auto impl, ContextImpl::Make(options));
  return std::shared_ptr<ReaderContext>(std::move(impl));
}

}  // namespace hugeblob
