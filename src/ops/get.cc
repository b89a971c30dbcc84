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
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "codec/codec.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/hugeblob.h"
#include "ops/load.h"
#include "ops/seed.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/thread_pool.h"
#include "util/units.h"

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

// One coalesced read of a pack: frames [first, last) of `order`.
struct Run {
  uint32_t pack = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t first = 0;
  size_t last = 0;
};

// The read plan of a whole-file restore: the stored frames in pack order
// (which is file order for a file put in one go), each distinct frame once
// however often the file repeats it, joined into reads of up to `max_request`
// bytes where they sit within `max_gap` of each other. Large requests are
// what a remote store needs (a request costs tens of ms there) and what a
// local one likes (one pread per few MiB).
// `order` comes in holding the frames to read (any order), and goes out
// sorted into the plan.
std::vector<Run> PlanRuns(const Manifest& m, std::vector<size_t>* order, uint64_t max_request,
                          uint64_t max_gap) {
  std::stable_sort(order->begin(), order->end(), [&](size_t a, size_t b) {
    const FrameRef& x = m.frames[a];
    const FrameRef& y = m.frames[b];
    return x.pack != y.pack ? x.pack < y.pack : x.stored_offset < y.stored_offset;
  });
  // First the longest stretches of nearby frames, then each cut into about
  // equal parts of at most max_request: a 16 MiB pack with a 12 MiB cap is
  // two reads of about 8 MiB, not 12 + 4 (or 8 + 8 + a sliver).
  std::vector<Run> stretches;
  for (size_t k = 0; k < order->size(); ++k) {
    const FrameRef& f = m.frames[(*order)[k]];
    const uint64_t end = f.stored_offset + f.stored_length;
    if (!stretches.empty()) {
      Run& r = stretches.back();
      if (r.pack == f.pack && f.stored_offset >= r.begin && f.stored_offset <= r.end + max_gap) {
        r.end = std::max(r.end, end);
        r.last = k + 1;
        continue;
      }
    }
    stretches.push_back(Run{f.pack, f.stored_offset, end, k, k + 1});
  }
  std::vector<Run> runs;
  for (const Run& s : stretches) {
    const uint64_t parts = (s.end - s.begin + max_request - 1) / max_request;
    const uint64_t target = (s.end - s.begin + parts - 1) / parts;
    for (size_t k = s.first; k < s.last; ++k) {
      const FrameRef& f = m.frames[(*order)[k]];
      const uint64_t end = f.stored_offset + f.stored_length;
      if (k > s.first) {
        Run& r = runs.back();
        // Grow until the part has its share; a part may then run up to
        // max_request so that no sliver is left over for a read of its own.
        if (r.end - r.begin < target && std::max(end, r.end) - r.begin <= max_request) {
          r.end = std::max(r.end, end);
          r.last = k + 1;
          continue;
        }
      }
      runs.push_back(Run{f.pack, f.stored_offset, end, k, k + 1});
    }
  }
  return runs;
}

// Restores every stored frame of `m` into `fd` (already sized; zero frames
// stay holes): `threads` workers each take the next run, read it with one
// ranged GET into a reused buffer, decode each frame into a per-thread
// scratch buffer, check it against its chunk id and pwrite it in place. No
// buffer per chunk, no ordering thread: the content digest needs only the
// ids, and every frame was checked against its id before it was written.
Status RestoreInPlace(ObjectStore& store, const Manifest& m, int fd, const std::string& tmp,
                      const GetOptions& options, const std::string& label,
                      const std::vector<std::string>& seeds, GetResult* result) {
  const unsigned threads = options.threads == 0 ? 4 : options.threads;
  // Each worker holds one request and one decoded chunk: 5/8 of the budget
  // for requests (10 MiB each at the defaults), so that a 16 MiB pack is two.
  const uint64_t max_request =
      std::clamp<uint64_t>(options.memory_budget * 5 / 8 / threads, 1ull << 20, 12ull << 20);

  // Frames a seed holds are copied from it (checked against their ids as
  // they are read); the rest, and any seed chunk that no longer matches,
  // come from the store.
  std::unique_ptr<SeedIndex> seed;
  if (!seeds.empty()) {
    HB_ASSIGN_OR_RETURN(seed, SeedIndex::Build(m, seeds, options.cancel));
    result->seed_scanned_bytes = seed->scanned_bytes();
  }
  std::vector<size_t> order;
  std::vector<size_t> from_seed;
  for (size_t i = 0; i < m.frames.size(); ++i) {
    if (m.frames[i].zero) continue;
    if (seed != nullptr && seed->Find(m.frames[i].chunk) != nullptr) {
      from_seed.push_back(i);
    } else {
      order.push_back(i);
    }
  }
  if (!from_seed.empty()) {
    std::atomic<size_t> next_seed{0};
    std::mutex seed_mu;
    std::vector<size_t> refetch;      // guarded by seed_mu
    std::optional<Error> seed_error;  // guarded by seed_mu
    std::atomic<uint64_t> seeded{0};
    auto copier = [&] {
      std::vector<uint8_t> buf;
      for (;;) {
        const size_t k = next_seed.fetch_add(1);
        if (k >= from_seed.size()) return;
        if (options.cancel != nullptr && options.cancel->cancelled()) {
          std::lock_guard lock(seed_mu);
          if (!seed_error) seed_error = CancelledError("get");
          return;
        }
        const FrameRef& f = m.frames[from_seed[k]];
        buf.resize(f.length);
        if (!seed->Read(*seed->Find(f.chunk), buf, f.hash, f.chunk)) {
          std::lock_guard lock(seed_mu);
          refetch.push_back(from_seed[k]);
          continue;
        }
        if (Status st = PwriteAll(fd, buf, f.offset, tmp); !st) {
          std::lock_guard lock(seed_mu);
          if (!seed_error) seed_error = st.error();
          return;
        }
        seeded.fetch_add(f.length);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < std::min<size_t>(threads, from_seed.size()); ++t) {
      pool.emplace_back(copier);
    }
    for (auto& t : pool) t.join();
    if (seed_error) return Fail(*seed_error);
    order.insert(order.end(), refetch.begin(), refetch.end());
    result->seeded_bytes = seeded.load();
    result->seed_changed_chunks = refetch.size();
  }
  const std::vector<Run> runs = PlanRuns(m, &order, max_request, 64 << 10);
  uint64_t max_run = 0;
  for (const Run& r : runs) max_run = std::max(max_run, r.end - r.begin);
  result->store_requests = runs.size();
  for (const Run& r : runs) result->fetched_bytes += r.end - r.begin;

  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::mutex mu;
  std::optional<Error> first_error;  // guarded by mu
  auto fail = [&](Error e) {
    std::lock_guard lock(mu);
    if (!first_error) first_error = std::move(e);
    stop.store(true);
  };
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  uint64_t holes = 0;
  for (const FrameRef& f : m.frames) holes += f.zero ? f.length : 0;
  done.store(holes);

  auto worker = [&] {
    std::vector<uint8_t> scratch;
    // One request buffer per worker for the whole restore: no allocation
    // (and no page fault) per request.
    Buffer request = Buffer::Allocate(static_cast<size_t>(max_run));
    while (!stop.load()) {
      if (cancelled()) {
        fail(CancelledError("get"));
        return;
      }
      const size_t i = next.fetch_add(1);
      if (i >= runs.size()) return;
      const Run& r = runs[i];
      const std::string key = PackKey(m.packs[r.pack]);
      const Buffer* bytes = &request;
      Status got = store.GetRangeInto(
          key, r.begin, {request.mutable_data(), static_cast<size_t>(r.end - r.begin)});
      if (!got) {
        fail(got.error().code() == ErrorCode::kNotFound
                 ? Error(ErrorCode::kCorruption, key + ": pack is missing")
                 : got.error().Wrap(label));
        return;
      }
      uint64_t written = 0;
      for (size_t k = r.first; k < r.last && !stop.load(); ++k) {
        const FrameRef& f = m.frames[order[k]];
        auto stored = bytes->span().subspan(f.stored_offset - r.begin, f.stored_length);
        auto where = [&] {
          return key + ": frame at offset " + std::to_string(f.stored_offset) + " (chunk " +
                 f.chunk.Short() + ")";
        };
        std::span<const uint8_t> plain = stored;
        if (f.codec != Codec::kNone) {
          if (scratch.size() < f.length) scratch.resize(f.length);
          std::span<uint8_t> out(scratch.data(), f.length);
          if (Status st = DecodeFrame(f.codec, stored, out); !st) {
            fail(Error(ErrorCode::kCorruption, where() + ": " + st.error().message()));
            return;
          }
          plain = out;
        } else if (stored.size() != f.length) {
          fail(Error(ErrorCode::kCorruption, where() + ": raw frame of the wrong length"));
          return;
        }
        if (ChunkHash(f.hash, plain) != f.chunk) {
          fail(
              Error(ErrorCode::kCorruption, where() + ": decoded bytes do not match the chunk id"));
          return;
        }
        if (Status st = PwriteAll(fd, plain, f.offset, tmp); !st) {
          fail(st.error());
          return;
        }
        written += f.length;
      }
      const uint64_t now = done.fetch_add(written) + written;
      if (options.progress) {
        std::lock_guard lock(mu);
        options.progress(Progress{now, m.size, 0});
      }
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (first_error) return Fail(*first_error);
  // Every stored frame was written once its id checked out; the digest over
  // the chunk list then names exactly what is in the file.
  if (m.digest && ContentDigestOf(m.frames) != *m.digest) {
    return Fail(
        ErrorCode::kCorruption,
        label + ": restored chunks do not match the file's content digest " + m.digest->Hex());
  }
  return OkStatus();
}

}  // namespace

Result<GetResult> Get(const std::shared_ptr<ObjectStore>& store, const std::string& name,
                      const std::string& out, const GetOptions& options) {
  HB_ASSIGN_OR_RETURN(auto context, ReaderContext::Create(options.reader));
  HB_ASSIGN_OR_RETURN(auto reader, OpenBlobReader(context, store, name, /*whole_table=*/true));
  BlobReader* r = reader.get();
  const Manifest& m = r->manifest();
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
  if (exists && !options.force) {
    return Fail(ErrorCode::kAlreadyExists, out + " already exists (use --force to replace it)");
  }
  const std::string dir = Dirname(out);
  RemoveStaleTemps(dir, Basename(out));
  HB_TRY(CheckFreeSpace(dir, m.size - result.holes));
  HB_ASSIGN_OR_RETURN(std::string tmp, MakeTempName(dir, "." + Basename(out) + ".hugeblob"));
  ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
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
    std::vector<std::string> seeds = options.seeds;
    // The file being replaced is the first seed: updating a copy fetches
    // only what changed.
    if (exists && options.seed_target) seeds.insert(seeds.begin(), out);
    run = RestoreInPlace(*store, m, raw_fd, tmp, options, "'" + name + "'", seeds, &result);
  }
  if (!run)
    return fail(run.error().code() == ErrorCode::kCancelled
                    ? Error(ErrorCode::kCancelled,
                            "get " + name + " interrupted; nothing was written to " + out)
                    : run.error());
  // The file's permission bits and modification time, as recorded by put
  // (set on the temporary file, so they arrive with the rename). Owner and
  // set-id bits are not restored: the restoring user owns the file.
  if (options.restore_metadata) {
    if (m.mode && ::fchmod(raw_fd, static_cast<mode_t>(*m.mode & 0777)) != 0) {
      return fail(ErrnoError(errno, "chmod " + tmp));
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
      if (::futimens(raw_fd, times) != 0) return fail(ErrnoError(errno, "set times of " + tmp));
    }
  }
  if (::fsync(raw_fd) != 0) return fail(ErrnoError(errno, "fsync " + tmp));
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
  return result;
}

}  // namespace hugeblob
