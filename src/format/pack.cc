#include "format/pack.h"

#include <cassert>
#include <cstring>
#include <string>

#include "format/bytes.h"
#include "format/pack_codec.h"

namespace hugeblob {
namespace {

using format_internal::ByteReader;
using format_internal::ByteWriter;
using format_internal::LoadU32;
using format_internal::LoadU64;

// Trailer layout (docs/format.md):
//   entry (49 bytes): chunk id[32] | offset u64 | stored_length u32 | length u32 | codec u8
//   footer (32 bytes):
//     0  trailer_length u64      entries + footer
//     8  entry_count u32
//     12 reserved u32            0
//     16 checksum[8]             SHA-256 of trailer bytes before it, first 8 bytes
//     24 version u32
//     28 magic "HBPK"
// Version and magic are the last 8 bytes of every pack, whatever the
// version, so a reader can always tell a newer pack from a broken one.
constexpr size_t kEntrySize = 32 + 8 + 4 + 4 + 1;
static_assert(kEntrySize == kPackEntrySize);
constexpr char kMagic[4] = {'H', 'B', 'P', 'K'};
constexpr size_t kChecksumOffset = 16;
constexpr size_t kChecksumSize = 8;

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Buffer EncodePackTrailer(std::span<const PackEntry> entries, uint64_t frames_length) {
  // The contract (contiguous from 0, ending at frames_length) is the caller's;
  // DecodePackTrailer would reject a trailer that breaks the weaker rule
  // (frames inside the region, in order, not overlapping).
#ifndef NDEBUG
  uint64_t expect = 0;
  for (const PackEntry& e : entries) {
    assert(e.offset == expect);
    expect += e.stored_length;
  }
  assert(expect == frames_length);
#endif
  (void)frames_length;
  ByteWriter w;
  uint64_t trailer_length = entries.size() * kEntrySize + kPackFooterSize;
  w.Reserve(trailer_length);
  for (const PackEntry& e : entries) {
    w.Hash(e.chunk);
    w.U64(e.offset);
    w.U32(e.stored_length);
    w.U32(e.length);
    w.U8(static_cast<uint8_t>(e.codec));
  }
  w.U64(trailer_length);
  w.U32(static_cast<uint32_t>(entries.size()));
  w.U32(0);
  Hash256 sum = Sha256Of(std::span<const uint8_t>(w.bytes()));
  w.Bytes(std::span<const uint8_t>(sum.bytes.data(), kChecksumSize));
  w.U32(kPackVersion);
  w.Bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kMagic), 4));
  return Buffer::Copy(std::span<const uint8_t>(w.bytes()));
}

Result<PackFooter> DecodePackFooter(std::span<const uint8_t> footer, uint64_t pack_size) {
  if (footer.size() != kPackFooterSize || pack_size < kPackFooterSize) {
    return Fail(ErrorCode::kCorruption, "pack footer: truncated (pack of " + Str(pack_size) +
                                            " bytes, footer of " + Str(footer.size()) + ")");
  }
  if (std::memcmp(footer.data() + 28, kMagic, 4) != 0) {
    return Fail(ErrorCode::kCorruption, "pack footer: not a hugeblob pack (bad magic)");
  }
  PackFooter f;
  f.version = LoadU32(footer.data() + 24);
  if (f.version != kPackVersion) {
    return Fail(ErrorCode::kUnsupported, "pack format version " + Str(f.version) +
                                             " is not supported (this hugeblob reads version " +
                                             Str(kPackVersion) + ")");
  }
  f.trailer_length = LoadU64(footer.data());
  f.entry_count = LoadU32(footer.data() + 8);
  if (LoadU32(footer.data() + 12) != 0) {
    return Fail(ErrorCode::kCorruption, "pack footer: reserved field is not zero");
  }
  // entry_count < 2^32, so this cannot overflow.
  uint64_t expect = uint64_t{f.entry_count} * kEntrySize + kPackFooterSize;
  if (f.trailer_length != expect) {
    return Fail(ErrorCode::kCorruption, "pack footer: trailer length " + Str(f.trailer_length) +
                                            " does not match " + Str(f.entry_count) + " entries (" +
                                            Str(expect) + " bytes)");
  }
  if (f.trailer_length > pack_size) {
    return Fail(ErrorCode::kCorruption, "pack footer: trailer of " + Str(f.trailer_length) +
                                            " bytes is larger than the pack (" + Str(pack_size) +
                                            " bytes)");
  }
  return f;
}

Result<std::vector<PackEntry>> DecodePackTrailer(std::span<const uint8_t> trailer,
                                                 uint64_t pack_size) {
  if (trailer.size() < kPackFooterSize) {
    return Fail(ErrorCode::kCorruption,
                "pack trailer: truncated (" + Str(trailer.size()) + " bytes)");
  }
  HB_ASSIGN_OR_RETURN(
      PackFooter f, DecodePackFooter(trailer.subspan(trailer.size() - kPackFooterSize), pack_size));
  if (trailer.size() != f.trailer_length) {
    return Fail(ErrorCode::kCorruption, "pack trailer: " + Str(trailer.size()) +
                                            " bytes given, footer says " + Str(f.trailer_length));
  }
  size_t covered = trailer.size() - kPackFooterSize + kChecksumOffset;
  Hash256 sum = Sha256Of(trailer.subspan(0, covered));
  if (std::memcmp(sum.bytes.data(), trailer.data() + covered, kChecksumSize) != 0) {
    return Fail(ErrorCode::kCorruption, "pack trailer: checksum mismatch");
  }

  const uint64_t frames_end = pack_size - f.trailer_length;
  std::vector<PackEntry> entries;
  // Bounded: the trailer length was checked against entry_count above.
  entries.reserve(f.entry_count);
  uint64_t prev_end = 0;
  for (uint32_t i = 0; i < f.entry_count; ++i) {
    HB_ASSIGN_OR_RETURN(PackEntry e,
                        DecodePackEntry(trailer.subspan(uint64_t{i} * kEntrySize, kEntrySize), i,
                                        frames_end, &prev_end));
    entries.push_back(e);
  }
  return entries;
}

Result<PackEntry> DecodePackEntry(std::span<const uint8_t> bytes, uint32_t index,
                                  uint64_t frames_end, uint64_t* prev_end) {
  PackEntry e;
  uint8_t codec = 0;
  ByteReader r(bytes);
  if (bytes.size() != kEntrySize || !r.Hash(&e.chunk) || !r.U64(&e.offset) ||
      !r.U32(&e.stored_length) || !r.U32(&e.length) || !r.U8(&codec)) {
    return Fail(ErrorCode::kCorruption, "pack trailer: entry " + Str(index) + " is truncated");
  }
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kCorruption,
                "pack trailer: entry " + Str(index) + " (chunk " + e.chunk.Short() + "): " + why);
  };
  if (!IsValidCodec(codec)) return bad("unknown codec " + Str(codec));
  e.codec = static_cast<Codec>(codec);
  if (e.length == 0 || e.stored_length == 0) return bad("empty frame");
  if (e.length > kMaxFrameLength || e.stored_length > kMaxStoredFrameLength) {
    return bad("frame of " + Str(e.stored_length) + " stored / " + Str(e.length) +
               " bytes is larger than a frame can be (" + Str(kMaxFrameLength) + ")");
  }
  if (e.codec == Codec::kNone && e.stored_length != e.length) {
    return bad("raw frame whose stored length differs from its length");
  }
  if (e.offset < *prev_end) return bad("frame overlaps the previous one or is out of order");
  if (e.offset > frames_end || e.stored_length > frames_end - e.offset) {
    return bad("frame at " + Str(e.offset) + "+" + Str(e.stored_length) +
               " runs past the frames region (" + Str(frames_end) + " bytes)");
  }
  *prev_end = e.offset + e.stored_length;
  return e;
}

}  // namespace hugeblob
