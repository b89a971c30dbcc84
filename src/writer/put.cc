// The put pipeline:
//
//   read-ahead      read blocks (memory reserved first), one block ahead
//       |
//   reader thread   cut chunks (slices of the block, no copy), hand them on
//       |           in slots of ~512 KiB
//       v
//   workers (N)     per chunk: zero check, chunk id (BLAKE3, or SHA-256 in
//       |           stores made before), dedup probe; then every new chunk
//       |           of the slot compressed into one arena for the slot
//       v
//   assembler       in file order: content digest (a hash over the chunk
//       |           list, not the bytes), whole-file SHA-256 only with
//       |           --sha256, authoritative dedup, copy frames into the
//       |           open pack's reused buffer, close full packs
//       v
//   uploaders (U)   put packs; every 64 packs written, write an index object
//                   (the pack stages are the PackWriter, shared with copy)
//
// A slot carries several consecutive chunks so that the hand-offs between
// threads (a queue push, a pop and a wake-up each) are paid per ~512 KiB,
// not per chunk: at 32 KiB chunks they cost more CPU than the chunking.
//
// No per-chunk allocation: read blocks and slot arenas come from the reuse
// pool, pack buffers are recycled by the PackWriter, compression contexts
// are per thread. On this kind of VM a page fault costs more than the work
// it interrupts, and a fresh buffer per frame was one fault per 4 KiB.
//
// Backpressure: the order queue bounds slots in flight, the input budget
// bounds blocks read but not yet consumed, the upload queue bounds packs.
// Only the read-ahead thread blocks on the budget, and every later stage only releases
// memory, so the pipeline cannot deadlock on memory. The first error cancels
// every stage and is what the caller sees.
//
// A put holds a lock object (locks/put-...) from start to end so that gc does
// not run meanwhile, and before writing its manifest it checks that every
// pack it deduplicated against and did not write itself still exists
// (docs/gc.md). The ref is written last.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "chunking/chunker.h"
#include "codec/codec.h"
#include "format/index.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "format/pack.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/hugeblob.h"
#include "repo/manifests.h"
#include "repo/refs.h"
#include "util/bounded_queue.h"
#include "util/budget.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/xattrs.h"
#include "util/zeros.h"
#include "writer/chunk_index.h"
#include "writer/pack_writer.h"
#include "writer/store_lock.h"

namespace hugeblob {
namespace {

// The hash that names chunks in this store (format/layout.h).
Result<HashAlgo> StoreChunkHash(ObjectStore& store) {
  auto config = store.Get(kConfigKey);
  if (!config) {
    if (config.error().code() == ErrorCode::kNotFound) return HashAlgo::kBlake3;
    return Fail(config.error().Wrap("reading the store config"));
  }
  auto algo = ChunkHashOfConfig(config->view());
  if (!algo) return Fail(algo.error().Wrap("store config"));
  return *algo;
}

using Clock = std::chrono::steady_clock;

// Input bytes per slot: enough chunks to make a slot's hand-offs negligible,
// few enough that a 2 MiB read block feeds several workers.
constexpr size_t kSlotBytes = 512 * 1024;

// Holes at least this long are skipped without a read (chunking/chunker.h).
constexpr uint64_t kMinHole = kMinSkippedHole;

struct ChunkWork {
  Buffer input;  // uncompressed chunk (slice of a read block)
  bool zero = false;
  bool known = false;  // the index had it when the worker looked
  ChunkId id;
  uint32_t hole = 0;               // a hole of the file (zero, never read): its length; input empty
  Codec codec = Codec::kNone;      // of the frame, when encoded
  std::span<const uint8_t> frame;  // in the slot's arena; empty: stored raw (from input)
};

// Consecutive chunks of the file, filled by the reader, processed by one
// worker, consumed by the assembler in file order.
struct Slot {
  std::vector<ChunkWork> chunks;
  size_t bytes = 0;
  Buffer arena;  // the slot's compressed frames, back to back

  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;          // guarded by mu
  std::optional<Error> error;  // guarded by mu
};
using SlotPtr = std::shared_ptr<Slot>;

// The table entry the assembler builds; pack is a ChunkIndex pack_no until
// the manifest is encoded.
struct PendingFrame {
  uint32_t length = 0;
  bool zero = false;
  ChunkId chunk;
  ChunkLocation location;
};

class Input {
 public:
  ~Input() {
    if (fd_ > 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    if (path == "-") {
      fd_ = 0;
      label_ = "standard input";
      return OkStatus();
    }
    label_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Fail(ErrnoError(errno, "open " + path));
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Fail(ErrnoError(errno, "stat " + path));
    if (S_ISDIR(st.st_mode)) {
      return Fail(ErrorCode::kInvalidArgument, path + ": is a directory, not a file");
    }
    if (S_ISREG(st.st_mode)) {
      size_ = static_cast<uint64_t>(st.st_size);
      seekable_ = true;
      mode_ = static_cast<uint32_t>(st.st_mode);
      uid_ = st.st_uid;
      gid_ = st.st_gid;
      mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      ctime_ns_ = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
      ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    return OkStatus();
  }
  // Fills dst completely unless the input ends; returns bytes read.
  Result<size_t> ReadFull(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, dst + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Fail(ErrnoError(errno, "read " + label_));
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }
  uint64_t size() const { return size_; }
  // After reading `bytes_read` bytes of a regular file: empty if it is as
  // it was when opened (same size, modification and change times, every
  // byte read), else what changed. A file written to while it is read is
  // stored as neither version; only a stable file is a version of it.
  Result<std::string> ChangeSinceOpen(uint64_t bytes_read) const {
    if (!seekable_) return std::string();  // a stream is what it is
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Fail(ErrnoError(errno, "stat " + label_));
    const uint64_t now = static_cast<uint64_t>(st.st_size);
    std::string what;
    auto add = [&](const std::string& s) { what += (what.empty() ? "" : "; ") + s; };
    if (now != size_) {
      add("its size went from " + std::to_string(size_) + " to " + std::to_string(now) + " bytes");
    }
    if (bytes_read != size_) {
      add(std::to_string(bytes_read) + " of its " + std::to_string(size_) + " bytes were read" +
          (bytes_read < size_ ? " (it shrank)" : " (it grew)"));
    }
    const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    const int64_t ctime = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    if (mtime_ns_ && mtime != *mtime_ns_) add("its modification time changed");
    if (ctime != ctime_ns_) add("its change time (ctime) changed");
    return what;
  }
  const std::string& label() const { return label_; }
  bool seekable() const { return seekable_; }
  bool SeekTo(uint64_t pos) {
    return ::lseek(fd_, static_cast<off_t>(pos), SEEK_SET) == static_cast<off_t>(pos);
  }
  // The next data extent at or after `pos` (util/fs.h, NextDataExtent).
  std::optional<std::pair<uint64_t, uint64_t>> NextData(uint64_t pos, uint64_t min_hole) {
    return NextDataExtent(fd_, pos, size_, min_hole);
  }
  // Of a regular file; none for a stream.
  std::optional<uint32_t> mode() const { return mode_; }
  // put --owner and --xattrs: of a regular file; none for a stream.
  std::optional<FileOwner> owner() const {
    if (!mode_) return std::nullopt;
    return FileOwner{uid_, gid_};
  }
  // Read when the file is opened (a put that cannot record them fails
  // before uploading anything).
  Status LoadXattrs() {
    if (!mode_) return OkStatus();
    std::vector<std::string> skipped;
    HB_ASSIGN_OR_RETURN(auto read, ReadXattrs(fd_, label_, &skipped));
    if (!skipped.empty()) {
      std::string names;
      for (const std::string& n : skipped) names += (names.empty() ? "" : ", ") + n;
      return Fail(ErrorCode::kPermission, "put --xattrs: cannot read extended attributes " + names +
                                              " of " + label_ + " (not permitted for this user)");
    }
    std::vector<Xattr> out;
    for (auto& [name, value] : read) out.push_back(Xattr{std::move(name), std::move(value)});
    if (Status ok = CheckXattrs(out); !ok) {
      return Fail(ErrorCode::kInvalidArgument,
                  "put --xattrs " + label_ + ": " + ok.error().message());
    }
    xattrs_ = std::move(out);
    return OkStatus();
  }
  const std::optional<std::vector<Xattr>>& xattrs() const { return xattrs_; }
  std::optional<int64_t> mtime_ns() const { return mtime_ns_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;  // 0 when unknown (pipes)
  bool seekable_ = false;
  std::optional<uint32_t> mode_;
  uint32_t uid_ = 0, gid_ = 0;
  std::optional<std::vector<Xattr>> xattrs_;
  std::optional<int64_t> mtime_ns_;
  int64_t ctime_ns_ = 0;
  std::string label_;
};

class PutPipeline {
 public:
  PutPipeline(std::shared_ptr<ObjectStore> store, const PutOptions& options)
      : store_(std::move(store)), options_(options) {}

  Result<PutResult> Run(const std::string& path);

 private:
  Status Configure();
  // Fails (or, with allow_changing, notes in result_) when the input
  // changed while it was read.
  Result<PutResult> CheckInputStable();
  bool Stopped() const {
    return abort_.cancelled() || (options_.cancel != nullptr && options_.cancel->cancelled());
  }
  void SetError(Error e) {
    {
      std::lock_guard lock(error_mu_);
      if (!error_) error_ = std::move(e);
    }
    Abort();
  }
  void Abort() {
    abort_.Cancel();
    order_queue_->Cancel();
    work_queue_->Cancel();
    // Not pack_writer_->Cancel(): that joins the uploaders, and Abort may run
    // on one of them (through on_error). The writer polls Stopped() instead.
  }

  void ReaderLoop();
  // Reads, chunks and hands on up to `limit` bytes from the current input
  // position (a data island, or the rest of the input). False at the end of
  // the input or on an error or stop.
  bool ReadIsland(uint64_t limit);
  Status PushHole(uint64_t length);
  void WorkerLoop();
  void AssemblerLoop();
  // Feeds one chunk (in file order) to the whole-file hash and the frame
  // table, appending its frame to the open pack if the store lacks it.
  // False after an error (already recorded).
  bool AssembleChunk(ChunkWork& c);
  // Hands finished frames to the manifest writer (all: every one left).
  Status DrainFrames(bool all);
  Result<PutResult> Finish();

  std::shared_ptr<ObjectStore> store_;
  PutOptions options_;
  Input input_;

  // Configuration (set before threads start).
  Codec codec_ = Codec::kZstd;
  int level_ = 3;
  HashAlgo chunk_hash_ = HashAlgo::kBlake3;
  ChunkerParams chunker_params_;
  std::unique_ptr<Chunker> chunker_;
  unsigned threads_ = 2;
  unsigned uploaders_ = 1;
  size_t block_size_ = 0;
  std::shared_ptr<MemoryBudget> input_budget_;  // read blocks; the reader blocks on it
  std::shared_ptr<MemoryBudget> frame_budget_;  // compressed frames; accounting only
  std::unique_ptr<ChunkIndex> index_;
  std::unique_ptr<DedupConfirmer> dedup_;  // confirms index_'s entries from before this put
  uint32_t first_new_pack_ = 0;
  std::unique_ptr<PackWriter> pack_writer_;  // the open pack, uploaders, index objects

  CancelToken abort_;
  std::mutex error_mu_;
  std::optional<Error> error_;  // guarded by error_mu_

  std::unique_ptr<BoundedQueue<SlotPtr>> order_queue_;
  std::unique_ptr<BoundedQueue<SlotPtr>> work_queue_;

  // Assembler state (assembler thread only).
  std::optional<Sha256> whole_;  // with options_.sha256
  // Frames not yet handed to the manifest writer: the last one (a zero run
  // may still grow) and those in the pack still open (its id is unknown).
  std::deque<PendingFrame> frames_;
  std::unique_ptr<ManifestWriter> manifest_;
  std::unordered_set<uint32_t> reused_packs_;  // pack_nos of older packs this file uses
  uint64_t bytes_done_ = 0;
  uint64_t holes_read_skipped_ = 0;  // reader thread: hole bytes never read
  PutResult result_;
  Clock::time_point last_progress_{};
  // Stored bytes other than the PackWriter's (the manifest).
  uint64_t other_stored_bytes_ = 0;
};

Status PutPipeline::Configure() {
  HB_TRY(ValidateName(options_.name));
  HB_ASSIGN_OR_RETURN(codec_, ParseCodec(options_.codec));
  level_ = options_.level < 0 ? DefaultLevel(codec_) : options_.level;
  if (codec_ == Codec::kZstd && (level_ < 1 || level_ > 19)) {
    return Fail(ErrorCode::kInvalidArgument,
                "zstd level must be 1..19, got " + std::to_string(level_));
  }
  if (codec_ == Codec::kLz4 && level_ > 12) {
    return Fail(ErrorCode::kInvalidArgument,
                "lz4 level must be 0..12, got " + std::to_string(level_));
  }
  HB_ASSIGN_OR_RETURN(ChunkerKind kind, ParseChunkerKind(options_.chunker));
  uint64_t avg = options_.chunk_size == 0 ? ChunkerParams{}.avg_size : options_.chunk_size;
  if (avg > (16u << 20)) {
    return Fail(ErrorCode::kInvalidArgument,
                "chunk size must be at most 16M, got " + std::to_string(avg));
  }
  chunker_params_ = ChunkerParams::For(kind, static_cast<uint32_t>(avg));
  HB_TRY(ValidateChunkerParams(chunker_params_));
  chunker_ = MakeChunker(chunker_params_);

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  threads_ = options_.threads == 0 ? cores : options_.threads;
  if (threads_ > 256) return Fail(ErrorCode::kInvalidArgument, "at most 256 threads");

  // Memory plan: packs (the open one + those queued or uploading) take
  // pack_size each; read blocks take the rest, and at least two blocks are
  // needed so reading overlaps hashing.
  const uint64_t pack_size = options_.pack_size;
  if (pack_size < (1u << 20) || pack_size > (1ull << 30)) {
    return Fail(ErrorCode::kInvalidArgument, "pack size must be between 1M and 1G");
  }
  // Two maximal chunks read per block keeps the tail copied from block to
  // block small relative to the block, with few blocks in memory; the block
  // holds one more maximal chunk in front for that tail (ReadIsland).
  // Rounded up to whole huge pages (util/buffer.cc backs blocks of 2 MiB and
  // more with them), the rounding going to the read.
  constexpr size_t kHugePage = 2u << 20;
  block_size_ = static_cast<size_t>(chunker_->max_size()) +
                std::max<size_t>(2u << 20, 2 * static_cast<size_t>(chunker_->max_size()));
  block_size_ = (block_size_ + kHugePage - 1) / kHugePage * kHugePage;
  const uint64_t budget = options_.memory_budget;
  uploaders_ = 1;
  const uint64_t pack_budget = pack_size * (1 + uploaders_);
  if (budget < pack_budget + 2 * block_size_) {
    return Fail(ErrorCode::kInvalidArgument,
                "memory budget " + std::to_string(budget >> 20) + "M is too small for packs of " +
                    std::to_string(pack_size >> 20) + "M and chunks up to " +
                    std::to_string(chunker_->max_size() >> 10) + "K; need at least " +
                    std::to_string((pack_budget + 2 * block_size_ + (1 << 20) - 1) >> 20) + "M");
  }
  // Any budget left above two packs and four blocks buys more uploads in flight.
  while (uploaders_ < 8 && budget >= pack_size * (2 + uploaders_) + 4 * block_size_) ++uploaders_;
  // Blocks beyond what keeps every worker busy only add memory.
  const uint64_t max_input = std::max<uint64_t>(4, threads_ + 2) * block_size_;
  const uint64_t input_bytes = std::min(budget - pack_size * (1 + uploaders_), max_input);
  input_budget_ = MemoryBudget::Create(input_bytes);
  frame_budget_ = MemoryBudget::Create(budget);

  // Enough slots to keep every worker busy while the assembler waits on the
  // oldest, and no more: each slot past the assembler may hold a compressed
  // frame (up to a maximal chunk) that the input budget does not count.
  order_queue_ = std::make_unique<BoundedQueue<SlotPtr>>(2 * threads_ + 4);
  work_queue_ = std::make_unique<BoundedQueue<SlotPtr>>(threads_ + 2);
  return OkStatus();
}

Status PutPipeline::PushHole(uint64_t length) {
  // A hole is never read: zero chunks of up to kMaxZeroFrame each, which the
  // assembler merges into zero runs like any other zero chunk.
  while (length > 0) {
    auto slot = std::make_shared<Slot>();
    ChunkWork& c = slot->chunks.emplace_back();
    c.zero = true;
    c.hole = static_cast<uint32_t>(std::min<uint64_t>(length, kMaxZeroFrame));
    length -= c.hole;
    // Straight to the assembler: no worker has anything to do with it.
    {
      std::lock_guard lock(slot->mu);
      slot->ready = true;
    }
    if (!order_queue_->Push(slot)) return Fail(CancelledError("put"));
  }
  return OkStatus();
}

bool PutPipeline::ReadIsland(uint64_t limit) {
  // Reading overlaps cutting: a read-ahead thread reads the next block while
  // this thread cuts the current one (on a file already in the page cache
  // the read is a copy that costs a third of the cutting). A block leaves
  // room at its front for the tail of the block before it, the bytes after
  // the last cut, which are copied there so that every chunk is one slice
  // of one block.
  const size_t head = chunker_->max_size();  // a tail is shorter than a maximal chunk
  struct Piece {
    Buffer block;
    size_t got = 0;           // bytes read after the head
    bool end = false;         // the island ends with this piece
    bool short_read = false;  // the input ended before the island did
    std::optional<Error> error;
  };
  BoundedQueue<Piece> ahead(1);
  std::thread read_ahead([&] {
    uint64_t left = limit;
    while (!Stopped()) {
      // The input budget bounds blocks read but not yet consumed: this
      // thread is the only one that waits on it.
      auto reservation = input_budget_->Reserve(block_size_, &abort_);
      Piece piece;
      if (!reservation) {
        if (!Stopped()) piece.error = reservation.error();
        ahead.Push(std::move(piece));
        break;
      }
      // Reusable: a fresh mapping per block costs a page fault and a page
      // clear per 4 KiB (0.75 s of system time per GiB of input).
      piece.block = Buffer::AllocateReusable(block_size_, std::move(*reservation));
      const size_t want = static_cast<size_t>(std::min<uint64_t>(block_size_ - head, left));
      auto got = input_.ReadFull(piece.block.mutable_data() + head, want);
      if (!got) {
        piece.error = got.error();
        ahead.Push(std::move(piece));
        break;
      }
      piece.got = *got;
      left -= *got;
      piece.short_read = *got < want;
      piece.end = piece.short_read || left == 0;
      const bool end = piece.end;
      if (!ahead.Push(std::move(piece)) || end) break;
    }
    ahead.Close();
  });

  bool more = false;  // the island ended where it should: read on
  bool finished = false;
  Buffer carry;
  while (!finished) {
    std::optional<Piece> piece = ahead.Pop();
    if (!piece || Stopped()) break;
    if (piece->error) {
      SetError(std::move(*piece->error));
      break;
    }
    Buffer block = std::move(piece->block);
    size_t pos = head - carry.size();
    if (!carry.empty()) std::memcpy(block.mutable_data() + pos, carry.data(), carry.size());
    carry = Buffer();
    const size_t fill = head + piece->got;
    // The end of the file or of a data island: the chunker cuts there, so an
    // island chunks the same wherever it sits in the file.
    const bool eof = piece->end;
    // A slot never outlives its block's loop: the next block's reservation
    // may wait for memory that only the slots handed on can release.
    SlotPtr slot;
    bool pushed = true;
    auto push = [&] {
      pushed = order_queue_->Push(slot) && work_queue_->Push(slot);
      slot.reset();
      return pushed;
    };
    while (pos < fill) {
      size_t n = chunker_->NextCut({block.data() + pos, fill - pos}, eof);
      if (n == 0) break;
      if (!slot) slot = std::make_shared<Slot>();
      slot->chunks.emplace_back().input = block.Slice(pos, n);
      slot->bytes += n;
      pos += n;
      if (slot->bytes >= kSlotBytes && !push()) break;
    }
    if (slot) push();
    if (!pushed || Stopped()) break;
    if (eof) {
      more = !piece->short_read;  // false at the real end of the input
      finished = true;
      break;
    }
    carry = block.Slice(pos, fill - pos);
  }
  if (!finished) {
    // Stopped: wake the read-ahead thread wherever it waits (a full queue,
    // or the budget, which the stop cancels too).
    ahead.Cancel();
    Abort();
  }
  read_ahead.join();
  return more;
}

void PutPipeline::ReaderLoop() {
  // A regular file is read island by island: SEEK_DATA and SEEK_HOLE find
  // the data, holes become zero runs without a read. Holes shorter than
  // kMinHole are read like data (a 4 KiB hole would otherwise force a cut
  // and a tiny chunk); zero runs inside data are still found by the
  // workers' zero check. Where the file system cannot say (or for a
  // stream), the whole input is one island.
  uint64_t pos = 0;
  const uint64_t size = input_.size();
  bool sparse = input_.seekable() && size > 0;
  for (;;) {
    if (Stopped()) break;
    uint64_t island = UINT64_MAX;  // bytes to read before the next hole
    if (sparse) {
      auto extent = input_.NextData(pos, kMinHole);
      if (!extent) {
        sparse = false;  // not supported here: read everything
        if (!input_.SeekTo(pos)) {
          SetError(Error(ErrorCode::kIOError, "seek in " + input_.label()));
          break;
        }
      } else {
        const auto [data, data_end] = *extent;
        if (data > pos) {
          Status st = PushHole(data - pos);
          if (!st) {
            if (!Stopped()) SetError(st.error());
            break;
          }
          holes_read_skipped_ += data - pos;
          pos = data;
        }
        if (pos >= size) break;
        island = data_end - pos;
        if (!input_.SeekTo(pos)) {
          SetError(Error(ErrorCode::kIOError, "seek in " + input_.label()));
          break;
        }
      }
    }
    const bool more = ReadIsland(island);
    if (!more || !sparse) break;
    pos += island;
    if (pos >= size) break;
  }
  order_queue_->Close();
  work_queue_->Close();
}

void PutPipeline::WorkerLoop() {
  while (auto slot = work_queue_->Pop()) {
    Slot& s = **slot;
    std::optional<Error> error;
    // First the cheap part for every chunk (zero check, id, dedup probe), so
    // the arena is sized for the chunks that really need a frame.
    size_t arena_bytes = 0;
    for (ChunkWork& c : s.chunks) {
      if (Stopped()) break;  // the assembler stops at the error or the cancel
      if (IsAllZero(c.input.span())) {
        c.zero = true;
        continue;
      }
      c.id = ChunkHash(chunk_hash_, c.input.span());
      // Optimistic: the assembler makes the final call, in file order. An
      // entry from before this put is confirmed against its pack's trailer
      // first; one that lies is dropped from the index, and the chunk stored.
      c.known = false;
      if (auto loc = index_->Find(c.id)) {
        auto confirmed = dedup_->Confirm(c.id, *loc);
        if (!confirmed) {
          error = confirmed.error();
          break;
        }
        c.known = *confirmed;
      }
      if (!c.known) arena_bytes += FrameBound(codec_, c.input.size());
    }
    if (arena_bytes > 0 && !error && !Stopped()) {
      // Rounded up so that arenas of nearby slots are interchangeable in the
      // reuse pool.
      constexpr size_t kGrain = 256 * 1024;
      const size_t capacity = (arena_bytes + kGrain - 1) / kGrain * kGrain;
      s.arena = Buffer::AllocateReusable(capacity, frame_budget_->ForceReserve(capacity));
      size_t used = 0;
      for (ChunkWork& c : s.chunks) {
        if (c.zero || c.known || Stopped()) continue;
        std::span<uint8_t> dst(s.arena.mutable_data() + used, s.arena.size() - used);
        auto encoded = EncodeFrameInto(codec_, level_, c.input.span(), dst);
        if (!encoded) {
          error = encoded.error();
          break;
        }
        c.codec = encoded->codec;
        // Raw frames stay in the input block; the assembler copies them
        // straight into the pack.
        if (c.codec != Codec::kNone) {
          c.frame = std::span<const uint8_t>(dst.data(), encoded->size);
          used += encoded->size;
        }
      }
    }
    {
      std::lock_guard lock(s.mu);
      s.ready = true;
      s.error = std::move(error);
    }
    s.cv.notify_one();
  }
}

bool PutPipeline::AssembleChunk(ChunkWork& c) {
  const uint32_t length = c.hole > 0 ? c.hole : static_cast<uint32_t>(c.input.size());
  if (whole_) {
    // The one place a hole costs a pass: --sha256 hashes its zeros.
    if (c.hole > 0) {
      whole_->UpdateZeros(c.hole);
    } else {
      whole_->Update(c.input.span());
    }
  }
  bytes_done_ += length;
  ++result_.chunks;
  PendingFrame pf;
  pf.length = length;
  if (c.zero) {
    ++result_.zero_chunks;
    // Runs of zero chunks become one zero frame (up to kMaxZeroFrame).
    if (!frames_.empty() && frames_.back().zero &&
        frames_.back().length <= kMaxZeroFrame - length) {
      frames_.back().length += length;
      return true;
    }
    pf.zero = true;
  } else {
    pf.chunk = c.id;
    if (auto known = index_->Find(c.id)) {
      pf.location = *known;
      if (known->pack_no < first_new_pack_) result_.shared_bytes += length;
    } else {
      if (c.known) {
        // The worker saw it in the index, yet it is not there now. Cannot
        // happen (entries are never removed during a put), but a missing
        // frame must never turn into a missing chunk: store it raw.
        c.codec = Codec::kNone;
        c.frame = {};
      }
      // Appending copies the frame into the open pack, records the chunk in
      // the index and closes full packs (waiting for an upload slot: pack
      // memory stays bounded).
      auto loc = pack_writer_->Append(c.id, c.codec == Codec::kNone ? c.input.span() : c.frame,
                                      length, c.codec);
      if (!loc) {
        SetError(loc.error());
        return false;
      }
      pf.location = *loc;
      ++result_.new_chunks;
    }
  }
  frames_.push_back(pf);
  c = ChunkWork();  // the frame's memory goes back now, not with the slot
  if (Status st = DrainFrames(false); !st) {
    SetError(st.error());
    return false;
  }
  return true;
}

Status PutPipeline::DrainFrames(bool all) {
  // The manifest's frame table streams out in segments (repo/manifests.h),
  // so put never holds it whole: a frame goes once its pack has an id.
  while (!frames_.empty()) {
    const PendingFrame& pf = frames_.front();
    if (!all && (frames_.size() == 1 || (!pf.zero && pack_writer_->IsOpen(pf.location.pack_no)))) {
      break;
    }
    FrameRef f;
    f.length = pf.length;
    f.zero = pf.zero;
    Hash256 pack;
    if (!pf.zero) {
      f.chunk = pf.chunk;
      f.stored_offset = pf.location.offset;
      f.stored_length = pf.location.stored_length;
      f.codec = pf.location.codec;
      pack = index_->PackId(pf.location.pack_no);
      if (pf.location.pack_no < first_new_pack_) reused_packs_.insert(pf.location.pack_no);
    }
    HB_TRY(manifest_->Add(f, pack));
    frames_.pop_front();
  }
  return OkStatus();
}

void PutPipeline::AssemblerLoop() {
  while (auto popped = order_queue_->Pop()) {
    if (Stopped()) {
      Abort();
      return;
    }
    SlotPtr slot = std::move(*popped);
    {
      std::unique_lock lock(slot->mu);
      while (!slot->ready) {
        if (Stopped()) return;
        slot->cv.wait_for(lock, std::chrono::milliseconds(50));
      }
      if (slot->error) {
        SetError(*slot->error);
        return;
      }
    }
    if (Stopped()) return;  // the worker may have left the slot half done
    for (ChunkWork& c : slot->chunks) {
      if (!AssembleChunk(c)) return;
    }
    slot.reset();  // releases the input slices (and with the last ones, their blocks)

    if (options_.progress) {
      auto now = Clock::now();
      if (now - last_progress_ > std::chrono::milliseconds(200)) {
        last_progress_ = now;
        options_.progress(Progress{bytes_done_, input_.size(), pack_writer_->stored_bytes()});
      }
    }
  }
  if (Stopped()) return;
  Status st = pack_writer_->ClosePack();
  if (!st) SetError(st.error());
}

Result<PutResult> PutPipeline::Finish() {
  // Waits for the last packs, then index objects for the rest of the packs
  // written (and for packs a previous, interrupted put left unindexed).
  HB_TRY(pack_writer_->Finish());

  HB_TRY(DrainFrames(true));
  Manifest m;
  m.size = bytes_done_;
  if (whole_) m.sha256 = whole_->Finish();
  m.mode = input_.mode();
  m.mtime_ns = input_.mtime_ns();
  if (options_.owner) m.owner = input_.owner();
  if (options_.xattrs) m.xattrs = input_.xattrs();
  m.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  // gc never runs while this put holds its lock, but the lock is advisory (a
  // put stalled past the stale limit loses it): make sure nothing this
  // manifest relies on has been collected before publishing it.
  std::vector<Hash256> reused;
  for (uint32_t pack_no : reused_packs_) reused.push_back(index_->PackId(pack_no));
  HB_TRY(CheckPacksExist(*store_, reused, options_.cancel));
  HB_ASSIGN_OR_RETURN(Hash256 manifest_id, manifest_->Finish(m));
  other_stored_bytes_ += manifest_->stored_bytes();
  m.digest = manifest_->digest();

  result_.size = bytes_done_;
  result_.holes_skipped = holes_read_skipped_;
  result_.digest = m.digest->Hex();
  if (m.sha256) result_.sha256 = m.sha256->Hex();
  result_.chunk_hash = std::string(HashAlgoName(chunk_hash_));
  result_.manifest = manifest_id.Hex();
  result_.packs = pack_writer_->packs();
  result_.added_bytes = pack_writer_->stored_bytes() + other_stored_bytes_;
  result_.peak_buffer_bytes = input_budget_->peak() + frame_budget_->peak();

  Ref ref;
  ref.manifest = manifest_id;
  ref.size = m.size;
  ref.created_unix = m.created_unix;
  ref.added_bytes = result_.added_bytes;
  ref.shared_bytes = result_.shared_bytes;
  ref.data_bytes = manifest_->data_bytes();
  // The ref is written last: until here, a crash leaves only unreferenced
  // objects, which a rerun reuses and gc collects.
  HB_TRY(PublishVersion(*store_, options_.name, ref));
  if (options_.progress) options_.progress(Progress{bytes_done_, bytes_done_, result_.added_bytes});
  return result_;
}

Result<PutResult> PutPipeline::CheckInputStable() {
  HB_ASSIGN_OR_RETURN(std::string change, input_.ChangeSinceOpen(bytes_done_));
  if (change.empty()) return result_;
  if (!options_.allow_changing) {
    return Fail(ErrorCode::kIOError,
                "put " + options_.name + ": " + input_.label() +
                    " changed while it was being read (" + change +
                    "), so what was read is neither the old nor the new file; nothing was "
                    "published under '" +
                    options_.name +
                    "'. Put it again once nothing writes to it (the chunks read are kept and "
                    "reused), or pass --allow-changing to store what was read");
  }
  result_.changed_while_read =
      input_.label() + " changed while it was being read (" + change + "); stored as read";
  return result_;
}

Result<PutResult> PutPipeline::Run(const std::string& path) {
  HB_TRY(Configure());
  // Before anything is uploaded: a name that is also a folder of other names
  // (or under a name) is refused (repo/refs.h), for the library as for the CLI.
  HB_TRY(CheckNamePlacement(*store_, options_.name));
  HB_TRY(input_.Open(path));
  if (options_.xattrs) HB_TRY(input_.LoadXattrs());
  if (options_.sha256) whole_.emplace();
  // Held until Put returns, whatever happens (the destructor deletes it).
  HB_ASSIGN_OR_RETURN(auto store_lock,
                      StoreLock::Acquire(store_, LockKind::kPut, "put " + options_.name));
  HB_ASSIGN_OR_RETURN(chunk_hash_, StoreChunkHash(*store_));
  HB_ASSIGN_OR_RETURN(index_, ChunkIndex::Load(*store_, 8, options_.cancel));
  first_new_pack_ = index_->pack_count();
  dedup_ = std::make_unique<DedupConfirmer>(*store_, *index_, first_new_pack_);
  manifest_ = std::make_unique<ManifestWriter>(*store_, chunk_hash_, chunker_params_);

  PackWriterOptions pw;
  pw.pack_size = options_.pack_size;
  pw.uploaders = uploaders_;
  pw.stopped = [this] { return Stopped(); };
  pw.on_error = [this](const Error& e) { SetError(e); };
  pw.what = "put";
  pack_writer_ = std::make_unique<PackWriter>(store_, index_.get(), std::move(pw));
  pack_writer_->Start();

  std::vector<std::thread> threads;
  threads.emplace_back([this] { ReaderLoop(); });
  for (unsigned i = 0; i < threads_; ++i) threads.emplace_back([this] { WorkerLoop(); });
  AssemblerLoop();
  if (Stopped()) Abort();
  for (auto& t : threads) t.join();

  auto interrupted = [&] {
    return Fail(ErrorCode::kCancelled, "put " + options_.name + " interrupted; " +
                                           std::to_string(pack_writer_->packs_stored()) +
                                           " packs written are kept and a rerun resumes from them");
  };
  Result<PutResult> result;
  {
    std::lock_guard lock(error_mu_);
    if (error_) result = Fail(*error_);
  }
  if (result && options_.cancel != nullptr && options_.cancel->cancelled()) result = interrupted();
  if (result) result = CheckInputStable();
  if (result) result = Finish();
  if (!result && result.error().code() == ErrorCode::kCancelled && options_.cancel != nullptr &&
      options_.cancel->cancelled()) {
    result = interrupted();
  }
  // Uploads still running end before the lock goes: a gc must not start
  // while a pack of this put is being written.
  pack_writer_->Cancel();
  return result;
}

}  // namespace

Result<PutResult> Put(const std::shared_ptr<ObjectStore>& store, const std::string& path,
                      const PutOptions& options) {
  PutPipeline pipeline(store, options);
  return pipeline.Run(path);
}

}  // namespace hugeblob
