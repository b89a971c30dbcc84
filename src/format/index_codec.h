// The encoder and decoder of index objects (entries: index.h; layout:
// docs/format.md). Only the format and the repository layer
// (src/repo/indexes.h, the one place index objects are read and written)
// include this: docs/layers.md.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "format/index.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// Entries are stored sorted by (pack, offset); the encoding is deterministic
// for a given set of entries.
Result<Buffer> EncodeIndex(std::vector<IndexEntry> entries);
// `name` is used in error messages ("index/ab12...: checksum mismatch").
Result<std::vector<IndexEntry>> DecodeIndex(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace hugeblob
