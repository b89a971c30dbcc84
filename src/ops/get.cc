// get: restore a whole file through the BlobReader.
//
// Frames are fetched, decoded, verified against their chunk ids and written in
// place with pwrite, in parallel (a window bounded in bytes). The main thread
// takes them in file order into the content digest (a hash over the chunk
// ids and lengths, so it costs nothing per byte and nothing for holes) and,
// only for files stored with a whole-file SHA-256, into that hash too; both
// are checked without reading the output back. All-zero chunks are never
// written: the file is created at its full size with ftruncate, so they stay
// holes. The data goes to a temporary file beside the
// target, fsynced and renamed only once every check has passed.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "codec/codec.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/hugeblob.h"
#include "ops/file_record.h"
#include "ops/load.h"
#include "ops/seed.h"
#include "reader/disk_cache.h"
#include "repo/frames.h"
#include "store/local_store.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/thread_pool.h"
#include "util/units.h"
#include "util/xattrs.h"

namespace hugeblob {
namespace {

std::string Basename(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

Status WriteAllFd(int fd, std::span<const uint8_t> data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, "write " + std::string(what)));
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return OkStatus();
}

// `data` is what will really be written: the file's size minus its holes
// (zero chunks stay holes), so a sparse 256 GiB image holding 256 KiB of
// data fits anywhere.
Status CheckFreeSpace(const std::string& dir, uint64_t data) {
  HB_ASSIGN_OR_RETURN(uint64_t free_bytes, FreeSpace(dir));
  const uint64_t need = data + data / 10;
  if (free_bytes < need) {
    return Fail(ErrorCode::kNoSpace, "not enough free space in " + dir + ": need " +
                                         FormatSize(need) + " (data " + FormatSize(data) +
                                         " + 10% headroom), have " + FormatSize(free_bytes));
  }
  return OkStatus();
}

// Removes the temporary files that earlier gets of `out` left when they were
// killed (SIGKILL, a crash, a power cut): ".BASE.hugeblob.<pid>.<rnd>.tmp"
// beside `out`, whose pid no longer runs. A live get (its pid exists) keeps
// its file. Only regular files of this user are touched; errors are ignored
// (this is tidying, the get itself does not depend on it).
void RemoveStaleTemps(const std::string& dir, const std::string& base) {
  const std::string prefix = "." + base + ".hugeblob.";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (!name.starts_with(prefix) || !name.ends_with(".tmp")) continue;
    std::string_view rest = name.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0) continue;
    pid_t pid = 0;
    bool numeric = true;
    for (char c : rest.substr(0, dot)) {
      if (c < '0' || c > '9' || pid > 100000000) {
        numeric = false;
        break;
      }
      pid = pid * 10 + (c - '0');
    }
    if (!numeric || pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) continue;
    (void)::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}

const char* NodeKind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

class Restorer {
 public:
  Restorer(std::unique_ptr<BlobReader> reader, const GetOptions& options, std::string label)
      : reader_(std::move(reader)), options_(options), label_(std::move(label)) {}

  // Streams every frame in order to `sink(frame_index, bytes)` after the
  // fetch stage, where `fetch(frame_index)` runs on the pool. Zero frames are
  // passed to sink with an empty Buffer. Checks the content digest (and the
  // whole-file SHA-256, when recorded) at the end.
  Status Run(const std::function<Result<Buffer>(size_t)>& fetch,
             const std::function<Status(size_t, const Buffer&)>& sink);

 private:
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }

  std::unique_ptr<BlobReader> reader_;
  GetOptions options_;
  std::string label_;
};

Status Restorer::Run(const std::function<Result<Buffer>(size_t)>& fetch,
                     const std::function<Status(size_t, const Buffer&)>& sink) {
  const Manifest& m = reader_->manifest();
  const size_t n = m.frames.size();
  const unsigned threads = options_.threads == 0 ? 4 : options_.threads;
  // Decoded bytes in flight: half the budget (the other half is the reader's
  // cache and fetch buffers).
  const uint64_t max_window = std::max<uint64_t>(options_.memory_budget / 2, 2ull << 20);
  ThreadPool pool(threads, 4 * threads);
  std::deque<std::pair<size_t, std::future<Result<Buffer>>>> window;
  uint64_t window_bytes = 0;
  size_t next = 0;
  ContentDigest digest;
  std::optional<Sha256> whole;
  if (m.sha256) whole.emplace();
  std::optional<Error> error;
  uint64_t done = 0;

  auto submit = [&](size_t i) {
    const FrameRef& f = m.frames[i];
    auto promise = std::make_shared<std::promise<Result<Buffer>>>();
    auto future = promise->get_future();
    if (f.zero) {
      promise->set_value(Buffer());
    } else {
      pool.Submit([&fetch, i, promise] { promise->set_value(fetch(i)); });
    }
    window.emplace_back(i, std::move(future));
    if (!f.zero) window_bytes += f.length;  // holes take no memory
  };

  while (next < n || !window.empty()) {
    if (!error && Cancelled()) error = CancelledError("get");
    // Refill in batches of at least half a window: one Prefetch over many
    // frames lets the reader coalesce neighbours into one ranged read and
    // spread them over its fetch threads (one frame at a time would cost one
    // request per chunk). Always admit one frame so a huge chunk still moves.
    if (!error && (window.empty() || window_bytes <= max_window / 2)) {
      size_t first = next;
      while (next < n && (window.empty() || m.frames[next].zero ||
                          window_bytes + m.frames[next].length <= max_window)) {
        submit(next++);
      }
      if (next > first) reader_->Prefetch(first, next);
    }
    if (window.empty()) break;
    auto [i, future] = std::move(window.front());
    window.pop_front();
    Result<Buffer> bytes = future.get();
    const FrameRef& f = m.frames[i];
    if (!f.zero) window_bytes -= f.length;
    if (error) continue;  // drain what is in flight, then stop
    if (!bytes) {
      error = bytes.error();
      continue;
    }
    // The frame's id was checked against the decoded bytes by the fetch.
    digest.Add(f);
    if (whole) {
      if (f.zero) {
        whole->UpdateZeros(f.length);
      } else {
        whole->Update(bytes->span());
      }
    }
    Status st = sink(i, *bytes);
    if (!st) {
      error = st.error();
      continue;
    }
    done += f.length;
    if (options_.progress) options_.progress(Progress{done, m.size, 0});
  }
  pool.Wait();
  if (error) return Fail(*error);
  if (m.digest && digest.Finish() != *m.digest) {
    return Fail(
        ErrorCode::kCorruption,
        label_ + ": restored chunks do not match the file's content digest " + m.digest->Hex());
  }
  if (whole && whole->Finish() != *m.sha256) {
    return Fail(ErrorCode::kCorruption,
                label_ + ": restored bytes do not match the file's SHA-256 " + m.sha256->Hex());
  }
  return OkStatus();
}

// Where a frame's bytes come from in a restore.
enum class From : uint8_t {
  kDone,   // nothing to write: a hole in a fresh file, or in place already
  kHole,   // in place: zeros over data (punched)
  kHeld,   // in place: a chunk of the target that a write would destroy, read first
  kMove,   // in place: a chunk the target holds at another offset, moved in order
  kSeed,   // copied from a seed
  kFetch,  // from the disk cache, else the store
};

// How long get waits for another process to fetch a chunk it claimed.
constexpr int64_t kClaimWaitMs = 60000;
// Files under a --seed-dir are scanned until they have added this many
// times the file's size to the bytes read (candidates closest in size
// first), or until every chunk is found.
constexpr uint64_t kSeedDirScanFactor = 2;

// In place: the order in which the chunks the target holds at other
// offsets (the kSeed frames whose source is the target: a region shifted by
// an insertion or a deletion, a block moved) are copied within it, so that
// each is read before any other such copy overwrites its bytes. Copy u goes
// before copy v when u reads what v writes: a shift is a chain (after an
// insertion, from the end back; after a deletion, from the start on, like
// memmove). Copies in a cycle (two blocks swapped) cannot all be ordered:
// one is read first and held in memory, which breaks the cycle, while the
// distinct chunks held stay within `hold` bytes; beyond that it is fetched.
// Every other write (holes, held and fetched chunks, other seeds) comes
// after all the copies: none of them reads the target. Sets the ordered
// frames' plan to kMove, the others' to kHeld or kFetch, and returns the
// order.
std::vector<size_t> OrderMoves(const Manifest& m, const SeedIndex& seed, std::vector<From>& plan,
                               uint64_t hold) {
  std::vector<size_t> frame;  // of each copy
  std::vector<uint64_t> src;  // its offset in the target
  uint64_t longest = 0;
  for (size_t i = 0; i < m.frames.size(); ++i) {
    if (plan[i] != From::kSeed) continue;
    const SeedIndex::Source* from = seed.Find(m.frames[i].chunk);
    if (from->file != 0) continue;
    frame.push_back(i);
    src.push_back(from->offset);
    longest = std::max<uint64_t>(longest, m.frames[i].length);
  }
  const size_t n = frame.size();
  if (n == 0) return {};
  auto length = [&](size_t k) { return uint64_t{m.frames[frame[k]].length}; };
  // u -> v: u reads what v writes. The copies by source offset find, for
  // each write, the reads it overlaps.
  std::vector<uint32_t> by_src(n);
  for (size_t k = 0; k < n; ++k) by_src[k] = static_cast<uint32_t>(k);
  std::sort(by_src.begin(), by_src.end(), [&](uint32_t a, uint32_t b) { return src[a] < src[b]; });
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // u, v
  for (size_t v = 0; v < n; ++v) {
    const uint64_t begin = m.frames[frame[v]].offset;
    const uint64_t end = begin + length(v);
    auto it = std::lower_bound(by_src.begin(), by_src.end(), end,
                               [&](uint32_t k, uint64_t at) { return src[k] < at; });
    while (it != by_src.begin()) {
      const uint32_t u = *--it;
      if (src[u] + longest <= begin) break;  // every read further left ends before `begin`
      if (u != v && src[u] + length(u) > begin) edges.emplace_back(u, static_cast<uint32_t>(v));
    }
  }
  // The copies waiting for u: after[first[u], first[u + 1]) (one array for
  // all, not a vector per copy: a 1 TiB file has millions of chunks).
  std::vector<uint32_t> first(n + 1, 0), after(edges.size()), waits(n, 0);
  for (const auto& e : edges) {
    ++first[e.first + 1];
    ++waits[e.second];
  }
  for (size_t k = 0; k < n; ++k) first[k + 1] += first[k];
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    for (const auto& e : edges) after[fill[e.first]++] = e.second;
  }
  edges = {};
  // Kahn's order; when only cycles are left, the next copy in file order is
  // held (or fetched) and so no longer waited for.
  std::vector<size_t> order;
  order.reserve(n);
  std::vector<uint8_t> settled(n, 0);
  std::vector<uint32_t> ready;
  for (size_t k = 0; k < n; ++k) {
    if (waits[k] == 0) ready.push_back(static_cast<uint32_t>(k));
  }
  auto release = [&](uint32_t u) {
    settled[u] = 1;
    for (uint32_t k = first[u]; k < first[u + 1]; ++k) {
      // (A copy held or fetched is settled before nothing waits for it.)
      if (--waits[after[k]] == 0 && !settled[after[k]]) ready.push_back(after[k]);
    }
  };
  std::unordered_set<ChunkId, Hash256Hasher> held;
  uint64_t held_bytes = 0;
  size_t next_stuck = 0;
  for (;;) {
    // Depth-first order: a chain is walked copy after copy.
    while (!ready.empty()) {
      const uint32_t u = ready.back();
      ready.pop_back();
      order.push_back(frame[u]);
      plan[frame[u]] = From::kMove;
      release(u);
    }
    while (next_stuck < n && settled[next_stuck]) ++next_stuck;
    if (next_stuck == n) break;
    const uint32_t u = static_cast<uint32_t>(next_stuck);
    const ChunkId& id = m.frames[frame[u]].chunk;
    if (held.count(id) != 0 || held_bytes + length(u) <= hold) {
      if (held.insert(id).second) held_bytes += length(u);
      plan[frame[u]] = From::kHeld;
    } else {
      plan[frame[u]] = From::kFetch;
    }
    release(u);
  }
  return order;
}

// The store's reads of a seeded restore, started while the seed is still
// being scanned. The scan reports (SeedScanOptions::on_missing) the frames
// the seed lacks gap by gap; they are planned into ranged reads (once
// 512 KiB gathered while no read is under way, else once 4 MiB did)
// and fetched by kPrefetchThreads threads (twice that from a remote store)
// into memory, as stored;
// once the scan is done, the rest of what the plan fetches is added at
// once, so the store's reads also overlap the copies from the seed. At most
// `max_bytes` are held: frames beyond that are fetched afterwards as
// without it. Nothing is trusted here: RestoreFrames decodes each frame it
// takes from a read and checks it against its id, like any fetched frame;
// a read that failed is simply not there (its frames are fetched again,
// and an error then is reported). A frame the scan found after all was
// fetched for nothing, and counts in fetched_bytes like the rest.
class Prefetch {
 public:
  struct Read {
    PlannedRead read;            // first/last index into `frames`
    std::vector<size_t> frames;  // in reading order
    Buffer bytes;
    bool early = false;  // planned while the seeds were being scanned
  };

  Prefetch(ObjectStore& store, const Manifest& m, uint64_t max_bytes)
      : store_(store), m_(m), max_bytes_(max_bytes), taken_(m.frames.size(), 0) {
    // A remote store (S3) waits tens of ms before each request's first
    // byte and moves each connection's bytes at a bounded rate: twice the
    // requests in flight there.
    const unsigned threads = IsLocalStore(store) ? kPrefetchThreads : 2 * kPrefetchThreads;
    for (unsigned t = 0; t < threads; ++t) pool_.emplace_back([this] { Work(); });
  }
  // Left early (an error, a cancel): reads not started yet are dropped;
  // those under way are waited for.
  ~Prefetch() {
    {
      std::lock_guard lock(mu_);
      queue_.clear();
    }
    Finish();
  }

  // Frames to read; the ones added before are skipped. Planned once
  // kPrefetchBatch stored bytes are pending, or now with `flush` (the scan
  // is over then).
  void Add(const std::vector<size_t>& frames, bool flush) {
    std::lock_guard lock(mu_);
    if (flush) scanning_ = false;
    for (size_t i : frames) {
      if (taken_[i] || m_.frames[i].zero) continue;
      taken_[i] = 1;
      pending_.push_back(i);
      pending_bytes_ += m_.frames[i].stored_length;
    }
    // While reads are under way, frames gather into larger reads; with none
    // (the first report, or the store keeps up) they go at once.
    if (flush || pending_bytes_ >= kPrefetchBatch || Idle()) Plan();
  }
  // Reads not started yet whose frames are all unwanted now are dropped.
  void Keep(const std::vector<uint8_t>& wanted) {
    std::lock_guard lock(mu_);
    std::erase_if(queue_, [&](const Read& r) {
      const bool drop =
          std::none_of(r.frames.begin(), r.frames.end(), [&](size_t i) { return wanted[i] != 0; });
      if (drop) planned_bytes_ -= r.read.bytes();
      return drop;
    });
  }
  // Waits for every planned read; afterwards done() holds what arrived.
  void Finish() {
    {
      std::lock_guard lock(mu_);
      finishing_ = true;
    }
    work_.notify_all();
    for (auto& t : pool_) t.join();
    pool_.clear();
  }
  std::vector<Read>& done() { return done_; }
  uint64_t fetched_bytes() const { return fetched_; }
  uint64_t requests() const { return requests_; }
  uint64_t early_bytes() const { return early_; }

 private:
  static constexpr unsigned kPrefetchThreads = 4;
  static constexpr uint64_t kPrefetchBatch = 4ull << 20;
  static constexpr uint64_t kPrefetchIdleBatch = 512ull << 10;
  static constexpr size_t kSlab = 16u << 20;
  static constexpr uint64_t kMaxRequest = 8ull << 20;
  static constexpr uint64_t kMaxGap = 64ull << 10;

  // No read under way, and enough gathered to be worth one (mu_ held).
  bool Idle() const {
    return queue_.empty() && in_flight_ == 0 && pending_bytes_ >= kPrefetchIdleBatch;
  }
  void Plan() {  // mu_ held
    SortForReading(m_.frames, &pending_);
    for (const PlannedRead& r : PlanReads(m_.frames, pending_, kMaxRequest, kMaxGap)) {
      if (planned_bytes_ + r.bytes() > max_bytes_) break;  // fetched afterwards
      planned_bytes_ += r.bytes();
      Read read{r,
                {pending_.begin() + static_cast<ptrdiff_t>(r.first),
                 pending_.begin() + static_cast<ptrdiff_t>(r.last)},
                Buffer(),
                scanning_};
      read.read.first = 0;
      read.read.last = read.frames.size();
      queue_.push_back(std::move(read));
    }
    pending_.clear();
    pending_bytes_ = 0;
    work_.notify_all();
  }

  void Work() {
    for (;;) {
      Read r;
      {
        std::unique_lock lock(mu_);
        work_.wait(lock, [&] { return !queue_.empty() || finishing_; });
        if (queue_.empty()) return;
        r = std::move(queue_.front());
        queue_.pop_front();
        ++in_flight_;
      }
      const size_t size = static_cast<size_t>(r.read.bytes());
      Buffer slab;
      size_t at = 0;
      {
        // Reads are carved out of slabs of kSlab bytes (huge pages: a fault
        // per 2 MiB, not per 4 KiB) rather than allocated one by one.
        std::lock_guard lock(mu_);
        if (slab_.empty() || slab_.size() - slab_used_ < size) {
          slab_ = Buffer::Allocate(std::max<size_t>(kSlab, size));
          slab_used_ = 0;
        }
        slab = slab_;
        at = slab_used_;
        slab_used_ += size;
      }
      r.bytes = slab.Slice(at, size);
      Status got = ReadRangeInto(store_, PackKey(m_.packs[r.read.pack]), r.read, slab,
                                 {slab.mutable_data() + at, size}, nullptr);
      std::lock_guard lock(mu_);
      --in_flight_;
      if (Idle()) Plan();
      if (!got) continue;
      fetched_ += r.read.bytes();
      if (r.early) early_ += r.read.bytes();
      ++requests_;
      done_.push_back(std::move(r));
    }
  }

  ObjectStore& store_;
  const Manifest& m_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::condition_variable work_;
  std::vector<uint8_t> taken_;   // guarded by mu_
  std::vector<size_t> pending_;  // guarded by mu_
  uint64_t pending_bytes_ = 0;   // guarded by mu_
  uint64_t planned_bytes_ = 0;   // guarded by mu_
  std::deque<Read> queue_;       // guarded by mu_
  std::vector<Read> done_;       // guarded by mu_
  uint64_t fetched_ = 0;         // guarded by mu_
  uint64_t requests_ = 0;        // guarded by mu_
  uint64_t early_ = 0;           // guarded by mu_
  unsigned in_flight_ = 0;       // guarded by mu_
  bool scanning_ = true;         // guarded by mu_
  Buffer slab_;                  // guarded by mu_
  size_t slab_used_ = 0;         // guarded by mu_
  bool finishing_ = false;       // guarded by mu_
  std::vector<std::thread> pool_;
};

// Restores every frame of `m` into `fd` (already sized), or, with
// `in_place`, updates the existing file `fd` into it by writing only the
// frames it does not already hold at their offsets.
//
// Sources, best first: a seed (with `in_place`, the target itself is the
// first), the disk cache (when options.reader.disk_cache), the store. The
// store is read by `threads` workers, each taking the next run (one ranged
// GET into a reused buffer), decoding each frame into a per-thread scratch
// buffer, checking it against its chunk id and pwriting it. No buffer per
// chunk, no ordering thread: the content digest needs only the ids, and
// every frame was checked against its id before it was written.
//
// In place, a chunk that the target holds at another offset is copied from
// there, unless that offset is itself about to be written (its bytes would
// be gone before they are read): such chunks are read first into memory, at
// most four times the memory budget of them (256 MiB by default), and the
// rest fetched. Ordering the writes instead
// (a shifted region copied from its far end, like memmove) would hold
// nothing, but a run of cycles still needs the memory; the bound keeps this
// simple and the common case (edits and short insertions) well inside it.
Status RestoreFrames(ObjectStore& store, const Manifest& m, int fd, const std::string& path,
                     const GetOptions& options, const std::string& label,
                     const std::vector<std::string>& seeds, size_t explicit_seeds, bool in_place,
                     GetResult* result, const std::vector<FrameRef>* target_record = nullptr) {
  const unsigned threads = options.threads == 0 ? 4 : options.threads;
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  const size_t n = m.frames.size();

  std::unique_ptr<DiskCache> cache;
  if (options.reader.disk_cache) {
    cache = DiskCache::Open(options.reader.disk_cache_dir, options.reader.disk_cache_bytes);
    if (!cache->enabled()) cache.reset();
  }

  // 1. Seeds: where each needed chunk can be read locally.
  // A new file takes the chunks a seed holds at their own offsets as the
  // scan finds them (one read of the seed); in place, those are the chunks
  // that are where they belong already.
  std::vector<uint8_t> own(in_place ? n : 0, 0);
  std::vector<uint8_t> written(n, 0);
  // Bytes the scan settles: written from a seed into a new file, or, in
  // place, found already right (the check of the target is most of an
  // update's time; those bytes are counted again, with the holes, once the
  // plan is made, so the count only grows).
  std::atomic<uint64_t> scan_settled{0};
  std::mutex progress_mu;  // progress is reported from one thread at a time
  std::unique_ptr<SeedIndex> seed;
  // The store's reads start while the seeds are scanned (without a disk
  // cache: with one, its claims decide who fetches what).
  std::unique_ptr<Prefetch> prefetch;
  if (!seeds.empty() && cache == nullptr) {
    prefetch = std::make_unique<Prefetch>(
        store, m, std::max<uint64_t>(4 * options.memory_budget, 64ull << 20));
  }
  if (!seeds.empty()) {
    SeedScanOptions so;
    if (prefetch != nullptr) {
      so.on_missing = [&](const std::vector<size_t>& frames) { prefetch->Add(frames, false); };
    }
    so.always = explicit_seeds;
    so.first_record = target_record;
    so.max_scan_bytes = std::max<uint64_t>(1, kSeedDirScanFactor * m.size);
    so.threads = threads;
    auto settled = [&](uint64_t bytes) {
      const uint64_t now = scan_settled.fetch_add(bytes) + bytes;
      if (options.progress) {
        std::lock_guard lock(progress_mu);
        options.progress(Progress{now, m.size, 0});
      }
    };
    if (in_place) {
      struct stat target;
      if (::fstat(fd, &target) != 0) return Fail(ErrnoError(errno, "stat " + path));
      so.first_is = {static_cast<uint64_t>(target.st_dev), static_cast<uint64_t>(target.st_ino)};
      so.at_own_offset = &own;
      so.on_own_offset = settled;
    } else {
      so.write_fd = fd;
      so.write_name = path;
      so.on_written = settled;
      so.done = &written;
    }
    const auto scan_start = std::chrono::steady_clock::now();
    HB_ASSIGN_OR_RETURN(seed, SeedIndex::Build(m, seeds, options.cancel, so));
    spdlog::info(
        "scanned {} of {} seed file(s) in {:.2f} s ({} at their own offsets; {} known from "
        "hugeblob's record of it{})",
        FormatSize(seed->scanned_bytes()), seed->files(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_start).count(),
        FormatSize(seed->aligned_bytes()), seed->recorded_files(),
        in_place ? ", " + FormatSize(seed->recorded_bytes()) + " in place unread" : "");
    result->seed_scanned_bytes = seed->scanned_bytes();
    result->seed_aligned_bytes = seed->aligned_bytes();
    result->seed_files = seed->files();
    result->seed_recorded_files = seed->recorded_files();
    result->recorded_bytes = seed->recorded_bytes();
  }

  // 2. The plan.
  std::vector<From> plan(n, From::kFetch);
  uint64_t done_bytes = 0;  // holes and frames in place: nothing to do
  for (size_t i = 0; i < n; ++i) {
    const FrameRef& f = m.frames[i];
    if (f.zero) {
      plan[i] = From::kDone;
      if (in_place) {
        // A hole already (or zeros the scan skipped)? SEEK_DATA says for
        // holes; data there is zeroed, which costs a punch either way.
        off_t data = ::lseek(fd, static_cast<off_t>(f.offset), SEEK_DATA);
        if (!(data < 0 || static_cast<uint64_t>(data) >= f.offset + f.length)) {
          plan[i] = From::kHole;
        }
      }
      if (plan[i] == From::kDone) done_bytes += f.length;
    } else if (in_place && own[i]) {
      plan[i] = From::kDone;
      done_bytes += f.length;
      result->in_place_bytes += f.length;
    } else if (written[i]) {
      plan[i] = From::kDone;
      done_bytes += f.length;
    } else if (seed != nullptr && seed->Find(f.chunk) != nullptr) {
      plan[i] = From::kSeed;
    }
  }
  // In place: the chunks the target holds elsewhere are moved in an order
  // that reads each before it is overwritten (see OrderMoves).
  const uint64_t hold = std::max<uint64_t>(4 * options.memory_budget, 64ull << 20);
  std::vector<size_t> moves;
  if (in_place && seed != nullptr) moves = OrderMoves(m, *seed, plan, hold);

  // What the plan fetches: reads the scan asked for that no longer hold
  // any of it are dropped, and the rest is read now, while the seeds are
  // copied.
  if (prefetch != nullptr) {
    std::vector<uint8_t> wanted(n, 0);
    std::vector<size_t> rest;
    for (size_t i = 0; i < n; ++i) {
      if (plan[i] != From::kFetch) continue;
      wanted[i] = 1;
      rest.push_back(i);
    }
    prefetch->Keep(wanted);
    prefetch->Add(rest, true);
  }

  // 3. In place: read the chunks that break a cycle of moves first (each
  // distinct chunk once), within `hold` bytes; the rest are fetched.
  std::unordered_map<ChunkId, std::vector<uint8_t>, Hash256Hasher> held;
  {
    uint64_t held_bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      if (plan[i] != From::kHeld) continue;
      const FrameRef& f = m.frames[i];
      if (held.count(f.chunk) != 0) continue;
      if (held_bytes + f.length > hold) {
        plan[i] = From::kFetch;
        continue;
      }
      if (cancelled()) return Fail(CancelledError("get"));
      std::vector<uint8_t> bytes(f.length);
      if (!seed->Read(*seed->Find(f.chunk), bytes, f.hash, f.chunk)) {
        plan[i] = From::kFetch;
        ++result->seed_changed_chunks;
        continue;
      }
      held_bytes += f.length;
      held.emplace(f.chunk, std::move(bytes));
    }
    for (size_t i = 0; i < n; ++i) {
      if (plan[i] == From::kHeld && held.count(m.frames[i].chunk) == 0) plan[i] = From::kFetch;
    }
    result->held_bytes = held_bytes;
  }

  std::mutex mu;
  std::optional<Error> first_error;  // guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{done_bytes};
  auto fail = [&](Error e) {
    std::lock_guard lock(mu);
    if (!first_error) first_error = std::move(e);
    stop.store(true);
  };
  auto progress = [&](uint64_t bytes) {
    const uint64_t now = done.fetch_add(bytes) + bytes;
    if (options.progress) {
      std::lock_guard lock(mu);
      options.progress(Progress{now, m.size, 0});
    }
  };
  auto run_pool = [&](const std::function<void()>& work, size_t jobs) {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < std::min<size_t>(threads, jobs); ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  };

  // 4. In place: the moves, in their order, a window of the memory budget
  // at a time: the window's chunks are read (and checked against their ids) in
  // parallel, then written in parallel. By the order, no chunk is
  // overwritten before it is read, in an earlier window or in this one. A
  // chunk that no longer matches is fetched, after every move.
  std::atomic<uint64_t> seeded{0}, cloned{0}, cached{0}, changed{0};
  if (!moves.empty()) {
    uint64_t window = options.memory_budget;
    for (size_t i : moves) window = std::max<uint64_t>(window, m.frames[i].length);
    Buffer buf = Buffer::Allocate(static_cast<size_t>(window));
    std::vector<uint64_t> at;     // of each chunk of the window in `buf`
    std::vector<uint8_t> intact;  // whether it matched its id
    for (size_t a = 0; a < moves.size();) {
      if (cancelled()) return Fail(CancelledError("get"));
      size_t b = a;
      uint64_t used = 0;
      at.clear();
      while (b < moves.size() && used + m.frames[moves[b]].length <= window) {
        at.push_back(used);
        used += m.frames[moves[b]].length;
        ++b;
      }
      intact.assign(b - a, 0);
      std::atomic<size_t> next{a};
      run_pool(
          [&] {
            for (size_t k = next.fetch_add(1); k < b; k = next.fetch_add(1)) {
              const FrameRef& f = m.frames[moves[k]];
              intact[k - a] =
                  seed->Read(*seed->Find(f.chunk), {buf.mutable_data() + at[k - a], f.length},
                             f.hash, f.chunk);
            }
          },
          b - a);
      next.store(a);
      run_pool(
          [&] {
            for (size_t k = next.fetch_add(1); k < b && !stop.load(); k = next.fetch_add(1)) {
              if (!intact[k - a]) continue;
              const FrameRef& f = m.frames[moves[k]];
              if (Status st = PwriteAll(fd, {buf.data() + at[k - a], f.length}, f.offset, path);
                  !st) {
                return fail(st.error());
              }
              // Its writeback starts now: the final fsync waits for less.
              (void)::sync_file_range(fd, static_cast<off_t>(f.offset),
                                      static_cast<off_t>(f.length), SYNC_FILE_RANGE_WRITE);
              seeded.fetch_add(f.length);
              progress(f.length);
            }
          },
          b - a);
      if (first_error) return Fail(*first_error);
      for (size_t k = a; k < b; ++k) {
        plan[moves[k]] = intact[k - a] ? From::kDone : From::kFetch;
        if (!intact[k - a]) changed.fetch_add(1);
      }
      a = b;
    }
  }

  // 5. Local sources: holes, held chunks, seeds, the disk cache. What fails
  // here (a seed that changed, a cache miss) goes to the store.
  std::vector<size_t> local;
  for (size_t i = 0; i < n; ++i) {
    if (plan[i] == From::kFetch && cache == nullptr) continue;
    if (plan[i] != From::kDone) local.push_back(i);
  }
  std::vector<size_t> order;  // frames to fetch; guarded by mu while the pool runs
  for (size_t i = 0; i < n; ++i) {
    if (plan[i] == From::kFetch && cache == nullptr) order.push_back(i);
  }
  {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      std::vector<uint8_t> scratch;
      while (!stop.load()) {
        const size_t k = next.fetch_add(1);
        if (k >= local.size()) return;
        if (cancelled()) return fail(CancelledError("get"));
        const size_t i = local[k];
        const FrameRef& f = m.frames[i];
        bool ok = true;
        switch (plan[i]) {
          case From::kHole: {
            // Zeros over data: punch a hole, or write zeros where that is
            // not supported.
            if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            static_cast<off_t>(f.offset), static_cast<off_t>(f.length)) != 0) {
              static const std::vector<uint8_t> kZeros(1 << 20, 0);
              for (uint64_t at = 0; at < f.length; at += kZeros.size()) {
                const size_t take =
                    static_cast<size_t>(std::min<uint64_t>(kZeros.size(), f.length - at));
                if (Status st = PwriteAll(fd, {kZeros.data(), take}, f.offset + at, path); !st) {
                  return fail(st.error());
                }
              }
            }
            break;
          }
          case From::kHeld: {
            const std::vector<uint8_t>& bytes = held.at(f.chunk);
            if (Status st = PwriteAll(fd, bytes, f.offset, path); !st) return fail(st.error());
            seeded.fetch_add(f.length);
            break;
          }
          case From::kSeed: {
            auto copied = seed->CopyTo(*seed->Find(f.chunk), f.length, f.hash, f.chunk, fd,
                                       f.offset, path, scratch);
            if (!copied) return fail(copied.error());
            if (*copied == SeedIndex::Copied::kNo) {
              changed.fetch_add(1);
              ok = false;
              break;
            }
            seeded.fetch_add(f.length);
            if (*copied == SeedIndex::Copied::kCloned) cloned.fetch_add(f.length);
            break;
          }
          default:
            ok = false;
            break;
        }
        if (!ok && cache != nullptr) {
          Buffer b;
          if (cache->Get(f.chunk, f.length, &b)) {
            if (Status st = PwriteAll(fd, b.span(), f.offset, path); !st) return fail(st.error());
            cached.fetch_add(f.length);
            ok = true;
          }
        }
        if (!ok) {
          std::lock_guard lock(mu);
          order.push_back(i);
          continue;
        }
        progress(f.length);
      }
    };
    run_pool(worker, local.size());
  }
  if (first_error) return Fail(*first_error);
  held.clear();
  result->seeded_bytes = seeded.load() + (in_place ? 0 : scan_settled.load());
  result->cloned_bytes = cloned.load() + (seed != nullptr ? seed->cloned_bytes() : 0);
  result->cached_bytes = cached.load();
  result->seed_changed_chunks += changed.load();

  // 6. The store. With a disk cache, each fetched chunk is also written to
  // it, and a run whose chunks another process is fetching right now (a
  // claim on one of them is held) is put off: after our own fetches, those
  // chunks are taken from the cache once their claims go, and fetched only
  // if they did not arrive.
  std::vector<size_t> deferred;  // guarded by mu
  auto fetch = [&](std::vector<size_t> frames, bool claims) {
    // The read plan (repo/frames.h), in pack order (file order for a file
    // put in one go), each distinct frame read once however often the file
    // repeats it. Each worker holds one request and one decoded chunk: 7/8
    // of the budget is for requests, whole packs when it holds two of them
    // (one GET per pack: the fewest requests, each carrying enough bytes
    // that a 30 ms wait before its first byte costs little), as many in
    // flight as it holds, at least two.
    SortForReading(m.frames, &frames);
    uint64_t total = 0, pack_bytes = 0, largest_chunk = 0;
    for (size_t i : frames) {
      const FrameRef& f = m.frames[i];
      total += f.stored_length;
      pack_bytes = std::max<uint64_t>(pack_bytes, f.stored_offset + f.stored_length);
      largest_chunk = std::max<uint64_t>(largest_chunk, f.length);
    }
    const uint64_t for_requests = options.memory_budget * 7 / 8 -
                                  std::min(options.memory_budget / 2, threads * largest_chunk);
    // Whole packs even from S3, where more, smaller requests in flight
    // might move more (one connection moves a few tens of MB/s): the issue
    // bounds get at 2 GETs per pack in all, metadata included, and half
    // packs made 62 pack GETs + 7 for metadata for a file of 31 packs
    // (tried 2026-12-02: no faster on a loaded machine either).
    const ReadShape shape = ShapeReads(nullptr, total, pack_bytes, for_requests, 2, 16);
    const std::vector<PlannedRead> runs =
        PlanReads(m.frames, frames, shape.max_request, shape.max_gap);
    uint64_t max_run = 0;
    for (const PlannedRead& r : runs) max_run = std::max(max_run, r.bytes());
    const unsigned workers = static_cast<unsigned>(std::max<uint64_t>(
        shape.window, std::min<uint64_t>(threads, for_requests / std::max<uint64_t>(1, max_run))));
    // The largest chunk that needs decoding: every worker's decode buffer is
    // that size from the start, rounded up to a huge page (one fault), and is
    // never grown (growing a vector zero-filled and copied it, half of a
    // restore's page faults).
    uint64_t max_decoded = 0;
    for (size_t i : frames) {
      if (m.frames[i].codec != Codec::kNone)
        max_decoded = std::max<uint64_t>(max_decoded, m.frames[i].length);
    }
    constexpr uint64_t kHugePage = 2u << 20;
    const uint64_t scratch_size =
        max_decoded == 0 ? 0 : (max_decoded + kHugePage - 1) / kHugePage * kHugePage;
    std::atomic<size_t> next{0};
    auto worker = [&] {
      Buffer scratch = Buffer::Allocate(static_cast<size_t>(scratch_size));
      // One request buffer per worker for the whole restore: no allocation
      // (and no page fault) per request.
      Buffer request = Buffer::Allocate(static_cast<size_t>(max_run));
      std::vector<DiskCache::Claim> claimed;
      while (!stop.load()) {
        if (cancelled()) return fail(CancelledError("get"));
        const size_t i = next.fetch_add(1);
        if (i >= runs.size()) return;
        const PlannedRead& r = runs[i];
        claimed.clear();
        if (claims) {
          bool busy = false;
          for (size_t k = r.first; k < r.last && !busy; ++k) {
            const ChunkId& id = m.frames[frames[k]].chunk;
            bool dup = false;  // a chunk twice in one run: claimed once
            for (size_t q = r.first; q < k && !dup; ++q) dup = m.frames[frames[q]].chunk == id;
            if (dup) continue;
            DiskCache::Claim c;
            DiskCache::ClaimState s = cache->TryClaim(id, &c);
            if (s == DiskCache::ClaimState::kBusy) busy = true;
            if (s == DiskCache::ClaimState::kClaimed) claimed.push_back(std::move(c));
          }
          if (busy) {
            claimed.clear();
            std::lock_guard lock(mu);
            deferred.insert(deferred.end(), frames.begin() + static_cast<ptrdiff_t>(r.first),
                            frames.begin() + static_cast<ptrdiff_t>(r.last));
            continue;
          }
        }
        const std::string key = PackKey(m.packs[r.pack]);
        // The store may hold `request` past a read it abandoned at its
        // deadline; this worker stops at any error, so it never reuses it then.
        Status got =
            ReadRangeInto(store, key, r, request,
                          {request.mutable_data(), static_cast<size_t>(r.bytes())}, nullptr);
        if (!got)
          return fail(got.error().code() == ErrorCode::kCorruption ? got.error()
                                                                   : got.error().Wrap(label));
        {
          std::lock_guard lock(mu);
          ++result->store_requests;
          result->fetched_bytes += r.bytes();
        }
        uint64_t written = 0;
        for (size_t k = r.first; k < r.last && !stop.load(); ++k) {
          const FrameRef& f = m.frames[frames[k]];
          auto plain = DecodeVerifiedView(
              StoredOf(f), request.span().subspan(f.stored_offset - r.begin, f.stored_length),
              {scratch.mutable_data(), scratch.size()}, key);
          if (!plain) return fail(plain.error());
          if (Status st = PwriteAll(fd, *plain, f.offset, path); !st) return fail(st.error());
          // Its writeback starts now, while the rest is fetched: the final
          // fsync waits for the last frames only.
          (void)::sync_file_range(fd, static_cast<off_t>(f.offset), static_cast<off_t>(f.length),
                                  SYNC_FILE_RANGE_WRITE);
          if (cache != nullptr) cache->Put(f.chunk, Buffer::Copy(*plain));
          written += f.length;
        }
        claimed.clear();  // published: waiters may read them now
        progress(written);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < std::min<size_t>(workers, runs.size()); ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  };
  if (prefetch != nullptr) {
    // The frames read already, decoded and checked here; the rest (a read
    // that failed, a frame the seed no longer held, what did not fit in
    // memory) fetched below.
    prefetch->Finish();
    result->store_requests += prefetch->requests();
    result->fetched_bytes += prefetch->fetched_bytes();
    result->early_fetched_bytes = prefetch->early_bytes();
    std::vector<Prefetch::Read>& reads = prefetch->done();
    std::unordered_map<size_t, size_t> read_of;  // frame -> its read
    for (size_t r = 0; r < reads.size(); ++r) {
      for (size_t i : reads[r].frames) read_of.emplace(i, r);
    }
    std::vector<std::vector<size_t>> from_read(reads.size());
    std::vector<size_t> rest;
    for (size_t i : order) {
      auto it = read_of.find(i);
      if (it == read_of.end()) {
        rest.push_back(i);
      } else {
        from_read[it->second].push_back(i);
      }
    }
    std::atomic<size_t> next{0};
    uint64_t max_decoded = 0;
    for (const std::vector<size_t>& frames : from_read) {
      for (size_t i : frames) max_decoded = std::max<uint64_t>(max_decoded, m.frames[i].length);
    }
    run_pool(
        [&] {
          Buffer scratch = Buffer::Allocate(static_cast<size_t>(max_decoded));
          while (!stop.load()) {
            if (cancelled()) return fail(CancelledError("get"));
            const size_t r = next.fetch_add(1);
            if (r >= reads.size()) return;
            const Prefetch::Read& read = reads[r];
            const std::string key = PackKey(m.packs[read.read.pack]);
            uint64_t written = 0;
            for (size_t i : from_read[r]) {
              const FrameRef& f = m.frames[i];
              auto plain = DecodeVerifiedView(
                  StoredOf(f),
                  read.bytes.span().subspan(f.stored_offset - read.read.begin, f.stored_length),
                  {scratch.mutable_data(), scratch.size()}, key);
              if (!plain) return fail(plain.error());
              if (Status st = PwriteAll(fd, *plain, f.offset, path); !st) return fail(st.error());
              // Its writeback starts now: the final fsync waits for less.
              (void)::sync_file_range(fd, static_cast<off_t>(f.offset),
                                      static_cast<off_t>(f.length), SYNC_FILE_RANGE_WRITE);
              written += f.length;
            }
            progress(written);
          }
        },
        reads.size());
    if (first_error) return Fail(*first_error);
    reads.clear();
    order = std::move(rest);
  }
  fetch(std::move(order), cache != nullptr);
  if (first_error) return Fail(*first_error);
  if (!deferred.empty()) {
    std::vector<size_t> rest;
    for (size_t i : deferred) {
      if (cancelled()) return Fail(CancelledError("get"));
      const FrameRef& f = m.frames[i];
      Buffer b;
      if (cache->WaitUnclaimed(f.chunk, kClaimWaitMs) && cache->Get(f.chunk, f.length, &b)) {
        HB_TRY(PwriteAll(fd, b.span(), f.offset, path));
        result->cached_bytes += f.length;
        progress(f.length);
      } else {
        rest.push_back(i);
      }
    }
    result->claim_waits = deferred.size();
    if (!rest.empty()) fetch(std::move(rest), false);
    if (first_error) return Fail(*first_error);
  }
  // Every stored frame was written once its id checked out; the digest over
  // the chunk list then names exactly what is in the file.
  if (m.digest && ContentDigestOf(m.frames) != *m.digest) {
    return Fail(
        ErrorCode::kCorruption,
        label + ": restored chunks do not match the file's content digest " + m.digest->Hex());
  }
  return OkStatus();
}

// The permission bits and modification time put recorded, and on request
// the owner and extended attributes. Without the owner the restoring user
// owns the file and set-id bits are not restored. What the owner and the
// attributes need and this process lacks is a warning in *result, never a
// failure: the bytes are restored. Order: owner (chown clears set-id
// bits), attributes (user.* needs write permission, which the mode may
// take away), mode, and the time last (the others change only ctime).
Status ApplyMetadata(int fd, const Manifest& m, const std::string& path, const GetOptions& options,
                     bool in_place, GetResult* result) {
  auto warn = [&](const std::string& what) { result->metadata_warnings.push_back(what); };
  if (options.restore_owner && !m.owner) {
    warn("no owner recorded (put without --owner): the file is owned by the restoring user");
  } else if (options.restore_owner) {
    if (::fchown(fd, m.owner->uid, m.owner->gid) == 0) {
      result->owner_restored = true;
    } else {
      const int err = errno;
      warn("owner " + std::to_string(m.owner->uid) + ":" + std::to_string(m.owner->gid) +
           " not restored: " +
           (err == EPERM ? std::string("changing the owner needs root (CAP_CHOWN); the file is "
                                       "owned by the restoring user")
                         : std::string(std::strerror(err))));
    }
  }
  if (options.restore_xattrs && !m.xattrs) {
    warn("no extended attributes recorded (put without --xattrs)");
  } else if (options.restore_xattrs) {
    for (const Xattr& x : *m.xattrs) {
      const int err = WriteXattr(fd, x.name, x.value);
      if (err == 0) {
        ++result->xattrs_restored;
      } else if (err == ENOTSUP) {
        warn("extended attributes not restored: the file system of " + path +
             " does not support them (or not " + x.name.substr(0, x.name.find('.')) + ".*)");
        if (x.name.rfind("user.", 0) == 0) break;
      } else {
        warn("extended attribute " + x.name + " not restored: " + std::strerror(err));
      }
    }
    // An existing file updated in place may carry user attributes of an
    // older version (or set since): a fresh restore would not have them.
    if (in_place) {
      auto present = ReadXattrs(fd, path, nullptr);
      if (!present) return Fail(present.error());
      for (const auto& attr : *present) {
        const std::string& name = attr.first;
        if (name.rfind("user.", 0) != 0) continue;
        const bool recorded = std::any_of(m.xattrs->begin(), m.xattrs->end(),
                                          [&](const Xattr& x) { return x.name == name; });
        if (recorded) continue;
        const int err = RemoveXattr(fd, name);
        if (err == 0) {
          ++result->xattrs_removed;
        } else if (err != ENODATA) {
          warn("extended attribute " + name +
               " (not in this version) not removed: " + std::strerror(err));
        }
      }
    }
  }
  const mode_t bits = result->owner_restored ? 07777 : 0777;
  if (m.mode && ::fchmod(fd, static_cast<mode_t>(*m.mode & bits)) != 0) {
    return Fail(ErrnoError(errno, "chmod " + path));
  }
  if (m.mtime_ns) {
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;  // access time: now is as good as any
    times[1].tv_sec = static_cast<time_t>(*m.mtime_ns / 1000000000);
    times[1].tv_nsec = static_cast<long>(*m.mtime_ns % 1000000000);
    if (times[1].tv_nsec < 0) {
      times[1].tv_nsec += 1000000000;
      times[1].tv_sec -= 1;
    }
    if (::futimens(fd, times) != 0) return Fail(ErrnoError(errno, "set times of " + path));
  }
  return OkStatus();
}

// get --in-place: `out` (an existing regular file, `before` its lstat) is
// updated where it stands. See RestoreFrames for what is written and
// GetOptions::in_place for what an interruption leaves.
Result<GetResult> UpdateInPlace(ObjectStore& store, const Manifest& m, const std::string& name,
                                const std::string& out, const struct stat& before,
                                const GetOptions& options, const std::vector<std::string>& seeds,
                                size_t explicit_seeds, GetResult result) {
  ScopedFd fd(::open(out.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Fail(ErrnoError(errno, "open " + out));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError(errno, "stat " + out));
  if (!S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    return Fail(ErrorCode::kInvalidArgument, out + " changed while it was opened");
  }
  // Two updates of one file at once would each trust what the other is
  // overwriting.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return Fail(ErrorCode::kIOError, out + ": another get --in-place is updating it");
  }
  const uint64_t old_size = static_cast<uint64_t>(st.st_size);
  // What the target holds, if a get wrote it and it has not changed since
  // (read before the target grows: that moves its times). The record goes
  // before any byte changes: an update that stops halfway leaves no record
  // of what is no longer there.
  const std::string records = FileRecordDir(options.reader.disk_cache_dir);
  std::optional<std::vector<FrameRef>> record;
  if (!options.verify_target) record = ReadFileRecord(records, st);
  RemoveFileRecord(records, st);
  if (m.size > old_size) {
    HB_TRY(CheckFreeSpace(Dirname(out), m.size - old_size));
    if (::ftruncate(fd.get(), static_cast<off_t>(m.size)) != 0) {
      return Fail(ErrnoError(errno, "extend " + out));
    }
  }
  const std::string label = "'" + name + "'";
  Status run = RestoreFrames(store, m, fd.get(), out, options, label, seeds, explicit_seeds,
                             /*in_place=*/true, &result, record ? &*record : nullptr);
  if (!run) {
    const std::string again =
        out +
        " may now hold a mix of old and new bytes; run the same get --in-place again to "
        "finish";
    if (run.error().code() == ErrorCode::kCancelled) {
      return Fail(ErrorCode::kCancelled, "get " + name + " --in-place interrupted: " + again);
    }
    return Fail(run.error().code(), run.error().message() + " (" + again + ")");
  }
  if (m.size < old_size && ::ftruncate(fd.get(), static_cast<off_t>(m.size)) != 0) {
    return Fail(ErrnoError(errno, "truncate " + out));
  }
  if (m.sha256) {
    // Recorded SHA-256: read the result back once (in place, there is no
    // ordered stream of the bytes to hash on the way).
    Sha256 h;
    std::vector<uint8_t> buf(4 << 20);
    for (uint64_t at = 0; at < m.size;) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(buf.size(), m.size - at));
      HB_TRY(PreadAll(fd.get(), {buf.data(), take}, at, out));
      h.Update({buf.data(), take});
      at += take;
    }
    if (h.Finish() != *m.sha256) {
      return Fail(ErrorCode::kCorruption, out + ": updated bytes do not match the SHA-256 of " +
                                              label + " " + m.sha256->Hex());
    }
  }
  if (options.restore_metadata) HB_TRY(ApplyMetadata(fd.get(), m, out, options, true, &result));
  if (::fsync(fd.get()) != 0) return Fail(ErrnoError(errno, "fsync " + out));
  // What the file holds now, for the next get (ops/file_record.h).
  WriteFileRecord(records, fd.get(), m);
  HB_TRY(fd.Close(out));
  return result;
}

}  // namespace

Result<GetResult> Get(const std::shared_ptr<ObjectStore>& store, const std::string& name,
                      const std::string& out, const GetOptions& options) {
  HB_ASSIGN_OR_RETURN(auto context, ReaderContext::Create(options.reader));
  HB_ASSIGN_OR_RETURN(auto reader, OpenBlobReader(context, store, name, /*whole_table=*/true));
  BlobReader* r = reader.get();
  const Manifest& m = r->manifest();
  if (options.in_place && (out == "-" || options.to_device)) {
    return Fail(ErrorCode::kInvalidArgument,
                "--in-place updates a regular file (not standard output or a device)");
  }
  GetResult result;
  result.size = m.size;
  for (const FrameRef& f : m.frames) {
    if (f.zero) result.holes += f.length;
  }
  Restorer restorer(std::move(reader), options, "'" + name + "'");

  // A stream (standard output, or a device or FIFO with --to-device):
  // written in order by this thread, zeros included.
  auto stream = [&](int out_fd, const std::string& what) -> Status {
    static const std::vector<uint8_t> kZeros(1 << 16, 0);
    auto fetch = [r](size_t i) { return r->ReadFrame(i); };
    auto sink = [&](size_t i, const Buffer& b) -> Status {
      if (m.frames[i].zero) {
        uint64_t left = m.frames[i].length;
        while (left > 0) {
          size_t take = std::min<uint64_t>(left, kZeros.size());
          HB_TRY(WriteAllFd(out_fd, {kZeros.data(), take}, what));
          left -= take;
        }
        return OkStatus();
      }
      return WriteAllFd(out_fd, b.span(), what);
    };
    return restorer.Run(fetch, sink);
  };
  if (out == "-") {
    HB_TRY(stream(1, "standard output"));
    return result;
  }

  // Only a regular file is ever replaced. A symlink is refused rather than
  // followed or replaced (its own inode is not the user's data, and where it
  // points is not what they named); a device or FIFO is written into only
  // when asked (--to-device), never replaced.
  struct stat st;
  const bool exists = ::lstat(out.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return Fail(ErrnoError(errno, "stat " + out));
  if (exists && !S_ISREG(st.st_mode)) {
    const bool device = S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode);
    if (!device || !options.to_device) {
      return Fail(ErrorCode::kInvalidArgument,
                  out + " is " + NodeKind(st.st_mode) + "; get replaces only a regular file" +
                      (device ? " (--to-device writes into it instead)" : ""));
    }
    ScopedFd dev(::open(out.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!dev.valid()) return Fail(ErrnoError(errno, "open " + out));
    struct stat now;
    if (::fstat(dev.get(), &now) != 0) return Fail(ErrnoError(errno, "stat " + out));
    if (now.st_rdev != st.st_rdev || (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
      return Fail(ErrorCode::kInvalidArgument, out + " changed while it was opened");
    }
    HB_TRY(stream(dev.get(), out));
    if (!S_ISFIFO(st.st_mode) && ::fsync(dev.get()) != 0 && errno != EINVAL) {
      return Fail(ErrnoError(errno, "fsync " + out));
    }
    HB_TRY(dev.Close(out));
    return result;
  }
  if (options.to_device) {
    return Fail(ErrorCode::kInvalidArgument,
                "--to-device: " + out + (exists ? " is a regular file" : " does not exist") +
                    " (give an existing block or character device or FIFO)");
  }
  // Seeds: the file being replaced first (updating a copy fetches only
  // what changed), then --seed files, then the files under --seed-dir.
  const std::string dir = Dirname(out);
  std::vector<std::string> seeds;
  if (exists && (options.seed_target || options.in_place)) seeds.push_back(out);
  seeds.insert(seeds.end(), options.seeds.begin(), options.seeds.end());
  const size_t explicit_seeds = seeds.size();
  for (const std::string& d : options.seed_dirs) {
    HB_ASSIGN_OR_RETURN(std::vector<std::string> more, ListSeedDir(d, m.size, m.chunker, seeds));
    for (std::string& p : more) {
      if (std::find(seeds.begin(), seeds.end(), p) == seeds.end()) seeds.push_back(std::move(p));
    }
  }
  if (options.in_place && exists) {
    return UpdateInPlace(*store, m, name, out, st, options, seeds, explicit_seeds, result);
  }
  if (exists && !options.force) {
    return Fail(ErrorCode::kAlreadyExists,
                out + " already exists (use --force to replace it, or --in-place to update it)");
  }
  RemoveStaleTemps(dir, Basename(out));
  HB_TRY(CheckFreeSpace(dir, m.size - result.holes));
  HB_ASSIGN_OR_RETURN(std::string tmp, MakeTempName(dir, "." + Basename(out) + ".hugeblob"));
  // Read-write: a chunk cloned from a seed is read back to be checked.
  ScopedFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return Fail(ErrnoError(errno, "create " + tmp));

  auto fail = [&](const Error& e) -> tl::unexpected<Error> {
    fd = ScopedFd();
    ::unlink(tmp.c_str());
    return Fail(e);
  };
  if (::ftruncate(fd.get(), static_cast<off_t>(m.size)) != 0) {
    return fail(ErrnoError(errno, "truncate " + tmp));
  }
  const int raw_fd = fd.get();
  Status run = OkStatus();
  if (m.sha256) {
    // A whole-file SHA-256 needs the bytes in order: the ordered restorer.
    auto fetch = [r, raw_fd, &m, &tmp](size_t i) -> Result<Buffer> {
      HB_ASSIGN_OR_RETURN(Buffer b, r->ReadFrame(i));
      HB_TRY(PwriteAll(raw_fd, b.span(), m.frames[i].offset, tmp));
      return b;
    };
    auto sink = [](size_t, const Buffer&) -> Status { return OkStatus(); };
    run = restorer.Run(fetch, sink);
  } else {
    run = RestoreFrames(*store, m, raw_fd, tmp, options, "'" + name + "'", seeds, explicit_seeds,
                        /*in_place=*/false, &result);
  }
  if (!run)
    return fail(run.error().code() == ErrorCode::kCancelled
                    ? Error(ErrorCode::kCancelled,
                            "get " + name + " interrupted; nothing was written to " + out)
                    : run.error());
  // The file's permission bits and modification time, as recorded by put
  // (set on the temporary file, so they arrive with the rename).
  if (options.restore_metadata) {
    if (Status st = ApplyMetadata(raw_fd, m, tmp, options, false, &result); !st)
      return fail(st.error());
  }
  if (::fsync(raw_fd) != 0) return fail(ErrnoError(errno, "fsync " + tmp));
  struct stat written;
  if (::fstat(raw_fd, &written) != 0) return fail(ErrnoError(errno, "stat " + tmp));
  Status closed = fd.Close(tmp);
  if (!closed) return fail(closed.error());
  // The target may have been replaced while we restored: still only a
  // regular file (or nothing) may be renamed over.
  if (::lstat(out.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return fail(Error(ErrorCode::kInvalidArgument,
                      out + " became " + NodeKind(st.st_mode) +
                          " during the restore; get replaces only a regular file"));
  }
  if (::rename(tmp.c_str(), out.c_str()) != 0) return fail(ErrnoError(errno, "rename to " + out));
  HB_TRY(FsyncDir(dir));
  // What the file holds, for the next get (ops/file_record.h), taken after
  // the rename (which moves the change time); the file replaced is gone.
  const std::string records = FileRecordDir(options.reader.disk_cache_dir);
  if (exists) RemoveFileRecord(records, st);
  ScopedFd done(::open(out.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat now;
  if (done.valid() && ::fstat(done.get(), &now) == 0 && now.st_dev == written.st_dev &&
      now.st_ino == written.st_ino) {
    WriteFileRecord(records, done.get(), m);
  }
  return result;
}

}  // namespace hugeblob
