#include "repo/packs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/layout.h"
#include "format/pack_codec.h"
#include "hash/blake3.h"
#include "store/memory_store.h"

namespace hugeblob {
namespace {

// A pack of `n` one-byte raw frames: its key, size and id.
struct TestPack {
  ObjectInfo info;
  Hash256 id;
  std::vector<PackEntry> entries;
  std::string bytes;
};

TestPack MakePack(size_t n) {
  TestPack p;
  for (size_t i = 0; i < n; ++i) {
    PackEntry e;
    const auto byte = static_cast<uint8_t>(i * 7);
    e.chunk = Blake3Of(std::span<const uint8_t>(&byte, 1));
    e.offset = i;
    e.stored_length = 1;
    e.length = 1;
    e.codec = Codec::kNone;
    p.entries.push_back(e);
    p.bytes.push_back(static_cast<char>(byte));
  }
  Buffer trailer = EncodePackTrailer(p.entries, n);
  p.id = Sha256Of(trailer.span());
  p.bytes.append(trailer.view());
  p.info = ObjectInfo{PackKey(p.id), p.bytes.size(), 0};
  return p;
}

void Store(MemoryStore& store, const TestPack& p) {
  ASSERT_TRUE(store.Put(p.info.key, Buffer::Copy(std::string_view(p.bytes))));
}

struct Streamed {
  std::vector<PackEntry> entries;
  std::vector<std::string> errors;
  size_t batches = 0;
  uint64_t bytes = 0;
  Status sealed;
};

Streamed StreamAll(MemoryStore& store, const ObjectInfo& info, const Hash256& id) {
  Streamed out;
  Buffer raw;
  auto footer = ReadPackFooter(store, info, &raw);
  EXPECT_TRUE(footer) << footer.error().message();
  if (!footer) return out;
  PackTrailerStream s(store, info, *footer, std::move(raw));
  while (true) {
    auto batch = s.Next();
    if (!batch) {
      out.errors.push_back(batch.error().message());
      break;
    }
    if (batch->empty()) break;
    ++out.batches;
    out.entries.insert(out.entries.end(), batch->begin(), batch->end());
  }
  out.sealed = s.Finish(id);
  out.bytes = s.bytes_read();
  return out;
}

TEST(PackTrailerStreamTest, StreamsATrailerOfSeveralPiecesAndChecksIt) {
  MemoryStore store;
  // More entries than one ~1 MiB piece holds (21,400).
  TestPack p = MakePack(50000);
  Store(store, p);
  Streamed s = StreamAll(store, p.info, p.id);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.batches, 3u);
  EXPECT_EQ(s.entries, p.entries);
  EXPECT_TRUE(s.sealed) << s.sealed.error().message();
  EXPECT_EQ(s.bytes, p.info.size - 50000);  // the trailer, read once
}

TEST(PackTrailerStreamTest, AWrongIdIsDamageNamingThePack) {
  MemoryStore store;
  TestPack p = MakePack(10);
  Store(store, p);
  Hash256 other = p.id;
  other.bytes[0] ^= 1;
  Streamed s = StreamAll(store, p.info, other);
  EXPECT_EQ(s.entries.size(), 10u);
  ASSERT_FALSE(s.sealed);
  EXPECT_EQ(s.sealed.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.sealed.error().message().find(p.info.key), std::string::npos);
  EXPECT_NE(s.sealed.error().message().find("does not match the pack id"), std::string::npos);
}

TEST(PackTrailerStreamTest, AnEntryThatDoesNotDecodeStopsEntriesButNotTheChecksum) {
  MemoryStore store;
  TestPack p = MakePack(30000);
  // The second piece's first entry gets an unknown codec: its first byte
  // after the chunk id, offset and lengths (32 + 8 + 4 + 4).
  const size_t trailer_at = 30000;
  const size_t entry = 21400;
  p.bytes[trailer_at + entry * kPackEntrySize + 48] = 0x7f;
  Store(store, p);
  Streamed s = StreamAll(store, p.info, p.id);
  EXPECT_EQ(s.entries.size(), 21400u);  // the first piece
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].find(p.info.key), std::string::npos) << s.errors[0];
  // The rest of the trailer is still read: the changed byte breaks the
  // checksum, which is reported too.
  ASSERT_FALSE(s.sealed);
  EXPECT_NE(s.sealed.error().message().find("checksum mismatch"), std::string::npos)
      << s.sealed.error().message();
}

TEST(PackTrailerStreamTest, AnObjectThatShrankWhileReadIsTruncatedDamage) {
  MemoryStore store;
  TestPack p = MakePack(30000);
  Store(store, p);
  Buffer raw;
  auto footer = ReadPackFooter(store, p.info, &raw);
  ASSERT_TRUE(footer);
  // The pack is replaced by a shorter object after its footer was read.
  ASSERT_TRUE(store.Put(p.info.key, Buffer::Copy(std::string_view(p.bytes).substr(0, 40000))));
  PackTrailerStream s(store, p.info, *footer, std::move(raw));
  auto batch = s.Next();
  ASSERT_FALSE(batch);
  EXPECT_EQ(batch.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(batch.error().message().find("truncated"), std::string::npos);
  EXPECT_TRUE(s.truncated());
  EXPECT_FALSE(s.Finish(p.id));
}

}  // namespace
}  // namespace hugeblob
