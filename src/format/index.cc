#include "format/index.h"

#include <algorithm>
#include <string>

#include "format/bytes.h"
#include "format/envelope.h"
#include "format/index_codec.h"
#include "format/pack.h"

namespace hugeblob {
namespace {

using format_internal::ByteReader;
using format_internal::ByteWriter;
using format_internal::kMaxMetadataBodySize;
using format_internal::ObjectLabel;

// Body layout (inside the envelope, see format/envelope.h, docs/format.md):
//   pack table: pack_count x pack id[32], strictly ascending
//   entries:    entry_count x { chunk id[32] | pack u32 | offset u64 |
//                               stored_length u32 | length u32 | codec u8 }
//               sorted by (pack, offset), frames of one pack not overlapping,
//               every pack of the table used.
// Fixed-width rows make the body size an exact function of the two counts in
// the header, so a reader knows what to allocate before decompressing; zstd
// takes out the redundancy of the pack and offset columns.
constexpr char kMagic[] = "HBIX";
constexpr uint64_t kEntrySize = 32 + 4 + 8 + 4 + 4 + 1;
constexpr uint64_t kMaxEntries = kMaxMetadataBodySize / kEntrySize;

std::string Str(uint64_t v) { return std::to_string(v); }

bool SortKeyLess(const IndexEntry& a, const IndexEntry& b) {
  // Every field takes part so that the order, and so the bytes, are the same
  // whatever order the caller gave.
  if (a.pack != b.pack) return a.pack < b.pack;
  if (a.offset != b.offset) return a.offset < b.offset;
  if (a.chunk != b.chunk) return a.chunk < b.chunk;
  if (a.stored_length != b.stored_length) return a.stored_length < b.stored_length;
  if (a.length != b.length) return a.length < b.length;
  return a.codec < b.codec;
}

// The per-entry rules shared by encoder and decoder; returns why, or empty.
std::string CheckEntry(const IndexEntry& e) {
  if (!IsValidCodec(static_cast<uint8_t>(e.codec))) {
    return "unknown codec " + Str(static_cast<uint8_t>(e.codec));
  }
  if (e.length == 0 || e.stored_length == 0) return "empty frame";
  // The limits of a pack's frames (format/pack.h): an entry that claims
  // more must not make a reader allocate it.
  if (e.length > kMaxFrameLength || e.stored_length > kMaxStoredFrameLength) {
    return "frame of " + Str(e.stored_length) + " stored / " + Str(e.length) +
           " bytes is larger than a frame can be";
  }
  if (e.codec == Codec::kNone && e.stored_length != e.length) {
    return "raw frame whose stored length differs from its length";
  }
  if (e.offset > UINT64_MAX - e.stored_length) return "frame end overflows";
  return {};
}

}  // namespace

Result<Buffer> EncodeIndex(std::vector<IndexEntry> entries) {
  std::sort(entries.begin(), entries.end(), SortKeyLess);
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  if (entries.size() > kMaxEntries) {
    return Fail(ErrorCode::kInvalidArgument, "index of " + Str(entries.size()) +
                                                 " entries is too large (at most " +
                                                 Str(kMaxEntries) + "); split it");
  }

  std::vector<Hash256> packs;
  for (size_t i = 0; i < entries.size(); ++i) {
    const IndexEntry& e = entries[i];
    std::string why = CheckEntry(e);
    if (!why.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "cannot encode index: chunk " + e.chunk.Short() + ": " + why);
    }
    if (packs.empty() || packs.back() != e.pack) {
      packs.push_back(e.pack);
    } else if (e.offset < entries[i - 1].offset + entries[i - 1].stored_length) {
      return Fail(ErrorCode::kInvalidArgument,
                  "cannot encode index: frames of chunks " + entries[i - 1].chunk.Short() +
                      " and " + e.chunk.Short() + " overlap in pack " + e.pack.Short());
    }
  }

  ByteWriter w;
  w.Reserve(packs.size() * 32 + entries.size() * kEntrySize);
  for (const Hash256& p : packs) w.Hash(p);
  uint32_t pack_index = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const IndexEntry& e = entries[i];
    if (i > 0 && e.pack != entries[i - 1].pack) ++pack_index;
    w.Hash(e.chunk);
    w.U32(pack_index);
    w.U64(e.offset);
    w.U32(e.stored_length);
    w.U32(e.length);
    w.U8(static_cast<uint8_t>(e.codec));
  }

  format_internal::EnvelopeHeader header;
  header.version = kIndexVersion;
  header.pack_count = static_cast<uint32_t>(packs.size());
  header.entry_count = entries.size();
  return format_internal::SealEnvelope(kMagic, header, std::span<const uint8_t>(w.bytes()));
}

Result<std::vector<IndexEntry>> DecodeIndex(std::span<const uint8_t> bytes, std::string_view name) {
  const std::string label = ObjectLabel("index", name);
  HB_ASSIGN_OR_RETURN(auto env, format_internal::OpenEnvelope(bytes, kMagic, kIndexVersion,
                                                              kIndexVersion, "index", label));
  const uint64_t pack_count = env.header.pack_count;
  const uint64_t entry_count = env.header.entry_count;
  if (entry_count > kMaxEntries || pack_count > entry_count) {
    return Fail(ErrorCode::kCorruption, label + ": implausible header (" + Str(pack_count) +
                                            " packs, " + Str(entry_count) + " entries)");
  }
  const uint64_t body_size = pack_count * 32 + entry_count * kEntrySize;
  HB_ASSIGN_OR_RETURN(
      Buffer body, format_internal::InflateBody(env.compressed_body, body_size, body_size, label));
  if (body.size() != body_size) {
    return Fail(ErrorCode::kCorruption,
                label + ": body is " + Str(body.size()) + " bytes, expected " + Str(body_size));
  }

  ByteReader r(body.span());
  std::vector<Hash256> packs(pack_count);
  for (uint64_t i = 0; i < pack_count; ++i) {
    (void)r.Hash(&packs[i]);  // sizes checked above
    if (i > 0 && !(packs[i - 1] < packs[i])) {
      return Fail(ErrorCode::kCorruption, label + ": pack table is not sorted and distinct");
    }
  }

  std::vector<IndexEntry> entries;
  entries.reserve(entry_count);
  uint32_t prev_pack = 0;
  for (uint64_t i = 0; i < entry_count; ++i) {
    IndexEntry e;
    uint32_t pack = 0;
    uint8_t codec = 0;
    (void)r.Hash(&e.chunk);
    (void)r.U32(&pack);
    (void)r.U64(&e.offset);
    (void)r.U32(&e.stored_length);
    (void)r.U32(&e.length);
    (void)r.U8(&codec);
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorruption,
                  label + ": entry " + Str(i) + " (chunk " + e.chunk.Short() + "): " + why);
    };
    // Canonical order: packs numbered in order of use, 0, 1, 2, ... each
    // used at least once, so one set of entries has one encoding.
    if (i == 0 ? pack != 0 : (pack != prev_pack && pack != prev_pack + 1)) {
      return bad("pack index " + Str(pack) + " out of order");
    }
    if (pack >= pack_count) return bad("pack index " + Str(pack) + " out of range");
    e.pack = packs[pack];
    e.codec = static_cast<Codec>(codec);
    std::string why = CheckEntry(e);
    if (!why.empty()) return bad(why);
    if (i > 0 && pack == prev_pack) {
      const IndexEntry& p = entries.back();
      if (e.offset < p.offset + p.stored_length) {
        return bad("frame overlaps the previous one or is out of order");
      }
    }
    prev_pack = pack;
    entries.push_back(e);
  }
  if (entry_count > 0 && prev_pack + uint64_t{1} != pack_count) {
    return Fail(ErrorCode::kCorruption, label + ": pack table has packs no entry uses");
  }
  return entries;
}

}  // namespace hugeblob
