#include "fuse/ll_ops.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace hugeblob::fuse {

bool LogLimiter::Allow() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= kWindow) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ < kBurst) {
    ++in_window_;
    return true;
  }
  suppressed_.fetch_add(1);
  return false;
}

namespace {

OpsContext& Ctx(fuse_req_t req) { return *static_cast<OpsContext*>(fuse_req_userdata(req)); }

// Every callback body runs inside this: an exception (std::bad_alloc, a bug)
// must not unwind into libfuse's C frames. Bodies reply last, so a throw
// means no reply was sent yet.
template <typename F>
void Guard(fuse_req_t req, const char* op, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("mount: {}: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("mount: {}: unknown exception", op);
    fuse_reply_err(req, EIO);
  }
}

struct stat ToStat(const Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = a.dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
  st.st_nlink = a.nlink;
  st.st_uid = ::getuid();
  st.st_gid = ::getgid();
  st.st_size = static_cast<off_t>(a.size);
  // Large so that programs sizing their buffers by st_blksize (cp, stdio)
  // make requests near the 1 MiB a FUSE read can carry.
  st.st_blksize = 1 << 20;
  // The data, not the holes: cp --sparse=auto and tar -S look at st_blocks
  // against st_size to decide whether to look for holes at all.
  st.st_blocks = static_cast<blkcnt_t>((a.data_bytes + 511) / 512);
  st.st_mtim.tv_sec = a.mtime_unix;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

double AttrTimeout(const OpsContext& c, const Attr& a) {
  return a.dir ? c.times.dir_attr_s : c.times.file_attr_s;
}

// The handle behind fi->fh for an open file.
struct FileHandle {
  std::shared_ptr<OpenFile> file;
};
// The handle behind fi->fh for an open directory: the listing taken at
// opendir, so readdir offsets stay valid while the tree is refreshed.
struct DirHandle {
  std::vector<DirEntry> entries;
};

void Init(void* userdata, fuse_conn_info* conn) {
  // Content never changes under an inode: do not drop cached pages when
  // getattr reports an mtime (the kernel would compare against its own).
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // Read-ahead and O_DIRECT requests are sent asynchronously; allow many in
  // flight so sequential reads keep several chunks fetching at once.
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  conn->max_readahead = 8 << 20;  // libfuse lowers it to what the kernel offers; see mount.cc
  conn->max_read = 1 << 20;       // must match the max_read mount option (mount.cc)
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "lookup", [&] {
    OpsContext& c = Ctx(req);
    auto a = c.fs->Lookup(parent, name);
    if (!a) {
      if (a.error().code() == ErrorCode::kNotFound) {
        // ino 0: a negative entry the kernel caches for entry_timeout.
        fuse_entry_param e;
        std::memset(&e, 0, sizeof e);
        e.entry_timeout = c.times.negative_s;
        fuse_reply_entry(req, &e);
        return;
      }
      fuse_reply_err(req, a.error().to_errno());
      return;
    }
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.ino = a->ino;
    e.attr = ToStat(*a);
    e.attr_timeout = AttrTimeout(c, *a);
    e.entry_timeout = c.times.entry_s;
    fuse_reply_entry(req, &e);
  });
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "getattr", [&] {
    OpsContext& c = Ctx(req);
    auto a = c.fs->GetAttr(ino);
    if (!a) {
      fuse_reply_err(req, a.error().to_errno());
      return;
    }
    struct stat st = ToStat(*a);
    fuse_reply_attr(req, &st, AttrTimeout(c, *a));
  });
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "opendir", [&] {
    auto entries = Ctx(req).fs->ReadDir(ino);
    if (!entries) {
      fuse_reply_err(req, entries.error().code() == ErrorCode::kInvalidArgument
                              ? ENOTDIR
                              : entries.error().to_errno());
      return;
    }
    auto h = std::make_unique<DirHandle>();
    h->entries = std::move(*entries);
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    if (fuse_reply_open(req, fi) == 0) (void)h.release();  // FUSE owns it now (fi->fh)
  });
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "readdir", [&] {
    auto* h = reinterpret_cast<DirHandle*>(fi->fh);
    std::vector<char> buf(size);
    size_t used = 0;
    for (size_t i = static_cast<size_t>(off); i < h->entries.size(); ++i) {
      const DirEntry& e = h->entries[i];
      struct stat st = ToStat(e.attr);
      // The offset stored is that of the next entry.
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                                      static_cast<off_t>(i + 1));
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC) != 0) {
      fuse_reply_err(req, EROFS);
      return;
    }
    OpsContext& c = Ctx(req);
    auto f = c.fs->Open(ino);
    if (!f) {
      if (f.error().code() != ErrorCode::kNotFound) {
        spdlog::warn("mount: open inode {}: {}", static_cast<uint64_t>(ino), f.error().message());
      }
      fuse_reply_err(
          req, f.error().code() == ErrorCode::kInvalidArgument ? EISDIR : f.error().to_errno());
      return;
    }
    auto h = std::make_unique<FileHandle>();
    h->file = std::move(*f);
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    fi->keep_cache = 1;  // immutable content: pages cached by an earlier open stay valid
    fi->noflush = 1;     // nothing to flush on close
    // Listed before the reply: its release may come right after it.
    {
      std::lock_guard lock(c.open_mu);
      c.open_files.insert(fi->fh);
    }
    if (fuse_reply_open(req, fi) == 0) {
      (void)h.release();  // FUSE owns it now (fi->fh)
    } else {
      std::lock_guard lock(c.open_mu);
      c.open_files.erase(fi->fh);
    }
  });
}

// Scratch space for replies: one per FUSE worker thread, grown to the
// largest read (1 MiB with max_pages 256), reused for every read on that
// thread, so the hot path does not allocate.
uint8_t* ReadBuffer(size_t size) {
  thread_local std::unique_ptr<uint8_t[]> buf;
  thread_local size_t cap = 0;
  if (cap < size) {
    buf.reset(new uint8_t[size]);
    cap = size;
  }
  return buf.get();
}

// Reads at least this large are answered from the cached chunks without a
// copy (fuse_reply_iov); smaller ones are copied, which lets a part of a chunk
// come from the disk cache without loading the whole chunk.
constexpr size_t kZeroCopyMinBytes = 128 * 1024;

void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  OpsContext& c = Ctx(req);
  // A reference of our own: once the deadline watchdog has answered this
  // request, the program may close the file and the kernel release the
  // handle while this read still runs (the store answers late, or its own
  // deadline ends the read); the file must outlive the read, not the handle.
  const std::shared_ptr<OpenFile> file = reinterpret_cast<FileHandle*>(fi->fh)->file;
  OpenFile& f = *file;
  if (c.deadlines != nullptr) c.deadlines->Begin(req, &f.name, static_cast<uint64_t>(off), size);
  // False when the deadline watchdog has already failed this request (the
  // store took too long): then it must not be answered a second time.
  auto still_ours = [&] { return c.deadlines == nullptr || c.deadlines->Finish(); };
  const bool zero_copy = size >= kZeroCopyMinBytes;
  uint8_t* buf = nullptr;
  Result<size_t> n = size_t{0};
  Result<BufferChain> chain = BufferChain();
  try {
    if (zero_copy) {
      chain = c.fs->ReadChain(f, static_cast<uint64_t>(off), size);
    } else {
      buf = ReadBuffer(size);
      n = c.fs->Read(f, static_cast<uint64_t>(off), {buf, size});
    }
  } catch (const std::exception& e) {
    if (!still_ours()) return;
    spdlog::error("mount: read: {}", e.what());
    fuse_reply_err(req, EIO);
    return;
  } catch (...) {
    if (!still_ours()) return;
    spdlog::error("mount: read: unknown exception");
    fuse_reply_err(req, EIO);
    return;
  }
  if (!still_ours()) return;
  Guard(req, "read", [&] {
    const Error* error =
        zero_copy ? (chain ? nullptr : &chain.error()) : (n ? nullptr : &n.error());
    if (error != nullptr) {
      if (c.read_errors.Allow()) {
        uint64_t dropped = c.read_errors.TakeSuppressed();
        spdlog::error(
            "mount: read {} bytes at {} of '{}': {}{}", size, off, f.name, error->message(),
            dropped > 0 ? " (" + std::to_string(dropped) + " similar errors not logged)" : "");
      }
      // A read error is EIO to the program whatever the cause (a missing
      // or corrupt pack is not "no such file"; a store that missed its read
      // deadline is not a network timeout to read(2)).
      int err = error->to_errno();
      fuse_reply_err(req, err == ENOENT || err == EINVAL || err == ETIMEDOUT ? EIO : err);
      return;
    }
    c.reads.fetch_add(1, std::memory_order_relaxed);
    if (!zero_copy) {
      c.read_bytes.fetch_add(*n, std::memory_order_relaxed);
      fuse_reply_buf(req, reinterpret_cast<const char*>(buf), *n);
      return;
    }
    c.read_bytes.fetch_add(chain->size(), std::memory_order_relaxed);
    // The kernel copies from these while fuse_reply_iov runs; the chain
    // keeps the chunks alive until then.
    thread_local std::vector<iovec> iov;
    iov.clear();
    for (const Buffer& piece : chain->pieces()) {
      iov.push_back({const_cast<uint8_t*>(piece.data()), piece.size()});
    }
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
  });
}

void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  {
    OpsContext& c = Ctx(req);
    std::lock_guard lock(c.open_mu);
    c.open_files.erase(fi->fh);
  }
  delete reinterpret_cast<FileHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  Guard(req, "lseek", [&] {
    OpenFile& f = *reinterpret_cast<FileHandle*>(fi->fh)->file;
    auto pos = Ctx(req).fs->SeekData(f, off, whence == SEEK_HOLE);
    if (!pos) {
      fuse_reply_err(req,
                     pos.error().code() == ErrorCode::kNotFound ? ENXIO : pos.error().to_errno());
      return;
    }
    fuse_reply_lseek(req, static_cast<off_t>(*pos));
  });
}

void StatFs(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, "statfs", [&] {
    auto t = Ctx(req).fs->tree();
    struct statvfs s;
    std::memset(&s, 0, sizeof s);
    s.f_bsize = 1 << 20;
    s.f_frsize = 4096;
    s.f_blocks = (t->total_bytes() + 4095) / 4096;
    s.f_files = t->nodes();
    s.f_namemax = 255;
    s.f_flag = ST_RDONLY;
    fuse_reply_statfs(req, &s);
  });
}

// Every call that would change the tree. The mount is also "ro", so the
// kernel normally refuses these before they get here.
void SetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { fuse_reply_err(req, EROFS); }
void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EROFS); }
void Unlink(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  fuse_reply_err(req, EROFS);
}
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Write(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void SetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  fuse_reply_err(req, EROFS);
}
void RemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }
void Fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = Init;
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.lseek = Lseek;
  ops.statfs = StatFs;
  ops.setattr = SetAttr;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = Unlink;
  ops.symlink = Symlink;
  ops.rename = Rename;
  ops.link = Link;
  ops.write = Write;
  ops.create = Create;
  ops.setxattr = SetXattr;
  ops.removexattr = RemoveXattr;
  ops.fallocate = Fallocate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& LowLevelOps() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

void CloseOpenFiles(OpsContext& c) {
  std::lock_guard lock(c.open_mu);
  for (uint64_t fh : c.open_files) delete reinterpret_cast<FileHandle*>(fh);
  c.open_files.clear();
}

}  // namespace hugeblob::fuse
