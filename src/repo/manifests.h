// The repository layer's home for manifests: loading one (its top alone, or
// with its whole frame table), loading one segment of a large one, and
// writing one, streamed (ManifestWriter) or from a table in memory
// (StoreManifest). Every object is checked against its id (the SHA-256 of
// its bytes) and against what its parent says it is, so a manifest id
// authenticates the whole tree below it.
//
// Thread-safety: the functions are safe to call concurrently on one store;
// a ManifestWriter is used by one thread at a time.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

// How a manifest's frame table is cut: a file of at most leaf_frames frames
// keeps them inline (one object, one request to open); larger files get
// leaves of leaf_frames frames and inner segments (and a top) of at most
// `fanout` children. At the defaults a leaf is about 40 KiB and an inner
// segment about 20 KiB, so reading 4 KiB of a 1 TiB file (4 million chunks)
// loads the top, one inner segment and one leaf: about 60 KiB.
struct ManifestShape {
  uint32_t leaf_frames = 1024;
  uint32_t fanout = 512;
};

// Streams a frame table out in segments as it grows: memory holds one leaf
// and the entries of the levels above it, whatever the file size.
class ManifestWriter {
 public:
  ManifestWriter(ObjectStore& store, HashAlgo chunk_hash, ChunkerParams chunker,
                 ManifestShape shape = {});

  // The next frame in file order (offset is recomputed); `pack` is the id
  // of the pack that holds it (unused for zero frames). May write segments.
  Status Add(const FrameRef& frame, const Hash256& pack);

  // Writes what is left and the manifest, whose header fields (size,
  // sha256, mode, mtime_ns, created_unix) come from `header`; its frame
  // table fields are ignored. `header.size` must equal the frames' sum.
  // Returns the manifest's id. Call once.
  Result<Hash256> Finish(const Manifest& header);

  uint64_t size() const { return size_; }
  uint64_t data_bytes() const { return data_bytes_; }
  uint64_t frame_count() const { return frame_count_; }
  // Encoded bytes of the segments and the manifest written so far.
  uint64_t stored_bytes() const { return stored_bytes_; }
  // The content digest (valid after Finish).
  const Hash256& digest() const { return digest_value_; }

 private:
  Status FlushLeaf();
  Status AddChild(size_t level, const SegmentRef& ref);
  Status WriteInner(size_t level, std::vector<SegmentRef> children);
  Result<SegmentRef> WriteSegment(const Segment& s, uint64_t offset);

  ObjectStore& store_;
  HashAlgo chunk_hash_;
  ChunkerParams chunker_;
  ManifestShape shape_;
  Segment leaf_;
  uint64_t leaf_offset_ = 0;
  std::unordered_map<Hash256, uint32_t, Hash256Hasher> leaf_packs_;
  // pending_[n]: entries of segments of level n not yet under a parent;
  // written_[n]: how many segments of level n were written.
  std::vector<std::vector<SegmentRef>> pending_;
  std::vector<uint64_t> written_;
  ContentDigest digest_;
  Hash256 digest_value_;
  uint64_t size_ = 0;
  uint64_t data_bytes_ = 0;
  uint64_t frame_count_ = 0;
  uint64_t stored_bytes_ = 0;
  bool finished_ = false;
};

// Writes a manifest whose frame table is in memory (`full` not segmented),
// inline or in segments as ManifestWriter would. Returns its id.
Result<Hash256> StoreManifest(ObjectStore& store, const Manifest& full,
                              uint64_t* stored_bytes = nullptr, ManifestShape shape = {});

// The manifest object alone: for a segmented one, the top of its tree.
// `encoded_size` gets its size in bytes.
Result<Manifest> LoadManifestTop(ObjectStore& store, const Hash256& id,
                                 uint64_t* encoded_size = nullptr);

// One segment below `top`: `ref` is its entry in its parent, `level` the
// parent's level minus one. `bytes` gets the object's size.
Result<Segment> LoadSegment(ObjectStore& store, const Manifest& top, const SegmentRef& ref,
                            uint8_t level, uint64_t* bytes = nullptr);

// The whole manifest with its frame table in memory: a segmented one comes
// back flattened (levels 0, frames and packs filled, `segments` listing the
// ids of the segments read, which are fetched `threads` at a time) and its
// content digest checked. `encoded_size` gets the bytes of every object read.
Result<Manifest> LoadManifest(ObjectStore& store, const Hash256& id,
                              uint64_t* encoded_size = nullptr, unsigned threads = 8);
// The same for a top already loaded.
Result<Manifest> FlattenManifest(ObjectStore& store, Manifest top, const std::string& label,
                                 uint64_t* encoded_size = nullptr, unsigned threads = 8);

}  // namespace hugeblob
