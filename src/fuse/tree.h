// The directory tree a mount shows: one read-only file per name in the
// store, '/' in a name making directories. Pure data, no FUSE and no I/O, so
// it is unit-tested on its own (tree_test.cc).
//
// A Tree is an immutable snapshot built from the refs listed at one moment.
// The mount swaps in a new snapshot when it refreshes; readers keep the one
// they hold alive through a shared_ptr, so no lock is held while a snapshot
// is used.
//
// Inode numbers come from an InodeTable that outlives snapshots: a name keeps
// its number across refreshes as long as it points at the same manifest.
// When a name is put again (new content) it gets a new number, so the kernel
// never serves pages cached for the old content under the new file, which is
// what makes keep_cache safe. Numbers are never reused within one mount.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hash/sha256.h"

namespace hugeblob::fuse {

inline constexpr uint64_t kRootIno = 1;  // FUSE_ROOT_ID

// What the mount needs to know of one ref, read from the store.
struct RefEntry {
  std::string name;  // "a/b/c"
  uint64_t size = 0;
  int64_t mtime_unix = 0;  // the ref's creation time
  Hash256 manifest;
  uint64_t data_bytes = 0;  // of `size`, not holes (size when the ref does not say)
};

struct Node {
  uint64_t ino = 0;
  uint64_t parent = 0;  // the root is its own parent
  bool dir = false;
  std::string path;         // full name; "" for the root
  uint64_t size = 0;        // files only
  uint64_t data_bytes = 0;  // files only: bytes that are not holes
  int64_t mtime_unix = 0;   // files: the ref's time; directories: newest file below
  Hash256 manifest;         // files only
  // Directories: children sorted by name, for binary-search lookup and a
  // stable readdir order.
  std::vector<std::pair<std::string, uint64_t>> children;
  uint64_t subdirs = 0;  // number of child directories (for nlink)
};

// Stable inode numbers for paths. Not thread-safe: the mount calls it only
// from the one thread that builds a snapshot at a time.
class InodeTable {
 public:
  // The number of a file `path` with content `manifest`, or of a directory
  // (manifest == nullptr). Marks the path as seen in the current build.
  uint64_t Assign(const std::string& path, const Hash256* manifest);
  // Forgets the paths not assigned since the previous EndBuild, so the
  // table stays as large as the store's name list, not its history.
  void EndBuild();
  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t ino = 0;
    bool dir = false;
    Hash256 manifest;
    uint64_t build = 0;
  };
  std::unordered_map<std::string, Slot> slots_;
  uint64_t next_ino_ = kRootIno + 1;
  uint64_t build_ = 1;
};

class Tree {
 public:
  // Builds a snapshot from the refs (any order). Names that fail
  // ValidateName are left out; a name that is also a directory (both "a"
  // and "a/b" exist) is hidden behind the directory. Each omission adds a
  // line to `warnings` if given. `root_mtime` is the root's time when the
  // store is empty.
  static std::shared_ptr<const Tree> Build(std::vector<RefEntry> refs, InodeTable& inodes,
                                           int64_t root_mtime,
                                           std::vector<std::string>* warnings = nullptr);

  // nullptr if the inode is not in this snapshot.
  const Node* Find(uint64_t ino) const;
  // The child `name` of directory `dir`, or nullptr.
  const Node* Child(const Node& dir, std::string_view name) const;
  const Node& root() const { return *Find(kRootIno); }
  size_t files() const { return files_; }
  uint64_t total_bytes() const { return total_bytes_; }  // sum of file sizes (statfs)
  size_t nodes() const { return nodes_.size(); }

 private:
  std::unordered_map<uint64_t, Node> nodes_;
  size_t files_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace hugeblob::fuse
