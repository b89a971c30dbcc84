#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace hugeblob {

namespace {

std::string Str(std::string_view what, std::string_view path) {
  std::string s(what);
  s += ' ';
  s += path;
  return s;
}

}  // namespace

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status ScopedFd::Close(std::string_view path) {
  int fd = release();
  if (fd < 0) return OkStatus();
  // Linux closes the descriptor even when close fails with EINTR, so it must
  // not be retried (another thread may already own the number).
  if (::close(fd) != 0 && errno != EINTR) return Fail(ErrnoError(errno, Str("close", path)));
  return OkStatus();
}

Result<uint64_t> FreeSpace(const std::string& path) {
  std::string p = path.empty() ? "." : path;
  while (true) {
    struct statvfs st;
    if (::statvfs(p.c_str(), &st) == 0) {
      return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
    }
    int err = errno;
    if (err != ENOENT && err != ENOTDIR) return Fail(ErrnoError(err, Str("statvfs", p)));
    std::string parent = Dirname(p);
    if (parent == p) return Fail(ErrnoError(err, Str("statvfs", path)));
    p = std::move(parent);
  }
}

Result<std::string> RandomHex(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, "getrandom"));
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (uint8_t b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Result<std::string> MakeTempName(const std::string& dir, std::string_view stem) {
  // The pid tells an operator which process left a file behind; the random
  // part makes names unique across threads and across pid reuse.
  HB_ASSIGN_OR_RETURN(std::string rnd, RandomHex(8));
  std::string name = dir;
  if (!name.empty() && name.back() != '/') name += '/';
  name += stem;
  name += '.';
  name += std::to_string(::getpid());
  name += '.';
  name += rnd;
  name += ".tmp";
  return name;
}

Status FsyncDir(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Fail(ErrnoError(errno, Str("open directory", path)));
  ScopedFd dir(fd);
  int rc;
  do {
    rc = ::fsync(dir.get());
  } while (rc != 0 && errno == EINTR);
  // Some file systems cannot fsync a directory; that is not a failure of ours.
  if (rc != 0 && errno != EINVAL && errno != EROFS) {
    return Fail(ErrnoError(errno, Str("fsync directory", path)));
  }
  return OkStatus();
}

Status MakeDirs(const std::string& path, bool durable) {
  if (path.empty()) return OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return OkStatus();
    return Fail(ErrnoError(ENOTDIR, Str("mkdir", path)));
  }
  if (errno != ENOENT) return Fail(ErrnoError(errno, Str("stat", path)));
  std::string parent = Dirname(path);
  if (parent != path) HB_TRY(MakeDirs(parent, durable));
  if (::mkdir(path.c_str(), 0777) != 0) {
    int err = errno;
    // Another thread or process created it between our stat and mkdir.
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return OkStatus();
    return Fail(ErrnoError(err, Str("mkdir", path)));
  }
  if (durable) HB_TRY(FsyncDir(parent));
  return OkStatus();
}

Status PwriteAll(int fd, std::span<const uint8_t> data, uint64_t offset, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, Str("write", path)));
    }
    if (n == 0) return Fail(ErrnoError(EIO, Str("write (no progress)", path)));
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

Status PwriteAll(int fd, const BufferChain& data, uint64_t offset, std::string_view path) {
  const std::vector<Buffer>& pieces = data.pieces();
  // One pwritev per IOV_MAX pieces; after a short write, resume inside the
  // piece where the kernel stopped.
  size_t piece = 0;
  size_t skip = 0;  // bytes of pieces[piece] already written
  std::vector<struct iovec> iov;
  while (piece < pieces.size()) {
    iov.clear();
    for (size_t i = piece; i < pieces.size() && iov.size() < IOV_MAX; ++i) {
      size_t off = i == piece ? skip : 0;
      iov.push_back({const_cast<uint8_t*>(pieces[i].data()) + off, pieces[i].size() - off});
    }
    ssize_t n = ::pwritev(fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, Str("write", path)));
    }
    if (n == 0) return Fail(ErrnoError(EIO, Str("write (no progress)", path)));
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      size_t avail = pieces[piece].size() - skip;
      if (left < avail) {
        skip += left;
        left = 0;
      } else {
        left -= avail;
        ++piece;
        skip = 0;
      }
    }
  }
  return OkStatus();
}

Status PreadAll(int fd, std::span<uint8_t> dst, uint64_t offset, std::string_view path) {
  while (!dst.empty()) {
    ssize_t n = ::pread(fd, dst.data(), dst.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, Str("read", path)));
    }
    if (n == 0) {
      return Fail(ErrorCode::kCorruption,
                  Str("read", path) + ": file ended at offset " + std::to_string(offset));
    }
    dst = dst.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string dir = Dirname(path);
  std::string base = path.substr(path.find_last_of('/') + 1);
  // The dot keeps the temporary out of ordinary directory listings.
  HB_ASSIGN_OR_RETURN(std::string tmp, MakeTempName(dir, "." + base));
  int fd;
  do {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Fail(ErrnoError(errno, Str("create", tmp)));
  ScopedFd file(fd);
  auto fail = [&](Error e) -> Status {
    file = ScopedFd();
    ::unlink(tmp.c_str());
    return Fail(std::move(e));
  };
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (auto st = PwriteAll(file.get(), bytes, 0, tmp); !st) return fail(st.error());
  int rc;
  do {
    rc = ::fsync(file.get());
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return fail(ErrnoError(errno, Str("fsync", tmp)));
  if (auto st = file.Close(tmp); !st) return fail(st.error());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError(errno, "rename " + tmp + " to " + path));
  }
  return FsyncDir(dir);
}

Result<std::string> ReadFileToString(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Fail(ErrnoError(errno, Str("open", path)));
  ScopedFd file(fd);
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError(errno, Str("read", path)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// Removes the entries of the directory open as `fd` (closed on return).
Status RemoveContents(int fd, const std::string& path) {
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return Fail(ErrnoError(err, Str("opendir", path)));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) {
        int err = errno;
        ::closedir(d);
        return Fail(ErrnoError(err, Str("readdir", path)));
      }
      break;
    }
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  Status result = OkStatus();
  for (const std::string& name : names) {
    std::string child = path + "/" + name;
    if (::unlinkat(::dirfd(d), name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      result = Fail(ErrnoError(errno, Str("unlink", child)));
      break;
    }
    int cfd = ::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) {
      result = Fail(ErrnoError(errno, Str("open directory", child)));
      break;
    }
    if (auto st = RemoveContents(cfd, child); !st) {
      result = st;
      break;
    }
    if (::unlinkat(::dirfd(d), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      result = Fail(ErrnoError(errno, Str("rmdir", child)));
      break;
    }
  }
  ::closedir(d);
  return result;
}

}  // namespace

Status RemoveTree(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return OkStatus();
  if (errno != EISDIR && errno != EPERM) return Fail(ErrnoError(errno, Str("unlink", path)));
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Fail(ErrnoError(errno, Str("open directory", path)));
  HB_TRY(RemoveContents(fd, path));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(ErrnoError(errno, Str("rmdir", path)));
  }
  return OkStatus();
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  std::string_view dir = path.substr(0, slash);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return std::string(dir);
}

std::optional<std::pair<uint64_t, uint64_t>> NextDataExtent(int fd, uint64_t pos, uint64_t size,
                                                            uint64_t min_hole) {
  auto seek = [&](uint64_t from, int whence) -> std::optional<uint64_t> {
    off_t r = ::lseek(fd, static_cast<off_t>(from), whence);
    if (r >= 0) return std::min<uint64_t>(static_cast<uint64_t>(r), size);
    if (errno == ENXIO) return size;  // no more data after `from`
    return std::nullopt;
  };
  auto data = seek(pos, SEEK_DATA);
  if (!data) return std::nullopt;
  // A short hole before the data is read as data.
  if (*data > pos && *data - pos < min_hole && *data < size) data = pos;
  if (*data >= size) return std::make_pair(size, size);
  uint64_t end = *data;
  for (;;) {
    auto hole = seek(end, SEEK_HOLE);
    if (!hole) return std::nullopt;
    end = *hole;
    if (end >= size) return std::make_pair(*data, size);
    auto next = seek(end, SEEK_DATA);
    if (!next) return std::nullopt;
    // Stop at a long hole, or at one that runs to the end; a short hole
    // inside the data is data.
    if (*next >= size || *next - end >= min_hole) return std::make_pair(*data, end);
    end = *next;
  }
}

}  // namespace hugeblob
