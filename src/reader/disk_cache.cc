#include "reader/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hash/blake3.h"
#include "hash/sha256.h"
#include "util/budget.h"

namespace hugeblob {

namespace {

// A hit refreshes the entry's mtime (the LRU clock) only if it is older than
// this: one futimens per minute per hot entry instead of one per hit.
constexpr int64_t kTouchAfterSeconds = 60;
// After a write failure the cache stops writing for this long, so a full
// disk costs one failed write per minute, not one per fetched chunk.
constexpr int64_t kBypassSeconds = 60;
// Temporary files older than this were left by a crashed writer.
constexpr int64_t kStaleTempSeconds = 3600;
// Sizes are counted in filesystem blocks, close to what the files occupy.
constexpr uint64_t kBlock = 4096;
// Default bounds of the per-process state (see DiskCache::Open): one
// verified record per this many bytes of capacity, within these bounds.
constexpr uint64_t kVerifiedPerBytes = 128 << 10;
constexpr size_t kMinVerified = 1024;
constexpr size_t kMaxVerified = 65536;
// Open fds: at most this many, a quarter of the fd limit, and so many that
// entries unlinked by other processes but held open by us stay within 1/8 of
// the capacity at an assumed 64 KiB per entry (the smallest usual chunk).
constexpr size_t kMaxOpenFiles = 4096;
constexpr uint64_t kOpenFileBytes = 64 << 10;

uint64_t Rounded(uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool MakeDir(const std::string& path) {
  return ::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST;
}

bool MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      if (!MakeDir(path.substr(0, pos))) return false;
    }
  }
  return true;
}

bool IsHexName(const char* name) {
  size_t n = 0;
  for (; name[n] != '\0'; ++n) {
    char c = name[n];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return n == 64;
}

const char kHexDigits[] = "0123456789abcdef";

// Opens an entry for reading. O_NOATIME spares every later pread an atime
// check; it is refused (EPERM) on files of other users, then plain open.
int OpenEntry(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

}  // namespace

std::string DiskCache::DefaultDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/hugeblob";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/hugeblob";
  return "";
}

DiskCache::OpenFile::~OpenFile() { ::close(fd); }

DiskCache::DiskCache(std::string root, uint64_t capacity, const Limits& limits)
    : root_(std::move(root)), capacity_(capacity) {
  size_t verified = limits.max_verified;
  if (verified == kAuto) {
    verified = static_cast<size_t>(
        std::clamp<uint64_t>(capacity / kVerifiedPerBytes, kMinVerified, kMaxVerified));
  }
  size_t files = limits.max_open_files;
  if (files == kAuto) {
    struct rlimit rl;
    uint64_t by_limit = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                            ? rl.rlim_cur / 4
                            : kMaxOpenFiles;
    files = static_cast<size_t>(
        std::min<uint64_t>({kMaxOpenFiles, by_limit, capacity / 8 / kOpenFileBytes}));
  }
  max_verified_per_shard_ = std::max<size_t>(1, (verified + kShards - 1) / kShards);
  max_files_per_shard_ = files == 0 ? 0 : std::max<size_t>(1, (files + kShards - 1) / kShards);
}

DiskCache::~DiskCache() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::unique_ptr<DiskCache> DiskCache::Open(const std::string& dir, uint64_t capacity_bytes) {
  return Open(dir, capacity_bytes, Limits());
}

std::unique_ptr<DiskCache> DiskCache::Open(const std::string& dir, uint64_t capacity_bytes,
                                           const Limits& limits) {
  std::string base = dir.empty() ? DefaultDir() : dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::unique_ptr<DiskCache> cache(
      new DiskCache(base.empty() ? "" : base + "/v1", capacity_bytes, limits));
  if (base.empty()) {
    spdlog::warn("disk cache: no directory ($XDG_CACHE_HOME and $HOME unset); cache disabled");
    return cache;
  }
  cache->enabled_ = capacity_bytes > 0 && cache->Setup();
  if (cache->enabled_) cache->Evict(capacity_bytes);  // learn the size; trim if over
  return cache;
}

bool DiskCache::Setup() {
  if (!MakeDirs(root_ + "/tmp") || !MakeDir(root_ + "/claims")) {
    WarnOnce("creating " + root_, errno);
    return false;
  }
  std::string sub = root_ + "/00";
  for (int i = 0; i < 256; ++i) {
    sub[sub.size() - 2] = kHexDigits[i >> 4];
    sub[sub.size() - 1] = kHexDigits[i & 15];
    if (!MakeDir(sub)) {
      WarnOnce("creating " + sub, errno);
      return false;
    }
  }
  lock_fd_ = ::open((root_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    WarnOnce("opening " + root_ + "/lock", errno);
    return false;
  }
  return true;
}

std::string DiskCache::PathFor(const ChunkId& id) const {
  std::string hex = id.Hex();
  std::string path;
  path.reserve(root_.size() + 4 + hex.size());
  path.append(root_).append("/").append(hex, 0, 2).append("/").append(hex);
  return path;
}

void DiskCache::WarnOnce(const std::string& what, int err) {
  if (!warned_.exchange(true)) {
    spdlog::warn("disk cache: {}: {}; reads go to the store instead (logged once)", what,
                 std::strerror(err));
  }
}

bool DiskCache::Get(const ChunkId& id, uint32_t length, Buffer* out, MemoryBudget* live) {
  return GetEntry(id, length, /*exact=*/true, out, live);
}

bool DiskCache::GetObject(const Hash256& id, uint64_t max_bytes, Buffer* out) {
  return GetEntry(id, max_bytes, /*exact=*/false, out, nullptr);
}

bool DiskCache::GetEntry(const ChunkId& id, uint64_t length, bool exact, Buffer* out,
                         MemoryBudget* live) {
  if (!enabled_) return false;
  // Objects are counted apart: the chunk statistics stay about chunks.
  std::atomic<uint64_t>& hits = exact ? hits_ : object_hits_;
  std::atomic<uint64_t>& misses = exact ? misses_ : object_misses_;
  const std::string path = PathFor(id);
  int fd = OpenEntry(path);
  if (fd < 0) {
    misses.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto file = std::make_shared<OpenFile>(fd);
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && !exact) {
    // An object of unknown size: the entry says. One larger than the
    // caller's bound is not what it asked for (a plain miss, kept).
    if (static_cast<uint64_t>(st.st_size) > length) {
      misses.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    length = static_cast<uint64_t>(st.st_size);
  }
  ok = ok && static_cast<uint64_t>(st.st_size) == length;
  // The same inode verified before by this process: trusted (see header).
  // Objects are hashed on every read (their reader checks them anyway) and
  // not remembered: the verified map and the open fds are for chunks.
  const bool known = ok && exact && KnownInode(id, st);
  Buffer buf;
  if (ok) {
    Reservation r;
    if (live != nullptr) r = live->ForceReserve(length);
    buf = Buffer::Allocate(length, std::move(r));
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, buf.mutable_data() + done, length - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    // Entries are named by chunk id alone, and stores name chunks by
    // BLAKE3 or (made before it) SHA-256: an entry is intact if its bytes
    // hash to its name under either. BLAKE3 first: new stores pay one hash.
    // Objects (manifests, segments) are named by the SHA-256 of their bytes.
    ok = done == length &&
         (known || (exact && Blake3Of(buf.span()) == id) || Sha256Of(buf.span()) == id);
  }
  if (ok) {
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec - st.st_mtim.tv_sec >= kTouchAfterSeconds) {
      (void)::futimens(fd, nullptr);  // may fail on another user's entry: harmless
    }
  }
  if (!ok) {
    file.reset();
    // Torn, truncated or foreign: drop it so the refetched chunk replaces it.
    Forget(id);
    ::unlink(path.c_str());
    corrupt_.fetch_add(1, std::memory_order_relaxed);
    misses.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (exact) Remember(id, st, std::move(file));
  hits.fetch_add(1, std::memory_order_relaxed);
  *out = std::move(buf);
  return true;
}

bool DiskCache::KnownInode(const ChunkId& id, const struct stat& st) const {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  return it != s.map.end() && it->second.dev == st.st_dev && it->second.ino == st.st_ino &&
         it->second.size == static_cast<uint64_t>(st.st_size);
}

bool DiskCache::IsVerified(const ChunkId& id) const {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  return s.map.count(id) != 0;
}

void DiskCache::TrimFiles(Shard& s, std::vector<std::shared_ptr<OpenFile>>* closed) {
  while (s.fd_lru.size() > max_files_per_shard_) {
    Known& k = s.map.find(s.fd_lru.back())->second;
    closed->push_back(std::move(k.file));
    k.file.reset();
    s.fd_lru.pop_back();
    open_files_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void DiskCache::Remember(const ChunkId& id, const struct stat& st, std::shared_ptr<OpenFile> file) {
  std::vector<std::shared_ptr<OpenFile>> closed;  // closed after the lock is released
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto [it, inserted] = s.map.try_emplace(id);
  Known& k = it->second;
  if (inserted) {
    s.lru.push_front(id);
    k.lru = s.lru.begin();
    verified_.fetch_add(1, std::memory_order_relaxed);
  } else {
    s.lru.splice(s.lru.begin(), s.lru, k.lru);
    if (k.dev != st.st_dev || k.ino != st.st_ino) {
      // A new inode: the old fd (if any) reads the old one, which is fine,
      // but keep the one just verified.
      if (k.file != nullptr) {
        closed.push_back(std::move(k.file));
        k.file.reset();
        s.fd_lru.erase(k.fd_lru);
        open_files_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }
  k.dev = st.st_dev;
  k.ino = st.st_ino;
  k.size = static_cast<uint64_t>(st.st_size);
  k.touched = SteadySeconds();
  if (file != nullptr && max_files_per_shard_ > 0) {
    if (k.file == nullptr) {
      s.fd_lru.push_front(id);
      k.fd_lru = s.fd_lru.begin();
      open_files_.fetch_add(1, std::memory_order_relaxed);
    } else {
      closed.push_back(std::move(k.file));
      s.fd_lru.splice(s.fd_lru.begin(), s.fd_lru, k.fd_lru);
    }
    k.file = std::move(file);
    TrimFiles(s, &closed);
  }
  while (s.map.size() > max_verified_per_shard_) EraseLocked(s, s.map.find(s.lru.back()), &closed);
}

void DiskCache::EraseLocked(Shard& s,
                            std::unordered_map<ChunkId, Known, Hash256Hasher>::iterator it,
                            std::vector<std::shared_ptr<OpenFile>>* closed) {
  if (it->second.file != nullptr) {
    closed->push_back(std::move(it->second.file));
    s.fd_lru.erase(it->second.fd_lru);
    open_files_.fetch_sub(1, std::memory_order_relaxed);
  }
  s.lru.erase(it->second.lru);
  s.map.erase(it);
  verified_.fetch_sub(1, std::memory_order_relaxed);
}

void DiskCache::Adopt(const ChunkId& id, const struct stat& st, std::shared_ptr<OpenFile> file) {
  if (max_files_per_shard_ == 0) return;
  std::vector<std::shared_ptr<OpenFile>> closed;
  Shard& s = ShardFor(id);
  {
    std::lock_guard lock(s.mu);
    auto it = s.map.find(id);
    if (it == s.map.end()) return;
    Known& k = it->second;
    if (k.file != nullptr || k.dev != st.st_dev || k.ino != st.st_ino) return;
    s.fd_lru.push_front(id);
    k.fd_lru = s.fd_lru.begin();
    k.file = std::move(file);
    open_files_.fetch_add(1, std::memory_order_relaxed);
    TrimFiles(s, &closed);
  }
  // `file` (if not adopted) and `closed` are released here, unlocked.
}

void DiskCache::Forget(const ChunkId& id) {
  std::vector<std::shared_ptr<OpenFile>> closed;  // closed after the lock is released
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  if (it != s.map.end()) EraseLocked(s, it, &closed);
}

bool DiskCache::ReadRange(const ChunkId& id, uint32_t length, uint64_t offset,
                          std::span<uint8_t> out) {
  if (!enabled_ || offset > length || out.size() > length - offset) return false;
  Shard& s = ShardFor(id);
  std::shared_ptr<OpenFile> file;
  dev_t dev;
  ino_t ino;
  bool touch = false;
  {
    std::lock_guard lock(s.mu);
    auto it = s.map.find(id);
    if (it == s.map.end() || it->second.size != length) {
      range_misses_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    Known& k = it->second;
    s.lru.splice(s.lru.begin(), s.lru, k.lru);
    if (k.file != nullptr) {
      file = k.file;
      s.fd_lru.splice(s.fd_lru.begin(), s.fd_lru, k.fd_lru);
    }
    dev = k.dev;
    ino = k.ino;
    const int64_t now = SteadySeconds();
    if (now - k.touched >= kTouchAfterSeconds) {
      k.touched = now;
      touch = true;
    }
  }
  if (file == nullptr) {
    // Not open: the entry on disk must still be the inode we verified.
    int fd = OpenEntry(PathFor(id));
    struct stat st;
    if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino &&
        static_cast<uint64_t>(st.st_size) == length) {
      file = std::make_shared<OpenFile>(fd);
      Adopt(id, st, file);
    } else {
      // Evicted (a plain miss) or replaced (the next Get verifies the new
      // inode): either way this process no longer knows it. Other open
      // errors (EMFILE, ...) say nothing about the entry.
      const bool gone = fd >= 0 || errno == ENOENT;
      if (fd >= 0) ::close(fd);
      if (gone) Forget(id);
      range_misses_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(file->fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done != out.size()) {
    // A verified inode shrank (modified in place) or cannot be read: stop
    // trusting it; the caller loads the chunk whole.
    file.reset();
    Forget(id);
    range_misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (touch) (void)::futimens(file->fd, nullptr);  // the LRU clock; see Get
  range_hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool DiskCache::Publish(const ChunkId& id, const Buffer& chunk, struct stat* st) {
  const std::string path = PathFor(id);
  const std::string tmp = root_ + "/tmp/" + id.Hex() + "." + std::to_string(::getpid()) + "." +
                          std::to_string(temp_counter_.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT && MakeDirs(root_ + "/tmp")) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) return false;
  size_t done = 0;
  int err = 0;
  while (done < chunk.size()) {
    ssize_t n = ::write(fd, chunk.data() + done, chunk.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    if (n == 0) {
      err = ENOSPC;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fstat(fd, st) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;  // NFS reports ENOSPC on close
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    if (err == ENOENT) {  // the fan-out directory was removed under us
      std::string dir = path.substr(0, path.rfind('/'));
      if (MakeDirs(dir) && ::rename(tmp.c_str(), path.c_str()) == 0) err = 0;
    }
  }
  if (err != 0) {
    ::unlink(tmp.c_str());
    errno = err;
    return false;
  }
  return true;
}

void DiskCache::Put(const ChunkId& id, const Buffer& chunk) { PutEntry(id, chunk, false); }

void DiskCache::PutObject(const Hash256& id, const Buffer& bytes) { PutEntry(id, bytes, true); }

void DiskCache::PutEntry(const ChunkId& id, const Buffer& chunk, bool object) {
  if (!enabled_) return;
  // An entry larger than 1/8 of the cache would push out too much to be
  // worth keeping.
  if (chunk.size() > capacity_ / 8) return;
  if (SteadySeconds() < bypass_until_.load(std::memory_order_relaxed)) return;
  if (::access(PathFor(id).c_str(), F_OK) == 0) return;  // another reader published it

  struct stat st;
  bool ok = Publish(id, chunk, &st);
  if (!ok && (errno == ENOSPC || errno == EDQUOT)) {
    // Make room: down to half of what we believe is there, then once more.
    Evict(std::min(usage(), capacity_) / 2);
    ok = Publish(id, chunk, &st);
  }
  if (!ok) {
    int err = errno;
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    bypass_until_.store(SteadySeconds() + kBypassSeconds, std::memory_order_relaxed);
    WarnOnce("writing " + PathFor(id), err);
    return;
  }
  // Written from verified bytes by this process: trusted like a verified
  // read (a chunk; objects are checked on every read).
  if (!object) Remember(id, st, nullptr);
  (object ? object_writes_ : writes_).fetch_add(1, std::memory_order_relaxed);
  usage_.fetch_add(Rounded(chunk.size()), std::memory_order_relaxed);
  written_since_scan_.fetch_add(Rounded(chunk.size()), std::memory_order_relaxed);
  MaybeEvict();
}

void DiskCache::MaybeEvict() {
  if (usage() <= capacity_ &&
      written_since_scan_.load(std::memory_order_relaxed) < capacity_ / 16) {
    return;
  }
  std::unique_lock lock(evict_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread of ours is at it
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    // Another process is scanning; it trims for everyone.
    written_since_scan_.store(0, std::memory_order_relaxed);
    return;
  }
  // Trim to 7/8 so that the next 1/8 of writes needs no eviction.
  ScanLocked(capacity_, capacity_ / 8 * 7);
  ::flock(lock_fd_, LOCK_UN);
}

uint64_t DiskCache::Evict(uint64_t target_bytes) {
  if (!enabled_) return 0;
  std::lock_guard lock(evict_mu_);
  // flock() locks belong to the open file description: one per process
  // here, and evict_mu_ keeps our own threads out of each other's way.
  while (::flock(lock_fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
  uint64_t left = ScanLocked(target_bytes, target_bytes);
  ::flock(lock_fd_, LOCK_UN);
  return left;
}

uint64_t DiskCache::ScanLocked(uint64_t trigger_bytes, uint64_t target_bytes) {
  scans_.fetch_add(1, std::memory_order_relaxed);

  struct Entry {
    struct timespec mtime;
    uint64_t size;
    std::string path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);

  std::string sub = root_ + "/00";
  for (int i = 0; i <= 257; ++i) {
    std::string dir = i < 256 ? sub : i == 256 ? root_ + "/tmp" : root_ + "/claims";
    if (i < 256) {
      dir[dir.size() - 2] = kHexDigits[i >> 4];
      dir[dir.size() - 1] = kHexDigits[i & 15];
    }
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISREG(st.st_mode)) continue;
      std::string path = dir + "/" + e->d_name;
      if (i >= 256) {
        // Temp files and claim files left by a crashed process. (A claim
        // file in use is seconds old; removing one anyway would cost a
        // duplicate fetch, never a wrong byte.)
        if (now.tv_sec - st.st_mtim.tv_sec > kStaleTempSeconds) ::unlink(path.c_str());
        continue;
      }
      if (!IsHexName(e->d_name)) continue;  // not ours: neither counted nor deleted
      uint64_t size = Rounded(static_cast<uint64_t>(st.st_size));
      total += size;
      entries.push_back({st.st_mtim, size, std::move(path)});
    }
    ::closedir(d);
  }

  if (total > trigger_bytes) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
      return a.mtime.tv_nsec < b.mtime.tv_nsec;
    });
    for (const Entry& e : entries) {
      if (total <= target_bytes) break;
      if (::unlink(e.path.c_str()) == 0 || errno == ENOENT) {
        total -= e.size;
        evicted_.fetch_add(1, std::memory_order_relaxed);
        // Close our fd of it, so its space is freed now.
        auto name = std::string_view(e.path).substr(e.path.size() - 64);
        if (auto id = ChunkId::FromHex(name)) Forget(*id);
      }
    }
  }
  usage_.store(total, std::memory_order_relaxed);
  written_since_scan_.store(0, std::memory_order_relaxed);
  return total;
}

DiskCache::Claim& DiskCache::Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void DiskCache::Claim::Release() {
  if (fd_ < 0) return;
  // Unlink first, while the lock is held: a waiter blocked on this inode
  // wakes when it is closed, and one that opens the path afterwards finds
  // nothing (or a new claim).
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

DiskCache::ClaimState DiskCache::TryClaim(const ChunkId& id, Claim* claim) {
  if (!enabled_) return ClaimState::kOff;
  const std::string path = ClaimPathFor(id);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT && MakeDir(root_ + "/claims")) {
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fd < 0) return ClaimState::kOff;
    int rc;
    while ((rc = ::flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      return err == EWOULDBLOCK ? ClaimState::kBusy : ClaimState::kOff;
    }
    // Locked; but is it still the file at `path`? Its holder may have
    // unlinked it between our open and our flock.
    struct stat held, now;
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      claim->Release();
      claim->path_ = path;
      claim->fd_ = fd;
      return ClaimState::kClaimed;
    }
    ::close(fd);
  }
  return ClaimState::kOff;
}

bool DiskCache::WaitUnclaimed(const ChunkId& id, int64_t max_ms) {
  if (!enabled_) return true;
  claim_waits_.fetch_add(1, std::memory_order_relaxed);
  const std::string path = ClaimPathFor(id);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  // Polls a shared lock (a blocking flock could not be bounded in time
  // without a signal): every 2 ms at first, backing off to 20 ms.
  int64_t pause_us = 2000;
  for (;;) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;  // no claim file: nobody is fetching it
    const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
    ::close(fd);
    if (free) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ::usleep(static_cast<useconds_t>(pause_us));
    pause_us = std::min<int64_t>(pause_us * 2, 20000);
  }
}

DiskCache::Stats DiskCache::stats() const {
  Stats s;
  s.hits = hits_.load();
  s.misses = misses_.load();
  s.corrupt = corrupt_.load();
  s.writes = writes_.load();
  s.write_failures = write_failures_.load();
  s.evicted = evicted_.load();
  s.scans = scans_.load();
  s.object_hits = object_hits_.load();
  s.object_misses = object_misses_.load();
  s.object_writes = object_writes_.load();
  s.range_hits = range_hits_.load();
  s.range_misses = range_misses_.load();
  s.verified = verified_.load();
  s.open_files = open_files_.load();
  return s;
}

}  // namespace hugeblob
