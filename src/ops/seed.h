// Seeds of a restore: local files (an older version of the file, the target
// itself, files under a --seed-dir) whose chunks a get may take instead of
// fetching them.
//
// A seed is cut exactly as put cuts a file, with the manifest's chunker and
// island by island around holes of kMinSkippedHole and more, and every chunk
// is hashed with the manifest's chunk hash; where the seed holds the file's
// own chunks at their own offsets (see SeedScanOptions::write_fd), those
// are checked in place instead and only the rest is cut. Only the ids the manifest needs
// are kept. A chunk taken from a seed is checked against its id when it is
// used (the bytes that land in the output, for a reflink), so a seed that
// changed meanwhile costs a fetch, never a wrong byte.
//
// Thread-safety: Build once; then Find, Read and CopyTo may be called from
// any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/error.h"
#include "util/fs.h"

namespace hugeblob {

class CancelToken;

struct SeedScanOptions {
  // Files after the first `always` paths are scanned only while they have
  // added less than max_scan_bytes to the bytes scanned (0: no limit): the
  // bound of --seed-dir.
  size_t always = SIZE_MAX;
  uint64_t max_scan_bytes = 0;
  // When set (sized to the frame count), marks the frames of the manifest
  // whose chunk the FIRST path holds at the frame's own offset: what an
  // in-place update need not write.
  std::vector<uint8_t>* at_own_offset = nullptr;
  // With at_own_offset: called (from the pass's threads) with the bytes of
  // each batch of such frames as they are found, for progress.
  std::function<void(uint64_t)> on_own_offset;
  // Threads of the aligned pass (below), and of the cut of a seed that is
  // not cut like the file, which runs in segments of segment_bytes (at
  // least four of the chunker's largest chunks).
  unsigned threads = 4;
  uint64_t segment_bytes = 64ull << 20;
  // A seed cut like the file (an older version, the target itself) is first
  // checked chunk by chunk at the file's own offsets, in parallel; only the
  // ranges where that finds nothing are cut to find chunks that moved. With
  // write_fd set (a new file being restored), every chunk found that way is
  // written there at once from the bytes just checked, so the seed is read
  // once: runs of adjacent chunks, their block-aligned middle cloned
  // (FICLONERANGE, then read back and compared) where the file system
  // shares extents. A seed cut whole (see segment_bytes) writes each chunk
  // it finds there at once too, from the bytes its cut hashed (with `done`
  // set). on_written(bytes) is then called from those threads.
  int write_fd = -1;
  std::string write_name;  // for errors
  std::function<void(uint64_t)> on_written;
  // When set (sized to the frame count), marks the frames written so.
  std::vector<uint8_t>* done = nullptr;
  // When set and there is one seed: called (from a scanning thread, while
  // the scan goes on) with frames the seed very likely lacks, so that their
  // fetch can start before the scan ends. A frame is reported once the
  // ranges around it are scanned: it is not at its own offset, the cut of
  // the gap it lies in did not find it, and its chunk occurs nowhere else in
  // the file (so no later part of the scan can find it at its own offset).
  // Only a chunk that moved far (into another gap) is reported and then
  // still found: a fetch too many, never a wrong byte.
  std::function<void(const std::vector<size_t>&)> on_missing;
  // With at_own_offset: what the first path holds, from hugeblob's record
  // of it (see ops/file_record.h), read by the caller before it grew the
  // file (an in-place update extends its target first: the record then
  // covers a prefix, and the rest is a hole). The first path is then not
  // read: every chunk the manifest needs that the record lists is taken at
  // the offset listed (and checked when used, like any seed chunk), and the
  // frames the record lists at their own offset with the same length and id
  // are marked, unread but for a sample: the record vouches for them.
  const std::vector<FrameRef>* first_record = nullptr;
  // When set (in place: the target the caller has open and writes), the
  // first path must still be that file (device, inode), else Build fails:
  // what it finds there is what the caller will trust.
  std::optional<std::pair<uint64_t, uint64_t>> first_is;
};

class SeedIndex {
 public:
  struct Source {
    uint32_t file = 0;    // index into the seed files
    uint64_t offset = 0;  // of the chunk in that file
  };

  // Scans `paths` (missing files are skipped: a target that does not exist
  // yet is no seed). Errors only for a seed that exists and cannot be read.
  static Result<std::unique_ptr<SeedIndex>> Build(const Manifest& m,
                                                  const std::vector<std::string>& paths,
                                                  const CancelToken* cancel,
                                                  const SeedScanOptions& options = {});

  // Where a chunk of `m` can be read locally, or null.
  const Source* Find(const ChunkId& id) const;
  // Reads the chunk at `src` into `dst` (its length) and checks it against
  // `id`; false if it cannot be read or no longer matches.
  bool Read(const Source& src, std::span<uint8_t> dst, HashAlgo hash, const ChunkId& id) const;

  enum class Copied { kNo, kWritten, kCloned };
  // Puts the chunk at `src` (`length` bytes, id `id`) at `dst_offset` of
  // `dst_fd`. When both offsets and the length are multiples of the
  // destination's block size and the file system shares extents
  // (FICLONERANGE: btrfs, XFS), the range is cloned, then read back from
  // the destination and checked; otherwise it is read, checked and written.
  // kNo: the seed could not be read or no longer matches (the destination
  // range may then hold anything: the caller writes it from elsewhere).
  // `scratch` is the caller's reusable buffer. Errors writing `dst_fd` are
  // returned as errors.
  Result<Copied> CopyTo(const Source& src, uint32_t length, HashAlgo hash, const ChunkId& id,
                        int dst_fd, uint64_t dst_offset, const std::string& dst_name,
                        std::vector<uint8_t>& scratch) const;

  // Clones [offset, offset + expected.size()) of seed `file` (or `src_fd`)
  // to the same offset of `dst_fd`, reads it back and compares it with
  // `expected`. False if cloning is not supported (then never tried again)
  // or the bytes differ (the caller writes them).
  bool CloneChecked(uint32_t file, uint64_t offset, std::span<const uint8_t> expected, int dst_fd,
                    const std::string& dst_name, std::vector<uint8_t>& scratch) const;

  uint64_t cloned_bytes() const { return cloned_.load(); }  // by CloneChecked (not CopyTo)
  uint64_t scanned_bytes() const { return scanned_; }       // seed bytes read and hashed
  uint64_t aligned_bytes() const { return aligned_; }       // of those, checked at own offsets
  // in place: bytes of frames marked at their own offset by a record, unread
  uint64_t recorded_bytes() const { return recorded_; }
  size_t recorded_files() const { return recorded_files_; }  // seeds known by their record
  size_t chunks() const { return map_.size(); }              // distinct needed chunks found
  size_t files() const { return files_.size(); }             // seed files scanned
  const std::string& name(uint32_t file) const { return names_[file]; }

 private:
  std::vector<std::string> names_;
  std::vector<ScopedFd> files_;
  std::unordered_map<ChunkId, Source, Hash256Hasher> map_;
  uint64_t scanned_ = 0;
  uint64_t aligned_ = 0;
  uint64_t recorded_ = 0;
  size_t recorded_files_ = 0;
  bool CloneFromFd(int src_fd, uint64_t offset, std::span<const uint8_t> expected, int dst_fd,
                   const std::string& dst_name, std::vector<uint8_t>& scratch) const;
  // Cleared after the first FICLONERANGE the destination's file system refuses.
  mutable std::atomic<bool> clone_ok_{true};
  mutable std::atomic<uint64_t> cloned_{0};
};

// The candidate seeds under `dir` for a file of `size` bytes cut with
// `params`: every regular file below it (symbolic links are not followed,
// nor are other file systems entered), except `exclude` (the target and its
// temporary file) and files shorter than the chunker's minimum chunk (they
// can hold no whole chunk but a file's last). Ordered by how close their
// size is to `size` (another version of the same file first). Unreadable
// directories are skipped.
Result<std::vector<std::string>> ListSeedDir(const std::string& dir, uint64_t size,
                                             const ChunkerParams& params,
                                             const std::vector<std::string>& exclude);

}  // namespace hugeblob
