#include "writer/pack_writer.h"

#include <chrono>
#include <cstring>

#include "format/layout.h"
#include "format/pack_codec.h"
#include "hash/sha256.h"
#include "repo/indexes.h"
#include "util/cancel.h"

namespace hugeblob {
namespace {

// Packs stored between two index objects: bounds what a crashed put must
// re-read from pack trailers on the next run.
constexpr size_t kPacksPerIndexObject = 64;

// Streaming: frames are staged and appended to the pending pack in pieces of
// this size (one write syscall per piece, one buffer for the whole pack).
constexpr size_t kStageBytes = 2u << 20;
// Frames from this size up skip the stage: one write each, no copy. Smaller
// ones are gathered so that a pack of small frames is not a write a frame.
constexpr size_t kDirectBytes = 32u << 10;

// Streaming: packs being committed (fsync + rename) at once.
constexpr unsigned kStreamingCommits = 4;

// How often a blocked producer looks at the stop condition.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

}  // namespace

PackWriter::PackWriter(std::shared_ptr<ObjectStore> store, ChunkIndex* index,
                       PackWriterOptions options)
    : store_(std::move(store)),
      index_(index),
      options_(std::move(options)),
      // One slot per uploader: ClosePack already bounds packs in flight, the
      // queue only hands them over.
      upload_queue_(std::max(1u, options_.uploaders)) {}

PackWriter::~PackWriter() { Cancel(); }

void PackWriter::Start() {
  // A store that cannot stream answers kUnsupported without side effects.
  auto probe = store_->BeginPut();
  streaming_ = probe.has_value();
  // A streamed pack holds no memory while it is committed (fsync, rename):
  // more commits in flight keep a slow disk flush off the producer's path.
  max_inflight_ = streaming_ ? std::max(kStreamingCommits, options_.uploaders)
                             : std::max(1u, options_.uploaders);
  for (unsigned i = 0; i < max_inflight_; ++i) {
    threads_.emplace_back([this] { UploaderLoop(); });
  }
}

bool PackWriter::Stopped() const {
  if (cancelled_.load()) return true;
  if (options_.stopped && options_.stopped()) return true;
  std::lock_guard lock(mu_);
  return error_.has_value();
}

std::optional<Error> PackWriter::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void PackWriter::SetError(const Error& e) {
  // The owner hears of the first error before anyone can see it: a Flush
  // or Finish that returns it never races a callback still running.
  {
    std::lock_guard lock(mu_);
    if (error_ || error_claimed_) return;
    error_claimed_ = true;
  }
  if (options_.on_error) options_.on_error(e);
  {
    std::lock_guard lock(mu_);
    error_ = e;
  }
  cv_.notify_all();
  upload_queue_.Cancel();
}

Buffer PackWriter::TakeBuffer(size_t min_size) {
  {
    std::lock_guard lock(mu_);
    while (!spare_buffers_.empty()) {
      Buffer b = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
      if (b.size() >= min_size) return b;
    }
  }
  return Buffer::Allocate(std::max<size_t>(min_size, options_.pack_size));
}

void PackWriter::SealBuffer() {
  if (buf_.empty()) return;
  if (buf_used_ > 0) pack_bytes_.Append(buf_.Slice(0, buf_used_));
  pack_buffers_.push_back(std::move(buf_));
  buf_ = Buffer();
  buf_used_ = 0;
}

Status PackWriter::FlushStage() {
  if (buf_used_ == 0) return OkStatus();
  Status st = pending_->Append({buf_.data(), buf_used_});
  if (!st) return Fail(st.error().Wrap("writing pack"));
  pending_bytes_ += buf_used_;
  buf_used_ = 0;
  return OkStatus();
}

Result<ChunkLocation> PackWriter::Append(const ChunkId& id, std::span<const uint8_t> frame,
                                         uint32_t length, Codec codec) {
  if (streaming_) {
    // A pack holds at most pack_size bytes of frames (one larger frame: a
    // pack of its own), as below, without holding them.
    if (pack_open_ && pending_bytes_ + buf_used_ > 0 &&
        pending_bytes_ + buf_used_ + frame.size() > options_.pack_size) {
      HB_TRY(ClosePack());
    }
    if (!pack_open_) {
      HB_ASSIGN_OR_RETURN(pending_, store_->BeginPut());
      pending_bytes_ = 0;
      open_pack_no_ = index_->AddPack(Hash256{});
      pack_open_ = true;
      if (buf_.size() < kStageBytes) buf_ = Buffer::Allocate(kStageBytes);
      buf_used_ = 0;
    }
    const uint64_t offset = pending_bytes_ + buf_used_;
    if (frame.size() >= kDirectBytes || buf_.size() - buf_used_ < frame.size()) {
      HB_TRY(FlushStage());
      if (frame.size() >= kDirectBytes || frame.size() > buf_.size()) {
        // Written from the caller's memory: a copy through the stage would
        // cost as much CPU as the write itself (13% of a put of data that
        // does not compress, whose frames are the input bytes).
        HB_TRY(pending_->Append(frame));
        pending_bytes_ += frame.size();
      }
    }
    if (pending_bytes_ + buf_used_ == offset) {
      std::memcpy(buf_.mutable_data() + buf_used_, frame.data(), frame.size());
      buf_used_ += frame.size();
    }
    ChunkLocation loc{open_pack_no_, static_cast<uint32_t>(frame.size()), offset, length, codec};
    pack_entries_.push_back(PackEntry{id, loc.offset, loc.stored_length, loc.length, loc.codec});
    index_->Insert(id, loc);
    if (pending_bytes_ + buf_used_ >= options_.pack_size) HB_TRY(ClosePack());
    return loc;
  }
  // A pack is one buffer of pack_size bytes: a frame that does not fit
  // closes the pack first (a frame larger than a pack gets a pack of its own).
  if (pack_open_ && buf_used_ > 0 && buf_.size() - buf_used_ < frame.size()) HB_TRY(ClosePack());
  if (!pack_open_) {
    open_pack_no_ = index_->AddPack(Hash256{});
    pack_open_ = true;
    buf_ = TakeBuffer(frame.size());
    buf_used_ = 0;
  }
  const uint64_t offset = buf_used_;
  ChunkLocation loc{open_pack_no_, static_cast<uint32_t>(frame.size()), offset, length, codec};
  pack_entries_.push_back(PackEntry{id, loc.offset, loc.stored_length, loc.length, loc.codec});
  std::memcpy(buf_.mutable_data() + buf_used_, frame.data(), frame.size());
  buf_used_ += frame.size();
  index_->Insert(id, loc);
  if (buf_used_ >= options_.pack_size) HB_TRY(ClosePack());
  return loc;
}

Status PackWriter::ClosePack() {
  if (!pack_open_) return OkStatus();
  PackJob job;
  if (streaming_) {
    HB_TRY(FlushStage());
    Buffer trailer = EncodePackTrailer(pack_entries_, pending_bytes_);
    job.id = Sha256Of(trailer.span());
    if (Status st = pending_->Append(trailer.span()); !st) {
      return Fail(st.error().Wrap("writing pack"));
    }
    job.size = pending_->size();
    job.pending = std::move(pending_);
    pending_bytes_ = 0;
  } else {
    SealBuffer();
    Buffer trailer = EncodePackTrailer(pack_entries_, pack_bytes_.size());
    job.id = Sha256Of(trailer.span());
    pack_bytes_.Append(std::move(trailer));
    job.size = pack_bytes_.size();
    job.bytes = std::move(pack_bytes_);
    job.buffers = std::move(pack_buffers_);
    pack_bytes_ = BufferChain();
    pack_buffers_.clear();
  }
  const Hash256 id = job.id;
  index_->SetPackId(open_pack_no_, id);
  job.entries = std::move(pack_entries_);
  pack_entries_.clear();
  pack_open_ = false;
  ++packs_;
  {
    std::unique_lock lock(mu_);
    while (inflight_ >= max_inflight_) {
      lock.unlock();
      if (Stopped()) {
        if (auto e = error()) return Fail(*e);
        return Fail(CancelledError(options_.what.c_str()));
      }
      lock.lock();
      cv_.wait_for(lock, kPollInterval);
    }
    ++inflight_;
    ++unrecorded_;
  }
  if (!upload_queue_.Push(std::move(job))) {
    if (auto e = error()) return Fail(*e);
    return Fail(CancelledError(options_.what.c_str()));
  }
  return OkStatus();
}

Status PackWriter::WriteIndexObject(std::vector<IndexEntry> entries) {
  if (entries.empty()) return OkStatus();
  HB_ASSIGN_OR_RETURN(const StoredIndexObject stored,
                      hugeblob::WriteIndexObject(*store_, std::move(entries)));
  stored_bytes_ += stored.bytes;
  return OkStatus();
}

Status PackWriter::RecordUploaded(const PackJob& job) {
  std::vector<IndexEntry> flush;
  {
    std::lock_guard lock(mu_);
    for (const PackEntry& e : job.entries) {
      index_pending_.push_back(
          IndexEntry{e.chunk, job.id, e.offset, e.stored_length, e.length, e.codec});
    }
    if (++index_pending_packs_ >= kPacksPerIndexObject) {
      flush.swap(index_pending_);
      index_pending_packs_ = 0;
    }
  }
  return WriteIndexObject(std::move(flush));
}

void PackWriter::UploaderLoop() {
  while (auto job = upload_queue_.Pop()) {
    if (Stopped()) return;
    Status st = job->pending ? job->pending->Commit(PackKey(job->id))
                             : store_->Put(PackKey(job->id), job->bytes);
    if (!st) {
      SetError(st.error().Wrap("writing pack"));
      return;
    }
    job->pending.reset();
    stored_bytes_ += job->size;
    ++packs_stored_;
    job->bytes = BufferChain();  // free the pack before letting another one in
    {
      std::lock_guard lock(mu_);
      --inflight_;
      // Reused only if nobody else kept a view (a store may keep the bytes
      // it was given, as the in-memory one does).
      for (Buffer& b : job->buffers) {
        if (b.use_count() == 1 && spare_buffers_.size() <= options_.uploaders) {
          spare_buffers_.push_back(std::move(b));
        }
      }
      job->buffers.clear();
    }
    cv_.notify_all();
    st = RecordUploaded(*job);
    if (!st) {
      SetError(st.error().Wrap("writing index"));
      return;
    }
    {
      std::lock_guard lock(mu_);
      --unrecorded_;
    }
    cv_.notify_all();
  }
}

Status PackWriter::Flush() {
  HB_TRY(ClosePack());
  {
    std::unique_lock lock(mu_);
    while (unrecorded_ > 0 && !error_) {
      lock.unlock();
      if (Stopped()) break;
      lock.lock();
      cv_.wait_for(lock, kPollInterval);
    }
  }
  if (auto e = error()) return Fail(*e);
  if (Stopped()) return Fail(CancelledError(options_.what.c_str()));
  std::vector<IndexEntry> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(index_pending_);
    index_pending_packs_ = 0;
  }
  Status st = WriteIndexObject(std::move(rest));
  if (!st) return Fail(st.error().Wrap("writing index"));
  return OkStatus();
}

Status PackWriter::Finish() {
  HB_TRY(Flush());
  // Packs a previous, interrupted run left unindexed get their index object
  // now, so the next load need not read their trailers again.
  Status st = WriteIndexObject(index_->TakeUnindexed());
  if (!st) return Fail(st.error().Wrap("writing index"));
  upload_queue_.Close();
  Join();
  return OkStatus();
}

void PackWriter::Cancel() {
  cancelled_.store(true);
  upload_queue_.Cancel();
  cv_.notify_all();
  Join();
}

void PackWriter::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace hugeblob
