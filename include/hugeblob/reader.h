// Lazy random-access reads of a stored file: hugeblob::File.
//
// A File is opened by name from a Store (hugeblob.h) and reads the version
// the name pointed at when it was opened; later puts under the same name do
// not change what an open File reads. Reads fetch only the blocks (chunks)
// they touch, from the Store's memory cache, then its disk cache, then the
// store, where adjacent blocks of one pack are fetched in one ranged read.
// Every block fetched from the store is checked against its id before it is
// served or cached: a File never returns bytes that differ from what was put.
//
// Thread safety: every method of File is thread-safe and independent of call
// order (there is no stream cursor): any offset, from any thread, at any
// time. Destroying a File must not race with a call on it.
//
// Lifetimes: a File holds its Store's internals (caches, fetch threads,
// connection) alive, so it may outlive the Store handle it came from. A
// Buffer or BufferChain returned by ReadBlock or ReadRange shares ownership
// of the decoded block: it stays valid while held, even after the File is
// closed, and holds that memory until released.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

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

// The caches and fetching behind the Files of one Store (and the CLI's and
// the mount's reader).
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

// Counters of one reader context (a Store's, shared by its Files), since it
// was made.
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

// One block of a stored file: a chunk as put cut it, decoded. Blocks are
// numbered from 0, contiguous from offset 0, and cover the file.
struct BlockInfo {
  uint64_t index = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  bool hole = false;  // all zeros: not stored, read as zeros without a fetch
};

// What an open File reads (fixed when it was opened).
struct FileInfo {
  std::string name;
  uint64_t size = 0;
  uint64_t data_bytes = 0;          // bytes not in holes
  std::string manifest;             // id of the version read, hex
  std::string digest;               // content digest, hex (empty for files stored before it)
  std::string sha256;               // whole-file SHA-256, hex, when put recorded one
  std::string chunk_hash;           // "blake3" or "sha256"
  std::optional<uint32_t> mode;     // file type and permission bits put recorded
  std::optional<int64_t> mtime_ns;  // modification time put recorded
  int64_t created_unix = 0;         // when it was put
  uint64_t blocks = 0;              // number of blocks (File::BlockAt, ReadBlock)
};

class File {
 public:
  virtual ~File() = default;

  virtual uint64_t size() const = 0;
  virtual const FileInfo& info() const = 0;

  // Copies up to out.size() bytes from `offset` into `out`. Returns the
  // number of bytes read: less than out.size() only at the end of the file,
  // 0 at or past it. `out` is only written during the call.
  virtual Result<size_t> pread(uint64_t offset, std::span<uint8_t> out) = 0;

  // The block holding byte `offset` (< size(); kInvalidArgument past the
  // end). The next block starts at offset + length. A file of more than a
  // thousand or so blocks has its block table stored in segments, loaded as
  // reads need them: this may read one from the store (and caches it).
  virtual Result<BlockInfo> BlockAt(uint64_t offset) = 0;
  // Block `index` (< info().blocks; kInvalidArgument past them), the same way.
  virtual Result<BlockInfo> Block(size_t index) = 0;

  // Zero copy: block `index` (< info().blocks), decoded (a shared zero
  // block for holes), without copying it out of the cache.
  virtual Result<Buffer> ReadBlock(size_t index) = 0;

  // Zero copy for a range: views of the decoded blocks covering
  // [offset, offset + length), cut at the end of the file (empty past it).
  // Holds those blocks while the chain lives, so keep `length` modest (a few
  // MiB): the blocks of a range are all in memory at once.
  virtual Result<BufferChain> ReadRange(uint64_t offset, uint64_t length) = 0;

  // lseek's SEEK_DATA / SEEK_HOLE: the first offset >= `offset` that holds
  // data (hole false) or is in a hole (hole true; the end of the file counts
  // as one), so a copy can skip holes without reading them. kNotFound past
  // the end, or for data when only holes follow (lseek's ENXIO).
  virtual Result<uint64_t> SeekData(uint64_t offset, bool hole) const = 0;

  // Read-ahead hint: starts fetching the blocks of [offset, offset + length)
  // in the background and returns at once. Background fetches are bounded
  // (half the memory cache), so ask for what will be read soon, not the
  // whole file; what does not fit is skipped, and read later on demand.
  // Sequential reads need no hint: read-ahead follows them by itself (and
  // random reads cause none).
  virtual void WillNeed(uint64_t offset, uint64_t length) = 0;
};

}  // namespace hugeblob
