// hugeblob's public API. This header and the ones it includes are the whole
// of it: a program needs nothing else (install: include/hugeblob/, the
// static library libhugeblob.a, pkg-config `hugeblob` or CMake
// `find_package(hugeblob)`; docs/library.md).
//
//   auto store = hugeblob::Store::Open("/srv/blobs");        // or s3://bucket/prefix
//   auto file = store->OpenFile("vm/2026-11-22");            // hugeblob::File (reader.h)
//   (*file)->pread(offset, buffer);
//
// Store (below) opens a store by URL and does everything with it: put from a
// path, a file descriptor or a stream; get; list, stat, remove; verify; open
// a File for lazy random-access reads. The free functions further down do the
// same on any ObjectStore (store.h: a backend of your own, or a wrapper).
//
// Every call is synchronous and returns a Result (error.h); nothing throws.
// A CancelToken (cancel.h), when given, is polled so a call stops within a
// fraction of a second; progress callbacks report from a worker thread.
//
// Logging: the library reports what a user should know but is not an
// error (retries, skipped damage) as warnings on standard error. (Opening
// the first Store sets this up unless the program configured spdlog's
// default logger itself.)
//
// Thread safety: a Store and every call on it may be used from any number of
// threads at once, and several processes may use one store (puts of
// different names, reads, a get during a put). Lifetimes: the structs passed
// in are only read during the call (a ProgressFn and a CancelToken must
// outlive it); results are owned by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hugeblob/buffer.h"
#include "hugeblob/cancel.h"
#include "hugeblob/error.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"

namespace hugeblob {

// Progress of a long call, reported from a pipeline thread at most a few
// times a second (never concurrently with itself). `total` is 0 when unknown
// (a stream). The callback must not call back into the same operation.
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
  // Also record the file's owner (numeric uid and gid) and its extended
  // attributes (every one this process may read; more than the format's
  // bounds, docs/format.md, fails the put). Regular files only. A manifest
  // with either is format version 3 (older hugeblobs refuse to read it).
  bool owner = false;
  bool xattrs = false;
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
  // Directories whose regular files are all candidate seeds (no symbolic
  // links, no other file systems, none shorter than the minimum chunk;
  // closest in size first, scanned until every chunk is found or they have
  // added twice the file's size to the bytes read).
  std::vector<std::string> seed_dirs;
  // Update an existing regular file `out` where it stands, writing only the
  // ranges that differ, instead of restoring to a temporary file and
  // renaming it: for files too large to hold twice. Not atomic: if it is
  // interrupted, `out` holds a mix of old and new bytes, and running the
  // same get again finishes it (the same checks then apply). An `out` that
  // does not exist is restored the usual way. Seeds are used, and a
  // recorded SHA-256 is checked by reading the result back.
  bool in_place = false;
  // A file get restores is recorded (its chunk list, device, inode, size
  // and times, beside the disk cache: $XDG_CACHE_HOME/hugeblob/files). In
  // place, a target found unchanged since its record (the same size and
  // modification and change times to the nanosecond; the kernel moves the
  // change time on every write) is not read: the chunks the record lists
  // where the version wants them are left unread but for a sample
  // (GetResult::recorded_bytes), as restic, borg and git trust a file's
  // times; chunks moved within it are still read and checked.
  // verify_target: read and check every byte of it all the same, for damage
  // below the file system (a disk that rots, writes to the raw device).
  bool verify_target = false;
  // Give a restored file the permission bits and modification time put
  // recorded (a file, not standard output or a device).
  bool restore_metadata = true;
  // With restore_metadata, also give it the owner and the extended
  // attributes put recorded (put --owner, --xattrs), as far as this process
  // is permitted: changing the owner needs root (CAP_CHOWN), user.*
  // attributes anyone who can write the file, others what the kernel
  // allows. What cannot be restored leaves a warning in
  // GetResult::metadata_warnings; the restore of the bytes never fails for it.
  // In place, the target's user.* attributes that the version lacks are
  // removed too, so that it ends as a fresh restore would (other
  // namespaces, security labels and ACLs, belong to the system and stay).
  bool restore_owner = false;
  bool restore_xattrs = false;
  ReaderOptions reader;  // cache settings (get turns the disk cache off by default)
  ProgressFn progress;
  const CancelToken* cancel = nullptr;
};

struct GetResult {
  uint64_t size = 0;
  uint64_t holes = 0;                // bytes left as holes (all-zero chunks)
  uint64_t seeded_bytes = 0;         // bytes copied from seeds
  uint64_t seed_scanned_bytes = 0;   // seed bytes read and hashed to find them
  uint64_t seed_aligned_bytes = 0;   // of those, checked at the file's own offsets (not cut)
  uint64_t seed_changed_chunks = 0;  // seed chunks that no longer matched (fetched)
  uint64_t fetched_bytes = 0;        // stored bytes read from the store
  uint64_t store_requests = 0;       // ranged reads of packs
  uint64_t early_fetched_bytes = 0;  // of fetched_bytes: reads started while seeds were scanned
  uint64_t seed_files = 0;           // seed files scanned
  uint64_t cloned_bytes = 0;         // of seeded_bytes: shared extents (reflinks)
  uint64_t cached_bytes = 0;         // bytes read from the disk cache
  uint64_t in_place_bytes = 0;       // in_place: bytes already right, not written
  uint64_t held_bytes = 0;  // in_place: target chunks read first into memory (a cycle of moves)
  // in_place: of in_place_bytes, known from the target's record, not read
  uint64_t recorded_bytes = 0;
  uint64_t seed_recorded_files = 0;  // in_place: 1 if the target was known from its record
  uint64_t claim_waits = 0;          // chunks another process was fetching (then cached)
  bool owner_restored = false;       // restore_owner: the recorded owner was set
  uint64_t xattrs_restored = 0;      // restore_xattrs: attributes set
  uint64_t xattrs_removed = 0;       // restore_xattrs, in_place: user.* ones the version lacks
  // What restore_owner / restore_xattrs could not restore, and why.
  std::vector<std::string> metadata_warnings;
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
  std::optional<uint32_t> uid;      // owner, if recorded (put --owner)
  std::optional<uint32_t> gid;
  // Extended attributes (name, value), if recorded (put --xattrs); present
  // and empty: recorded, the file had none.
  std::optional<std::vector<std::pair<std::string, std::string>>> xattrs;
  std::string chunker;  // "cdc 64K/256K/1M" or "fixed 256K"
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

// --- A store by URL -------------------------------------------------------

struct StoreOptions {
  // kExisting: a missing store is kNotFound; kCreate makes it (as the first
  // put does); kInit makes it and fails if it exists.
  StoreOpenMode mode = StoreOpenMode::kExisting;
  // The caches behind this Store's Files (shared by all of them). The disk
  // cache (a directory shared with other processes) is off for a library
  // user unless set here.
  ReaderOptions reader = [] {
    ReaderOptions o;
    o.disk_cache = false;
    return o;
  }();
};

// A stream to put: fills `dst` with up to dst.size() bytes and returns how
// many, 0 at the end. Called from one thread (not the caller's) while
// PutStream runs, never concurrently with itself; an error fails the put and
// writes no name.
using ReadFn = std::function<Result<size_t>(std::span<uint8_t> dst)>;

// A handle on an open store: cheap to copy (copies share the store, its
// connection and caches). Thread-safe; see the top of this header.
class Store {
 public:
  // Opens the store at `url`: a path or file:///path (local directory),
  // s3://bucket/prefix (endpoint, region and credentials as the AWS CLI
  // takes them), mem:// (in memory, for tests); empty: the default store
  // (DefaultStoreUrl in store.h).
  static Result<Store> Open(std::string_view url, const StoreOptions& options = {});
  // A Store on an ObjectStore of the program's own (a backend, a wrapper).
  static Result<Store> Wrap(std::shared_ptr<ObjectStore> objects, const StoreOptions& options = {});

  std::string url() const;
  // The backend under this Store.
  const std::shared_ptr<ObjectStore>& objects() const;

  // Stores a file under options.name ("-": standard input). See Put above.
  Result<PutResult> Put(const std::string& path, const PutOptions& options) const;
  // Stores what `fd` holds: a regular file whole (from offset 0, holes
  // skipped, mode and mtime recorded, as by path), a pipe or socket read to
  // its end. `fd` stays the caller's (not closed).
  Result<PutResult> PutFd(int fd, const PutOptions& options) const;
  // Stores a stream of unknown length (see ReadFn), or a std::istream read
  // to its end (a read error fails the put).
  Result<PutResult> PutStream(const ReadFn& read, const PutOptions& options) const;
  Result<PutResult> PutStream(std::istream& in, const PutOptions& options) const;

  // Restores `name` to the local file `out` (see Get above).
  Result<GetResult> Get(const std::string& name, const std::string& out,
                        const GetOptions& options = {}) const;

  // Names (those starting with `prefix`), each with its newest version;
  // every version of one name, oldest first (see ListBlobs,
  // ListBlobVersions). A name in the calls below may be NAME (its newest
  // version), NAME@N or NAME@MANIFEST_PREFIX.
  Result<std::vector<BlobInfo>> List(const std::string& prefix = "") const;
  Result<std::vector<BlobInfo>> Versions(const std::string& name) const;
  Result<BlobStat> Stat(const std::string& name) const;
  // Every version of NAME, or the one NAME@N addresses; how many went.
  Result<size_t> Remove(const std::string& name) const;
  Result<VerifyReport> Verify(const VerifyOptions& options = {}) const;

  // Opens `name` for lazy random-access reads (reader.h). kNotFound if there
  // is no such name, kCorruption if its ref or manifest is damaged.
  Result<std::unique_ptr<File>> OpenFile(std::string_view name) const;
  // The counters of the caches behind this Store's Files.
  ReaderStats reader_stats() const;

 private:
  struct Impl;  // (the library's)
  explicit Store(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace hugeblob
