// Lazy random-access reads of a stored file.
//
// A ReaderContext holds what readers share in one process: the memory cache
// of decoded chunks (byte-bounded, sharded LRU keyed by chunk id), the disk
// cache (content-addressed directory, bounded, safe across processes), the
// single-flight table and the fetch threads. Create one per process (the
// FUSE daemon, the CLI) and open any number of BlobReaders on it.
//
// A BlobReader reads one stored file (one manifest). All methods are
// thread-safe and independent of call order: there is no stream cursor.
// Every frame fetched from the store is checked against its chunk id before
// it is served or cached.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

struct Manifest;

// Which chunks loaded from the store are written to the disk cache.
enum class DiskCacheAdmission {
  // Every one: for remote stores, where a fetch is slow or costs money.
  kAlways,
  // Only a chunk loaded from the store for the second time by this context
  // (remembered in a bounded FIFO of id prefixes): for stores that are cheap
  // to read (file://). One sequential pass then writes nothing, and random
  // readers that come back to a chunk get it cached.
  kSecondLoad,
};

struct ReaderOptions {
  uint64_t memory_cache_bytes = 64ull << 20;  // decoded chunks kept in memory
  bool disk_cache = true;
  DiskCacheAdmission disk_cache_admission = DiskCacheAdmission::kAlways;
  std::string disk_cache_dir;              // empty: $XDG_CACHE_HOME/hugeblob or ~/.cache/hugeblob
  uint64_t disk_cache_bytes = 2ull << 30;  // bound of the disk cache
  unsigned fetch_threads = 4;              // parallel fetches (read-ahead, get)
  // Read-ahead of a sequential reader: the window grows to twice what the
  // stream has read, up to readahead_bytes of decoded data (and at most a
  // quarter of the memory cache) and readahead_chunks chunks.
  // readahead_chunks = 0 turns read-ahead off.
  uint64_t readahead_bytes = 32ull << 20;
  unsigned readahead_chunks = 1024;
  uint64_t max_coalesce_bytes = 8ull << 20;  // largest single ranged GET when coalescing
};

struct ReaderStats {
  uint64_t store_requests = 0;  // ranged GETs issued
  uint64_t store_bytes = 0;     // bytes fetched from the store
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;        // whole chunks read from the disk cache
  uint64_t disk_range_hits = 0;  // pread parts of chunks read from the disk cache
  uint64_t disk_deferred = 0;    // first loads not written (DiskCacheAdmission::kSecondLoad)
  uint64_t misses = 0;
  // Segments of large manifests loaded by readers (the top is loaded when
  // the file is opened), and their bytes.
  uint64_t segment_requests = 0;
  uint64_t segment_bytes = 0;
};

class ReaderContext {
 public:
  static Result<std::shared_ptr<ReaderContext>> Create(const ReaderOptions& options);
  virtual ~ReaderContext() = default;
  virtual const ReaderOptions& options() const = 0;
  virtual ReaderStats stats() const = 0;
};

class BlobReader {
 public:
  // Opens the file that ref `name` points at.
  static Result<std::unique_ptr<BlobReader>> Open(std::shared_ptr<ReaderContext> context,
                                                  std::shared_ptr<ObjectStore> store,
                                                  std::string_view name);
  // Opens an already-loaded manifest (`label` names it in errors).
  static Result<std::unique_ptr<BlobReader>> Open(std::shared_ptr<ReaderContext> context,
                                                  std::shared_ptr<ObjectStore> store,
                                                  std::shared_ptr<const Manifest> manifest,
                                                  std::string label);
  virtual ~BlobReader() = default;

  virtual uint64_t size() const = 0;
  virtual const Manifest& manifest() const = 0;

  // Copies up to out.size() bytes from `offset`. Returns the number of bytes
  // read: less than out.size() only at the end of the file, 0 past it.
  virtual Result<size_t> pread(uint64_t offset, std::span<uint8_t> out) = 0;

  // Zero copy: the decoded chunk `frame_index` of the manifest's frame table
  // (a shared zero buffer for hole chunks). The Buffer stays valid while held.
  virtual Result<Buffer> ReadFrame(size_t frame_index) = 0;

  // Zero copy for a range: views of the decoded chunks (and of a shared zero
  // block for holes) covering [offset, offset + length), cut at the end of
  // the file (empty past it). Loads what is missing, like pread, and feeds
  // read-ahead the same way. Holds the chunks of the range while the chain
  // lives, so keep `length` modest (a FUSE read: at most 1 MiB).
  virtual Result<BufferChain> ReadRange(uint64_t offset, uint64_t length) = 0;

  // lseek's SEEK_DATA / SEEK_HOLE: the first offset >= `offset` that holds
  // data (hole false) or is in a hole (hole true; the end of the file counts
  // as one), so a copy can skip holes without reading them. kNotFound past
  // the end, or for data when only holes follow (lseek's ENXIO).
  virtual Result<uint64_t> SeekData(uint64_t offset, bool hole) const = 0;

  // Hint that frames [first, last) will be read soon: starts fetching them in
  // the background within the memory bound (used by get and read-ahead).
  virtual void Prefetch(size_t first, size_t last) = 0;
};

}  // namespace hugeblob
