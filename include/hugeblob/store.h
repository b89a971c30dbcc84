// The storage boundary. An ObjectStore holds immutable objects under string
// keys ("packs/ab/ab12...", "refs/vm/2026-11-22"); everything above it works
// the same on a local directory, in memory, and on S3.
//
// Contract for every backend:
//  * Put and CompleteMultipart publish an object atomically: a reader sees
//    the whole new object or nothing (or the previous one), never a prefix.
//  * Keys are '/'-separated, relative, without "." or ".." components; the
//    store rejects anything else with kInvalidArgument.
//  * Errors name the key (and the bucket/path) and say whether a retry may
//    help (Error::retryable). Backends retry transient failures themselves;
//    a retryable error that reaches the caller means the retries ran out.
//  * Buffers passed in are only read during the call; the store keeps no
//    reference after it returns. Buffers returned are owned by the caller.
//  * All methods are thread-safe.
//
// Lifetimes: an ObjectStore is shared (std::shared_ptr): a Store, a File or a
// running operation holds it while it needs it. A program may implement
// ObjectStore itself (a backend, or a wrapper adding metrics or faults) and
// use it through Store::Wrap (hugeblob.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t mtime_unix = 0;  // seconds since the epoch; 0 if unknown
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  int64_t initiated_unix = 0;
};

// The bytes of one object that arrive piece by piece, with a key known only
// once they are all there (a pack is named by the hash of its trailer).
// Not thread-safe: one thread appends, then one thread (maybe another)
// commits. Destroying it uncommitted leaves nothing behind.
class PendingObject {
 public:
  virtual ~PendingObject() = default;
  virtual Status Append(std::span<const uint8_t> bytes) = 0;
  virtual uint64_t size() const = 0;
  // Stores the bytes under `key`, durably, like Put. At most once.
  virtual Status Commit(std::string_view key) = 0;
};

struct CompletedPart {
  int part_number = 0;  // 1-based
  std::string etag;
};

class ObjectStore {
 public:
  static constexpr uint64_t kToEnd = UINT64_MAX;

  virtual ~ObjectStore() = default;

  // A URL that reopens this store ("file:///srv/blobs", "s3://b/p").
  virtual std::string url() const = 0;

  virtual Status Put(std::string_view key, const BufferChain& data) = 0;
  Status Put(std::string_view key, const Buffer& data) { return Put(key, BufferChain(data)); }

  // Bytes [offset, offset + length) of the object; a range running past the
  // end is cut at the end. kNotFound if the key does not exist.
  virtual Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) = 0;
  Result<Buffer> Get(std::string_view key) { return GetRange(key, 0, kToEnd); }
  // GetRange into the caller's memory (a reused buffer): exactly dst.size()
  // bytes at `offset`, kCorruption if the object ends before. The default
  // goes through GetRange; the local store reads straight into dst.
  virtual Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst);
  // GetRangeInto where dst lies inside `owner`, which the store may keep
  // (a reference) until its read really ends: the local store abandons a
  // read that misses its deadline, and can read straight into dst only if
  // an abandoned read still writes into live memory. After an error, dst's
  // bytes may still change until then: the caller drops `owner` and does
  // not reuse it. The default is GetRangeInto.
  virtual Status GetRangeIntoBuffer(std::string_view key, uint64_t offset, const Buffer& owner,
                                    std::span<uint8_t> dst) {
    (void)owner;
    return GetRangeInto(key, offset, dst);
  }

  virtual Result<ObjectInfo> Head(std::string_view key) = 0;
  // Every object whose key starts with `prefix`, sorted by key.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Deleting a missing key succeeds.
  virtual Status Delete(std::string_view key) = 0;

  // Multipart uploads, for objects too large to send in one request. Every
  // part but the last is `part_size` bytes (the local store relies on it to
  // write parts in place); parts may be uploaded concurrently and in any
  // order. Every created upload must be completed or aborted.
  virtual Result<std::string> CreateMultipart(std::string_view key, uint64_t part_size) = 0;
  virtual Result<CompletedPart> UploadPart(std::string_view key, std::string_view upload_id,
                                           int part_number, const BufferChain& data) = 0;
  virtual Status CompleteMultipart(std::string_view key, std::string_view upload_id,
                                   const std::vector<CompletedPart>& parts) = 0;
  virtual Status AbortMultipart(std::string_view key, std::string_view upload_id) = 0;
  // Uploads that were started and neither completed nor aborted (for gc).
  virtual Result<std::vector<MultipartUpload>> ListMultipart(std::string_view prefix) = 0;

  // Temporary files that a writer killed mid-Put left behind (a local
  // store's tmp/put.*.tmp, and multipart data whose sidecar was never
  // written), last modified before `older_than_unix`: deleted, unless
  // `dry_run`. A live Put keeps its file for seconds, so any cutoff of
  // minutes or more is safe. Stores without such files report nothing; S3's
  // leftovers are multipart uploads (ListMultipart/AbortMultipart).
  struct TempCleanup {
    uint64_t files = 0;
    uint64_t bytes = 0;
  };
  virtual Result<TempCleanup> CleanTemporaries(int64_t older_than_unix, bool dry_run) {
    (void)older_than_unix;
    (void)dry_run;
    return TempCleanup{};
  }

  // Objects at least this large should go through multipart.
  virtual uint64_t multipart_threshold() const { return UINT64_MAX; }

  // Starts an object to be written as its bytes come (see PendingObject),
  // for stores that can do so without holding them: the local store writes
  // a temporary file, so a pack being filled costs page cache, not memory.
  // kUnsupported (the default) means: collect the bytes and call Put.
  virtual Result<std::unique_ptr<PendingObject>> BeginPut() {
    return Fail(ErrorCode::kUnsupported, "this store takes whole objects only");
  }
};

// Whether opening a store may create it. A store is made on purpose (init,
// or the first put or copy into it), never by a command that only reads.
enum class StoreOpenMode {
  kExisting,  // kNotFound "no store at URL" unless it has a config
  kCreate,    // an absent or empty directory/prefix is claimed (config written)
  kInit,      // as kCreate, but kAlreadyExists if it already is a store
};

// Opens a store by URL: a path or file:///path (local directory), mem://
// (in-memory, for tests; always a fresh, new store), s3://bucket/prefix (S3,
// when built with it). An empty url means the default store: $HUGEBLOB_STORE,
// else $XDG_DATA_HOME/hugeblob, else ~/.local/share/hugeblob. The one-argument
// form creates a missing store (kCreate).
Result<std::shared_ptr<ObjectStore>> OpenStore(std::string_view url, StoreOpenMode mode);
Result<std::shared_ptr<ObjectStore>> OpenStore(std::string_view url);
std::string DefaultStoreUrl();

}  // namespace hugeblob
