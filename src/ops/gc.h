// gc: reclaim what no name uses any more (docs/gc.md has the rules).
//
// Mark: every ref -> its manifest -> the packs (and the frames in them) it
// uses. Sweep, in this order, each step safe to interrupt:
//   1. repack (optional): live frames of mostly-dead packs are copied,
//      verified, into new packs; manifests that used them are rewritten and
//      their refs switched to the new manifests;
//   2. index objects that mention packs about to go (or that are small) are
//      replaced: the new, consolidated ones are written first, then the old
//      ones deleted;
//   3. unreferenced packs, then unreferenced manifests, are deleted;
//   4. multipart uploads nobody completed are aborted;
//   5. stale lock objects are deleted.
// Nothing younger than the grace period is deleted, and gc refuses to run
// while a put or copy holds a fresh lock on the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hugeblob/error.h"
#include "hugeblob/hugeblob.h"
#include "hugeblob/store.h"
#include "writer/store_lock.h"

namespace hugeblob {

struct GcOptions {
  bool dry_run = false;              // report only; take no lock, write and delete nothing
  int64_t grace_seconds = 3600;      // never delete an object younger than this
  double repack_threshold = 0;       // repack live packs whose live fraction is below; 0: never
  uint64_t pack_size = 16ull << 20;  // of packs written by repack
  unsigned threads = 8;              // parallel reads and deletes
  // A ref that cannot be decoded, or whose manifest is missing or corrupt,
  // makes gc refuse (it might protect anything). With this, such refs are
  // removed instead (listed in GcReport::broken_refs; a dry run only lists
  // them) and gc goes on without them.
  bool prune_broken = false;
  LockTiming lock_timing;
  int64_t now_unix = 0;  // 0: the current time (tests set it)
  ProgressFn progress;   // done/total objects of the current step
  const CancelToken* cancel = nullptr;
};

struct GcReport {
  bool dry_run = false;
  uint64_t refs = 0;      // names
  uint64_t versions = 0;  // versions of them (each keeps its data)
  uint64_t live_manifests = 0;
  uint64_t live_packs = 0;
  uint64_t live_pack_bytes = 0;

  // Deleted (or, in a dry run, that would be).
  uint64_t packs_deleted = 0;
  uint64_t pack_bytes_deleted = 0;
  uint64_t manifests_deleted = 0;
  uint64_t manifest_bytes_deleted = 0;
  uint64_t indexes_deleted = 0;
  uint64_t index_bytes_deleted = 0;
  uint64_t indexes_written = 0;
  uint64_t index_bytes_written = 0;
  uint64_t uploads_aborted = 0;
  // Temporary files of writers killed mid-write (local store tmp/), older
  // than the grace period.
  uint64_t temp_files_deleted = 0;
  uint64_t temp_bytes_deleted = 0;

  // Unreferenced but younger than the grace period: kept this time.
  uint64_t young_kept = 0;
  uint64_t young_kept_bytes = 0;

  // Repack.
  uint64_t packs_repacked = 0;
  uint64_t repack_bytes_written = 0;
  uint64_t manifests_rewritten = 0;

  // Why multipart uploads were not checked (a server that cannot list
  // them, e.g. s3rver), or empty.
  std::string uploads_unchecked;
  // With prune_broken: "refs/NAME: why", removed (or, in a dry run, that
  // would be).
  std::vector<std::string> broken_refs;

  std::vector<std::string>
      stale_locks;  // "locks/put-... (host pid N: not refreshed for 3h)", removed

  // Net bytes given back: deleted minus written.
  int64_t reclaimed_bytes() const {
    return static_cast<int64_t>(pack_bytes_deleted + manifest_bytes_deleted + index_bytes_deleted +
                                temp_bytes_deleted) -
           static_cast<int64_t>(index_bytes_written + repack_bytes_written);
  }
};

Result<GcReport> CollectGarbage(const std::shared_ptr<ObjectStore>& store,
                                const GcOptions& options);

}  // namespace hugeblob
