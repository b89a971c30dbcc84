// The repository layer's one home for reading stored frames: planning
// coalesced ranged reads, sizing them and the number in flight from what
// requests are measured to cost, reading a range with its length checked,
// and decoding and verifying each frame against its chunk id. get, copy,
// gc's repack, verify and the reader (its loads, its read-ahead and so the
// mount's sequential reads) all read frames through here.
//
// Why large requests, many in flight: a request to S3 costs tens of ms
// before its first byte (about 30 ms from a nearby region), so a request of
// 120 KiB spends almost all its time waiting. Requests of several MiB (the
// AWS CRT's S3 client uses 8 MiB parts by default; here a whole pack, about
// 16 MiB, when the memory budget allows) amortise that wait, and enough of
// them in flight (bandwidth x latency, in requests) hide it. The window is
// sized from the measured cost of requests (RequestCost), grows when the
// consumer finds the next request not yet done (the signal mountpoint-s3's
// prefetcher grows its window on), and is bounded by the memory budget.
//
// A read plan may read a few unneeded bytes between two wanted frames of a
// pack (max_gap) when that saves a request; those bytes are read and dropped.
// A cold random read asks for one frame and so still reads one frame.
//
// Thread-safety: the functions are safe to call concurrently on one store
// (every ObjectStore is thread-safe); RequestCost is thread-safe.
// Returned Buffers are owned by the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codec/codec.h"
#include "format/manifest.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"
#include "util/cancel.h"

namespace hugeblob {

class MemoryBudget;

// What one request to the store costs, learnt from the requests themselves:
// a fit of duration = latency + bytes / bandwidth over the last kSamples
// ranged GETs (least squares). On loopback the latency is a fraction of a
// millisecond; on S3 it is tens of ms, and a request should then carry
// several MiB, or the connection spends most of its time waiting.
//
// Thread-safe (one mutex; a few per request, never on the warm path).
class RequestCost {
 public:
  static constexpr size_t kSamples = 64;

  void Record(uint64_t bytes, double seconds);

  // Bytes one connection moves in the time a request waits for its first
  // byte (latency x bandwidth): below that a request is mostly waiting. 0
  // until there are at least 4 samples whose sizes differ by 1.5x or more.
  // When bigger requests are not measurably slower (loopback transfer under
  // a 20 ms wait), the latency is what the smallest requests cost and the
  // break-even size is huge: as large as a caller allows.
  uint64_t BreakEvenBytes() const;
  double latency_seconds() const;   // 0 if unknown
  double bytes_per_second() const;  // 0 if unknown (per request, not in total)
  // The latency alone, known from the first request on: the least time a
  // recent request took (small requests are nearly all latency; a large
  // one is an upper bound). 0 before any request.
  double min_seconds() const;

 private:
  void Fit(double* latency, double* bandwidth) const;  // holds mu_

  mutable std::mutex mu_;
  struct Sample {
    double bytes;
    double seconds;
  };
  Sample samples_[kSamples] = {};  // guarded by mu_
  size_t count_ = 0;               // guarded by mu_: samples recorded, ever
};

// One stored frame as the planner and the decoder see it, whatever lists it
// (a manifest's frame table, an index, a pack trailer).
struct StoredFrame {
  uint32_t pack = 0;    // the caller's number for the pack (only equality matters)
  uint64_t offset = 0;  // of the frame in the pack
  uint32_t stored_length = 0;
  uint32_t length = 0;  // decoded
  Codec codec = Codec::kNone;
  ChunkId chunk;
  HashAlgo hash = HashAlgo::kBlake3;  // what `chunk` is
};

inline StoredFrame StoredOf(const FrameRef& f) {
  return StoredFrame{f.pack, f.stored_offset, f.stored_length, f.length, f.codec, f.chunk, f.hash};
}

// One ranged GET of the plan: bytes [begin, end) of pack `pack`, holding
// the frames at positions [first, last) of the planned order.
struct PlannedRead {
  uint32_t pack = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t first = 0;
  size_t last = 0;
  uint64_t bytes() const { return end - begin; }
};

// Puts `order` (positions into `frames`) in reading order: by pack, then
// offset; stable, so a frame listed twice keeps its order.
void SortForReading(std::span<const StoredFrame> frames, std::vector<size_t>* order);

// Plans the reads of the frames at `order` (in reading order, see
// SortForReading). Frames of one pack join one read while each starts at
// most `max_gap` bytes after the end of the read so far (those bytes are read
// and dropped; 0 joins only back-to-back frames; a frame listed twice, or
// overlapping, joins too and is read once). A stretch longer than
// `max_request` is cut at frames into ceil(span / max_request) reads of
// about equal size (16.3 MiB under an 8 MiB cap: three of ~5.4 MiB, not 8 +
// 8 + 0.3), so they finish together; a frame larger than the cap is a read
// of its own.
std::vector<PlannedRead> PlanReads(std::span<const StoredFrame> frames,
                                   std::span<const size_t> order, uint64_t max_request,
                                   uint64_t max_gap);

// The same over a manifest's frame table, without a copy of it (a 100 GB
// file has millions of frames): `order` holds frame indices (no zero frames).
void SortForReading(std::span<const FrameRef> frames, std::vector<size_t>* order);
std::vector<PlannedRead> PlanReads(std::span<const FrameRef> frames, std::span<const size_t> order,
                                   uint64_t max_request, uint64_t max_gap);

// How to read from a store: the largest request, the bytes worth reading
// and dropping to save a request, and the requests to keep in flight.
struct ReadShape {
  uint64_t max_request = 8ull << 20;
  uint64_t max_gap = 0;
  unsigned window = 2;
};

// The shape for reading about `total` stored bytes whose packs are about
// `pack_bytes` each (0: unknown), holding at most `memory` bytes of requests
// in flight, with `cost` as measured so far (may be null or still empty):
// - max_request: a whole pack when `memory` holds `min_window` of them,
//   else memory / min_window, at least 1 MiB;
// - window: the bandwidth-delay product in requests, ceil(latency x
//   bandwidth / max_request) + 1 (a request then starts as the one before
//   reaches its last byte), at least `min_window`, at most what `memory`
//   holds and `max_window`; `min_window` while the cost is unknown;
// - max_gap: half the break-even bytes (reading them costs less than the
//   request they save), at most 1/8 of max_request; 64 KiB while unknown.
ReadShape ShapeReads(const RequestCost* cost, uint64_t total, uint64_t pack_bytes, uint64_t memory,
                     unsigned min_window, unsigned max_window);

// Names a frame in errors: "<pack_key> offset N (M bytes, chunk abc123)".
std::string FrameWhere(const StoredFrame& f, std::string_view pack_key);

// Decodes `stored` (the frame f, f.stored_length bytes) into `out` (exactly
// f.length bytes) and checks the bytes against f.chunk (hashed with f.hash,
// then `also` if given: a pack does not say which hash names its chunks).
// Errors are kCorruption naming the pack and the frame.
Status DecodeVerifiedInto(const StoredFrame& f, std::span<const uint8_t> stored,
                          std::span<uint8_t> out, std::string_view pack_key,
                          const HashAlgo* also = nullptr);

// The decoded, verified bytes of a frame: `stored` itself for a raw frame,
// else `*scratch` (grown as needed, reused across calls).
Result<std::span<const uint8_t>> DecodeVerifiedView(const StoredFrame& f,
                                                    std::span<const uint8_t> stored,
                                                    std::vector<uint8_t>* scratch,
                                                    std::string_view pack_key,
                                                    const HashAlgo* also = nullptr);

// The same in the caller's memory: `scratch` holds at least f.length bytes
// (only a compressed frame is decoded into it; kInternal if it is short).
Result<std::span<const uint8_t>> DecodeVerifiedView(const StoredFrame& f,
                                                    std::span<const uint8_t> stored,
                                                    std::span<uint8_t> scratch,
                                                    std::string_view pack_key,
                                                    const HashAlgo* also = nullptr);

// The decoded, verified bytes of a frame in a new buffer of its own (never
// a slice of the request, which would pin the whole request wherever the
// chunk is kept), its memory accounted to `live` if given.
Result<Buffer> DecodeVerified(const StoredFrame& f, std::span<const uint8_t> stored,
                              std::string_view pack_key, MemoryBudget* live);

// One ranged GET of `read` from `pack_key`, its size and duration recorded
// in `cost` (if given). A response of any other length than asked (a
// truncated object, or a server that ignores or misreads the Range) is
// kCorruption naming the pack and the range; a missing pack is kCorruption
// ("pack is missing"), since something that should be there refers to it.
Result<Buffer> ReadRange(ObjectStore& store, std::string_view pack_key, const PlannedRead& read,
                         RequestCost* cost);
// The same into `dst` (read.bytes() long) inside `owner` (see
// ObjectStore::GetRangeIntoBuffer): a reused buffer, no allocation.
Status ReadRangeInto(ObjectStore& store, std::string_view pack_key, const PlannedRead& read,
                     const Buffer& owner, std::span<uint8_t> dst, RequestCost* cost);

// ---- fetching many frames in order with a window of requests in flight ----

struct WindowOptions {
  unsigned threads = 4;     // GETs (and decodes) in parallel, at least
  unsigned min_window = 2;  // requests in flight at the start and at least
  unsigned max_window = 4;  // at most (what the memory budget allows)
  // true: each frame handed to the sink is a private copy (the sink may keep
  // it for long without pinning a whole request). false: a slice of the
  // request's buffer (shared ownership, still safe to keep, but it holds the
  // whole request in memory): for a sink that copies what it keeps, such as
  // PackWriter::Append, this halves the memory of a request.
  bool private_copies = true;
  // true: the sink gets the stored (compressed) bytes of each frame, after
  // they were decoded and verified; false: the decoded bytes.
  bool stored_bytes = true;
  const CancelToken* cancel = nullptr;
  RequestCost* cost = nullptr;  // records every request (may be null)
};

// Bytes a window may hold at once: every request of the full window, twice
// with private copies (the range read, then the frames copied out of it).
inline uint64_t WindowMemory(const WindowOptions& o, uint64_t max_request) {
  return (o.private_copies ? 2ull : 1ull) * o.max_window * max_request;
}

// What a fetch did: requests, bytes read (gaps included), and the window.
struct WindowStats {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  unsigned final_window = 0;
  unsigned max_window_used = 0;
  uint64_t stalls = 0;  // times the sink waited for the oldest request
};

// Reads `reads` (planned over `frames` in `order`; pack_keys[read.pack]
// names each pack) and calls sink(frame position in `order`, bytes) for
// every frame, in plan order, on the calling thread. The first error (a
// failed GET, a frame that does not decode or does not match its chunk id,
// naming the pack and offset) or sink error stops everything and is
// returned.
//
// The window starts at min_window, or at the bandwidth-delay product of
// `cost` if already measured, and adapts: every time the sink finds the
// oldest request still running (the store is slower than the sink, so
// requests must start earlier) it doubles, up to max_window; after 8
// requests in a row that were done before the sink came for them, it
// shrinks by one, down to min_window (memory the sink does not need).
Status FetchInOrder(ObjectStore& store, std::span<const std::string> pack_keys,
                    std::span<const StoredFrame> frames, std::span<const size_t> order,
                    std::span<const PlannedRead> reads, const WindowOptions& options,
                    const std::function<Status(size_t, const Buffer&)>& sink,
                    WindowStats* stats = nullptr);

// Frames to read from packs named by their ids (copy, gc's repack): each
// pack gets a number in the order it is first added.
struct FrameList {
  std::vector<StoredFrame> frames;
  std::vector<std::string> pack_keys;  // by StoredFrame::pack
  std::unordered_map<Hash256, uint32_t, Hash256Hasher> numbers;

  void Add(const Hash256& pack, const FrameRef& f);
  uint64_t stored_bytes() const;
};

// Reads every frame of `list` with FetchInOrder, in reading order (by pack,
// then offset), planned with shape.max_request and shape.max_gap, the window
// within [options.min_window, options.max_window]; sink(frame, bytes).
Status FetchFrames(ObjectStore& store, const FrameList& list, const ReadShape& shape,
                   const WindowOptions& options,
                   const std::function<Status(const StoredFrame&, const Buffer&)>& sink,
                   WindowStats* stats = nullptr);

}  // namespace hugeblob
