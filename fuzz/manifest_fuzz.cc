// Fuzzes DecodeManifest. The first input byte picks a mode:
//   even: the rest is a whole manifest object, as read from a store;
//   odd:  the rest is [pack_count u32][frame_count u32][body], which is
//         compressed and sealed with a valid checksum first, so the body
//         parser is reached instead of stopping at the checksum; bit 1 of
//         the first byte seals it as version 1 (read-only) instead of 2,
//         bit 3 (without bit 1) as version 3 (owner and xattrs).
//   bit 2 set: a segment object instead (format/manifest.h DecodeSegment);
//         the rest starts with what its parent claims (level u8, length
//         u64, frame count u32, data bytes u64), then the object as above
//         (bit 0 picks raw or sealed, with magic "HBSG").
// Whatever decodes as the current version must re-encode to the very same
// bytes: the encoding is canonical, and manifests are content-addressed.
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "format/envelope.h"
#include "format/manifest.h"
#include "format/manifest_codec.h"
#include "fuzz_util.h"

namespace hugeblob {
namespace {

Manifest SeedManifest(int frames, bool holes, bool owner) {
  Manifest m;
  m.chunker = ChunkerParams{ChunkerKind::kFastCdc, 1024, 4096, 16384};
  m.created_unix = 1700000000;
  if (holes) {
    m.sha256 = Hash256{};
    m.sha256->bytes.fill(0xaa);
    m.mode = 0100600;
    m.mtime_ns = -12345;
  }
  if (owner) {
    m.owner = FileOwner{1000, 100};
    m.xattrs = std::vector<Xattr>{{"security.selinux", "system_u:object_r:tmp_t:s0"},
                                  {"user.bin", std::string("\0\xff\n", 3)},
                                  {"user.empty", ""}};
    if (!holes) m.xattrs->clear();  // recorded, none
  }
  m.packs.resize(2);
  m.packs[0].bytes.fill(1);
  m.packs[1].bytes.fill(2);
  uint64_t stored[2] = {0, 0};
  for (int i = 0; i < frames; ++i) {
    FrameRef f;
    f.offset = m.size;
    f.length = 1024 + 37 * i;
    f.zero = holes && i % 3 == 1;
    if (!f.zero) {
      f.chunk.bytes.fill(static_cast<uint8_t>(i));
      f.pack = i / 4 % 2;
      f.codec = static_cast<Codec>(i % 3);
      f.stored_offset = stored[f.pack] + (i % 5 == 0 ? 7 : 0);
      f.stored_length = f.codec == Codec::kNone ? f.length : f.length / 3;
      stored[f.pack] = f.stored_offset + f.stored_length;
    }
    m.frames.push_back(f);
    m.size += f.length;
  }
  return m;
}

void WriteSeeds(const std::string& dir) {
  int n = 0;
  struct Seed {
    int frames;
    bool holes, owner;
  };
  for (auto [frames, holes, owner] :
       {Seed{0, false, false}, Seed{1, false, false}, Seed{5, true, false}, Seed{20, true, false},
        Seed{3, false, true}, Seed{7, true, true}}) {
    Manifest m = SeedManifest(frames, holes, owner);
    auto enc = EncodeManifest(m);
    if (!enc) __builtin_trap();
    std::vector<uint8_t> raw = {0};
    raw.insert(raw.end(), enc->data(), enc->data() + enc->size());
    fuzz::WriteSeed(dir, "raw" + std::to_string(n), raw);
    // The sealed-body form: counts + decompressed body.
    auto body = ZstdDecompress(enc->span().subspan(24, enc->size() - 40), 1 << 20);
    if (!body) __builtin_trap();
    std::vector<uint8_t> sealed = {static_cast<uint8_t>(owner ? 1 | 8 : 1)};
    for (int i = 0; i < 4; ++i) sealed.push_back(static_cast<uint8_t>(m.packs.size() >> (8 * i)));
    for (int i = 0; i < 4; ++i) sealed.push_back(static_cast<uint8_t>(m.frames.size() >> (8 * i)));
    sealed.insert(sealed.end(), body->data(), body->data() + body->size());
    fuzz::WriteSeed(dir, "body" + std::to_string(n), sealed);
    ++n;
  }
}

}  // namespace
}  // namespace hugeblob

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hugeblob::fuzz::MaybeWriteSeeds(hugeblob::WriteSeeds);
  return 0;
}

namespace hugeblob {
namespace {

// The object to decode: `in` as it is (mode bit 0 clear), or [pack_count
// u32][entry_count u32][body] sealed with a valid checksum, so that the body
// parser is reached instead of stopping at the checksum. Empty if too short.
std::optional<Buffer> ObjectOf(uint8_t mode, const char* magic, uint32_t version,
                               std::span<const uint8_t> in) {
  if ((mode & 1) == 0) return Buffer::Copy(in);
  if (in.size() < 8) return std::nullopt;
  format_internal::EnvelopeHeader h;
  h.version = version;
  std::memcpy(&h.pack_count, in.data(), 4);
  uint32_t entries;
  std::memcpy(&entries, in.data() + 4, 4);
  h.entry_count = entries;
  auto sealed = format_internal::SealEnvelope(magic, h, in.subspan(8));
  if (!sealed) return std::nullopt;
  return std::move(*sealed);
}

int FuzzSegment(uint8_t mode, std::span<const uint8_t> in) {
  if (in.size() < 21) return 0;
  SegmentExpectation e;
  e.level = in[0] % (kMaxSegmentLevels + 1);
  std::memcpy(&e.ref.length, in.data() + 1, 8);
  uint32_t frames;
  std::memcpy(&frames, in.data() + 9, 4);
  e.ref.frame_count = frames;
  std::memcpy(&e.ref.data_bytes, in.data() + 13, 8);
  e.ref.offset = 12345;
  e.chunker = ChunkerParams{ChunkerKind::kFastCdc, 1024, 4096, 16384};
  in = in.subspan(21);
  auto object = ObjectOf(mode, "HBSG", 1, in);
  if (!object) return 0;
  auto seg = DecodeSegment(object->span(), e, "fuzz");
  if (!seg) return 0;
  // What decodes re-encodes to the same bytes (segments are content-addressed).
  auto again = EncodeSegment(*seg, e.chunk_hash);
  if (!again || again->view() != object->view()) __builtin_trap();
  return 0;
}

}  // namespace
}  // namespace hugeblob

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hugeblob;
  if (size < 1) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  if ((data[0] & 4) != 0) return FuzzSegment(data[0], in);
  const uint32_t version = (data[0] & 2) != 0   ? 1
                           : (data[0] & 8) != 0 ? kManifestVersionOwner
                                                : kManifestVersion;
  auto object = ObjectOf(data[0], "HBMF", version, in);
  if (!object) return 0;
  auto m = DecodeManifest(object->span(), "fuzz");
  if (!m) return 0;
  if (!m->Validate()) __builtin_trap();
  if (m->version >= kManifestVersion) {
    auto again = EncodeManifest(*m);
    if (!again || again->view() != object->view()) __builtin_trap();
  } else {
    // Version 1 is read-only: what it decodes to must upgrade cleanly.
    Manifest up = *m;
    up.version = kManifestVersion;
    up.digest.reset();
    auto again = EncodeManifest(up);
    if (!again) __builtin_trap();
    auto back = DecodeManifest(again->span(), "upgraded");
    if (!back || back->frames != m->frames || back->sha256 != m->sha256) __builtin_trap();
  }
  // FindFrame agrees with the table at every frame boundary.
  for (size_t i = 0; i < m->frames.size(); ++i) {
    const FrameRef& f = m->frames[i];
    if (m->FindFrame(f.offset) != i || m->FindFrame(f.offset + f.length - 1) != i) {
      __builtin_trap();
    }
  }
  if (m->FindFrame(m->size) != m->frames.size()) __builtin_trap();
  return 0;
}
