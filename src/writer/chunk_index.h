// The set of chunks a store already holds, and where: loaded from every
// index object, plus the trailers of packs no index object covers yet (left
// by a put that was interrupted before it wrote its index), so a rerun never
// writes a stored chunk again. Entries of index objects that name a pack no
// longer in the store (gc crashed between its steps) are ignored.
//
// Packs are referred to by a small local number (pack_no) so entries stay
// compact and a pack still being assembled can be referenced before its id is
// known. Thread-safe: workers probe Contains() while the assembler inserts.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/codec.h"
#include "format/index.h"
#include "format/pack.h"
#include "hash/sha256.h"
#include "hugeblob/store.h"
#include "repo/packs.h"
#include "util/cancel.h"

namespace hugeblob {

struct ChunkLocation {
  uint32_t pack_no = 0;
  uint32_t stored_length = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  Codec codec = Codec::kNone;
};

class ChunkIndex {
 public:
  ChunkIndex() = default;

  // Reads every index object and re-indexes uncovered packs. `threads`
  // objects are fetched in parallel.
  static Result<std::unique_ptr<ChunkIndex>> Load(ObjectStore& store, unsigned threads,
                                                  const CancelToken* cancel);

  // Registers a pack (id may be unknown yet: set it with SetPackId).
  uint32_t AddPack(const Hash256& id);
  void SetPackId(uint32_t pack_no, const Hash256& id);
  Hash256 PackId(uint32_t pack_no) const;
  uint32_t pack_count() const;

  bool Contains(const ChunkId& id) const;
  std::optional<ChunkLocation> Find(const ChunkId& id) const;
  // Keeps the first location if the chunk is already known.
  void Insert(const ChunkId& id, const ChunkLocation& location);
  // Removes the entry of `id` if it still is `location` (an entry found to
  // lie); true if it did.
  bool Forget(const ChunkId& id, const ChunkLocation& location);
  size_t size() const;

  // Entries of packs that Load found without an index object; the next put
  // writes an index object for them.
  std::vector<IndexEntry> TakeUnindexed();

 private:
  void InsertLocked(const ChunkId& id, const ChunkLocation& location);
  uint32_t PackNoLocked(const Hash256& id);

  mutable std::shared_mutex mu_;
  std::unordered_map<ChunkId, ChunkLocation, Hash256Hasher> chunks_;   // guarded by mu_
  std::vector<Hash256> packs_;                                         // guarded by mu_
  std::unordered_map<Hash256, uint32_t, Hash256Hasher> pack_numbers_;  // guarded by mu_
  std::vector<IndexEntry> unindexed_;                                  // guarded by mu_
};

// Confirms the index entries a writer deduplicates against, so that an
// entry that lies (a bug, or a damaged index object: it names a pack that
// lacks the chunk, or the wrong offset or length) never becomes a manifest
// that get cannot restore. Each pack's trailer (checked against the pack's
// id) is read once, by the first thread that needs it (others wait for it),
// and its entries are kept for the next chunks of that pack: up to
// kMaxCachedEntries entries in all, the packs loaded first dropped first.
// Thread-safe.
class DedupConfirmer {
 public:
  static constexpr size_t kMaxCachedEntries = 1 << 16;  // ~3.5 MiB

  // Packs numbered from `first_unchecked` on are being written by this
  // writer, whose entries come from its own trailers: not checked.
  DedupConfirmer(ObjectStore& store, ChunkIndex& index, uint32_t first_unchecked)
      : store_(store), index_(index), first_unchecked_(first_unchecked) {}

  // Whether the pack of `location` really holds `id` there (same offset,
  // lengths and codec). False when it does not, or the pack is gone or its
  // trailer damaged: the entry is removed from the index and a warning
  // logged (once per pack), and the caller stores the chunk itself. An
  // error only when the store cannot be read (I/O, network, cancellation).
  Result<bool> Confirm(const ChunkId& id, const ChunkLocation& location);

  uint64_t trailers_read() const { return trailers_read_.load(std::memory_order_relaxed); }
  uint64_t entries_dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Pack {
    std::mutex mu;
    bool loaded = false;              // guarded by mu
    std::string damage;               // guarded by mu: why no entry of it can be trusted
    std::vector<PackEntry> entries;   // guarded by mu: sorted by offset
    std::atomic<bool> warned{false};  // one warning per pack
  };
  std::shared_ptr<Pack> PackSlot(uint32_t pack_no);

  ObjectStore& store_;
  ChunkIndex& index_;
  const uint32_t first_unchecked_;
  std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<Pack>> packs_;  // guarded by mu_
  std::deque<std::pair<uint32_t, size_t>> load_order_;         // guarded by mu_: pack_no, entries
  size_t cached_entries_ = 0;                                  // guarded by mu_
  std::atomic<uint64_t> trailers_read_{0};
  std::atomic<uint64_t> dropped_{0};
};

// ReadPackTrailer (re-indexing a pack) lives in the repository layer.

// Checks with parallel HEADs that every pack in `packs` still exists: a
// writer calls it on the packs it deduplicated against but did not write,
// before publishing a manifest that relies on them. kNotFound names the first
// missing pack and says what to do.
Status CheckPacksExist(ObjectStore& store, const std::vector<Hash256>& packs,
                       const CancelToken* cancel);

}  // namespace hugeblob
