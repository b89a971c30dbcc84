// The repository layer's home for index objects (index/<sha256>): each
// lists where chunks are (chunk id, pack, offset, lengths) for up to 64
// packs, so that put can deduplicate without reading every pack trailer.
// Read by put's chunk index, gc (mark and rewrite) and verify; written by
// the pack writer and by gc's rewrite.
//
// Thread-safe as long as the store is (every ObjectStore is).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "format/index.h"
#include "hash/sha256.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

// An index object is an envelope of at most the format's metadata body
// size; nothing larger is read.
uint64_t MaxIndexObjectBytes();

// Reads the index object `key` (at most MaxIndexObjectBytes), checks its
// bytes against the id in its name, and decodes it. An object larger than
// the bound, content that does not match its id, or content that does not
// decode is kCorruption naming the object; a failed read is its error.
// `bytes_read`, if given, receives the object's size once it was read.
Result<std::vector<IndexEntry>> ReadIndexObject(ObjectStore& store, std::string_view key,
                                                uint64_t* bytes_read = nullptr);

struct StoredIndexObject {
  Hash256 id;
  uint64_t bytes = 0;
};
// Encodes `entries` and stores them as one index
// object named by the hash of its bytes.
Result<StoredIndexObject> WriteIndexObject(ObjectStore& store, std::vector<IndexEntry> entries);

}  // namespace hugeblob
