// The repository layer's home for reading pack trailers: the footer (the
// last kPackFooterSize bytes, which say how long the trailer is) and the
// whole trailer, checked against the pack id. Used by put's chunk index
// (re-indexing packs an index does not cover), gc and verify (which streams
// the entries after the footer, in bounded memory, for packs of any size).
//
// Thread-safe as long as the store is (every ObjectStore is).
#pragma once

#include <span>
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

// Streams the trailer of a pack in pieces of about 1 MiB, in bounded memory
// for a pack of any size: each piece's entries decoded and checked in order
// (verify matches them against what manifests and indexes claim while it
// reads), then the trailer's checksum and the pack id.
//
//   PackTrailerStream s(store, info, footer, raw_footer);
//   while (auto batch = s.Next()) { if (batch->empty()) break; ... }
//   Status st = s.Finish(id);
//
// Next() returns the next entries (empty at the end). A failed read is its
// error; damage is kCorruption naming the pack: a piece shorter than asked
// (the object changed while read) or an entry that does not decode. After
// an entry that does not decode, Next() returns that error once and then
// no more entries, but Finish() still reads the rest of the trailer to check
// the checksum and id, which a verifier reports too.
//
// Not thread-safe: one thread reads one stream.
class PackTrailerStream {
 public:
  // `footer` and `raw_footer` as ReadPackFooter returned them for `info`.
  PackTrailerStream(ObjectStore& store, ObjectInfo info, const PackFooter& footer,
                    Buffer raw_footer);

  Result<std::span<const PackEntry>> Next();
  // Reads what Next() has not, then checks the trailer's checksum and that
  // it hashes to `id`: kCorruption naming the pack when not.
  Status Finish(const Hash256& id);
  // Bytes read from the store so far (footer included).
  uint64_t bytes_read() const { return bytes_read_; }
  // A piece came back shorter than asked (Next or Finish said so).
  bool truncated() const { return truncated_; }

 private:
  Result<std::span<const uint8_t>> ReadPiece();

  ObjectStore& store_;
  ObjectInfo info_;
  Buffer raw_footer_;
  uint64_t frames_end_ = 0;
  uint64_t entries_bytes_ = 0;
  uint64_t pos_ = 0;  // of the next piece, within the entries
  uint64_t prev_end_ = 0;
  uint64_t bytes_read_ = 0;
  bool entries_ok_ = true;
  bool truncated_ = false;
  Buffer piece_;
  std::vector<PackEntry> batch_;
  Sha256 id_hash_;
  Sha256 sum_hash_;
};

}  // namespace hugeblob
