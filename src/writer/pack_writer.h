// Assembles frames into pack objects and stores them: the back end shared by
// put (frames from the chunking pipeline) and copy (frames read from another
// store), and by gc's repack.
//
//   Append (producer thread)    frames appended to the open pack; a full
//       |                       pack gets its trailer and its id
//       v
//   upload queue -> uploaders   store.Put(pack); every 64 packs stored, one
//                               index object covering them
//
// Memory: the open pack plus at most `uploaders` closed packs, each at most
// pack_size (or one frame, if larger): closing a pack waits while `uploaders` packs are queued or
// being stored. Frames are copied into pack buffers that are reused from pack to pack (an uploader
// hands its buffer back once the store is done with it), so steady state maps no new memory: a
// fresh 16 MiB buffer per pack cost 4,096 page faults on every pack.
//
// On a store that writes objects as their bytes come (ObjectStore::BeginPut:
// the local store), the open pack is a PendingObject instead: frames of 32
// KiB and more are appended to it straight from the caller's memory, smaller
// ones staged in one small buffer and appended every kStageBytes, and an
// uploader only commits it (fsync and rename). A pack then costs page cache,
// not memory, and its disk writes overlap the compression of the next. A frame appended is recorded
// at once in the ChunkIndex (so the producer's next dedup decision sees it) under the pack_no of
// the open pack, whose id is set when the pack closes.
//
// Errors: the first upload error is kept, reported through on_error (so the
// owner can stop its other stages) and returned by the next call.
//
// Thread-safety: Append, ClosePack, Flush and Finish are called by one
// producer thread; Cancel, stored_bytes and packs from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "format/index.h"
#include "format/pack.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"
#include "util/bounded_queue.h"
#include "writer/chunk_index.h"

namespace hugeblob {

struct PackWriterOptions {
  uint64_t pack_size =
      16ull << 20;         // frames per pack at most (one larger frame: a pack of its own)
  unsigned uploaders = 1;  // packs stored in parallel (and closed packs in memory)
  // Polled while waiting for an upload slot; true makes the wait fail with
  // kCancelled. May be empty.
  std::function<bool()> stopped;
  // Called (from an uploader thread) with the first upload error. May be empty.
  std::function<void(const Error&)> on_error;
  std::string what = "put";  // names the operation in errors
};

class PackWriter {
 public:
  // `index` must outlive the writer; it is updated as frames are appended.
  PackWriter(std::shared_ptr<ObjectStore> store, ChunkIndex* index, PackWriterOptions options);
  // Cancels and joins the uploaders if Finish did not run.
  ~PackWriter();
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Starts the uploader threads.
  void Start();

  // Appends one frame (`frame` is the stored bytes, `length` the chunk's
  // uncompressed size), copying it into the open pack: the caller may reuse
  // its memory on return. May block (closing a full pack waits for an
  // upload slot).
  Result<ChunkLocation> Append(const ChunkId& id, std::span<const uint8_t> frame, uint32_t length,
                               Codec codec);
  Result<ChunkLocation> Append(const ChunkId& id, const Buffer& frame, uint32_t length,
                               Codec codec) {
    return Append(id, frame.span(), length, codec);
  }

  // Closes the open pack (if any) and queues it for upload.
  Status ClosePack();

  // ClosePack, then waits until every queued pack is stored and writes an
  // index object for the packs stored since the last one. After Flush every
  // location Append returned names a stored pack with a known id.
  Status Flush();

  // Flush, plus an index object for the packs ChunkIndex::Load found without
  // one; stops the uploaders. Nothing may be appended afterwards.
  Status Finish();

  // Stops everything at once (queued packs are dropped, an upload in
  // progress ends on its own) and joins the uploaders. Idempotent.
  void Cancel();

  uint64_t stored_bytes() const { return stored_bytes_.load(); }  // packs + index objects
  uint64_t packs() const { return packs_; }                       // packs closed
  // Whether `pack_no` is the pack still being filled (its id is not known
  // yet). Only from the thread that appends.
  bool IsOpen(uint32_t pack_no) const { return pack_open_ && pack_no == open_pack_no_; }
  uint64_t packs_stored() const { return packs_stored_.load(); }  // packs stored

 private:
  struct PackJob {
    Hash256 id;
    BufferChain bytes;  // the whole pack, unless `pending` holds it
    std::unique_ptr<PendingObject> pending;
    uint64_t size = 0;
    std::vector<PackEntry> entries;
    std::vector<Buffer> buffers;  // the pack buffers `bytes` views, handed back after the upload
  };
  // Appends the staged bytes to the pending pack.
  Status FlushStage();

  // A pack buffer to copy frames into: a spare one if any, else a new one
  // of pack_size bytes (or `min_size`, if larger).
  Buffer TakeBuffer(size_t min_size);
  // Moves the filled part of the pack buffer into pack_bytes_.
  void SealBuffer();

  bool Stopped() const;
  void SetError(const Error& e);
  std::optional<Error> error() const;
  void UploaderLoop();
  Status RecordUploaded(const PackJob& job);
  Status WriteIndexObject(std::vector<IndexEntry> entries);
  void Join();

  std::shared_ptr<ObjectStore> store_;
  ChunkIndex* index_;
  PackWriterOptions options_;
  BoundedQueue<PackJob> upload_queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> cancelled_{false};

  // Producer state.
  bool pack_open_ = false;
  uint32_t open_pack_no_ = 0;
  BufferChain pack_bytes_;  // the closed pack's frames, then its trailer
  std::vector<PackEntry> pack_entries_;
  Buffer buf_;                 // the open pack's frames, back to back (streaming: the staged ones)
  size_t buf_used_ = 0;        // bytes of buf_ filled
  bool streaming_ = false;     // the store takes PendingObjects
  unsigned max_inflight_ = 1;  // packs queued or being stored at once
  std::unique_ptr<PendingObject> pending_;  // streaming: the open pack
  uint64_t pending_bytes_ = 0;              // streaming: bytes appended to pending_
  std::vector<Buffer> pack_buffers_;        // buffers of the open pack
  uint64_t packs_ = 0;

  // Packs closed but not yet stored (bounds memory), and packs closed but
  // not yet recorded for the index (Flush waits for 0).
  mutable std::mutex mu_;
  std::condition_variable cv_;
  unsigned inflight_ = 0;                  // guarded by mu_
  unsigned unrecorded_ = 0;                // guarded by mu_
  std::optional<Error> error_;             // guarded by mu_
  bool error_claimed_ = false;             // guarded by mu_; SetError is reporting one
  std::vector<IndexEntry> index_pending_;  // guarded by mu_
  std::vector<Buffer> spare_buffers_;      // guarded by mu_; pack buffers free for reuse
  size_t index_pending_packs_ = 0;         // guarded by mu_

  std::atomic<uint64_t> stored_bytes_{0};
  std::atomic<uint64_t> packs_stored_{0};
};

}  // namespace hugeblob
