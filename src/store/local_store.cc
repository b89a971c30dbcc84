// Layout of a local store:
//
//   root/<key>                 one regular file per object
//   root/tmp/put.<pid>.<rnd>.tmp   a Put in progress (renamed into place)
//   root/tmp/mpu-<id>          the data of a multipart upload, parts in place
//   root/tmp/mpu-<id>.parts    one 32-byte record per uploaded part
//   root/tmp/mpu-<id>.info     sidecar: key, part size, creation time
//
// The sidecar is written (atomically) before the data and parts files are
// created and removed after them, so every upload file left by a crash has a
// sidecar and ListMultipart reports it. Part records let CompleteMultipart
// prove that every listed part was really written with that size (a missing
// part would otherwise be a silent hole of zeros).
#include "store/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <tuple>

#include "store/key.h"
#include "util/cancel.h"
#include "util/deadline.h"
#include "util/fs.h"
#include "util/units.h"

namespace hugeblob {

namespace {

constexpr std::string_view kTmpDirName = "tmp";
constexpr std::string_view kUploadPrefix = "mpu-";
constexpr size_t kUploadIdBytes = 16;              // 128 random bits: ids never collide
constexpr int kMaxPartNumber = 10000;              // as S3, so callers see one limit
constexpr uint32_t kPartRecordMagic = 0x74706268;  // "hbpt"
// Publishing may race with a Delete that removes the (empty) parent
// directory between our mkdir and rename; a few attempts always suffice
// unless another process deletes in a tight loop.
constexpr int kPublishAttempts = 8;

struct PartRecord {
  uint32_t magic = 0;
  uint32_t reserved = 0;
  uint64_t size = 0;
  uint64_t nonce = 0;
  uint64_t reserved2 = 0;
};
static_assert(sizeof(PartRecord) == 32);

struct UploadInfo {
  std::string key;
  uint64_t part_size = 0;
  int64_t created_unix = 0;
};

int OpenRetry(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Opens `rel` (a '/'-separated path below the store root; "" is the root)
// without following a symbolic link anywhere below the root and without
// leaving it: a store is a tree of real directories and regular files, and a
// link planted in it (refs/ -> /etc) must not make a read, a delete or a
// rename reach outside. Symlinks are refused with ELOOP (or EXDEV). The root
// itself may be reached through links: that path is the user's choice.
int OpenBeneath(const std::string& root, std::string_view rel, int flags, mode_t mode = 0) {
  int dirfd;
  do {
    dirfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  } while (dirfd < 0 && errno == EINTR);
  if (dirfd < 0) return -1;
  std::string path = rel.empty() ? "." : std::string(rel);
  struct open_how how {};
  // No O_NOFOLLOW here: with it, O_PATH would open a trailing link itself
  // and O_DIRECTORY fail with ENOTDIR; RESOLVE_NO_SYMLINKS gives ELOOP for
  // a link anywhere, the last component included.
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0 && errno == ENOSYS) {
    // Kernels before 5.6: at least the last component is not followed.
    do {
      fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
    } while (fd < 0 && errno == EINTR);
  }
  int err = errno;
  ::close(dirfd);
  errno = err;
  return static_cast<int>(fd);
}

// The error for a failed OpenBeneath of `path`: a symlink in the way is
// damage to the store (kCorruption), named as such; a key below an object
// (ENOTDIR) is a missing key.
Error OpenError(int err, const std::string& what) {
  if (err == ELOOP || err == EXDEV) {
    return Error(ErrorCode::kCorruption,
                 what + ": a symbolic link in the store (a store never follows links)");
  }
  return ErrnoError(err == ENOTDIR ? ENOENT : err, what);
}

// The type check after opening an object: only regular files are objects.
// A directory is a missing key (keys below it exist); anything else (a FIFO,
// a device, a socket) is damage, and opening it with O_NONBLOCK above never
// waited for a writer that will not come.
Status CheckObjectType(const struct stat& st, const std::string& what) {
  if (S_ISREG(st.st_mode)) return OkStatus();
  if (S_ISDIR(st.st_mode)) return Fail(ErrnoError(ENOENT, what + " (not an object)"));
  return Fail(ErrorCode::kCorruption, what + ": not a regular file (a store object never is a " +
                                          (S_ISFIFO(st.st_mode)   ? "FIFO"
                                           : S_ISCHR(st.st_mode)  ? "character device"
                                           : S_ISBLK(st.st_mode)  ? "block device"
                                           : S_ISSOCK(st.st_mode) ? "socket"
                                                                  : "special file") +
                                          ")");
}

// tmp/ must be a real directory of the store (or not exist yet): the
// temporary files of Put and multipart uploads are written, and gc deletes
// them, by path below it.
Status CheckTmpDir(const std::string& root) {
  int fd = OpenBeneath(root, kTmpDirName, O_PATH | O_DIRECTORY);
  if (fd < 0) {
    if (errno == ENOENT) return OkStatus();
    return Fail(OpenError(errno, root + "/" + std::string(kTmpDirName)));
  }
  ::close(fd);
  return OkStatus();
}

Status FsyncFd(int fd, const std::string& path) {
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Fail(ErrnoError(errno, "fsync " + path));
  return OkStatus();
}

// Keys are validated by the common rules, and "tmp/..." is refused because
// that directory holds our temporary files.
Status CheckKey(std::string_view key) {
  HB_TRY(ValidateKey(key));
  if (key == kTmpDirName || key.starts_with(std::string(kTmpDirName) + "/")) {
    return Fail(ErrorCode::kInvalidArgument,
                "key '" + std::string(key) + "': 'tmp/' is reserved by the local store");
  }
  return OkStatus();
}

Status CheckUploadId(std::string_view id) {
  bool ok = id.size() == 2 * kUploadIdBytes && std::all_of(id.begin(), id.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "malformed multipart upload id '" + std::string(id) + "' (expected 32 hex digits)");
  }
  return OkStatus();
}

std::string Etag(uint64_t size, uint64_t nonce) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%llx-%016llx", static_cast<unsigned long long>(size),
                static_cast<unsigned long long>(nonce));
  return buf;
}

std::string FormatInfo(const UploadInfo& info) {
  // The key goes last and runs to the end of the file, so any byte a key
  // may hold (even a newline) survives the round trip.
  return "hugeblob-mpu 1\npart_size " + std::to_string(info.part_size) + "\ncreated " +
         std::to_string(info.created_unix) + "\nkey " + info.key;
}

Result<UploadInfo> ParseInfo(const std::string& text, const std::string& path) {
  auto bad = [&] { return Fail(ErrorCode::kCorruption, "malformed multipart sidecar " + path); };
  std::string_view rest = text;
  auto line = [&](std::string_view prefix, std::string_view* value) {
    if (!rest.starts_with(prefix)) return false;
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return false;
    *value = rest.substr(prefix.size(), nl - prefix.size());
    rest.remove_prefix(nl + 1);
    return true;
  };
  std::string_view header, part_size, created;
  if (!line("hugeblob-mpu ", &header) || header != "1") return bad();
  if (!line("part_size ", &part_size) || !line("created ", &created)) return bad();
  if (!rest.starts_with("key ")) return bad();
  UploadInfo info;
  info.key = std::string(rest.substr(4));
  char* end = nullptr;
  std::string ps(part_size), cr(created);
  info.part_size = std::strtoull(ps.c_str(), &end, 10);
  if (ps.empty() || *end != '\0' || info.part_size == 0) return bad();
  info.created_unix = std::strtoll(cr.c_str(), &end, 10);
  if (cr.empty() || *end != '\0') return bad();
  return info;
}

// Renames the finished temporary file `tmp` to the object `key` of the store
// at `root`, creating the parent directories, and makes the rename durable.
// The rename goes through a descriptor of the parent opened beneath the root
// without following links, so a symlinked folder never receives an object.
Status Publish(const std::string& root, const std::string& tmp, std::string_view key) {
  const std::string path = root + "/" + std::string(key);
  const std::string dir = Dirname(path);
  const size_t slash = key.rfind('/');
  const std::string_view rel_dir = slash == std::string_view::npos ? "" : key.substr(0, slash);
  const std::string leaf(slash == std::string_view::npos ? key : key.substr(slash + 1));
  for (int attempt = 0;; ++attempt) {
    HB_TRY(MakeDirs(dir, /*durable=*/true));
    int raw = OpenBeneath(root, rel_dir, O_RDONLY | O_DIRECTORY);
    int err = errno;
    if (raw >= 0) {
      ScopedFd dirfd(raw);
      if (::renameat(AT_FDCWD, tmp.c_str(), dirfd.get(), leaf.c_str()) == 0) {
        return FsyncFd(dirfd.get(), dir);
      }
      err = errno;
    } else if (err != ENOENT) {
      return Fail(OpenError(err, "rename " + tmp + " to " + path));
    }
    bool dir_vanished = err == ENOENT && ::access(tmp.c_str(), F_OK) == 0;
    if (!dir_vanished || attempt + 1 >= kPublishAttempts) {
      return Fail(ErrnoError(err, "rename " + tmp + " to " + path));
    }
  }
}

class LocalPaths {
 public:
  explicit LocalPaths(const std::string& root) : root_(root) {}
  std::string Object(std::string_view key) const { return root_ + "/" + std::string(key); }
  std::string TmpDir() const { return root_ + "/" + std::string(kTmpDirName); }
  std::string Upload(std::string_view id) const {
    return TmpDir() + "/" + std::string(kUploadPrefix) + std::string(id);
  }
  std::string UploadParts(std::string_view id) const { return Upload(id) + ".parts"; }
  std::string UploadInfoPath(std::string_view id) const { return Upload(id) + ".info"; }
  const std::string& root() const { return root_; }

 private:
  const std::string& root_;
};

// Creates a new temporary file under root/tmp (creating tmp/ on first use).
Result<ScopedFd> CreateTemp(const LocalPaths& paths, std::string_view stem, std::string* name) {
  HB_ASSIGN_OR_RETURN(*name, MakeTempName(paths.TmpDir(), stem));
  HB_TRY(CheckTmpDir(paths.root()));
  int fd = OpenRetry(*name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666);
  if (fd < 0 && errno == ENOENT) {
    HB_TRY(MakeDirs(paths.TmpDir()));
    HB_TRY(CheckTmpDir(paths.root()));
    fd = OpenRetry(*name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666);
  }
  if (fd < 0) return Fail(ErrnoError(errno, "create " + *name));
  return ScopedFd(fd);
}

// Reads the sidecar of upload `id` and checks it belongs to `key`.
Result<UploadInfo> LoadUpload(const LocalPaths& paths, std::string_view key, std::string_view id) {
  HB_TRY(CheckTmpDir(paths.root()));
  std::string path = paths.UploadInfoPath(id);
  auto text = ReadFileToString(path);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound, "multipart upload " + std::string(id) + " of " +
                                            paths.Object(key) + " not found (no " + path + ")");
    }
    return Fail(text.error());
  }
  HB_ASSIGN_OR_RETURN(UploadInfo info, ParseInfo(*text, path));
  if (info.key != key) {
    return Fail(ErrorCode::kInvalidArgument, "multipart upload " + std::string(id) +
                                                 " is for key '" + info.key + "', not '" +
                                                 std::string(key) + "' (" + path + ")");
  }
  return info;
}

// The names in the store's tmp/ directory (none if it does not exist yet).
Result<std::vector<std::string>> TmpNames(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return Fail(ErrnoError(errno, "opendir " + dir));
  }
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      int err = errno;
      ::closedir(d);
      if (err != 0) return Fail(ErrnoError(err, "readdir " + dir));
      return names;
    }
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
}

Status UnlinkIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(ErrnoError(errno, "unlink " + path));
  }
  return OkStatus();
}

// Appends every regular file below the directory `rel` of the store at
// `root` (whose key prefix is `key_prefix`) whose first-level name starts
// with `stem`; recurses into directories. Symbolic links are neither listed
// nor followed (OpenBeneath refuses a linked folder on the way down).
Status Walk(const std::string& root, const std::string& rel, const std::string& key_prefix,
            std::string_view stem, bool skip_tmp, std::vector<ObjectInfo>* out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  int raw = OpenBeneath(root, rel, O_RDONLY | O_DIRECTORY);
  DIR* d = raw < 0 ? nullptr : ::fdopendir(raw);
  if (d == nullptr) {
    int err = errno;
    if (raw >= 0) ::close(raw);
    // Gone or replaced since we saw it (a concurrent Delete): nothing here.
    if (err == ENOENT || err == ENOTDIR) return OkStatus();
    return Fail(OpenError(err, "opendir " + dir));
  }
  std::vector<std::string> subdirs;
  Status result = OkStatus();
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) result = Fail(ErrnoError(errno, "readdir " + dir));
      break;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || !name.starts_with(stem)) continue;
    if (skip_tmp && name == kTmpDirName) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // deleted while we list
      result = Fail(ErrnoError(errno, "stat " + dir + "/" + std::string(name)));
      break;
    }
    if (S_ISREG(st.st_mode)) {
      out->push_back({key_prefix + std::string(name), static_cast<uint64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec)});
    } else if (S_ISDIR(st.st_mode)) {
      subdirs.emplace_back(name);
    }
  }
  ::closedir(d);  // before recursing: depth must not cost open descriptors
  HB_TRY(result);
  for (const std::string& sub : subdirs) {
    HB_TRY(Walk(root, rel.empty() ? sub : rel + "/" + sub, key_prefix + sub + "/", "", false, out));
  }
  return OkStatus();
}

}  // namespace

Result<std::shared_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  if (root.empty()) return Fail(ErrorCode::kInvalidArgument, "local store: empty path");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(root, ec);
  if (ec) return Fail(ErrnoError(ec.value(), "absolute path of " + root));
  std::string norm = abs.lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  // tmp/ is created on first write, so opening a store only to read it
  // leaves the directory untouched.
  HB_TRY(MakeDirs(norm, /*durable=*/true));
  auto store = std::shared_ptr<LocalStore>(new LocalStore(norm));
  if (const char* env = std::getenv("HUGEBLOB_READ_TIMEOUT"); env != nullptr && *env != '\0') {
    auto secs = ParseDurationSeconds(env);
    if (!secs) return Fail(secs.error().Wrap("HUGEBLOB_READ_TIMEOUT"));
    // Anything past a year is "for ever" (and keeps the milliseconds finite).
    store->set_read_timeout(std::chrono::seconds(std::min<uint64_t>(*secs, 365ull * 86400)));
  }
  return store;
}

std::string LocalStore::url() const { return "file://" + root_; }

Status LocalStore::Put(std::string_view key, const BufferChain& data) {
  HB_TRY(CheckKey(key));
  LocalPaths paths(root_);
  std::string path = paths.Object(key);
  auto put = [&]() -> Status {
    std::string tmp;
    HB_ASSIGN_OR_RETURN(ScopedFd fd, CreateTemp(paths, "put", &tmp));
    Status st = PwriteAll(fd.get(), data, 0, tmp);
    if (st) st = FsyncFd(fd.get(), tmp);
    if (st) st = fd.Close(tmp);
    if (st) st = Publish(root_, tmp, key);
    // A failed Put leaves nothing behind: no partial object, no temp file.
    if (!st) ::unlink(tmp.c_str());
    return st;
  };
  if (auto st = put(); !st) return Fail(st.error().Wrap("put " + path));
  return OkStatus();
}

namespace {

// Bytes go to the temporary file as they come; writeback is started every
// few MiB (sync_file_range, which does not wait), so the fsync at Commit
// finds little left to write and the pack's bytes never sit in memory.
class LocalPendingObject final : public PendingObject {
 public:
  LocalPendingObject(std::string root, std::string tmp, ScopedFd fd)
      : root_(std::move(root)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  ~LocalPendingObject() override {
    if (!committed_) {
      fd_ = ScopedFd();
      ::unlink(tmp_.c_str());
    }
  }

  Status Append(std::span<const uint8_t> bytes) override {
    if (committed_) return Fail(ErrorCode::kInternal, tmp_ + ": append after commit");
    HB_TRY(PwriteAll(fd_.get(), bytes, size_, tmp_));
    size_ += bytes.size();
    if (size_ - started_ >= kWritebackBytes) {
      (void)::sync_file_range(fd_.get(), static_cast<off_t>(started_),
                              static_cast<off_t>(size_ - started_), SYNC_FILE_RANGE_WRITE);
      started_ = size_;
    }
    return OkStatus();
  }
  uint64_t size() const override { return size_; }

  Status Commit(std::string_view key) override {
    if (committed_) return Fail(ErrorCode::kInternal, tmp_ + ": committed twice");
    HB_TRY(CheckKey(key));
    const std::string path = LocalPaths(root_).Object(key);
    Status st = FsyncFd(fd_.get(), tmp_);
    if (st) st = fd_.Close(tmp_);
    if (st) st = Publish(root_, tmp_, key);
    if (!st) return Fail(st.error().Wrap("put " + path));  // the destructor unlinks
    committed_ = true;
    return OkStatus();
  }

 private:
  static constexpr uint64_t kWritebackBytes = 4ull << 20;
  std::string root_;
  std::string tmp_;
  ScopedFd fd_;
  uint64_t size_ = 0;
  uint64_t started_ = 0;  // bytes whose writeback was started
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<PendingObject>> LocalStore::BeginPut() {
  LocalPaths paths(root_);
  std::string tmp;
  HB_ASSIGN_OR_RETURN(ScopedFd fd, CreateTemp(paths, "put", &tmp));
  return std::unique_ptr<PendingObject>(
      std::make_unique<LocalPendingObject>(root_, std::move(tmp), std::move(fd)));
}

namespace {

// The reads below run on a helper thread under the store's deadline
// (util/deadline.h): each owns copies of what it needs (root, key), never
// the caller's memory.

// Opens the object `key` for reading and checks that it is a regular file.
// O_NONBLOCK: opening a FIFO planted in the store would otherwise wait for
// a writer for ever; on a regular file it changes nothing.
Result<ScopedFd> OpenObject(const std::string& root, const std::string& key,
                            const std::string& path, uint64_t* size) {
  int raw = OpenBeneath(root, key, O_RDONLY | O_NONBLOCK);
  if (raw < 0) return Fail(OpenError(errno, "get " + path));
  ScopedFd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError(errno, "stat " + path));
  HB_TRY(CheckObjectType(st, "get " + path));
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

Result<Buffer> ReadRange(const std::string& root, const std::string& key, uint64_t offset,
                         uint64_t length) {
  const std::string path = root + "/" + key;
  uint64_t size = 0;
  HB_ASSIGN_OR_RETURN(ScopedFd fd, OpenObject(root, key, path, &size));
  if (offset >= size || length == 0) return Buffer();
  uint64_t n = std::min(length, size - offset);
  // Reusable: on the read path ranges of MiBs are read and dropped at GB/s.
  Buffer out = Buffer::AllocateReusable(n);
  // The fd pins the inode, so a concurrent overwrite (a rename) cannot change
  // what we read; a short read means the file really is damaged.
  HB_TRY(PreadAll(fd.get(), {out.mutable_data(), n}, offset, path));
  return out;
}

// Exactly dst.size() bytes at `offset` into dst, which the caller keeps
// alive until this returns (even if nobody waits for it any more).
Status ReadRangeInto(const std::string& root, const std::string& key, uint64_t offset,
                     std::span<uint8_t> dst) {
  const std::string path = root + "/" + key;
  uint64_t size = 0;
  HB_ASSIGN_OR_RETURN(ScopedFd fd, OpenObject(root, key, path, &size));
  if (offset > size || dst.size() > size - offset) {
    return Fail(ErrorCode::kCorruption,
                path + ": shorter than the range read from it (truncated?)");
  }
  return PreadAll(fd.get(), dst, offset, path);
}

std::string RangeWhat(const std::string& path, uint64_t offset, uint64_t length) {
  return "read " + path + " (bytes " + std::to_string(offset) + "+" + std::to_string(length) + ")";
}

}  // namespace

DeadlineOptions LocalStore::Deadline() const {
  DeadlineOptions d;
  d.timeout = read_timeout_;
  d.cancel = &ProcessCancelToken();
  return d;
}

Result<Buffer> LocalStore::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  HB_TRY(CheckKey(key));
  std::string path = LocalPaths(root_).Object(key);
  return CallWithDeadline([root = root_, k = std::string(key), offset,
                           length] { return ReadRange(root, k, offset, length); },
                          Deadline(), RangeWhat(path, offset, length));
}

Status LocalStore::GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) {
  // dst is borrowed for this call only, and an abandoned read may outlive
  // the call: read into memory the read owns, then copy.
  HB_ASSIGN_OR_RETURN(Buffer got, GetRange(key, offset, dst.size()));
  if (got.size() != dst.size()) {
    return Fail(ErrorCode::kCorruption, LocalPaths(root_).Object(key) +
                                            ": shorter than the range read from it (truncated?)");
  }
  if (!dst.empty()) std::memcpy(dst.data(), got.data(), dst.size());
  return OkStatus();
}

Status LocalStore::GetRangeIntoBuffer(std::string_view key, uint64_t offset, const Buffer& owner,
                                      std::span<uint8_t> dst) {
  HB_TRY(CheckKey(key));
  if (dst.data() < owner.data() || dst.data() + dst.size() > owner.data() + owner.size()) {
    return Fail(ErrorCode::kInternal, "GetRangeIntoBuffer: dst is not inside its owner");
  }
  std::string path = LocalPaths(root_).Object(key);
  // The read holds `owner`, so an abandoned read still writes into live
  // memory: straight into dst, no copy.
  return CallWithDeadline([root = root_, k = std::string(key), offset, owner,
                           dst] { return ReadRangeInto(root, k, offset, dst); },
                          Deadline(), RangeWhat(path, offset, dst.size()));
}

Result<ObjectInfo> LocalStore::Head(std::string_view key) {
  HB_TRY(CheckKey(key));
  std::string path = LocalPaths(root_).Object(key);
  auto head = [root = root_, k = std::string(key), path]() -> Result<ObjectInfo> {
    int raw = OpenBeneath(root, k, O_PATH);
    if (raw < 0) return Fail(OpenError(errno, "head " + path));
    ScopedFd fd(raw);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError(errno, "head " + path));
    HB_TRY(CheckObjectType(st, "head " + path));
    return ObjectInfo{k, static_cast<uint64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec)};
  };
  return CallWithDeadline(std::move(head), Deadline(), "head " + path);
}

Result<std::vector<ObjectInfo>> LocalStore::List(std::string_view prefix) {
  HB_TRY(ValidatePrefix(prefix));
  // Only the directory named by the prefix up to its last '/' can hold
  // matches; the rest of the prefix filters that directory's entries.
  size_t slash = prefix.rfind('/');
  std::string dir_part =
      slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash));
  std::string stem(slash == std::string_view::npos ? prefix : prefix.substr(slash + 1));
  // No key lives under tmp/ (CheckKey), so never show what is in there.
  if (dir_part == kTmpDirName || dir_part.starts_with(std::string(kTmpDirName) + "/")) {
    return std::vector<ObjectInfo>{};
  }
  auto list = [root = root_, dir_part, stem]() -> Result<std::vector<ObjectInfo>> {
    std::vector<ObjectInfo> out;
    if (dir_part.empty()) {
      HB_TRY(Walk(root, "", "", stem, /*skip_tmp=*/true, &out));
    } else {
      HB_TRY(Walk(root, dir_part, dir_part + "/", stem, false, &out));
    }
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  };
  return CallWithDeadline(std::move(list), Deadline(),
                          "list " + root_ + "/" + std::string(prefix) + "*");
}

Status LocalStore::Delete(std::string_view key) {
  HB_TRY(CheckKey(key));
  std::string path = LocalPaths(root_).Object(key);
  // Unlink relative to the parent opened beneath the root: a symlinked
  // folder (refs/ -> elsewhere) must not make a delete reach outside.
  const size_t slash = key.rfind('/');
  const std::string_view rel_dir = slash == std::string_view::npos ? "" : key.substr(0, slash);
  const std::string leaf(slash == std::string_view::npos ? key : key.substr(slash + 1));
  int raw = OpenBeneath(root_, rel_dir, O_PATH | O_DIRECTORY);
  if (raw < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return OkStatus();  // no such object
    return Fail(OpenError(errno, "delete " + path));
  }
  ScopedFd parent(raw);
  if (::unlinkat(parent.get(), leaf.c_str(), 0) != 0) {
    // Missing, below a file, or a directory: there is no such object.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return OkStatus();
    return Fail(ErrnoError(errno, "delete " + path));
  }
  // Remove the directories this emptied, so gc does not leave a skeleton of
  // empty fan-out directories. rmdir fails harmlessly on a non-empty one; a
  // Put racing with us re-creates its directory (see Publish).
  std::string dir = Dirname(path);
  while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) dir = Dirname(dir);
  if (auto st = FsyncDir(dir); !st && st.error().code() != ErrorCode::kNotFound) {
    return Fail(st.error().Wrap("delete " + path));
  }
  return OkStatus();
}

Result<std::string> LocalStore::CreateMultipart(std::string_view key, uint64_t part_size) {
  HB_TRY(CheckKey(key));
  LocalPaths paths(root_);
  if (part_size == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "multipart upload of " + paths.Object(key) + ": part size must be positive");
  }
  HB_ASSIGN_OR_RETURN(std::string id, RandomHex(kUploadIdBytes));
  HB_TRY(MakeDirs(paths.TmpDir()));
  HB_TRY(CheckTmpDir(root_));
  UploadInfo info{std::string(key), part_size, static_cast<int64_t>(std::time(nullptr))};
  // Sidecar first: see the comment at the top of the file.
  HB_TRY(WriteFileAtomic(paths.UploadInfoPath(id), FormatInfo(info)));
  for (const std::string& file : {paths.Upload(id), paths.UploadParts(id)}) {
    int fd = OpenRetry(file, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0) {
      Error e = ErrnoError(errno, "create " + file);
      ::unlink(paths.Upload(id).c_str());
      ::unlink(paths.UploadParts(id).c_str());
      ::unlink(paths.UploadInfoPath(id).c_str());
      return Fail(e.Wrap("multipart upload of " + paths.Object(key)));
    }
    ::close(fd);
  }
  return id;
}

Result<CompletedPart> LocalStore::UploadPart(std::string_view key, std::string_view upload_id,
                                             int part_number, const BufferChain& data) {
  HB_TRY(CheckKey(key));
  HB_TRY(CheckUploadId(upload_id));
  LocalPaths paths(root_);
  std::string what = "upload part " + std::to_string(part_number) + " of " + paths.Object(key) +
                     " (upload " + std::string(upload_id) + ")";
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return Fail(ErrorCode::kInvalidArgument,
                what + ": part number must be in 1.." + std::to_string(kMaxPartNumber));
  }
  HB_ASSIGN_OR_RETURN(UploadInfo info, LoadUpload(paths, key, upload_id));
  // Only the last part may be shorter, which we learn at completion; a
  // longer part would overwrite the next one.
  if (data.size() > info.part_size) {
    return Fail(ErrorCode::kInvalidArgument, what + ": " + std::to_string(data.size()) +
                                                 " bytes, more than the part size " +
                                                 std::to_string(info.part_size));
  }
  std::string file = paths.Upload(upload_id);
  int raw = OpenRetry(file, O_WRONLY);
  if (raw < 0) return Fail(ErrnoError(errno, what + ": open " + file));
  ScopedFd fd(raw);
  uint64_t offset = static_cast<uint64_t>(part_number - 1) * info.part_size;
  if (auto st = PwriteAll(fd.get(), data, offset, file); !st) return Fail(st.error().Wrap(what));
  if (auto st = fd.Close(file); !st) return Fail(st.error().Wrap(what));

  HB_ASSIGN_OR_RETURN(std::string nonce_hex, RandomHex(8));
  PartRecord rec;
  rec.magic = kPartRecordMagic;
  rec.size = data.size();
  rec.nonce = std::strtoull(nonce_hex.c_str(), nullptr, 16);
  std::string parts_file = paths.UploadParts(upload_id);
  raw = OpenRetry(parts_file, O_WRONLY);
  if (raw < 0) return Fail(ErrnoError(errno, what + ": open " + parts_file));
  ScopedFd pfd(raw);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(&rec), sizeof rec);
  if (auto st = PwriteAll(pfd.get(), bytes, (part_number - 1) * sizeof rec, parts_file); !st) {
    return Fail(st.error().Wrap(what));
  }
  if (auto st = pfd.Close(parts_file); !st) return Fail(st.error().Wrap(what));
  return CompletedPart{part_number, Etag(rec.size, rec.nonce)};
}

Status LocalStore::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                     const std::vector<CompletedPart>& parts) {
  HB_TRY(CheckKey(key));
  HB_TRY(CheckUploadId(upload_id));
  LocalPaths paths(root_);
  std::string path = paths.Object(key);
  std::string what = "complete multipart upload " + std::string(upload_id) + " of " + path;
  HB_ASSIGN_OR_RETURN(UploadInfo info, LoadUpload(paths, key, upload_id));
  if (parts.empty()) return Fail(ErrorCode::kInvalidArgument, what + ": no parts");
  std::vector<CompletedPart> sorted = parts;
  std::sort(sorted.begin(), sorted.end(), [](const CompletedPart& a, const CompletedPart& b) {
    return a.part_number < b.part_number;
  });
  // Part n sits at (n-1)*part_size, so a gap would be a hole in the object.
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].part_number != static_cast<int>(i + 1)) {
      return Fail(
          ErrorCode::kInvalidArgument,
          what + ": parts must be numbered 1.." + std::to_string(sorted.size()) +
              " without gaps or duplicates (part " + std::to_string(i + 1) +
              (sorted[i].part_number < static_cast<int>(i + 1) ? " repeated)" : " missing)"));
    }
  }
  HB_ASSIGN_OR_RETURN(std::string records, ReadFileToString(paths.UploadParts(upload_id)));
  uint64_t total = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    std::string part = what + ": part " + std::to_string(i + 1);
    PartRecord rec;
    if (records.size() >= (i + 1) * sizeof rec) {
      std::memcpy(&rec, records.data() + i * sizeof rec, sizeof rec);
    }
    if (rec.magic != kPartRecordMagic) {
      return Fail(ErrorCode::kInvalidArgument, part + " was never uploaded");
    }
    if (Etag(rec.size, rec.nonce) != sorted[i].etag) {
      return Fail(ErrorCode::kInvalidArgument,
                  part + ": etag '" + sorted[i].etag + "' does not match the last upload of it");
    }
    bool last = i + 1 == sorted.size();
    if (!last && rec.size != info.part_size) {
      return Fail(ErrorCode::kInvalidArgument,
                  part + " is " + std::to_string(rec.size) +
                      " bytes; every part but the last must be the part size " +
                      std::to_string(info.part_size));
    }
    total += rec.size;
  }
  std::string file = paths.Upload(upload_id);
  int raw = OpenRetry(file, O_WRONLY);
  if (raw < 0) return Fail(ErrnoError(errno, what + ": open " + file));
  ScopedFd fd(raw);
  // Parts beyond the last one listed may have been written; cut them off.
  if (::ftruncate(fd.get(), static_cast<off_t>(total)) != 0) {
    return Fail(ErrnoError(errno, what + ": truncate " + file));
  }
  if (auto st = FsyncFd(fd.get(), file); !st) return Fail(st.error().Wrap(what));
  if (auto st = fd.Close(file); !st) return Fail(st.error().Wrap(what));
  if (auto st = Publish(root_, file, key); !st) return Fail(st.error().Wrap(what));
  // The object is published; leftovers only cost a ListMultipart entry.
  HB_TRY(UnlinkIfExists(paths.UploadParts(upload_id)));
  HB_TRY(UnlinkIfExists(paths.UploadInfoPath(upload_id)));
  return OkStatus();
}

Status LocalStore::AbortMultipart(std::string_view key, std::string_view upload_id) {
  HB_TRY(CheckKey(key));
  HB_TRY(CheckUploadId(upload_id));
  LocalPaths paths(root_);
  HB_TRY(LoadUpload(paths, key, upload_id));
  // Sidecar last: see the comment at the top of the file.
  HB_TRY(UnlinkIfExists(paths.Upload(upload_id)));
  HB_TRY(UnlinkIfExists(paths.UploadParts(upload_id)));
  HB_TRY(UnlinkIfExists(paths.UploadInfoPath(upload_id)));
  return OkStatus();
}

Result<std::vector<MultipartUpload>> LocalStore::ListMultipart(std::string_view prefix) {
  HB_TRY(ValidatePrefix(prefix));
  LocalPaths paths(root_);
  std::string dir = paths.TmpDir();
  std::vector<std::string> ids;
  HB_TRY(CheckTmpDir(root_));
  HB_ASSIGN_OR_RETURN(std::vector<std::string> names, TmpNames(dir));
  for (const std::string& entry : names) {
    std::string_view name = entry;
    if (!name.starts_with(kUploadPrefix) || !name.ends_with(".info")) continue;
    name.remove_prefix(kUploadPrefix.size());
    name.remove_suffix(5);
    if (CheckUploadId(name)) ids.emplace_back(name);
  }
  std::vector<MultipartUpload> out;
  for (const std::string& id : ids) {
    std::string path = paths.UploadInfoPath(id);
    auto text = ReadFileToString(path);
    if (!text) {
      if (text.error().code() == ErrorCode::kNotFound) continue;  // completed meanwhile
      return Fail(text.error());
    }
    HB_ASSIGN_OR_RETURN(UploadInfo info, ParseInfo(*text, path));
    if (info.key.starts_with(prefix)) out.push_back({info.key, id, info.created_unix});
  }
  std::sort(out.begin(), out.end(), [](const MultipartUpload& a, const MultipartUpload& b) {
    return std::tie(a.key, a.initiated_unix, a.upload_id) <
           std::tie(b.key, b.initiated_unix, b.upload_id);
  });
  return out;
}

Result<ObjectStore::TempCleanup> LocalStore::CleanTemporaries(int64_t older_than_unix,
                                                              bool dry_run) {
  LocalPaths paths(root_);
  const std::string dir = paths.TmpDir();
  // A tmp/ that links elsewhere is not ours to clean: its files are not our
  // temporaries, whatever their names look like.
  HB_TRY(CheckTmpDir(root_));
  HB_ASSIGN_OR_RETURN(std::vector<std::string> names, TmpNames(dir));
  TempCleanup out;
  for (const std::string& name : names) {
    bool candidate = false;
    if (name.starts_with("put.") && name.ends_with(".tmp")) {
      candidate = true;  // a Put that never reached its rename
    } else if (name.starts_with(kUploadPrefix)) {
      // Multipart data or parts list whose sidecar is missing: the upload
      // died between creating its files and writing the sidecar, so
      // ListMultipart cannot see it and AbortMultipart cannot name it.
      std::string_view id = name;
      id.remove_prefix(kUploadPrefix.size());
      if (id.ends_with(".info")) continue;
      if (id.ends_with(".parts")) id.remove_suffix(6);
      candidate = ::access(paths.UploadInfoPath(id).c_str(), F_OK) != 0 && errno == ENOENT;
    }
    if (!candidate) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_mtime >= older_than_unix) continue;
    if (!dry_run && ::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;  // someone else cleaned it
      return Fail(ErrnoError(errno, "unlink " + path));
    }
    ++out.files;
    out.bytes += static_cast<uint64_t>(st.st_size);
  }
  return out;
}

}  // namespace hugeblob
