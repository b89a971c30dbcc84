// hugeblob's public API: store a file (Put), give it back whole (Get), and
// inspect or check a store. Lazy reads are in reader.h, stores in store.h.
//
// Every call is synchronous and returns a Result; a CancelToken, when given,
// is polled so Ctrl-C stops work within a fraction of a second. Calls on one
// store may run concurrently from several threads or processes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hugeblob/error.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"

namespace hugeblob {

class CancelToken;

// Progress of a long call, reported from a pipeline thread at most a few
// times a second. `total` is 0 when unknown (stdin).
struct Progress {
  uint64_t done = 0;
  uint64_t total = 0;
  uint64_t stored = 0;  // bytes written to the store so far
};
using ProgressFn = std::function<void(const Progress&)>;

struct PutOptions {
  std::string name;                      // the ref to write
  std::string codec = "zstd";            // zstd | lz4 | none
  int level = -1;                        // -1: the codec's default
  std::string chunker = "cdc";           // cdc | fixed
  uint64_t chunk_size = 0;               // average (cdc) or exact (fixed) size; 0: default
  unsigned threads = 0;                  // hash/compress workers; 0: one per core
  uint64_t memory_budget = 48ull << 20;  // peak bytes of data buffers in flight
  uint64_t pack_size = 16ull << 20;      // target pack object size
  // Also record the SHA-256 of the whole file (one more pass over every
  // byte, holes included, on the pipeline's ordering thread), for comparing
  // with published digests. The content digest is always recorded.
  bool sha256 = false;
  // A regular file that changes while it is read (size, modification or
  // change time, or fewer or more bytes than its size) fails the put and
  // nothing is published; with allow_changing, what was read is stored and
  // PutResult::changed_while_read says what changed.
  bool allow_changing = false;
  ProgressFn progress;
  const CancelToken* cancel = nullptr;
};

struct PutResult {
  std::string manifest;    // id of the manifest written, hex
  uint64_t size = 0;       // bytes read
  std::string digest;      // content digest (BLAKE3 over the chunk list), hex
  std::string sha256;      // of the whole file, hex; empty unless options.sha256
  std::string chunk_hash;  // "blake3" or "sha256" (the store's)
  uint64_t chunks = 0;
  uint64_t zero_chunks = 0;        // all-zero chunks (not stored)
  uint64_t holes_skipped = 0;      // bytes of holes found by SEEK_HOLE, never read
  uint64_t new_chunks = 0;         // chunks written by this put
  uint64_t added_bytes = 0;        // stored bytes this put added (frames + trailers)
  uint64_t shared_bytes = 0;       // uncompressed bytes the store already held
  uint64_t packs = 0;              // pack objects written
  uint64_t peak_buffer_bytes = 0;  // high-water mark of the memory budget
  // Non-empty when the file changed while it was read (allow_changing).
  std::string changed_while_read;
};

// Stores `path` ("-" reads standard input as a stream of unknown length)
// under options.name. The ref is written last: on any failure or
// cancellation no ref is written and rerunning the same put resumes,
// skipping every chunk that reached the store.
Result<PutResult> Put(const std::shared_ptr<ObjectStore>& store, const std::string& path,
                      const PutOptions& options);

// Whether `name` can take a new version in `store`: a valid name without
// '@' (NAME@N addresses versions), and not a file and a folder at once (no
// "a" when putting "a/b", no "a/..." when putting "a"). The CLI runs it
// before put uploads anything; Put checks again when it publishes.
Status CheckPutName(const std::shared_ptr<ObjectStore>& store, const std::string& name);

struct GetOptions {
  bool force = false;  // replace an existing output file (only ever a regular file)
  // Write into an existing block or character device or FIFO named as the
  // output, in order and zeros included, instead of refusing it. Never
  // replaces the node itself.
  bool to_device = false;
  unsigned threads = 0;  // parallel fetch/decode; 0: default
  uint64_t memory_budget = 64ull << 20;
  // Local files to take chunks from instead of the store (an older version,
  // a copy): cut like put cuts, every chunk checked against its id when
  // used. With seed_target, an existing output (replaced with force) is the
  // first seed. Not used for a file with a recorded SHA-256, nor for
  // standard output or a device.
  std::vector<std::string> seeds;
  bool seed_target = true;
  // Give a restored file the permission bits and modification time put
  // recorded (a file, not standard output or a device).
  bool restore_metadata = true;
  ReaderOptions reader;  // cache settings (get turns the disk cache off by default)
  ProgressFn progress;
  const CancelToken* cancel = nullptr;
};

struct GetResult {
  uint64_t size = 0;
  uint64_t holes = 0;                // bytes left as holes (all-zero chunks)
  uint64_t seeded_bytes = 0;         // bytes copied from seeds
  uint64_t seed_scanned_bytes = 0;   // seed bytes read and hashed to find them
  uint64_t seed_changed_chunks = 0;  // seed chunks that no longer matched (fetched)
  uint64_t fetched_bytes = 0;        // stored bytes read from the store
  uint64_t store_requests = 0;       // ranged reads of packs
};

// Restores `name` to `out` ("-" writes standard output). Checks free space
// first (the bytes that will really be written, holes excluded, + 10%),
// writes a temporary file beside `out` (".OUT.hugeblob.<pid>.<rnd>.tmp"),
// verifies every chunk, the content digest over the chunks in the order
// written, and the whole-file SHA-256 when one was recorded; fsyncs, then
// renames. On failure nothing is left under `out` and no temporary file
// remains; temporary files of earlier gets of `out` by processes that no
// longer exist (killed) are removed first. An existing `out` is replaced only
// if it is a regular file and options.force is set: a symlink, a directory,
// a device or a FIFO is refused (a device or FIFO is written into with
// options.to_device).
Result<GetResult> Get(const std::shared_ptr<ObjectStore>& store, const std::string& name,
                      const std::string& out, const GetOptions& options);

// --- Inspecting a store --------------------------------------------------

struct BlobInfo {
  std::string name;  // as stored: may hold bytes a valid name may not (escape to print)
  // Non-empty: the ref could not be read or decoded (the message says why);
  // the fields below are then unset. ListBlobs reports such refs instead of
  // failing, so one damaged ref does not hide the others.
  std::string error;
  uint64_t size = 0;
  int64_t created_unix = 0;
  std::string manifest;       // hex id
  uint64_t added_bytes = 0;   // stored bytes its put added
  uint64_t shared_bytes = 0;  // bytes its put found already stored
  uint32_t version = 0;       // which version this is (1 = the oldest)
  uint32_t versions = 0;      // how many versions the name has
};

// Every name in the store (or those starting with `prefix`), sorted, each
// with its newest version; damaged refs have `error` set.
Result<std::vector<BlobInfo>> ListBlobs(const std::shared_ptr<ObjectStore>& store,
                                        const std::string& prefix = "");
// Every version of `name`, oldest first (damaged ones have `error` set).
// kNotFound if the name has none.
Result<std::vector<BlobInfo>> ListBlobVersions(const std::shared_ptr<ObjectStore>& store,
                                               const std::string& name);

struct BlobStat {
  BlobInfo info;
  std::string chunk_hash;           // "blake3" (new stores) or "sha256"
  std::string digest;               // content digest, hex; empty for files stored before it existed
  std::string sha256;               // whole-file SHA-256, hex; empty unless recorded (put --sha256)
  std::optional<uint32_t> mode;     // file type and permission bits, if recorded
  std::optional<int64_t> mtime_ns;  // modification time, if recorded
  std::string chunker;              // "cdc 64K/256K/1M" or "fixed 256K"
  uint64_t chunks = 0;
  uint64_t zero_chunks = 0;
  uint64_t unique_chunks = 0;   // distinct non-zero chunks
  uint64_t unique_bytes = 0;    // their uncompressed size
  uint64_t stored_bytes = 0;    // their compressed size
  uint64_t packs = 0;           // pack objects referenced
  uint64_t manifest_bytes = 0;  // encoded manifest size
};
Result<BlobStat> StatBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name);

// Removes every version of NAME, or the one NAME@N / NAME@MANIFEST_PREFIX
// addresses (its ref object). The data stays until `gc` finds it
// unreferenced. Works on a damaged ref, and on a ref stored under a name the
// CLI would refuse, as long as the key stays inside the store's ref folders.
// Returns how many versions were removed.
Result<size_t> RemoveBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name);

struct VerifyOptions {
  std::string name;  // empty: the whole store
  unsigned threads = 0;
  ProgressFn progress;
  const CancelToken* cancel = nullptr;
};

struct VerifyReport {
  uint64_t objects = 0;               // objects read
  uint64_t frames = 0;                // frames decoded and hashed
  uint64_t bytes = 0;                 // bytes read from the store
  std::vector<std::string> problems;  // one line per corrupt or missing object
  // Objects that could not be read for a reason that is not damage
  // (permission denied, an I/O error, a timeout): not checked.
  std::vector<std::string> errors;
};

// Re-reads every object of a name (ref, manifest, every frame it uses), or of
// the whole store (every ref, manifest, index and pack), and reports each
// corrupt or missing object by name. An error result means verify itself
// could not run (e.g. the store is unreachable); problems found are in the
// report.
Result<VerifyReport> Verify(const std::shared_ptr<ObjectStore>& store,
                            const VerifyOptions& options);

}  // namespace hugeblob
