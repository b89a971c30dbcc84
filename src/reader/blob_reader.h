// Lazy random-access reads of a stored file: the library's reader, which
// works on the format's Manifest. (Programs use the public hugeblob::File,
// include/hugeblob/reader.h, which src/api/ implements on this.)
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

#include "format/manifest.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/reader.h"  // ReaderOptions, ReaderStats
#include "hugeblob/store.h"

namespace hugeblob {

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
  // The manifest as opened: for a segmented one (format/manifest.h), its top
  // only, with no frames; the frame table is reached through the calls below.
  virtual const Manifest& manifest() const = 0;

  // The frame table, whether inline or in segments (which these load as
  // needed: hence the Result). frame_count() and data_bytes() need none.
  virtual uint64_t frame_count() const = 0;
  virtual uint64_t data_bytes() const = 0;  // bytes not in zero frames
  virtual Result<FrameRef> Frame(size_t frame_index) const = 0;
  // The index of the frame holding byte `offset` (< size()).
  virtual Result<size_t> FrameAt(uint64_t offset) const = 0;

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

  // A sequential stream that has read `streak_bytes` elsewhere is about to
  // reach this file's byte 0 (a segmented file's next leaf): read-ahead
  // goes on here with that stream's window instead of starting small, and
  // the first `ahead` bytes start fetching now (see Readahead::Continue).
  // A hint; by default nothing.
  virtual void ContinueStream(uint64_t streak_bytes, uint64_t ahead) {
    (void)streak_bytes;
    (void)ahead;
  }
};

}  // namespace hugeblob
