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

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "codec/codec.h"
#include "format/index.h"
#include "format/pack.h"
#include "hash/sha256.h"
#include "hugeblob/store.h"
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

// Reads the trailer of the pack `info` (as listed, with its size): the
// footer first, then the whole trailer, checked against the pack id `id`.
Result<std::vector<PackEntry>> ReadPackTrailer(ObjectStore& store, const ObjectInfo& info,
                                               const Hash256& id);

// Checks with parallel HEADs that every pack in `packs` still exists: a
// writer calls it on the packs it deduplicated against but did not write,
// before publishing a manifest that relies on them. kNotFound names the first
// missing pack and says what to do.
Status CheckPacksExist(ObjectStore& store, const std::vector<Hash256>& packs,
                       const CancelToken* cancel);

}  // namespace hugeblob
