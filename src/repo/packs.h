// The repository layer's home for reading pack trailers: the footer (the
// last kPackFooterSize bytes, which say how long the trailer is) and the
// whole trailer, checked against the pack id. Used by put's chunk index
// (re-indexing packs an index does not cover), gc and verify (which streams
// the entries after the footer, in bounded memory, for packs of any size).
//
// Thread-safe as long as the store is (every ObjectStore is).
#pragma once

#include <vector>

#include "format/pack.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

// Reads and decodes the footer of the pack `info` (as listed or headed,
// with its size); `raw`, if given, receives its bytes (verify hashes them).
// A pack too short to hold a footer, a short read, or a footer that does
// not decode is kCorruption naming the pack; a failed read is its error.
Result<PackFooter> ReadPackFooter(ObjectStore& store, const ObjectInfo& info,
                                  Buffer* raw = nullptr);

// Reads the trailer of the pack `info`: the footer first, then the whole
// trailer, checked against the pack id `id`, decoded.
Result<std::vector<PackEntry>> ReadPackTrailer(ObjectStore& store, const ObjectInfo& info,
                                               const Hash256& id);

}  // namespace hugeblob
