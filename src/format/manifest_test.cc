#include "format/manifest.h"

#include <gtest/gtest.h>

#include <vector>

#include "format/envelope.h"
#include "format/format_test_util.h"
#include "format/manifest_codec.h"

namespace hugeblob {
namespace {

using format_test::Filled;
using format_test::FromHex;
using format_test::Repeat;
using format_test::ToHex;

// Appends a frame at the end of the file.
void Add(Manifest* m, uint32_t length, bool zero, uint32_t pack = 0, uint64_t stored_offset = 0,
         uint32_t stored_length = 0, Codec codec = Codec::kZstd, uint8_t id = 0) {
  FrameRef f;
  f.offset = m->size;
  f.length = length;
  f.zero = zero;
  if (!zero) {
    f.chunk = Filled(id);
    f.pack = pack;
    f.stored_offset = stored_offset;
    f.codec = codec;
    f.stored_length = codec == Codec::kNone ? length : stored_length;
  }
  m->frames.push_back(f);
  m->size += length;
}

Manifest Small() {
  // The golden manifest: 300 bytes, a raw frame, a hole, a zstd frame right
  // after the raw one in the same pack; with the optional fields.
  Manifest m;
  m.sha256 = Filled(0xaa);
  m.mode = 0100644;
  m.mtime_ns = 1700000000123456789;
  m.chunker = ChunkerParams{ChunkerKind::kFixed, 100, 100, 100};
  m.created_unix = 1700000000;
  m.packs = {Filled(0xbb)};
  Add(&m, 100, false, 0, 0, 100, Codec::kNone, 0x11);
  Add(&m, 100, true);
  Add(&m, 100, false, 0, 100, 40, Codec::kZstd, 0x22);
  return m;
}

Manifest Larger() {
  Manifest m;
  m.sha256 = Filled(0x01);
  m.chunker = ChunkerParams{ChunkerKind::kFastCdc, 16384, 65536, 262144};
  m.created_unix = -5;  // before the epoch: zigzag path
  m.packs = {Filled(3), Filled(1), Filled(2)};
  uint64_t end[3] = {0, 0, 0};
  for (int i = 0; i < 200; ++i) {
    uint32_t len = 16384 + 977 * static_cast<uint32_t>(i % 200);
    if (i % 17 == 5) {
      Add(&m, len, true);
      continue;
    }
    uint32_t pack = (i / 40) % 3;
    Codec codec = static_cast<Codec>(i % 3);
    uint32_t stored = codec == Codec::kNone ? len : len / 2;
    uint64_t at = end[pack] + (i % 23 == 0 ? 512 : 0);  // sometimes a gap
    Add(&m, len, false, pack, at, stored, codec, static_cast<uint8_t>(i));
    end[pack] = at + stored;
  }
  // A chunk stored twice in the file (dedup inside one file): same pack
  // fields as an earlier frame.
  FrameRef again = m.frames[3];
  again.offset = m.size;
  m.frames.push_back(again);
  m.size += again.length;
  return m;
}

void ExpectSame(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.chunk_hash, b.chunk_hash);
  EXPECT_EQ(b.digest, ContentDigestOf(a.frames));
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.chunker, b.chunker);
  EXPECT_EQ(a.created_unix, b.created_unix);
  EXPECT_EQ(a.packs, b.packs);
  ASSERT_EQ(a.frames.size(), b.frames.size());
  for (size_t i = 0; i < a.frames.size(); ++i) EXPECT_EQ(a.frames[i], b.frames[i]) << i;
}

TEST(ManifestTest, RoundTrip) {
  Manifest sha = Larger();  // a store made before BLAKE3, no optional fields
  sha.chunk_hash = HashAlgo::kSha256;
  for (FrameRef& f : sha.frames) f.hash = HashAlgo::kSha256;
  sha.sha256.reset();
  for (const Manifest& m : {Small(), Larger(), sha, Manifest{}}) {
    Manifest in = m;
    if (in.frames.empty()) in.chunker = ChunkerParams{};
    ASSERT_TRUE(in.Validate()) << in.Validate().error().message();
    auto encoded = EncodeManifest(in);
    ASSERT_TRUE(encoded) << encoded.error().message();
    auto decoded = DecodeManifest(encoded->span(), "vm/1");
    ASSERT_TRUE(decoded) << decoded.error().message();
    ExpectSame(in, *decoded);
    // Deterministic.
    EXPECT_EQ(EncodeManifest(in)->view(), encoded->view());
  }
}

TEST(ManifestTest, Compact) {
  Manifest m = Larger();
  auto encoded = EncodeManifest(m);
  ASSERT_TRUE(encoded);
  // Ids are incompressible: 32 bytes a frame plus a few for the rest.
  EXPECT_LT(encoded->size(), m.frames.size() * 42 + m.packs.size() * 32 + 200);
}

// Guards the byte layout: header bytes and the exact uncompressed body.
TEST(ManifestTest, GoldenLayout) {
  auto encoded = EncodeManifest(Small());
  ASSERT_TRUE(encoded) << encoded.error().message();
  EXPECT_EQ(ToHex(encoded->span().subspan(0, 24)),
            ToHex(FromHex("48424d46"              // "HBMF"
                          "02000000"              // version
                          "00000000"              // flags
                          "01000000"              // pack count
                          "0300000000000000")));  // frame count
  auto body = ZstdDecompress(encoded->span().subspan(24, encoded->size() - 24 - 16), 1 << 20);
  ASSERT_TRUE(body);
  // The content digest: BLAKE3 of 01 u64le(100) 11x32, 00 u64le(100),
  // 01 u64le(100) 22x32 (computed with b3sum, an independent BLAKE3).
  EXPECT_EQ(ToHex(body->span()),
            ToHex(FromHex("ac02"  // size 300
                          "01"    // chunk hash: blake3
                          "c664e847ac572b6271f46c25acc94befec577e6183c5ee5e95d2371ae33da044"
                          "07" +                // fields: sha256, mode, mtime
                          Repeat("aa", 32) +    // whole-file sha256
                          "a48302"              // mode 0100644
                          "aab4aed8c7bfce972f"  // mtime 1700000000123456789 ns, zigzag
                          "00"
                          "64"
                          "64"
                          "64"                // fixed 100/100/100
                          "80c49fd50c" +      // created 1700000000, zigzag
                          Repeat("bb", 32) +  // pack 0
                          "00"
                          "64" +
                          Repeat("11", 32) +
                          "00"
                          "00"  // raw: pack 0 @0
                          "01"
                          "64"  // zero, 100
                          "1a"
                          "64" +
                          Repeat("22", 32) + "28")));  // zstd same pack,
                                                       // contiguous, 40
  // The checksum is the first 16 bytes of SHA-256 of everything before it.
  Hash256 sum = Sha256Of(encoded->span().subspan(0, encoded->size() - 16));
  EXPECT_EQ(ToHex(encoded->span().subspan(encoded->size() - 16)),
            ToHex(std::span<const uint8_t>(sum.bytes.data(), 16)));
}

TEST(ManifestTest, EveryByteFlipIsDetected) {
  auto encoded = EncodeManifest(Small());
  ASSERT_TRUE(encoded);
  std::vector<uint8_t> bytes(encoded->data(), encoded->data() + encoded->size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      bytes[i] ^= mask;
      auto r = DecodeManifest(bytes, "vm/1");
      ASSERT_FALSE(r) << "byte " << i;
      EXPECT_TRUE(r.error().code() == ErrorCode::kCorruption ||
                  r.error().code() == ErrorCode::kUnsupported);
      EXPECT_EQ(r.error().message().rfind("manifest vm/1: ", 0), 0u) << r.error().message();
      bytes[i] ^= mask;
    }
  }
}

TEST(ManifestTest, TruncationAtEveryLength) {
  auto encoded = EncodeManifest(Larger());
  ASSERT_TRUE(encoded);
  for (size_t n = 0; n < encoded->size(); ++n) {
    auto r = DecodeManifest(encoded->span().subspan(0, n), "m");
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << n;
  }
  std::vector<uint8_t> longer(encoded->data(), encoded->data() + encoded->size());
  longer.push_back(0);
  EXPECT_FALSE(DecodeManifest(longer, "m"));
}

TEST(ManifestTest, UnknownVersion) {
  auto encoded = EncodeManifest(Small());
  ASSERT_TRUE(encoded);
  std::vector<uint8_t> bytes(encoded->data(), encoded->data() + encoded->size());
  bytes[4] = 7;
  auto r = DecodeManifest(bytes, "vm/2026-11-22");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.error().message(),
            "manifest vm/2026-11-22: format version 7 is not supported (this hugeblob reads "
            "versions 1 to 3)");
  // Even a version-7 object cut short is refused for its version, not as
  // corrupt: the version is what the user needs to know.
  auto short_r = DecodeManifest(std::span<const uint8_t>(bytes).subspan(0, 8), "x");
  EXPECT_EQ(short_r.error().code(), ErrorCode::kUnsupported);
}

// put --owner / --xattrs: version 3, written only when one of them is there.
TEST(ManifestTest, OwnerAndXattrs) {
  auto version_of = [](const Buffer& b) { return b.data()[4] | b.data()[5] << 8; };
  auto plain = EncodeManifest(Small());
  ASSERT_TRUE(plain);
  EXPECT_EQ(version_of(*plain), 2) << "no owner, no xattrs: still version 2";

  Manifest m = Small();
  m.owner = FileOwner{1000, 4294967295u};
  m.xattrs = std::vector<Xattr>{{"security.selinux", std::string("u:r:t:s0\0", 9)},
                                {"user.bin", std::string("\0\xff", 2)},
                                {"user.empty", ""},
                                {"user.max", std::string(kMaxXattrValue, 'v')}};
  auto enc = EncodeManifest(m);
  ASSERT_TRUE(enc) << enc.error().message();
  EXPECT_EQ(version_of(*enc), 3);
  auto back = DecodeManifest(enc->span(), "m");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->version, 3u);
  EXPECT_EQ(back->owner, m.owner);
  EXPECT_EQ(back->xattrs, m.xattrs);
  EXPECT_EQ(back->mode, m.mode);
  EXPECT_EQ(back->frames, m.frames);
  auto again = EncodeManifest(*back);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->view(), enc->view()) << "canonical";

  // Only one of them, and an empty list (recorded, none): each version 3.
  Manifest only_owner = Small();
  only_owner.owner = FileOwner{0, 0};
  auto o = DecodeManifest(EncodeManifest(only_owner)->span(), "m");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->owner, only_owner.owner);
  EXPECT_FALSE(o->xattrs);
  Manifest none = Small();
  none.xattrs.emplace();
  auto n = DecodeManifest(EncodeManifest(none)->span(), "m");
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->xattrs);
  EXPECT_TRUE(n->xattrs->empty());
  EXPECT_FALSE(n->owner);

  // A reader of version 2 (the previous release) refuses it by its version,
  // as unsupported, not as damage.
  auto old = format_internal::OpenEnvelope(enc->span(), "HBMF", 1, 2, "manifest", "manifest vm");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(old.error().message(),
            "manifest vm: format version 3 is not supported (this hugeblob reads versions 1 to 2)");
}

TEST(ManifestTest, XattrBoundsWhenEncoding) {
  auto encode_with = [](std::vector<Xattr> x) {
    Manifest m = Small();
    m.xattrs = std::move(x);
    return EncodeManifest(m);
  };
  EXPECT_FALSE(encode_with({{"", "v"}})) << "empty name";
  EXPECT_FALSE(encode_with({{"user", "v"}})) << "no namespace";
  EXPECT_FALSE(encode_with({{".x", "v"}})) << "empty namespace";
  EXPECT_FALSE(encode_with({{"user.", "v"}})) << "nothing after the namespace";
  EXPECT_FALSE(encode_with({{std::string("user.a\0b", 8), "v"}})) << "NUL in the name";
  EXPECT_FALSE(encode_with({{"user." + std::string(251, 'n'), "v"}})) << "256-byte name";
  EXPECT_TRUE(encode_with({{"user." + std::string(250, 'n'), "v"}})) << "255-byte name";
  EXPECT_FALSE(encode_with({{"user.a", std::string(kMaxXattrValue + 1, 'v')}})) << "value";
  EXPECT_FALSE(encode_with({{"user.b", "1"}, {"user.a", "2"}})) << "not sorted";
  EXPECT_FALSE(encode_with({{"user.a", "1"}, {"user.a", "2"}})) << "not unique";
  std::vector<Xattr> many;
  for (int i = 0; i < 17; ++i) {
    many.push_back({"user.v" + std::to_string(100 + i), std::string(kMaxXattrValue, 'x')});
  }
  auto r = encode_with(many);
  ASSERT_FALSE(r) << "17 x 64 KiB is over 1 MiB";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("1048576 bytes"), std::string::npos) << r.error().message();
}

// Hand-made version 3 bodies with a valid checksum: what the decoder refuses.
TEST(ManifestTest, XattrBoundsWhenDecoding) {
  using format_internal::EnvelopeHeader;
  using format_internal::SealEnvelope;
  Manifest m = Small();
  m.xattrs = std::vector<Xattr>{{"user.a", "xy"}};
  auto enc = EncodeManifest(m);
  ASSERT_TRUE(enc);
  auto body0 = ZstdDecompress(enc->span().subspan(24, enc->size() - 40), 1 << 20);
  ASSERT_TRUE(body0);
  const std::vector<uint8_t> good(body0->data(), body0->data() + body0->size());
  auto decode = [&](const std::vector<uint8_t>& body, uint32_t version = 3) {
    EnvelopeHeader h{version, 0, 1, 3};
    auto sealed = SealEnvelope("HBMF", h, body);
    EXPECT_TRUE(sealed);
    return DecodeManifest(sealed->span(), "m");
  };
  ASSERT_TRUE(decode(good));
  // Offsets (see GoldenLayout): fields byte, then sha256, mode (3 bytes),
  // mtime (9 bytes), then the xattrs: count, name length, name, value length, value.
  const size_t kFields = 2 + 1 + 32, kX = kFields + 1 + 32 + 3 + 9;
  ASSERT_EQ(good[kFields], 0x27);
  ASSERT_EQ(good[kX], 1);
  ASSERT_EQ(good[kX + 1], 6);
  auto patch = [&](size_t at, uint8_t v, uint32_t version = 3) {
    auto b = good;
    b[at] = v;
    return decode(b, version);
  };
  EXPECT_FALSE(decode(good, 2)) << "bit 5 in a version 2 manifest";
  EXPECT_FALSE(patch(kFields, 0x07)) << "version 3 without owner or xattrs";
  EXPECT_FALSE(patch(kFields, 0x47)) << "reserved bit 6";
  EXPECT_FALSE(patch(kX, 0x7f)) << "count beyond the bytes present";
  EXPECT_FALSE(patch(kX, 0x00)) << "count 0, then stray bytes";
  EXPECT_FALSE(patch(kX + 1, 0x00)) << "empty name";
  EXPECT_FALSE(patch(kX + 1, 0x7f)) << "name running off";
  EXPECT_FALSE(patch(kX + 2 + 4, 0x00)) << "NUL in the name";
  {
    auto b = good;  // value length 65537: over XATTR_SIZE_MAX
    b[kX + 8] = 0x81;
    b.insert(b.begin() + kX + 9, {0x80, 0x04});
    auto r = decode(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  }
  {
    auto b = good;  // name length 256
    b[kX + 1] = 0x80;
    b.insert(b.begin() + kX + 2, 0x02);
    EXPECT_FALSE(decode(b));
  }
}

TEST(ManifestTest, KeyAsName) {
  std::vector<uint8_t> junk(50, 0);
  auto r = DecodeManifest(junk, "manifests/ab12");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("manifests/ab12: ", 0), 0u) << r.error().message();
}

// Bodies with a valid checksum around them but malformed content: the
// decoder's own checks must catch them.
TEST(ManifestTest, RejectsMalformedBodies) {
  using format_internal::EnvelopeHeader;
  using format_internal::SealEnvelope;
  auto encoded = EncodeManifest(Small());
  auto body0 = ZstdDecompress(encoded->span().subspan(24, encoded->size() - 40), 1 << 20);
  ASSERT_TRUE(body0);
  const std::vector<uint8_t> good(body0->data(), body0->data() + body0->size());
  auto decode = [&](const std::vector<uint8_t>& body, uint32_t packs = 1, uint64_t frames = 3) {
    EnvelopeHeader h{kManifestVersion, 0, packs, frames};
    auto sealed = SealEnvelope("HBMF", h, body);
    EXPECT_TRUE(sealed);
    return DecodeManifest(sealed->span(), "m");
  };
  ASSERT_TRUE(decode(good));
  // Offsets into `good`: see GoldenLayout.
  const size_t kAlgo = 2, kFields = kAlgo + 1 + 32;
  const size_t kKind = kFields + 1 + 32 + 3 + 9, kPacks = kKind + 4 + 5, kF0 = kPacks + 32;
  const size_t kF1 = kF0 + 2 + 32 + 2, kF2 = kF1 + 2;
  auto patch = [&](size_t at, uint8_t v) {
    auto b = good;
    b[at] = v;
    return decode(b);
  };
  EXPECT_FALSE(decode(good, 1, 2)) << "trailing bytes";
  EXPECT_FALSE(decode(good, 1, 4)) << "missing frame";
  EXPECT_FALSE(decode(good, 2, 3)) << "missing pack";
  EXPECT_FALSE(decode(good, 0, 3)) << "pack index out of range";
  EXPECT_FALSE(decode(good, 0xffffffff, 0xffffffffffffffff)) << "absurd counts";
  EXPECT_FALSE(patch(0, 0xad)) << "size disagrees with frames";
  EXPECT_FALSE(patch(kKind, 2)) << "unknown chunker kind";
  EXPECT_EQ(patch(kAlgo, 9).error().code(), ErrorCode::kUnsupported) << "unknown chunk hash";
  EXPECT_FALSE(patch(kAlgo + 1, 0xc7)) << "digest does not match the frames";
  EXPECT_FALSE(patch(kFields, 0x0f)) << "reserved field bit";
  EXPECT_FALSE(patch(kFields, 0x03)) << "mtime present but not flagged: trailing bytes";
  EXPECT_FALSE(patch(kKind + 1, 0x65)) << "min > avg";
  EXPECT_FALSE(patch(kF0, 0x20)) << "reserved flag";
  EXPECT_FALSE(patch(kF0, 0x06)) << "codec 3";
  EXPECT_FALSE(patch(kF0, 0x08)) << "same-pack flag on the first frame";
  EXPECT_FALSE(patch(kF0 + 1, 0x65)) << "length over chunker max";
  EXPECT_FALSE(patch(kF0 + 1, 0x00)) << "zero length";
  EXPECT_FALSE(patch(kF1, 0x03)) << "zero frame with a codec";
  EXPECT_FALSE(patch(kF2, 0x12)) << "contiguous without same pack";
  EXPECT_FALSE(patch(kF2, 0x0a)) << "same pack, not contiguous: stored length missing";
  EXPECT_FALSE(patch(kF2 + 2 + 32, 0x00)) << "zero stored length";
  EXPECT_FALSE(patch(kF2 + 2 + 32, 0x80)) << "varint running off the end";
  {
    auto b = good;  // non-canonical varint for the size: ac 82 00 (still 300)
    b[1] = 0x82;
    b.insert(b.begin() + 2, 0x00);
    EXPECT_FALSE(decode(b));
  }
  {
    auto b = good;  // the same pack index spelled out instead of flagged
    b[kF2] = 0x02;  // zstd, no same-pack or contiguous flag
    b.insert(b.begin() + kF2 + 2 + 32, {0x00, 0x64});  // pack 0, offset 100
    EXPECT_FALSE(decode(b));
  }
}

TEST(ManifestTest, ValidateRejects) {
  auto expect_bad = [](const Manifest& m, const char* what) {
    auto st = m.Validate();
    EXPECT_FALSE(st) << what;
    if (!st) {
      EXPECT_EQ(st.error().code(), ErrorCode::kCorruption);
    }
    auto enc = EncodeManifest(m);
    EXPECT_FALSE(enc) << what;
    if (!enc) {
      EXPECT_EQ(enc.error().code(), ErrorCode::kInvalidArgument);
    }
  };
  Manifest m = Small();
  m.size += 1;
  expect_bad(m, "size");
  m = Small();
  m.frames[1].offset += 1;
  expect_bad(m, "offset");
  m = Small();
  m.frames[2].pack = 1;
  expect_bad(m, "pack range");
  m = Small();
  m.packs.push_back(m.packs[0]);
  expect_bad(m, "duplicate pack");
  m = Small();
  m.chunker.max_size = 99;
  expect_bad(m, "length over max");
  m = Small();
  m.frames[0].stored_length = 99;
  expect_bad(m, "raw stored length");
  m = Small();
  m.frames[2].codec = static_cast<Codec>(3);
  expect_bad(m, "codec");
  m = Small();
  m.chunker.kind = static_cast<ChunkerKind>(9);
  expect_bad(m, "chunker kind");
  m = Manifest{};
  m.size = 1;
  expect_bad(m, "size without frames");
}

TEST(ManifestTest, FindFrame) {
  Manifest m = Small();
  EXPECT_EQ(m.FindFrame(0), 0u);
  EXPECT_EQ(m.FindFrame(99), 0u);
  EXPECT_EQ(m.FindFrame(100), 1u);
  EXPECT_EQ(m.FindFrame(150), 1u);
  EXPECT_EQ(m.FindFrame(200), 2u);
  EXPECT_EQ(m.FindFrame(299), 2u);  // last byte
  EXPECT_EQ(m.FindFrame(300), 3u);  // == size
  EXPECT_EQ(m.FindFrame(UINT64_MAX), 3u);

  Manifest empty;
  EXPECT_EQ(empty.FindFrame(0), 0u);
  EXPECT_EQ(empty.FindFrame(1), 0u);

  Manifest big = Larger();
  for (size_t i = 0; i < big.frames.size(); ++i) {
    const FrameRef& f = big.frames[i];
    ASSERT_EQ(big.FindFrame(f.offset), i);
    ASSERT_EQ(big.FindFrame(f.offset + f.length - 1), i);
  }
}

TEST(RefTest, RoundTripAndText) {
  Ref ref{Filled(0xcd), 123456789, 1700000000, 0, 0, std::nullopt};
  Buffer b = EncodeRef(ref);
  EXPECT_EQ(b.view(), "hugeblob-ref 1\nmanifest " + Filled(0xcd).Hex() +
                          "\nsize 123456789\ncreated 1700000000\nadded 0\nshared 0\n");
  auto r = DecodeRef(b.span(), "vm");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->manifest, ref.manifest);
  EXPECT_EQ(r->size, ref.size);
  EXPECT_EQ(r->created_unix, ref.created_unix);

  for (Ref edge : {Ref{Filled(0), 0, 0, 0, 0, std::nullopt},
                   Ref{Filled(1), UINT64_MAX, INT64_MIN, 0, 0, std::nullopt},
                   Ref{Filled(2), 1, INT64_MAX, 0, 0, std::nullopt},
                   Ref{Filled(3), 1, -1, 0, 0, std::nullopt}}) {
    auto d = DecodeRef(EncodeRef(edge).span(), "e");
    ASSERT_TRUE(d) << EncodeRef(edge).view();
    EXPECT_EQ(d->size, edge.size);
    EXPECT_EQ(d->created_unix, edge.created_unix);
  }
}

TEST(RefTest, AddedAndShared) {
  Ref ref{Filled(0xab), 1000, 1700000000, 600, 400, std::nullopt};
  Buffer b = EncodeRef(ref);
  EXPECT_EQ(b.view(), "hugeblob-ref 1\nmanifest " + Filled(0xab).Hex() +
                          "\nsize 1000\ncreated 1700000000\nadded 600\nshared 400\n");
  auto r = DecodeRef(b.span(), "vm");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->added_bytes, 600u);
  EXPECT_EQ(r->shared_bytes, 400u);

  std::string head = "hugeblob-ref 1\nmanifest " + Filled(0xab).Hex() + "\nsize 5\ncreated 7\n";
  auto decode = [](const std::string& t) {
    return DecodeRef({reinterpret_cast<const uint8_t*>(t.data()), t.size()}, "r");
  };
  // Older refs without the lines read as 0; unknown keys are skipped.
  auto old = decode(head);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->added_bytes, 0u);
  auto future = decode(head + "origin s3://x\nshared 9\nadded 8\n");
  ASSERT_TRUE(future) << future.error().message();
  EXPECT_EQ(future->added_bytes, 8u);
  EXPECT_EQ(future->shared_bytes, 9u);
  for (const std::string& bad :
       {head + "added 01\n", head + "added 1\nadded 2\n", head + "shared\n", head + "added 1",
        head + " x\n", head + "added -1\n"}) {
    auto d = decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

TEST(RefTest, DataBytes) {
  Ref ref{Filled(0xab), 1000, 1700000000, 600, 400, std::nullopt};
  ref.data_bytes = 250;
  Buffer b = EncodeRef(ref);
  EXPECT_EQ(b.view(), "hugeblob-ref 1\nmanifest " + Filled(0xab).Hex() +
                          "\nsize 1000\ncreated 1700000000\nadded 600\nshared 400\ndata 250\n");
  auto r = DecodeRef(b.span(), "vm");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->data_bytes, 250u);
  std::string head = "hugeblob-ref 1\nmanifest " + Filled(0xab).Hex() + "\nsize 5\ncreated 7\n";
  auto decode = [](const std::string& t) {
    return DecodeRef({reinterpret_cast<const uint8_t*>(t.data()), t.size()}, "r");
  };
  EXPECT_FALSE(decode(head)->data_bytes);  // older refs: unknown, read as dense
  // More data than the file has: a hint, clamped, so the size check against
  // the manifest is what names the damage.
  ASSERT_TRUE(decode(head + "data 6\n"));
  EXPECT_EQ(*decode(head + "data 6\n")->data_bytes, 5u);
  EXPECT_FALSE(decode(head + "data 1\ndata 1\n")) << "repeated";
}

TEST(RefTest, Rejects) {
  std::string hex = Filled(0xcd).Hex();
  std::string good = "hugeblob-ref 1\nmanifest " + hex + "\nsize 5\ncreated 7\n";
  ASSERT_TRUE(DecodeRef({reinterpret_cast<const uint8_t*>(good.data()), good.size()}, "r"));
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = DecodeRef({reinterpret_cast<const uint8_t*>(good.data()), n}, "r");
    EXPECT_FALSE(r) << "truncated at " << n;
  }
  for (std::string bad : {
           "hugeblob-ref 1\nmanifest " + hex + "\nsize 5\ncreated 7\nextra\n",
           "hugeblob-ref 1\nmanifest " + hex + "\nsize 05\ncreated 7\n",
           "hugeblob-ref 1\nmanifest " + hex + "\nsize -5\ncreated 7\n",
           "hugeblob-ref 1\nmanifest " + hex + "\nsize 5\ncreated -0\n",
           "hugeblob-ref 1\nmanifest " + hex + "\nsize 18446744073709551616\ncreated 7\n",
           "hugeblob-ref 1\nmanifest " + hex + "\nsize 5\ncreated 9223372036854775808\n",
           "hugeblob-ref 1\nmanifest " + hex + "\ncreated 7\nsize 5\n",
           "hugeblob-ref 1\nmanifest " + hex.substr(1) + "\nsize 5\ncreated 7\n",
           "hugeblob-ref 1\nmanifest  " + hex + "\nsize 5\ncreated 7\n",
           "hugeblob-ref 1\r\nmanifest " + hex + "\nsize 5\ncreated 7\n",
           "hugeblob-ref 01\nmanifest " + hex + "\nsize 5\ncreated 7\n",
           "HUGEBLOB-REF 1\nmanifest " + hex + "\nsize 5\ncreated 7\n",
           std::string(5000, 'x'),
       }) {
    auto r = DecodeRef({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}, "r");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << bad;
    EXPECT_EQ(r.error().message().rfind("ref r: ", 0), 0u);
  }
  std::string junk = "junk";
  auto j = DecodeRef({reinterpret_cast<const uint8_t*>(junk.data()), junk.size()}, "refs/vm/1");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message(), "refs/vm/1: not a hugeblob ref");
  std::string v2 = "hugeblob-ref 2\nwhatever\n";
  auto r = DecodeRef({reinterpret_cast<const uint8_t*>(v2.data()), v2.size()}, "vm");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.error().message(),
            "ref vm: format version 2 is not supported (this hugeblob reads version 1)");
}

}  // namespace
}  // namespace hugeblob

namespace hugeblob {
namespace {

// Version 1 manifests (stores made before BLAKE3 ids) still decode: the
// golden body of the previous release, sealed as version 1.
TEST(ManifestTest, DecodesVersion1) {
  using format_internal::EnvelopeHeader;
  using format_internal::SealEnvelope;
  auto body =
      format_test::FromHex("ac02" + format_test::Repeat("aa", 32) +
                           "00646464"
                           "80c49fd50c" +
                           format_test::Repeat("bb", 32) + "0064" + format_test::Repeat("11", 32) +
                           "0000" + "0164" + "1a64" + format_test::Repeat("22", 32) + "28");
  EnvelopeHeader h{1, 0, 1, 3};
  auto sealed = SealEnvelope("HBMF", h, body);
  ASSERT_TRUE(sealed);
  auto m = DecodeManifest(sealed->span(), "old");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->version, 1u);
  EXPECT_EQ(m->chunk_hash, HashAlgo::kSha256);
  EXPECT_FALSE(m->digest);
  ASSERT_TRUE(m->sha256);
  EXPECT_EQ(*m->sha256, format_test::Filled(0xaa));
  EXPECT_FALSE(m->mode);
  ASSERT_EQ(m->frames.size(), 3u);
  EXPECT_EQ(m->frames[0].hash, HashAlgo::kSha256);
  EXPECT_TRUE(m->frames[1].zero);
  // Version 1 is read-only: re-encoding needs the current version.
  EXPECT_FALSE(EncodeManifest(*m));
  Manifest upgraded = *m;
  upgraded.version = kManifestVersion;
  upgraded.digest.reset();
  auto again = EncodeManifest(upgraded);
  ASSERT_TRUE(again) << again.error().message();
  auto back = DecodeManifest(again->span(), "new");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->chunk_hash, HashAlgo::kSha256);
  EXPECT_EQ(back->sha256, m->sha256);
}

// Version 2: a zero frame may be any length up to kMaxZeroFrame, so a
// 1 TiB hole costs 1024 small records; data frames stay within the chunker.
TEST(ManifestTest, LongZeroRuns) {
  Manifest m;
  m.chunker = ChunkerParams{ChunkerKind::kFastCdc, 16384, 65536, 262144};
  for (int i = 0; i < 1024; ++i) Add(&m, kMaxZeroFrame, true);
  Add(&m, 1000, false, 0, 0, 500, Codec::kZstd, 7);
  m.packs = {format_test::Filled(1)};
  auto encoded = EncodeManifest(m);
  ASSERT_TRUE(encoded) << encoded.error().message();
  EXPECT_LT(encoded->size(), 400u);
  auto d = DecodeManifest(encoded->span(), "sparse");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->size, (1ull << 40) + 1000);
  EXPECT_EQ(d->FindFrame((1ull << 40) - 1), 1023u);
  EXPECT_EQ(d->FindFrame(1ull << 40), 1024u);
  Manifest too_long = m;
  too_long.frames[0].length = kMaxZeroFrame + 1;
  EXPECT_FALSE(too_long.Validate());
  Manifest data_too_long;
  data_too_long.chunker = m.chunker;
  data_too_long.packs = m.packs;
  Add(&data_too_long, 262145, false, 0, 0, 100, Codec::kZstd, 7);
  EXPECT_FALSE(data_too_long.Validate());
}

}  // namespace
}  // namespace hugeblob
