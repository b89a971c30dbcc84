#include "format/manifest.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "format/bytes.h"
#include "format/envelope.h"
#include "format/layout.h"
#include "format/manifest_codec.h"

namespace hugeblob {
namespace {

using format_internal::ByteReader;
using format_internal::ByteWriter;
using format_internal::kMaxMetadataBodySize;
using format_internal::ObjectLabel;

// Body layout (inside the envelope, see format/envelope.h and
// docs/format.md). Varints are unsigned LEB128, canonical.
//
//   version 2 and 3                   version 1
//   size            varint            size            varint
//   chunk_hash      u8                sha256          [32]
//   digest          [32]
//   fields          u8 (bit 0 sha256, 1 mode, 2 mtime, 3 segmented,
//                       4 owner, 5 xattrs (4 and 5 version 3 only); others 0)
//   [sha256]        [32]
//   [mode]          varint
//   [mtime_ns]      zigzag varint
//   [uid, gid]      varint, varint                    } version 3: at least
//   [xattr count]   varint, then count x              } one of the two
//                   name length varint, name, value length varint, value
//   chunker.kind    u8                (the rest as in version 2)
//   chunker.min     varint
//   chunker.avg     varint
//   chunker.max     varint
//   created_unix    zigzag varint
//   packs           pack_count x [32]        } inline (fields bit 3 clear)
//   frames          frame_count x frame record }
//   levels          u8 (1..4)                        } segmented (bit 3 set,
//   children        entry_count x child record       } version 2 only)
//
// A child record names a segment object of level `levels` - 1 (see
// EncodeSegment): length, frame count and data bytes as varints, then the
// segment's id [32]. Its file offset is the sum of the lengths before it.
//
// A frame record starts with a flags byte:
//   bit 0     zero chunk: the record is just flags + length
//   bits 1-2  codec
//   bit 3     same pack as the previous stored frame: pack index omitted
//   bit 4     (only with bit 3) the frame starts where the previous stored
//             frame ended: stored_offset omitted
//   bits 5-7  reserved, 0
// then: length varint; and unless zero: chunk[32], [pack varint],
// [stored_offset varint], stored_length varint unless the codec is none
// (a raw frame is stored at its length).
// Frames written in file order mostly sit back to back in one pack, so a
// typical record is flags + 3-byte length + 32-byte id + ~3-byte stored
// length. Offsets in the file are the running sum of lengths: not stored.
// A zero frame is at most the chunker maximum in version 1 and at most
// kMaxZeroFrame in version 2 (a hole of any size costs a few bytes per GiB).
constexpr char kMagic[] = "HBMF";

constexpr uint8_t kFlagZero = 1 << 0;
constexpr int kCodecShift = 1;
constexpr uint8_t kCodecMask = 3 << kCodecShift;
constexpr uint8_t kFlagSamePack = 1 << 3;
constexpr uint8_t kFlagContiguous = 1 << 4;
constexpr uint8_t kFlagReserved = 0xe0;

constexpr uint8_t kFieldSha256 = 1 << 0;
constexpr uint8_t kFieldMode = 1 << 1;
constexpr uint8_t kFieldMtime = 1 << 2;
constexpr uint8_t kFieldSegmented = 1 << 3;
constexpr uint8_t kFieldOwner = 1 << 4;
constexpr uint8_t kFieldXattrs = 1 << 5;
constexpr uint8_t kFieldsKnown = kFieldSha256 | kFieldMode | kFieldMtime | kFieldSegmented;
constexpr uint8_t kFieldsKnown3 = kFieldsKnown | kFieldOwner | kFieldXattrs;
// Most bytes owner and xattrs add to a body: ids, count, and per
// attribute two length varints (3 bytes each at most) besides its bytes,
// which hold at least one byte of name.
constexpr uint64_t kMaxOwnerXattrs = 10 + 5 + kMaxXattrTotal * (1 + 6);

// Bounds on the body size from the table sizes (used before decompressing);
// they hold for both versions.
constexpr uint64_t kMinFixed = 1 + 32 + 1 + 3 + 1;
constexpr uint64_t kMaxFixed = 10 + 1 + 32 + 1 + 32 + 5 + 10 + 1 + 15 + 10;
constexpr uint64_t kMinFrame = 2;
[[maybe_unused]] constexpr uint64_t kMaxFrame = 1 + 5 + 32 + 5 + 10 + 5;
constexpr uint64_t kMaxFrames = kMaxMetadataBodySize / kMinFrame;

// Matches the chunker's own ceiling; frame lengths are checked against the
// recorded max_size, so this only guards the params themselves.
constexpr uint32_t kMaxChunkSize = 64u << 20;

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Status CheckXattrs(const std::vector<Xattr>& xattrs) {
  size_t total = 0;
  for (size_t i = 0; i < xattrs.size(); ++i) {
    const Xattr& x = xattrs[i];
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorruption, "extended attribute " + Str(i) + ": " + why);
    };
    if (x.name.empty() || x.name.size() > kMaxXattrName) {
      return bad("name of " + Str(x.name.size()) + " bytes (1 to " + Str(kMaxXattrName) + ")");
    }
    if (x.name.find('\0') != std::string::npos) return bad("NUL in its name");
    const size_t dot = x.name.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == x.name.size()) {
      return bad("name '" + x.name + "' has no namespace (like user.NAME)");
    }
    if (x.value.size() > kMaxXattrValue) {
      return bad("value of " + Str(x.value.size()) + " bytes (at most " + Str(kMaxXattrValue) +
                 ")");
    }
    if (i > 0 && !(xattrs[i - 1].name < x.name)) return bad("names not sorted and unique");
    total += x.name.size() + x.value.size();
    if (total > kMaxXattrTotal) {
      return bad("more than " + Str(kMaxXattrTotal) + " bytes of names and values");
    }
  }
  return OkStatus();
}

namespace {

Status CheckChunker(const ChunkerParams& c) {
  // Our own check rather than ValidateChunkerParams: a manifest must stay
  // readable even if the chunker later tightens what it accepts for new files.
  if (static_cast<uint8_t>(c.kind) > static_cast<uint8_t>(ChunkerKind::kFastCdc)) {
    return Fail(ErrorCode::kCorruption,
                "unknown chunker kind " + Str(static_cast<uint8_t>(c.kind)));
  }
  if (c.min_size == 0 || c.min_size > c.avg_size || c.avg_size > c.max_size ||
      c.max_size > kMaxChunkSize) {
    return Fail(ErrorCode::kCorruption, "implausible chunker sizes " + Str(c.min_size) + "/" +
                                            Str(c.avg_size) + "/" + Str(c.max_size));
  }
  return OkStatus();
}

// Checks a run of frames that starts at `base` in a file of `file_size`
// bytes (UINT64_MAX: unknown here); *covered gets the bytes they cover.
Status CheckFrames(const std::vector<FrameRef>& frames, uint64_t base, uint64_t file_size,
                   size_t pack_count, uint32_t version, const ChunkerParams& chunker,
                   HashAlgo chunk_hash, uint64_t* covered) {
  uint64_t expect = base;
  for (size_t i = 0; i < frames.size(); ++i) {
    const FrameRef& f = frames[i];
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorruption, "frame " + Str(i) + ": " + why);
    };
    if (f.offset != expect) {
      return bad("starts at " + Str(f.offset) + ", expected " + Str(expect));
    }
    if (f.length == 0) return bad("empty");
    if (f.zero && version >= 2 ? f.length > kMaxZeroFrame : f.length > chunker.max_size) {
      return bad("length " + Str(f.length) + " exceeds the " +
                 (f.zero && version >= 2 ? "zero-run maximum " + Str(kMaxZeroFrame)
                                         : "chunker maximum " + Str(chunker.max_size)));
    }
    if (expect > file_size || f.length > file_size - expect) {
      return bad("runs past the file size " + Str(file_size));
    }
    expect += f.length;
    if (f.hash != chunk_hash) return bad("chunk hash differs from the manifest's");
    if (f.zero) continue;
    if (f.pack >= pack_count) {
      return bad("pack index " + Str(f.pack) + " out of range (" + Str(pack_count) + " packs)");
    }
    if (!IsValidCodec(static_cast<uint8_t>(f.codec))) {
      return bad("unknown codec " + Str(static_cast<uint8_t>(f.codec)));
    }
    if (f.stored_length == 0) return bad("empty stored frame");
    if (f.codec == Codec::kNone && f.stored_length != f.length) {
      return bad("raw frame whose stored length differs from its length");
    }
    if (f.stored_offset > UINT64_MAX - f.stored_length) return bad("stored frame end overflows");
  }
  *covered = expect - base;
  return OkStatus();
}

Status CheckPackTable(const std::vector<Hash256>& packs) {
  std::vector<Hash256> sorted = packs;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Fail(ErrorCode::kCorruption, "pack table lists a pack twice");
  }
  return OkStatus();
}

// Children of a segmented manifest or an inner segment: contiguous from
// `base`, none empty, data within length; *covered and *frames get the sums.
Status CheckChildren(const std::vector<SegmentRef>& children, uint64_t base, uint64_t* covered,
                     uint64_t* frames) {
  uint64_t expect = base, count = 0;
  for (size_t i = 0; i < children.size(); ++i) {
    const SegmentRef& c = children[i];
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorruption, "segment entry " + Str(i) + ": " + why);
    };
    if (c.offset != expect) return bad("starts at " + Str(c.offset) + ", expected " + Str(expect));
    if (c.length == 0 || c.frame_count == 0) return bad("empty");
    if (c.data_bytes > c.length) return bad("more data bytes than bytes");
    if (c.length > UINT64_MAX - expect || c.frame_count > UINT64_MAX - count) {
      return bad("sizes overflow");
    }
    // A frame is at most kMaxZeroFrame bytes: fewer frames cannot cover it.
    if (c.frame_count > c.length || c.length / kMaxZeroFrame > c.frame_count) {
      return bad(Str(c.frame_count) + " frames cannot cover " + Str(c.length) + " bytes");
    }
    expect += c.length;
    count += c.frame_count;
  }
  *covered = expect - base;
  *frames = count;
  return OkStatus();
}

// A frame record starts with a flags byte; see the layout comment above.
void EncodeFrames(ByteWriter& w, const std::vector<FrameRef>& frames) {
  bool have_prev = false;
  uint32_t prev_pack = 0;
  uint64_t prev_end = 0;
  for (const FrameRef& f : frames) {
    if (f.zero) {
      w.U8(kFlagZero);
      w.Varint(f.length);
      continue;
    }
    uint8_t flags = static_cast<uint8_t>(static_cast<uint8_t>(f.codec) << kCodecShift);
    bool same_pack = have_prev && f.pack == prev_pack;
    bool contiguous = same_pack && f.stored_offset == prev_end;
    if (same_pack) flags |= kFlagSamePack;
    if (contiguous) flags |= kFlagContiguous;
    w.U8(flags);
    w.Varint(f.length);
    w.Hash(f.chunk);
    if (!same_pack) w.Varint(f.pack);
    if (!contiguous) w.Varint(f.stored_offset);
    if (f.codec != Codec::kNone) w.Varint(f.stored_length);
    have_prev = true;
    prev_pack = f.pack;
    prev_end = f.stored_offset + f.stored_length;
  }
}

// Decodes `frame_count` frame records starting at file offset `base`.
Status DecodeFrames(ByteReader& r, uint64_t frame_count, uint64_t pack_count, uint64_t base,
                    uint32_t version, const ChunkerParams& chunker, HashAlgo chunk_hash,
                    const std::string& label, std::vector<FrameRef>* out) {
  out->reserve(frame_count);  // bounded by the caller: >= 2 body bytes per frame
  bool have_prev = false;
  uint32_t prev_pack = 0;
  uint64_t prev_end = 0;
  uint64_t offset = base;
  for (uint64_t i = 0; i < frame_count; ++i) {
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorruption, label + ": frame " + Str(i) + ": " + why);
    };
    FrameRef f;
    f.hash = chunk_hash;
    uint8_t flags = 0;
    if (!r.U8(&flags) || !r.Varint32(&f.length)) return bad("truncated");
    const uint32_t max_length =
        (flags & kFlagZero) && version >= 2 ? kMaxZeroFrame : chunker.max_size;
    if (f.length == 0 || f.length > max_length) {
      return bad("length " + Str(f.length) + " out of range");
    }
    if (f.length > UINT64_MAX - offset) return bad("offset overflows");
    f.offset = offset;
    offset += f.length;
    if (flags & kFlagZero) {
      if (flags != kFlagZero) return bad("zero chunk with other flags set");
      f.zero = true;
      out->push_back(f);
      continue;
    }
    if (flags & kFlagReserved) return bad("reserved flag bits set");
    f.codec = static_cast<Codec>((flags & kCodecMask) >> kCodecShift);
    if (!IsValidCodec(static_cast<uint8_t>(f.codec))) {
      return bad("unknown codec " + Str(static_cast<uint8_t>(f.codec)));
    }
    bool same_pack = flags & kFlagSamePack;
    bool contiguous = flags & kFlagContiguous;
    if ((same_pack || contiguous) && !have_prev) return bad("refers to a previous frame");
    if (contiguous && !same_pack) return bad("contiguous flag without same-pack flag");
    if (!r.Hash(&f.chunk)) return bad("truncated");
    if (same_pack) {
      f.pack = prev_pack;
    } else if (!r.Varint32(&f.pack)) {
      return bad("truncated");
    } else if (have_prev && f.pack == prev_pack) {
      return bad("pack index spelled out where the same-pack flag belongs");
    }
    if (f.pack >= pack_count) return bad("pack index " + Str(f.pack) + " out of range");
    if (contiguous) {
      f.stored_offset = prev_end;
    } else if (!r.Varint(&f.stored_offset)) {
      return bad("truncated");
    } else if (same_pack && f.stored_offset == prev_end) {
      return bad("stored offset spelled out where the contiguous flag belongs");
    }
    if (f.codec == Codec::kNone) {
      f.stored_length = f.length;
    } else if (!r.Varint32(&f.stored_length)) {
      return bad("truncated");
    }
    if (f.stored_length == 0 || f.stored_offset > UINT64_MAX - f.stored_length) {
      return bad("stored frame out of range");
    }
    have_prev = true;
    prev_pack = f.pack;
    prev_end = f.stored_offset + f.stored_length;
    out->push_back(f);
  }
  return OkStatus();
}

// A child record: length, frame count, data bytes (varints), id [32].
void EncodeChildren(ByteWriter& w, const std::vector<SegmentRef>& children) {
  for (const SegmentRef& c : children) {
    w.Varint(c.length);
    w.Varint(c.frame_count);
    w.Varint(c.data_bytes);
    w.Hash(c.id);
  }
}

Status DecodeChildren(ByteReader& r, uint64_t count, uint64_t base, const std::string& label,
                      std::vector<SegmentRef>* out) {
  out->reserve(count);  // bounded by the caller: >= 35 body bytes per child
  uint64_t offset = base;
  for (uint64_t i = 0; i < count; ++i) {
    SegmentRef c;
    if (!r.Varint(&c.length) || !r.Varint(&c.frame_count) || !r.Varint(&c.data_bytes) ||
        !r.Hash(&c.id)) {
      return Fail(ErrorCode::kCorruption, label + ": segment entry " + Str(i) + ": truncated");
    }
    if (c.length > UINT64_MAX - offset) {
      return Fail(ErrorCode::kCorruption, label + ": segment entry " + Str(i) + ": overflows");
    }
    c.offset = offset;
    offset += c.length;
    out->push_back(c);
  }
  return OkStatus();
}

[[maybe_unused]] constexpr uint64_t kMinChild = 3 + 32;
constexpr uint64_t kMaxChild = 30 + 32;
// A segment holds at most this many frames or children; writers use far
// fewer (repo/manifests.h), this only bounds what a decoder accepts.
constexpr uint64_t kMaxSegmentEntries = 1u << 16;
constexpr char kSegmentMagic[] = "HBSG";
constexpr uint32_t kSegmentVersion = 1;

}  // namespace

uint64_t Manifest::frame_count() const {
  if (!segmented()) return frames.size();
  uint64_t n = 0;
  for (const SegmentRef& c : children) n += c.frame_count;
  return n;
}

size_t Manifest::FindFrame(uint64_t offset) const {
  if (offset >= size) return frames.size();
  // First frame that starts after `offset`; the one before it holds it.
  auto it = std::upper_bound(frames.begin(), frames.end(), offset,
                             [](uint64_t o, const FrameRef& f) { return o < f.offset; });
  if (it == frames.begin()) return frames.size();  // only if not Validate()d
  return static_cast<size_t>(it - frames.begin()) - 1;
}

std::optional<uint64_t> Manifest::SeekData(uint64_t offset, bool hole) const {
  if (offset >= size) return std::nullopt;
  for (size_t i = FindFrame(offset); i < frames.size(); ++i) {
    if (frames[i].zero == hole) return std::max(offset, frames[i].offset);
  }
  if (hole) return size;
  return std::nullopt;
}

Status Manifest::Validate() const {
  HB_TRY(CheckChunker(chunker));
  if (version == 1 && (!sha256 || digest || mode || mtime_ns || owner || xattrs ||
                       chunk_hash != HashAlgo::kSha256 || segmented())) {
    return Fail(ErrorCode::kCorruption, "a version 1 manifest has a SHA-256 and nothing else");
  }
  if (xattrs) HB_TRY(CheckXattrs(*xattrs));
  if (static_cast<uint8_t>(chunk_hash) > static_cast<uint8_t>(HashAlgo::kBlake3)) {
    return Fail(ErrorCode::kCorruption,
                "unknown chunk hash " + Str(static_cast<uint8_t>(chunk_hash)));
  }
  if (segmented()) {
    if (levels > kMaxSegmentLevels) {
      return Fail(ErrorCode::kCorruption, "a frame table " + Str(levels) + " segments deep");
    }
    if (!frames.empty() || !packs.empty()) {
      return Fail(ErrorCode::kCorruption, "a segmented manifest with inline frames");
    }
    if (!digest) return Fail(ErrorCode::kCorruption, "a segmented manifest without a digest");
    if (children.empty()) return Fail(ErrorCode::kCorruption, "a segmented manifest, no segments");
    uint64_t covered = 0, count = 0;
    HB_TRY(CheckChildren(children, 0, &covered, &count));
    if (covered != size) {
      return Fail(ErrorCode::kCorruption,
                  "segments cover " + Str(covered) + " bytes, file size is " + Str(size));
    }
    return OkStatus();
  }
  if (!children.empty()) return Fail(ErrorCode::kCorruption, "segment entries without levels");
  if (digest && *digest != ContentDigestOf(frames)) {
    return Fail(ErrorCode::kCorruption, "content digest does not match the frame table");
  }
  HB_TRY(CheckPackTable(packs));
  uint64_t covered = 0;
  HB_TRY(CheckFrames(frames, 0, size, packs.size(), version, chunker, chunk_hash, &covered));
  if (covered != size) {
    return Fail(ErrorCode::kCorruption,
                "frames cover " + Str(covered) + " bytes, file size is " + Str(size));
  }
  return OkStatus();
}

Result<Buffer> EncodeManifest(const Manifest& manifest) {
  // The digest of an inline table is a function of it: computed here when
  // absent, and a given one must agree (a writer that got its own table
  // wrong). A segmented manifest's digest comes from its writer.
  Manifest computed;
  const Manifest* mp = &manifest;
  if (!manifest.segmented()) {
    const Hash256 digest = ContentDigestOf(manifest.frames);
    if (!manifest.digest) {
      computed = manifest;
      computed.digest = digest;
      mp = &computed;
    } else if (*manifest.digest != digest) {
      return Fail(ErrorCode::kInvalidArgument,
                  "cannot encode manifest: its content digest does not match its frames");
    }
  }
  const Manifest& m = *mp;
  if (auto st = m.Validate(); !st) {
    return Fail(ErrorCode::kInvalidArgument, "cannot encode manifest: " + st.error().message());
  }
  auto too_large = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot encode manifest: " + Str(m.frames.size() + m.children.size()) +
                    " entries are too many for one manifest");
  };
  if (m.packs.size() > UINT32_MAX || m.frames.size() > kMaxFrames ||
      m.children.size() > kMaxSegmentEntries) {
    return too_large();
  }

  if (m.version == 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot encode manifest: version " + Str(m.version) + " is read-only");
  }
  const bool v3 = m.owner || m.xattrs;
  ByteWriter w;
  w.Reserve(kMaxFixed + m.packs.size() * 32 + m.frames.size() * 44 + m.children.size() * kMaxChild);
  w.Varint(m.size);
  w.U8(static_cast<uint8_t>(m.chunk_hash));
  w.Hash(*m.digest);
  const uint8_t fields = (m.sha256 ? kFieldSha256 : 0) | (m.mode ? kFieldMode : 0) |
                         (m.mtime_ns ? kFieldMtime : 0) | (m.segmented() ? kFieldSegmented : 0) |
                         (m.owner ? kFieldOwner : 0) | (m.xattrs ? kFieldXattrs : 0);
  w.U8(fields);
  if (m.sha256) w.Hash(*m.sha256);
  if (m.mode) w.Varint(*m.mode);
  if (m.mtime_ns) w.SignedVarint(*m.mtime_ns);
  if (m.owner) {
    w.Varint(m.owner->uid);
    w.Varint(m.owner->gid);
  }
  if (m.xattrs) {
    w.Varint(m.xattrs->size());
    for (const Xattr& x : *m.xattrs) {
      w.Varint(x.name.size());
      w.Bytes(x.name);
      w.Varint(x.value.size());
      w.Bytes(x.value);
    }
  }
  w.U8(static_cast<uint8_t>(m.chunker.kind));
  w.Varint(m.chunker.min_size);
  w.Varint(m.chunker.avg_size);
  w.Varint(m.chunker.max_size);
  w.SignedVarint(m.created_unix);
  format_internal::EnvelopeHeader header;
  header.version = v3 ? kManifestVersionOwner : kManifestVersion;
  if (m.segmented()) {
    w.U8(m.levels);
    EncodeChildren(w, m.children);
    header.pack_count = 0;
    header.entry_count = m.children.size();
  } else {
    for (const Hash256& p : m.packs) w.Hash(p);
    EncodeFrames(w, m.frames);
    header.pack_count = static_cast<uint32_t>(m.packs.size());
    header.entry_count = m.frames.size();
  }
  if (w.size() > kMaxMetadataBodySize) return too_large();
  return format_internal::SealEnvelope(kMagic, header, std::span<const uint8_t>(w.bytes()));
}

Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes, std::string_view name) {
  const std::string label = ObjectLabel("manifest", name);
  HB_ASSIGN_OR_RETURN(auto env, format_internal::OpenEnvelope(
                                    bytes, kMagic, 1, kManifestVersionOwner, "manifest", label));
  const uint64_t pack_count = env.header.pack_count;
  const uint64_t entry_count = env.header.entry_count;
  if (entry_count > kMaxFrames) {
    return Fail(ErrorCode::kCorruption, label + ": implausible frame count " + Str(entry_count));
  }
  // pack_count < 2^32 and entry_count < 2^29: no overflow below. A
  // segmented manifest's entries are children, larger than any frame.
  HB_ASSIGN_OR_RETURN(
      Buffer body,
      format_internal::InflateBody(
          env.compressed_body, kMinFixed + pack_count * 32 + entry_count * kMinFrame,
          kMaxFixed + 1 + (env.header.version >= kManifestVersionOwner ? kMaxOwnerXattrs : 0) +
              pack_count * 32 + entry_count * kMaxChild,
          label));

  auto truncated = [&](const std::string& where) {
    return Fail(ErrorCode::kCorruption, label + ": malformed body (" + where + ")");
  };
  ByteReader r(body.span());
  Manifest m;
  m.version = env.header.version;
  uint8_t kind = 0;
  uint8_t fields = 0;
  if (!r.Varint(&m.size)) return truncated("header fields");
  if (m.version == 1) {
    Hash256 sha;
    if (!r.Hash(&sha)) return truncated("header fields");
    m.sha256 = sha;
    m.chunk_hash = HashAlgo::kSha256;
  } else {
    uint8_t algo = 0;
    Hash256 digest;
    if (!r.U8(&algo) || !r.Hash(&digest) || !r.U8(&fields)) return truncated("header fields");
    if (algo > static_cast<uint8_t>(HashAlgo::kBlake3)) {
      return Fail(ErrorCode::kUnsupported,
                  label + ": chunk hash " + Str(algo) + " is not known to this hugeblob");
    }
    if (fields & ~(m.version >= kManifestVersionOwner ? kFieldsKnown3 : kFieldsKnown)) {
      return Fail(ErrorCode::kCorruption, label + ": reserved header field bits set");
    }
    if (m.version >= kManifestVersionOwner && (fields & (kFieldOwner | kFieldXattrs)) == 0) {
      // Canonical: version 3 is written exactly when one of them is there.
      return Fail(ErrorCode::kCorruption,
                  label + ": a version 3 manifest without owner or extended attributes");
    }
    m.chunk_hash = static_cast<HashAlgo>(algo);
    m.digest = digest;
    if (fields & kFieldSha256) {
      Hash256 sha;
      if (!r.Hash(&sha)) return truncated("sha256");
      m.sha256 = sha;
    }
    if (fields & kFieldMode) {
      uint32_t mode = 0;
      if (!r.Varint32(&mode)) return truncated("mode");
      m.mode = mode;
    }
    if (fields & kFieldMtime) {
      int64_t mtime = 0;
      if (!r.SignedVarint(&mtime)) return truncated("mtime");
      m.mtime_ns = mtime;
    }
    if (fields & kFieldOwner) {
      FileOwner owner;
      if (!r.Varint32(&owner.uid) || !r.Varint32(&owner.gid)) return truncated("owner");
      m.owner = owner;
    }
    if (fields & kFieldXattrs) {
      uint64_t count = 0;
      // Each attribute takes 3 bytes at least: no allocation beyond the body.
      if (!r.Varint(&count) || count > r.remaining() / 3) return truncated("xattr count");
      std::vector<Xattr> xattrs(count);
      uint64_t total = 0;
      for (Xattr& x : xattrs) {
        uint64_t name_len = 0, value_len = 0;
        if (!r.Varint(&name_len) || name_len == 0 || name_len > kMaxXattrName ||
            !r.String(name_len, &x.name)) {
          return truncated("xattr name");
        }
        if (!r.Varint(&value_len) || value_len > kMaxXattrValue || !r.String(value_len, &x.value)) {
          return truncated("xattr value of " + x.name);
        }
        total += name_len + value_len;
        if (total > kMaxXattrTotal)
          return truncated("xattrs over " + Str(kMaxXattrTotal) + " bytes");
      }
      if (auto st = CheckXattrs(xattrs); !st) return Fail(st.error().Wrap(label));
      m.xattrs = std::move(xattrs);
    }
  }
  if (!r.U8(&kind) || !r.Varint32(&m.chunker.min_size) || !r.Varint32(&m.chunker.avg_size) ||
      !r.Varint32(&m.chunker.max_size) || !r.SignedVarint(&m.created_unix)) {
    return truncated("header fields");
  }
  m.chunker.kind = static_cast<ChunkerKind>(kind);
  // Checked now so that frame lengths below can be bounded by max_size.
  if (auto st = CheckChunker(m.chunker); !st) return Fail(st.error().Wrap(label));

  if (fields & kFieldSegmented) {
    if (pack_count != 0) return Fail(ErrorCode::kCorruption, label + ": segmented, with packs");
    if (!r.U8(&m.levels)) return truncated("levels");
    if (m.levels == 0 || m.levels > kMaxSegmentLevels) {
      return Fail(ErrorCode::kCorruption, label + ": a frame table " + Str(m.levels) + " deep");
    }
    HB_TRY(DecodeChildren(r, entry_count, 0, label, &m.children));
  } else {
    if (entry_count > kMaxFrames) {
      return Fail(ErrorCode::kCorruption, label + ": implausible frame count " + Str(entry_count));
    }
    m.packs.resize(pack_count);  // bounded: the body holds 32 bytes per pack
    for (Hash256& p : m.packs) {
      if (!r.Hash(&p)) return truncated("pack table");
    }
    HB_TRY(DecodeFrames(r, entry_count, pack_count, 0, m.version, m.chunker, m.chunk_hash, label,
                        &m.frames));
  }
  if (!r.done()) {
    return Fail(ErrorCode::kCorruption,
                label + ": " + Str(r.remaining()) + " unexpected bytes after the frame table");
  }
  if (auto st = m.Validate(); !st) return Fail(st.error().Wrap(label));
  return m;
}

// Segment body (inside an "HBSG" envelope, version 1):
//   level  u8
//   level 0: packs [32] x pack_count, then frame records as in a manifest
//   level n: child records: length, frame count, data bytes (varints), id [32]
// The envelope's entry count is the number of frames or children.
Result<Buffer> EncodeSegment(const Segment& s, HashAlgo chunk_hash) {
  auto bad = [](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "cannot encode segment: " + why);
  };
  if (s.level > kMaxSegmentLevels) return bad("level " + Str(s.level));
  const size_t entries = s.level == 0 ? s.frames.size() : s.children.size();
  if (entries == 0 || entries > kMaxSegmentEntries) return bad(Str(entries) + " entries");
  ByteWriter w;
  w.U8(s.level);
  format_internal::EnvelopeHeader header;
  header.version = kSegmentVersion;
  header.entry_count = entries;
  if (s.level == 0) {
    if (!s.children.empty()) return bad("a leaf with children");
    HB_TRY(CheckPackTable(s.packs));
    for (const FrameRef& f : s.frames) {
      if (!f.zero && f.pack >= s.packs.size()) return bad("pack index out of range");
      if (f.hash != chunk_hash) return bad("a frame of another chunk hash");
    }
    w.Reserve(1 + s.packs.size() * 32 + s.frames.size() * 44);
    for (const Hash256& p : s.packs) w.Hash(p);
    EncodeFrames(w, s.frames);
    header.pack_count = static_cast<uint32_t>(s.packs.size());
  } else {
    if (!s.frames.empty() || !s.packs.empty()) return bad("an inner segment with frames");
    EncodeChildren(w, s.children);
  }
  return format_internal::SealEnvelope(kSegmentMagic, header, std::span<const uint8_t>(w.bytes()));
}

Result<Segment> DecodeSegment(std::span<const uint8_t> bytes, const SegmentExpectation& expect,
                              std::string_view name) {
  const std::string label = ObjectLabel("segment", name);
  HB_ASSIGN_OR_RETURN(auto env, format_internal::OpenEnvelope(bytes, kSegmentMagic, 1,
                                                              kSegmentVersion, "segment", label));
  const uint64_t pack_count = env.header.pack_count;
  const uint64_t entry_count = env.header.entry_count;
  if (entry_count == 0 || entry_count > kMaxSegmentEntries || pack_count > entry_count) {
    return Fail(ErrorCode::kCorruption, label + ": implausible counts " + Str(entry_count) +
                                            " entries, " + Str(pack_count) + " packs");
  }
  HB_ASSIGN_OR_RETURN(Buffer body,
                      format_internal::InflateBody(
                          env.compressed_body, 1 + pack_count * 32 + entry_count * kMinFrame,
                          1 + pack_count * 32 + entry_count * kMaxChild, label));
  ByteReader r(body.span());
  Segment s;
  if (!r.U8(&s.level)) return Fail(ErrorCode::kCorruption, label + ": empty body");
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kCorruption, label + ": " + why);
  };
  if (s.level != expect.level) {
    return bad("level " + Str(s.level) + " where its parent says " + Str(expect.level));
  }
  uint64_t covered = 0, frames = 0, data = 0;
  if (s.level == 0) {
    s.packs.resize(pack_count);
    for (Hash256& p : s.packs) {
      if (!r.Hash(&p)) return bad("truncated pack table");
    }
    HB_TRY(DecodeFrames(r, entry_count, pack_count, expect.ref.offset, kManifestVersion,
                        expect.chunker, expect.chunk_hash, label, &s.frames));
    if (auto st = CheckPackTable(s.packs); !st) return Fail(st.error().Wrap(label));
    if (auto st = CheckFrames(s.frames, expect.ref.offset, UINT64_MAX, s.packs.size(),
                              kManifestVersion, expect.chunker, expect.chunk_hash, &covered);
        !st) {
      return Fail(st.error().Wrap(label));
    }
    frames = s.frames.size();
    for (const FrameRef& f : s.frames) data += f.zero ? 0 : f.length;
  } else {
    if (pack_count != 0) return bad("an inner segment with packs");
    HB_TRY(DecodeChildren(r, entry_count, expect.ref.offset, label, &s.children));
    if (auto st = CheckChildren(s.children, expect.ref.offset, &covered, &frames); !st) {
      return Fail(st.error().Wrap(label));
    }
    for (const SegmentRef& c : s.children) data += c.data_bytes;
  }
  if (!r.done()) return bad(Str(r.remaining()) + " unexpected bytes at the end");
  if (covered != expect.ref.length || frames != expect.ref.frame_count ||
      data != expect.ref.data_bytes) {
    return bad("covers " + Str(covered) + " bytes in " + Str(frames) + " frames (" + Str(data) +
               " data) where its parent says " + Str(expect.ref.length) + " in " +
               Str(expect.ref.frame_count) + " (" + Str(expect.ref.data_bytes) + ")");
  }
  return s;
}

void ContentDigest::AddZero(uint64_t length) {
  uint8_t rec[9] = {0};
  for (int i = 0; i < 8; ++i) rec[1 + i] = static_cast<uint8_t>(length >> (8 * i));
  hasher_.Update(std::span<const uint8_t>(rec, sizeof rec));
}

void ContentDigest::AddChunk(uint64_t length, const ChunkId& id) {
  uint8_t rec[41];
  rec[0] = 1;
  for (int i = 0; i < 8; ++i) rec[1 + i] = static_cast<uint8_t>(length >> (8 * i));
  std::memcpy(rec + 9, id.bytes.data(), 32);
  hasher_.Update(std::span<const uint8_t>(rec, sizeof rec));
}

uint64_t DataBytes(const Manifest& m) {
  uint64_t holes = 0;
  for (const FrameRef& f : m.frames) holes += f.zero ? f.length : 0;
  return m.size - holes;
}

Hash256 ContentDigestOf(const std::vector<FrameRef>& frames) {
  ContentDigest d;
  for (const FrameRef& f : frames) d.Add(f);
  return d.Finish();
}

// --- refs -----------------------------------------------------------------

namespace {

constexpr size_t kMaxRefSize = 4096;
constexpr std::string_view kRefMagic = "hugeblob-ref ";
constexpr uint32_t kRefVersion = 1;

// Canonical decimal: digits only, no leading zeros, no overflow.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool ParseI64(std::string_view s, int64_t* v) {
  bool neg = !s.empty() && s[0] == '-';
  uint64_t u;
  if (!ParseU64(neg ? s.substr(1) : s, &u)) return false;
  if (neg) {
    if (u == 0 || u > uint64_t{1} << 63) return false;  // no "-0"
    *v = static_cast<int64_t>(0 - u);
  } else {
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    *v = static_cast<int64_t>(u);
  }
  return true;
}

}  // namespace

Buffer EncodeRef(const Ref& ref) {
  std::string s;
  s += kRefMagic;
  s += std::to_string(kRefVersion);
  s += "\nmanifest ";
  s += ref.manifest.Hex();
  s += "\nsize ";
  s += std::to_string(ref.size);
  s += "\ncreated ";
  s += std::to_string(ref.created_unix);
  s += "\nadded ";
  s += std::to_string(ref.added_bytes);
  s += "\nshared ";
  s += std::to_string(ref.shared_bytes);
  if (ref.data_bytes) {
    s += "\ndata ";
    s += std::to_string(*ref.data_bytes);
  }
  s += '\n';
  return Buffer::Copy(std::string_view(s));
}

Result<Ref> DecodeRef(std::span<const uint8_t> bytes, std::string_view name) {
  // A ref key ("refs/vm/1") already says what it is.
  const std::string label =
      name.starts_with(kRefsPrefix) ? std::string(name) : "ref " + std::string(name);
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kCorruption, label + ": " + why);
  };
  if (bytes.size() > kMaxRefSize)
    return bad("too large for a ref (" + Str(bytes.size()) + " bytes)");
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());

  // Splits off the next '\n'-terminated line; false at the end or on a
  // missing terminator (a ref cut short).
  auto next_line = [&](std::string_view* line) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    *line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return true;
  };

  std::string_view line;
  if (!next_line(&line) || !line.starts_with(kRefMagic)) return bad("not a hugeblob ref");
  uint64_t version = 0;
  if (!ParseU64(line.substr(kRefMagic.size()), &version)) return bad("malformed version line");
  if (version != kRefVersion) {
    return Fail(ErrorCode::kUnsupported, label + ": format version " + Str(version) +
                                             " is not supported (this hugeblob reads version " +
                                             Str(kRefVersion) + ")");
  }

  // "key value" with the keys in this exact order.
  auto field = [&](std::string_view key, std::string_view* value) {
    if (!next_line(&line) || !line.starts_with(key) || line.size() <= key.size() ||
        line[key.size()] != ' ') {
      return false;
    }
    *value = line.substr(key.size() + 1);
    return true;
  };
  Ref ref;
  std::string_view value;
  if (!field("manifest", &value)) return bad("missing manifest line");
  auto id = Hash256::FromHex(value);
  if (!id) return bad("malformed manifest id");
  ref.manifest = *id;
  if (!field("size", &value) || !ParseU64(value, &ref.size)) return bad("missing or bad size");
  if (!field("created", &value) || !ParseI64(value, &ref.created_unix)) {
    return bad("missing or bad created time");
  }
  // Optional "key value" lines after the four fixed ones: added and shared
  // (each at most once, canonical numbers), and keys a newer hugeblob may
  // add, which are skipped (a ref that lacks added/shared reads them as 0).
  bool have_added = false, have_shared = false, have_data = false;
  while (!text.empty()) {
    if (!next_line(&line)) return bad("unterminated line after the created line");
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size()) {
      return bad("malformed line after the created line");
    }
    std::string_view key = line.substr(0, sp);
    value = line.substr(sp + 1);
    if (key == "data") {
      uint64_t v = 0;
      if (have_data || !ParseU64(value, &v)) return bad("bad or repeated data line");
      have_data = true;
      // A hint for st_blocks only: a value past the size (a hand-edited or
      // lying ref) is clamped, so the size check against the manifest is
      // what reports the damage.
      ref.data_bytes = std::min(v, ref.size);
    } else if (key == "added" || key == "shared") {
      bool& seen = key == "added" ? have_added : have_shared;
      uint64_t& out = key == "added" ? ref.added_bytes : ref.shared_bytes;
      if (seen || !ParseU64(value, &out))
        return bad("bad or repeated " + std::string(key) + " line");
      seen = true;
    }
  }
  return ref;
}

}  // namespace hugeblob
