// A manifest is the recipe of one file: its size, the hash that names its
// chunks, its content digest (and optionally its whole-file SHA-256), its
// mode and mtime, the chunking parameters, and the ordered frame table.
// Binary, versioned, checksummed, zstd-compressed; an unknown version is
// refused, never guessed. Exact layout in docs/format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunking/chunker.h"
#include "codec/codec.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// One chunk of the file, in file order. `offset` is derived (the sum of the
// lengths before it) and not stored.
struct FrameRef {
  uint64_t offset = 0;         // uncompressed offset in the file
  uint32_t length = 0;         // uncompressed length
  bool zero = false;           // all-zero run: not stored; pack fields unused
  ChunkId chunk;               // hash of the uncompressed bytes (unused if zero)
  uint32_t pack = 0;           // index into Manifest::packs
  uint64_t stored_offset = 0;  // frame offset in the pack
  uint32_t stored_length = 0;  // frame length
  Codec codec = Codec::kNone;
  HashAlgo hash = HashAlgo::kBlake3;  // what `chunk` is: the manifest's chunk_hash
  friend bool operator==(const FrameRef&, const FrameRef&) = default;
};

// A zero frame (a hole or a run of zero bytes) may be longer than a chunk,
// up to this, in version 2: a 1 TiB hole is 1024 frames of a few bytes.
inline constexpr uint32_t kMaxZeroFrame = 1u << 30;

// A child of a segmented manifest or of an inner segment: a subtree of the
// frame table covering `length` bytes of the file from `offset`.
struct SegmentRef {
  Hash256 id;                // SHA-256 of the segment object (segments/<hex>)
  uint64_t offset = 0;       // derived: the sum of the lengths before it
  uint64_t length = 0;       // file bytes covered
  uint64_t frame_count = 0;  // frames below it
  uint64_t data_bytes = 0;   // of those bytes, the ones not in zero frames
  friend bool operator==(const SegmentRef&, const SegmentRef&) = default;
};

// The frame table of a large file is a tree of segment objects, so that
// neither put nor a reader of one range ever holds it whole: leaves (level
// 0) hold up to a thousand or so frames with their own pack table, inner
// segments (level n) list segments of level n - 1. Each is named by the
// SHA-256 of its bytes, so the manifest's id authenticates the whole tree.
struct Segment {
  uint8_t level = 0;
  std::vector<Hash256> packs;        // level 0
  std::vector<FrameRef> frames;      // level 0; offsets absolute in the file
  std::vector<SegmentRef> children;  // level > 0; offsets absolute in the file
};

// What a segment must be, from its parent's entry and the manifest.
struct SegmentExpectation {
  uint8_t level = 0;
  SegmentRef ref;
  HashAlgo chunk_hash = HashAlgo::kBlake3;
  ChunkerParams chunker;
};

// The deepest tree a manifest may have: at a thousand frames a leaf and 512
// children a segment, 4 levels address far more frames than any file has.
inline constexpr uint8_t kMaxSegmentLevels = 4;

// The owner of the file put, as numeric ids (like tar --numeric-owner and
// rsync --numeric-ids: names differ between machines, ids are what the
// kernel stores). Recorded only on request (put --owner).
struct FileOwner {
  uint32_t uid = 0;
  uint32_t gid = 0;
  friend bool operator==(const FileOwner&, const FileOwner&) = default;
};

// One extended attribute: its full name with the namespace ("user.foo",
// "security.selinux") and its value (any bytes).
struct Xattr {
  std::string name;
  std::string value;
  friend bool operator==(const Xattr&, const Xattr&) = default;
};

// Bounds on recorded extended attributes, checked when encoding and when
// decoding: the kernel's own limits per attribute (XATTR_NAME_MAX,
// XATTR_SIZE_MAX) and 1 MiB of names and values in all.
inline constexpr size_t kMaxXattrName = 255;
inline constexpr size_t kMaxXattrValue = 65536;
inline constexpr size_t kMaxXattrTotal = 1u << 20;
// Names sorted bytewise, unique, 1..255 bytes without NUL, each with a
// namespace ("ns.rest", ns and rest non-empty); values within bounds.
Status CheckXattrs(const std::vector<Xattr>& xattrs);

struct Manifest {
  uint32_t version = 2;  // as decoded; EncodeManifest writes 2, or 3 with owner/xattrs
  uint64_t size = 0;
  HashAlgo chunk_hash = HashAlgo::kBlake3;  // names the chunks of this file
  // BLAKE3 over the ordered frame list (ContentDigest): covers every byte
  // through the chunk ids without a pass over the data. Version 1 has none.
  // EncodeManifest fills it in when absent; decoding checks it.
  std::optional<Hash256> digest;
  // SHA-256 of the whole file: always in version 1, on request in 2.
  std::optional<Hash256> sha256;
  std::optional<uint32_t> mode;     // st_mode permission bits and file type
  std::optional<int64_t> mtime_ns;  // modification time, ns since the epoch
  // On request only (put --owner, --xattrs). A manifest with either is
  // written as version 3, so that a hugeblob that does not know them
  // refuses it by its version instead of restoring the file without them.
  // xattrs present and empty: recorded, the file had none.
  std::optional<FileOwner> owner;
  std::optional<std::vector<Xattr>> xattrs;
  ChunkerParams chunker;
  int64_t created_unix = 0;
  std::vector<Hash256> packs;  // distinct packs referenced, in first-use order
  std::vector<FrameRef> frames;
  // A segmented manifest (version 2 only) holds no packs and frames but the
  // top of its frame table's tree: `children` are segments of level
  // `levels` - 1. levels 0: the frames are inline (every smaller file).
  uint8_t levels = 0;
  std::vector<SegmentRef> children;
  // Filled by a full load (repo/manifests.h), not encoded: the ids of every
  // segment of the tree, for gc, copy and verify.
  std::vector<Hash256> segments;

  bool segmented() const { return levels > 0; }
  // Frames in the file: frames.size(), or the sum over the children.
  uint64_t frame_count() const;

  // Index of the frame holding byte `offset` (binary search); frames.size()
  // if offset >= size.
  size_t FindFrame(uint64_t offset) const;
  // lseek's SEEK_DATA (hole false) and SEEK_HOLE (hole true) over the frame
  // table: the first offset >= `offset` in data (or in a hole; the end of
  // the file counts as one). Empty if `offset` >= size, or for SEEK_DATA
  // when only holes follow (lseek's ENXIO).
  std::optional<uint64_t> SeekData(uint64_t offset, bool hole) const;
  // Sanity checks that decoding also runs: offsets contiguous and summing to
  // size, pack indices in range, lengths within the chunker maximum.
  Status Validate() const;
};

// The version written for a manifest without owner and xattrs (read by
// every hugeblob since manifests version 2); kManifestVersionOwner with them.
inline constexpr uint32_t kManifestVersion = 2;
inline constexpr uint32_t kManifestVersionOwner = 3;

// The content digest of a frame list: BLAKE3 over, for each frame in order,
// one byte (0 zero, 1 data), the length as 8 bytes little-endian, and for a
// data frame its 32-byte chunk id. get recomputes it from the ids of the
// chunks it decoded and verified, in the order it placed them.
class ContentDigest {
 public:
  void AddZero(uint64_t length);
  void AddChunk(uint64_t length, const ChunkId& id);
  void Add(const FrameRef& f) { f.zero ? AddZero(f.length) : AddChunk(f.length, f.chunk); }
  Hash256 Finish() { return hasher_.Finish(); }

 private:
  Blake3 hasher_;
};
Hash256 ContentDigestOf(const std::vector<FrameRef>& frames);

// A ref is a small text object naming a manifest:
//   hugeblob-ref 1\nmanifest <hex>\nsize <bytes>\ncreated <unix>\nadded <bytes>\nshared <bytes>\n
// `added` is the stored (compressed) bytes this put wrote to the store,
// `shared` the uncompressed bytes of chunks the store already held. Lines
// with unknown keys are ignored (forward compatible); a missing
// added/shared line reads as 0.
struct Ref {
  Hash256 manifest;
  uint64_t size = 0;
  int64_t created_unix = 0;
  uint64_t added_bytes = 0;
  uint64_t shared_bytes = 0;
  // Bytes of the file that are data, not holes (zero runs): what st_blocks
  // says through the mount, so cp --sparse and tar -S skip the holes.
  // Absent in refs written before it (read as size: dense).
  std::optional<uint64_t> data_bytes;
};
// The data bytes of a manifest: its size less its zero frames.
uint64_t DataBytes(const Manifest& m);

}  // namespace hugeblob
