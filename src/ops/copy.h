// copy: replicate names from one store to another (local <-> S3, any
// direction), sending only the chunks the destination lacks.
//
// For each name: load the manifest from the source; fetch the frames whose
// chunks the destination's index does not hold, with coalesced ranged GETs,
// checking each (decode + SHA-256 == chunk id) before it is written; pack
// them into new destination packs (still compressed: no recompression);
// write index objects, a manifest whose frames point at destination packs,
// then the ref, last. The destination is held with a put lock (gc refuses to
// run meanwhile). Interrupted, a copy keeps every pack it stored, and a rerun
// finds them through ChunkIndex::Load (trailers of unindexed packs are read)
// and sends only the rest, exactly like put.
//
// Memory is bounded like put's: the open pack plus `uploaders` packs being
// stored, and a window of ranged reads; a name's manifest is the only thing
// that grows with the file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hugeblob/error.h"
#include "hugeblob/hugeblob.h"
#include "hugeblob/store.h"

namespace hugeblob {

struct CopyOptions {
  // NAME (all its versions), NAME@N or NAME@ID (one); empty: every version
  // of every name of the source.
  std::vector<std::string> names;
  uint64_t memory_budget = 64ull << 20;  // packs being written + reads in flight
  uint64_t pack_size = 16ull << 20;
  unsigned threads = 4;  // parallel GETs from the source
  ProgressFn progress;   // done/total in bytes of the files
  const CancelToken* cancel = nullptr;
};

struct CopiedName {
  std::string name;
  uint32_t version = 0;  // its number in the source (1 = the oldest)
  uint64_t size = 0;
  uint64_t chunks_sent = 0;     // chunks written to the destination
  uint64_t chunks_present = 0;  // chunks the destination already held
  uint64_t added_bytes = 0;     // stored bytes written for this name
  uint64_t shared_bytes = 0;    // uncompressed bytes the destination already held
};

struct CopyResult {
  std::vector<CopiedName> names;  // versions, in the order copied
  uint64_t bytes_read = 0;        // stored bytes fetched from the source
  uint64_t bytes_written = 0;     // packs, indexes, manifests written to the destination
  uint64_t packs = 0;             // packs written
  uint64_t versions_present = 0;  // versions the destination already had (skipped)
};

// Copies options.names (or all) from `src` to `dst`. On failure or Ctrl-C
// the names already copied are complete in `dst`, the error message says
// which, and a rerun resumes.
Result<CopyResult> CopyNames(const std::shared_ptr<ObjectStore>& src,
                             const std::shared_ptr<ObjectStore>& dst, const CopyOptions& options);

}  // namespace hugeblob
