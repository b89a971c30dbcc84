// Small POSIX file-system helpers shared by the layers that touch local files
// (the local store, restore, the disk cache). Every error names the path and
// comes from ErrnoError, so ENOSPC is kNoSpace, ENOENT kNotFound, and so on.
// EINTR is retried everywhere. All functions are thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// Owns a file descriptor; closes it (ignoring errors) when destroyed. Call
// Close() where a close error matters (after writing, before a rename).
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes and reports the error of close(2) (a deferred write error on NFS).
  Status Close(std::string_view path);

 private:
  int fd_ = -1;
};

// Bytes available to an unprivileged user (f_bavail * f_frsize) on the file
// system holding `path`, or its nearest existing ancestor when `path` does
// not exist yet (so a restore target can be checked before it is created).
Result<uint64_t> FreeSpace(const std::string& path);

// "dir/stem.<pid>.<random>.tmp": unique across processes and threads, so
// writers sharing a directory never collide. Does not create the file.
Result<std::string> MakeTempName(const std::string& dir, std::string_view stem);

// Random lower-case hex of `bytes` random bytes (2*bytes characters).
Result<std::string> RandomHex(size_t bytes);

// fsync a directory, making renames and creations inside it durable.
Status FsyncDir(const std::string& path);

// mkdir -p with mode 0777 (minus umask). Succeeds if `path` already is a
// directory. With `durable`, the parent of every directory it creates is
// fsynced, so the new directory survives a crash.
Status MakeDirs(const std::string& path, bool durable = false);

// Writes `data` to a temporary file in the directory of `path`, fsyncs it,
// renames it over `path` and fsyncs the directory: readers see the old file
// or the whole new one, never a prefix. The directory must exist.
Status WriteFileAtomic(const std::string& path, std::string_view data);

// The whole content of a (small) file.
Result<std::string> ReadFileToString(const std::string& path);

// Writes every byte of `data` at `offset` with pwritev, retrying short
// writes and EINTR. `path` is only used in error messages.
Status PwriteAll(int fd, const BufferChain& data, uint64_t offset, std::string_view path);
Status PwriteAll(int fd, std::span<const uint8_t> data, uint64_t offset, std::string_view path);

// Reads exactly dst.size() bytes at `offset`; kCorruption if the file ends
// first (the caller asked for bytes it believed were there).
Status PreadAll(int fd, std::span<uint8_t> dst, uint64_t offset, std::string_view path);

// rm -rf. A missing path is success. Does not follow symlinks.
Status RemoveTree(const std::string& path);

// The next data extent of the regular file `fd` (of `size` bytes) at or
// after `pos`, by SEEK_DATA/SEEK_HOLE: [start, end), with holes shorter than
// `min_hole` inside it (or just before it) counted as data; (size, size) if
// only a hole is left. Empty if the file system cannot tell. Moves the file
// offset.
std::optional<std::pair<uint64_t, uint64_t>> NextDataExtent(int fd, uint64_t pos, uint64_t size,
                                                            uint64_t min_hole);

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string Dirname(std::string_view path);

}  // namespace hugeblob
