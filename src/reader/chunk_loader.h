// Getting decoded chunks of one stored file: memory cache, then disk cache,
// then the store, with single-flight and range coalescing. The policy of the
// read path lives here; BlobReader only maps byte ranges to frames.
//
// For each frame that misses the memory cache the caller either leads its
// flight (checks the disk cache, then fetches it as part of a coalesced run)
// or follows it (waits for the leader). A leader inserts its chunk into the
// memory cache, completes the flight, and only then writes the disk cache
// (if ReaderOptions::disk_cache_admission admits it), so waiters are not
// held up by the disk write.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

class ContextImpl;

// What one stored file needs to fetch its frames. Immutable once built and
// shared (shared_ptr) by a BlobReader and its background tasks, which may
// outlive the reader.
struct BlobSource {
  std::shared_ptr<ObjectStore> store;
  std::shared_ptr<const Manifest> manifest;
  std::vector<std::string> pack_keys;  // PackKey(manifest->packs[i])
  std::string label;                   // names the file in errors
};

// Sets out[k] to the decoded chunk of frame indices[k] (none of them a zero
// frame), fetching what is missing. Blocks until every frame is available
// or has failed; returns the first failure. Thread-safe.
Status LoadFrames(ContextImpl& ctx, const BlobSource& src, std::span<const size_t> indices,
                  std::span<Buffer> out);

// Starts background fetches of the frames in [first, last) that are neither
// cached nor being fetched, while the context's prefetch byte bound allows;
// the rest are skipped (it is a hint). The frames are split into up to
// fetch_threads coalesced runs fetched in parallel. Leadership of each frame
// is taken here, before returning, so a reader asking for one of them next
// waits for it instead of fetching it again. Never blocks on I/O. Returns
// the first frame left out because the byte bound was reached (`last` if
// none was; `first` if nothing was started because only a few scattered
// frames of the range are missing, see the sliding-window rule).
size_t PrefetchFrames(ContextImpl& ctx, const std::shared_ptr<const BlobSource>& src, size_t first,
                      size_t last);

}  // namespace hugeblob
