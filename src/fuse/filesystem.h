// The read-only filesystem a mount serves, as plain calls: lookup, getattr,
// readdir, open, read. The FUSE adapter (mount.cc) decodes a kernel request,
// makes one of these calls and replies; everything here is testable without
// FUSE (filesystem_test.cc runs it on an in-memory store).
//
// Names: the tree of refs (tree.h), rebuilt from store->List("refs/") plus a
// read of each new or changed ref, at most every `refresh_interval`, on
// lookup and readdir. One caller refreshes while the others keep using the
// current snapshot, so a slow store delays one request, not all.
//
// Content: an open file holds a BlobReader on the manifest the inode was
// built from (never re-resolving the name, so an inode's bytes cannot
// change under an open file). Readers are shared by every open of the same
// inode and all share one ReaderContext (memory + disk chunk cache).
//
// Thread-safe: every method may be called from any FUSE worker thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fuse/tree.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"
#include "reader/blob_reader.h"

namespace hugeblob::fuse {

struct FsOptions {
  // How stale the name list may get: a name put while mounted shows up
  // within this (plus the kernel's entry timeout).
  std::chrono::milliseconds refresh_interval{2000};
  uid_t uid = 0;  // owner shown for every file
  gid_t gid = 0;
};

// What getattr returns, independent of struct stat.
struct Attr {
  uint64_t ino = 0;
  bool dir = false;
  uint64_t size = 0;
  uint64_t data_bytes = 0;  // not holes: st_blocks counts these
  int64_t mtime_unix = 0;
  uint32_t nlink = 1;
};

struct DirEntry {
  std::string name;
  Attr attr;
};

// One open inode: the reader and the attributes it was opened with. Shared
// by every handle open on the inode; destroyed with the last.
struct OpenFile {
  Attr attr;
  std::string name;
  std::unique_ptr<BlobReader> reader;
};

class BlobFs {
 public:
  // Lists the store and reads every ref once, so an unreachable store or a
  // bad URL fails here, before a mount is attempted. Starts no thread (the
  // daemon forks after this).
  static Result<std::unique_ptr<BlobFs>> Create(std::shared_ptr<ObjectStore> store,
                                                const FsOptions& options);

  // The reader context, created after the fork (it owns threads). Must be
  // called before the first Open.
  void SetReaderContext(std::shared_ptr<ReaderContext> context);

  Result<Attr> Lookup(uint64_t parent, std::string_view name);
  Result<Attr> GetAttr(uint64_t ino);
  // The entries of a directory, "." and ".." first.
  Result<std::vector<DirEntry>> ReadDir(uint64_t ino);

  // kNotFound if the inode is gone, kInvalidArgument (EISDIR mapped by the
  // adapter) for a directory.
  Result<std::shared_ptr<OpenFile>> Open(uint64_t ino);
  // Up to out.size() bytes at `offset`; fewer only at the end of the file.
  Result<size_t> Read(OpenFile& file, uint64_t offset, std::span<uint8_t> out);
  // The same bytes without a copy: views of the cached chunks (for large
  // reads, answered with fuse_reply_iov).
  Result<BufferChain> ReadChain(OpenFile& file, uint64_t offset, uint64_t length);

  // lseek SEEK_DATA (hole = false) or SEEK_HOLE (hole = true) from the
  // manifest's all-zero chunks, so cp --sparse and tar skip holes without
  // reading them. kNotFound (ENXIO) when there is no such offset.
  Result<uint64_t> SeekData(OpenFile& file, int64_t offset, bool hole);

  // Rebuilds the tree now if the last build is older than the interval
  // (or always, with `force`). Errors keep the previous tree.
  Status Refresh(bool force = false);

  std::shared_ptr<const Tree> tree() const;
  const std::shared_ptr<ObjectStore>& store() const { return store_; }
  uint64_t refreshes() const { return refreshes_.load(); }

 private:
  BlobFs(std::shared_ptr<ObjectStore> store, const FsOptions& options);
  Status Rebuild();
  void MaybeRefresh();
  Attr AttrOf(const Node& n) const;

  const std::shared_ptr<ObjectStore> store_;
  const FsOptions options_;
  const int64_t start_unix_;
  std::shared_ptr<ReaderContext> context_;  // set once before serving
  // store_ with manifests and segments kept in the context's disk cache (if
  // any; reader/object_cache.h): what opening a file reads. Set with context_.
  std::shared_ptr<ObjectStore> objects_;

  mutable std::mutex tree_mu_;
  std::shared_ptr<const Tree> tree_;                // guarded by tree_mu_
  std::chrono::steady_clock::time_point built_at_;  // guarded by tree_mu_

  // Only the thread holding rebuild_mu_ builds; others skip the refresh.
  std::mutex rebuild_mu_;
  InodeTable inodes_;  // guarded by rebuild_mu_
  // Refs read in the previous build, to skip reading unchanged ones again:
  // key -> (object size, object mtime, entry). Guarded by rebuild_mu_.
  struct KnownRef {
    uint64_t object_size = 0;
    int64_t object_mtime = 0;
    RefEntry entry;
  };
  std::unordered_map<std::string, KnownRef> known_;
  int64_t last_list_unix_ = 0;    // guarded by rebuild_mu_
  bool refresh_failing_ = false;  // guarded by rebuild_mu_; log on transitions only
  std::set<std::string> warned_;  // guarded by rebuild_mu_: problems already logged
  std::atomic<uint64_t> refreshes_{0};

  std::mutex open_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<OpenFile>> open_;  // guarded by open_mu_
};

}  // namespace hugeblob::fuse
