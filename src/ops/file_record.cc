#include "ops/file_record.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

#include "format/bytes.h"
#include "hash/blake3.h"
#include "reader/disk_cache.h"
#include "util/fs.h"

namespace hugeblob {
namespace {

using format_internal::ByteReader;
using format_internal::ByteWriter;

// "hugeblob file record", version 1. Then, little-endian: device, inode,
// size, modification and change times (ns since the epoch), the chunk hash,
// the frame count, each frame (a byte: 1 data, 0 zero; its length; a data
// frame's 32-byte id), and BLAKE3 of all of that.
constexpr std::string_view kMagic = "HBFR0001";

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + static_cast<int64_t>(t.tv_nsec);
}

std::string RecordName(const struct stat& st) {
  return std::to_string(static_cast<uint64_t>(st.st_dev)) + "-" +
         std::to_string(static_cast<uint64_t>(st.st_ino));
}

// The largest record of a file of `size` bytes: no chunk is shorter than
// 64 bytes (the least minimum ValidateChunkerParams accepts) but the last,
// and no zero frame shorter than a chunk.
uint64_t MaxRecordBytes(uint64_t size) { return kMagic.size() + 49 + 37 * (size / 64 + 2) + 32; }

// Removes the records modified longest ago until at most kMaxFileRecords - 1
// remain (room for the one about to be written), and temporary files an
// hour old (a writer that died before its rename).
void Prune(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::pair<int64_t, std::string>> records;
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (name[0] == '.') {
      if (st.st_mtim.tv_sec + 3600 < now.tv_sec) ::unlinkat(::dirfd(d), name.c_str(), 0);
      continue;
    }
    records.emplace_back(Nanos(st.st_mtim), name);
  }
  ::closedir(d);
  if (records.size() < kMaxFileRecords) return;
  std::sort(records.begin(), records.end());
  for (size_t k = 0; k + kMaxFileRecords <= records.size(); ++k) {
    ::unlink((dir + "/" + records[k].second).c_str());
  }
}

// File systems whose change time moves on every change of a file's bytes,
// kept by the kernel itself: local ones. Not network file systems (another
// client's write shows only once attributes are revalidated) nor FUSE or
// overlays (their times are whatever the daemon or layer says).
bool TimesAreKept(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<uint64_t>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // ext2, ext3, ext4
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC:
    case 0x2fc12fc1:  // ZFS
    case 0xca451a4e:  // bcachefs
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string FileRecordDir(const std::string& cache_dir) {
  const std::string root = cache_dir.empty() ? DiskCache::DefaultDir() : cache_dir;
  return root.empty() ? std::string() : root + "/files";
}

std::optional<std::vector<FrameRef>> ReadFileRecord(const std::string& dir, const struct stat& st) {
  if (dir.empty() || !S_ISREG(st.st_mode)) return std::nullopt;
  // Not read at all if larger than a record of the file can be (see
  // MaxRecordBytes): a stray huge file there costs nothing.
  const std::string name = dir + "/" + RecordName(st);
  struct stat rs;
  if (::stat(name.c_str(), &rs) != 0 || !S_ISREG(rs.st_mode) ||
      static_cast<uint64_t>(rs.st_size) > MaxRecordBytes(static_cast<uint64_t>(st.st_size))) {
    return std::nullopt;
  }
  auto text = ReadFileToString(name);
  if (!text || text->size() < kMagic.size() + 32) return std::nullopt;
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(text->data()), text->size());
  std::span<const uint8_t> body = all.first(all.size() - 32);
  Hash256 sum;
  std::copy(all.end() - 32, all.end(), sum.bytes.begin());
  {
    Blake3 h;
    h.Update(body);
    if (h.Finish() != sum) return std::nullopt;
  }
  if (std::string_view(text->data(), kMagic.size()) != kMagic) return std::nullopt;
  ByteReader r(body.subspan(kMagic.size()));
  uint64_t dev, ino, size, mtime, ctime, count;
  uint8_t algo;
  if (!r.U64(&dev) || !r.U64(&ino) || !r.U64(&size) || !r.U64(&mtime) || !r.U64(&ctime) ||
      !r.U8(&algo) || !r.U64(&count)) {
    return std::nullopt;
  }
  if (dev != static_cast<uint64_t>(st.st_dev) || ino != static_cast<uint64_t>(st.st_ino) ||
      size != static_cast<uint64_t>(st.st_size) ||
      static_cast<int64_t>(mtime) != Nanos(st.st_mtim) ||
      static_cast<int64_t>(ctime) != Nanos(st.st_ctim)) {
    return std::nullopt;
  }
  if (algo > static_cast<uint8_t>(HashAlgo::kBlake3) || count > size || count > r.remaining() / 5) {
    return std::nullopt;
  }
  std::vector<FrameRef> frames(static_cast<size_t>(count));
  uint64_t offset = 0;
  for (FrameRef& f : frames) {
    uint8_t data;
    if (!r.U8(&data) || data > 1 || !r.U32(&f.length) || f.length == 0) return std::nullopt;
    f.offset = offset;
    f.zero = data == 0;
    f.hash = static_cast<HashAlgo>(algo);
    if (!f.zero && !r.Hash(&f.chunk)) return std::nullopt;
    offset += f.length;
  }
  if (!r.done() || offset != size) return std::nullopt;
  return frames;
}

bool WriteFileRecord(const std::string& dir, int fd, const Manifest& m) {
  if (dir.empty()) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != m.size) {
    return false;
  }
  RemoveFileRecord(dir, st);
  // See the header: with the two times equal, a write in the same clock
  // tick might move neither.
  if (Nanos(st.st_mtim) == Nanos(st.st_ctim) || !TimesAreKept(fd)) return false;
  if (!MakeDirs(dir)) return false;
  Prune(dir);
  ByteWriter w;
  w.Reserve(kMagic.size() + 49 + m.frames.size() * 37 + 32);
  w.Bytes(kMagic);
  w.U64(static_cast<uint64_t>(st.st_dev));
  w.U64(static_cast<uint64_t>(st.st_ino));
  w.U64(static_cast<uint64_t>(st.st_size));
  w.U64(static_cast<uint64_t>(Nanos(st.st_mtim)));
  w.U64(static_cast<uint64_t>(Nanos(st.st_ctim)));
  w.U8(static_cast<uint8_t>(m.chunk_hash));
  w.U64(m.frames.size());
  for (const FrameRef& f : m.frames) {
    w.U8(f.zero ? 0 : 1);
    w.U32(f.length);
    if (!f.zero) w.Hash(f.chunk);
  }
  Blake3 h;
  h.Update(w.bytes());
  w.Hash(h.Finish());
  if (w.bytes().size() > MaxRecordBytes(m.size)) return false;
  // No fsync: a record lost or torn in a crash only costs a read of the
  // file (a torn one fails its checksum).
  auto tmp = MakeTempName(dir, "." + RecordName(st));
  if (!tmp) return false;
  {
    ScopedFd out(::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid()) return false;
    if (!PwriteAll(out.get(), w.bytes(), 0, *tmp) || !out.Close(*tmp)) {
      ::unlink(tmp->c_str());
      return false;
    }
  }
  if (::rename(tmp->c_str(), (dir + "/" + RecordName(st)).c_str()) != 0) {
    ::unlink(tmp->c_str());
    return false;
  }
  return true;
}

void RemoveFileRecord(const std::string& dir, const struct stat& st) {
  if (dir.empty()) return;
  ::unlink((dir + "/" + RecordName(st)).c_str());
}

}  // namespace hugeblob
