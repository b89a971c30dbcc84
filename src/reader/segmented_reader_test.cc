// Segmented manifests end to end: a file's frame table written as a tree of
// segments (small shapes, so a small file has several levels), read back
// whole, and read lazily by BlobReader at every segment edge.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <random>

#include "format/layout.h"
#include "format/manifest_codec.h"
#include "reader/blob_reader.h"
#include "reader/reader_test_util.h"
#include "repo/manifests.h"
#include "store/forwarding_store.h"
#include "store/memory_store.h"

namespace hugeblob {
namespace {

using reader_test::BlobLayout;
using reader_test::MakeData;
using reader_test::StoreBlob;

class SegmentedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeData(150 * 4096 + 1234, 4096, 7);  // holes, duplicates, a short last chunk
    BlobLayout layout;
    layout.chunk = 4096;
    layout.pack_bytes = 64 * 1024;
    auto m = StoreBlob(*store_, "f", data_, layout);
    ASSERT_TRUE(m) << m.error().ToString();
    inline_ = *m;
    // 151 frames, leaves of 8, 3 children a segment: 19 leaves, 7 and 3
    // inner segments, a top of 3 children at levels 3.
    auto id = StoreManifest(*store_, inline_, nullptr, ManifestShape{8, 3});
    ASSERT_TRUE(id) << id.error().ToString();
    id_ = *id;
    auto top = LoadManifestTop(*store_, id_);
    ASSERT_TRUE(top) << top.error().ToString();
    top_ = std::make_shared<const Manifest>(std::move(*top));
  }

  std::unique_ptr<BlobReader> Open() {
    ReaderOptions o;
    o.disk_cache = false;
    auto ctx = ReaderContext::Create(o);
    EXPECT_TRUE(ctx);
    ctx_ = *ctx;
    auto r = BlobReader::Open(ctx_, store_, top_, "f");
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? std::move(*r) : nullptr;
  }

  std::string Bytes(uint64_t off, uint64_t n) const {
    return std::string(reinterpret_cast<const char*>(data_.data()) + off, n);
  }

  std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
  Buffer data_;
  Manifest inline_;
  Hash256 id_;
  std::shared_ptr<const Manifest> top_;
  std::shared_ptr<ReaderContext> ctx_;
};

TEST_F(SegmentedTest, ShapeAndWholeLoad) {
  EXPECT_EQ(top_->levels, 3);
  EXPECT_EQ(top_->children.size(), 3u);
  EXPECT_TRUE(top_->frames.empty());
  EXPECT_EQ(top_->frame_count(), inline_.frames.size());
  EXPECT_EQ(*top_->digest, ContentDigestOf(inline_.frames));
  uint64_t bytes = 0;
  auto full = LoadManifest(*store_, id_, &bytes);
  ASSERT_TRUE(full) << full.error().ToString();
  EXPECT_EQ(full->segments.size(), 19u + 7u + 3u);
  EXPECT_GT(bytes, 0u);
  ASSERT_EQ(full->frames.size(), inline_.frames.size());
  for (size_t i = 0; i < full->frames.size(); ++i) {
    FrameRef a = full->frames[i], b = inline_.frames[i];
    ASSERT_EQ(a.zero, b.zero) << i;
    if (a.zero) continue;
    EXPECT_EQ(full->packs[a.pack], inline_.packs[b.pack]) << i;
    a.pack = b.pack = 0;
    EXPECT_EQ(a, b) << i;
  }
  // Stored again with the default shape, 151 frames stay inline.
  auto again = StoreManifest(*store_, *full);
  ASSERT_TRUE(again);
  auto top = LoadManifestTop(*store_, *again);
  ASSERT_TRUE(top);
  EXPECT_FALSE(top->segmented());
  EXPECT_EQ(top->frames.size(), inline_.frames.size());
}

TEST_F(SegmentedTest, WriterCutsAtExactSizes) {
  // n frames with leaves of 4 and 2 children a segment.
  for (size_t n : {1, 4, 5, 8, 9, 16, 17, 33}) {
    ManifestWriter w(*store_, inline_.chunk_hash, inline_.chunker, ManifestShape{4, 2});
    Manifest header;
    for (size_t i = 0; i < n; ++i) {
      const FrameRef& f = inline_.frames[i];
      ASSERT_TRUE(w.Add(f, f.zero ? Hash256{} : inline_.packs[f.pack]));
      header.size += f.length;
    }
    auto id = w.Finish(header);
    ASSERT_TRUE(id) << n << ": " << id.error().ToString();
    auto top = LoadManifestTop(*store_, *id);
    ASSERT_TRUE(top) << n;
    // Up to a leaf inline; then 2 children per level at most.
    const int levels = n <= 4 ? 0 : n <= 8 ? 1 : n <= 16 ? 2 : n <= 32 ? 3 : 4;
    EXPECT_EQ(top->levels, levels) << n;
    EXPECT_LE(top->children.size(), 2u) << n;
    auto full = LoadManifest(*store_, *id);
    ASSERT_TRUE(full) << n << ": " << full.error().ToString();
    EXPECT_EQ(full->frames.size(), n);
    EXPECT_EQ(w.frame_count(), n);
  }
}

TEST_F(SegmentedTest, ReadsAtEveryEdge) {
  auto r = Open();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), data_.size());
  std::vector<uint64_t> edges;
  for (const FrameRef& f : inline_.frames) edges.push_back(f.offset);
  edges.push_back(data_.size());
  std::string buf;
  for (uint64_t e : edges) {
    for (uint64_t off : {e > 0 ? e - 1 : 0, e, e + 1}) {
      if (off >= data_.size()) continue;
      for (uint64_t n : {1ull, 4095ull, 4096ull, 40000ull}) {
        const uint64_t want = std::min<uint64_t>(n, data_.size() - off);
        buf.assign(n, '\xee');
        auto got = r->pread(off, {reinterpret_cast<uint8_t*>(buf.data()), n});
        ASSERT_TRUE(got) << off << "+" << n << ": " << got.error().ToString();
        ASSERT_EQ(*got, want);
        ASSERT_EQ(buf.substr(0, want), Bytes(off, want)) << off << "+" << n;
      }
    }
  }
  // The whole file in one read, and one range as views across every leaf.
  buf.assign(data_.size(), 0);
  auto all = r->pread(0, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()});
  ASSERT_TRUE(all);
  EXPECT_EQ(buf, Bytes(0, data_.size()));
  auto chain = r->ReadRange(100, data_.size());
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), data_.size() - 100);
  Buffer flat = chain->Flatten();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(flat.data()), flat.size()),
            Bytes(100, data_.size() - 100));
  for (size_t i = 0; i < inline_.frames.size(); i += 7) {
    auto b = r->ReadFrame(i);
    ASSERT_TRUE(b) << i;
    const FrameRef& f = inline_.frames[i];
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b->data()), b->size()),
              Bytes(f.offset, f.length));
  }
  EXPECT_FALSE(r->ReadFrame(inline_.frames.size()));
  // The frame table through the segments, as the public File's blocks see it.
  EXPECT_EQ(r->frame_count(), inline_.frames.size());
  EXPECT_EQ(r->data_bytes(), DataBytes(inline_));
  for (size_t i = 0; i < inline_.frames.size(); ++i) {
    const FrameRef& want = inline_.frames[i];
    auto f = r->Frame(i);
    ASSERT_TRUE(f) << i;
    EXPECT_EQ(f->offset, want.offset) << i;
    EXPECT_EQ(f->length, want.length) << i;
    EXPECT_EQ(f->zero, want.zero) << i;
    EXPECT_EQ(f->chunk, want.chunk) << i;
    auto at = r->FrameAt(want.offset + want.length - 1);
    ASSERT_TRUE(at) << i;
    EXPECT_EQ(*at, i);
  }
  EXPECT_FALSE(r->Frame(inline_.frames.size()));
  EXPECT_FALSE(r->FrameAt(data_.size()));
  r->Prefetch(0, inline_.frames.size());
}

TEST_F(SegmentedTest, SeekDataAgreesWithTheFrameTable) {
  auto r = Open();
  ASSERT_TRUE(r);
  for (uint64_t off = 0; off < data_.size(); off += 1531) {
    for (bool hole : {false, true}) {
      auto want = inline_.SeekData(off, hole);
      auto got = r->SeekData(off, hole);
      ASSERT_EQ(want.has_value(), got.has_value()) << off << " hole " << hole;
      if (want) {
        EXPECT_EQ(*want, *got) << off << " hole " << hole;
      }
    }
  }
}

TEST_F(SegmentedTest, ASmallReadLoadsOnePathOfSegments) {
  auto r = Open();
  ASSERT_TRUE(r);
  uint8_t b[16];
  ASSERT_TRUE(r->pread(data_.size() / 2, b));
  // Levels 3: one inner segment of each of 2 levels, and one leaf.
  EXPECT_EQ(ctx_->stats().segment_requests, 3u);
  ASSERT_TRUE(r->pread(data_.size() / 2 + 1, b));
  EXPECT_EQ(ctx_->stats().segment_requests, 3u) << "cached";
}

TEST_F(SegmentedTest, DamagedSegmentsAreNamed) {
  auto full = LoadManifest(*store_, id_);
  ASSERT_TRUE(full);
  // The last leaf written: its bytes flipped, then gone.
  const Hash256 victim = full->segments.back();
  const std::string key = SegmentKey(victim);
  auto bytes = store_->GetRange(key, 0, 1 << 20);
  ASSERT_TRUE(bytes);
  Buffer bad = Buffer::Allocate(bytes->size());
  std::memcpy(bad.mutable_data(), bytes->data(), bytes->size());
  bad.mutable_data()[bad.size() / 2] ^= 1;
  store_->Overwrite(key, bad);
  auto whole = LoadManifest(*store_, id_);
  ASSERT_FALSE(whole);
  EXPECT_NE(whole.error().message().find("does not match its id"), std::string::npos)
      << whole.error().message();
  EXPECT_NE(whole.error().message().find(key), std::string::npos) << whole.error().message();
  ASSERT_TRUE(store_->Delete(key));
  whole = LoadManifest(*store_, id_);
  ASSERT_FALSE(whole);
  EXPECT_NE(whole.error().message().find("segment is missing"), std::string::npos);

  // A lazy reader fails only where that segment is needed.
  auto r = Open();
  ASSERT_TRUE(r);
  uint8_t b[16];
  bool failed = false, read = false;
  for (uint64_t off = 0; off < data_.size(); off += 4096) {
    auto got = r->pread(off, b);
    (got ? read : failed) = true;
    if (!got) {
      EXPECT_EQ(got.error().code(), ErrorCode::kCorruption);
    }
  }
  EXPECT_TRUE(failed);
  EXPECT_TRUE(read);
}

// Records the size of every ranged read of a pack.
class PackReadLog final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  // GetRangeInto and GetRangeIntoBuffer come here too (ObjectStore's
  // defaults), so each read is logged once.
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    if (key.starts_with("packs/")) {
      std::lock_guard lock(mu_);
      sizes_.push_back(length);
    }
    return base_->GetRange(key, offset, length);
  }
  std::vector<uint64_t> sizes() const {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<uint64_t> sizes_;
};

// A sequential reader of a segmented file keeps its read-ahead window
// across leaf edges: the next leaf starts fetching before the stream gets
// there, with the stream's window, instead of every leaf starting over with
// reads of one chunk and small windows (which, over S3, made a cold
// sequential read through the mount two-thirds requests of ~2 MiB).
// Checked by the requests it makes: the same file with its frame table
// inline is the yardstick.
TEST(SegmentedReadaheadTest, TheStreamGoesOnAcrossLeaves) {
  auto mem = std::make_shared<MemoryStore>();
  constexpr uint64_t kChunk = 4096;
  constexpr size_t kFrames = 2048;
  constexpr uint32_t kLeafFrames = 256;  // 1 MiB a leaf, 8 leaves
  Buffer data = MakeData(kFrames * kChunk, kChunk, 11, /*holes_and_dups=*/false);
  BlobLayout layout;
  layout.chunk = kChunk;
  layout.pack_bytes = 4 << 20;
  auto m = StoreBlob(*mem, "f", data, layout);
  ASSERT_TRUE(m) << m.error().ToString();
  auto id = StoreManifest(*mem, *m, nullptr, ManifestShape{kLeafFrames, 64});
  ASSERT_TRUE(id) << id.error().ToString();
  auto top = LoadManifestTop(*mem, *id);
  ASSERT_TRUE(top) << top.error().ToString();
  ASSERT_TRUE(top->segmented());

  // Reads the whole file in 64 KiB preads (byte-identical); the sizes of
  // the pack reads it made.
  auto read_all = [&](std::shared_ptr<const Manifest> manifest) {
    auto log = std::make_shared<PackReadLog>(mem);
    ReaderOptions o;
    o.disk_cache = false;
    o.memory_cache_bytes = 16 << 20;
    o.readahead_bytes = 2 << 20;
    auto ctx = ReaderContext::Create(o);
    EXPECT_TRUE(ctx);
    auto r = BlobReader::Open(*ctx, log, std::move(manifest), "f");
    EXPECT_TRUE(r) << r.error().ToString();
    std::vector<uint8_t> buf(64 << 10);
    for (uint64_t off = 0; off < data.size(); off += buf.size()) {
      auto got = (*r)->pread(off, buf);
      EXPECT_TRUE(got) << off;
      EXPECT_EQ(std::memcmp(buf.data(), data.data() + off, buf.size()), 0) << off;
    }
    r->reset();  // background fetches end with the context's pool
    ctx->reset();
    return log->sizes();
  };
  const std::vector<uint64_t> flat = read_all(std::make_shared<const Manifest>(*m));
  const std::vector<uint64_t> segmented = read_all(std::make_shared<const Manifest>(*top));
  const size_t leaves = kFrames / kLeafFrames;
  // A request cannot span two leaves (each is read through its own frame
  // table), so an edge may cut one run in two: one more request per edge,
  // no more. Starting each leaf afresh made three to four more per edge
  // (two single-chunk reads before the streak, then windows of 3, 4, 6
  // chunks...).
  EXPECT_LE(segmented.size(), flat.size() + (leaves - 1))
      << "flat: " << flat.size() << " requests, segmented: " << segmented.size();
  uint64_t flat_bytes = 0, segmented_bytes = 0;
  for (uint64_t b : flat) flat_bytes += b;
  for (uint64_t b : segmented) segmented_bytes += b;
  EXPECT_EQ(segmented_bytes, flat_bytes);  // every frame once, either way
}

TEST(SegmentDecodeTest, ParentsClaimsAreChecked) {
  Segment leaf;
  leaf.packs.push_back(Hash256{});
  for (int i = 0; i < 3; ++i) {
    FrameRef f;
    f.offset = 1000 + 100 * i;
    f.length = 100;
    f.zero = i == 1;
    if (!f.zero) {
      f.chunk.bytes.fill(static_cast<uint8_t>(i + 1));
      f.codec = Codec::kNone;
      f.stored_offset = 100 * i;
      f.stored_length = 100;
    }
    leaf.frames.push_back(f);
  }
  auto bytes = EncodeSegment(leaf, HashAlgo::kBlake3);
  ASSERT_TRUE(bytes) << bytes.error().ToString();
  SegmentExpectation e;
  e.level = 0;
  e.ref.offset = 1000;
  e.ref.length = 300;
  e.ref.frame_count = 3;
  e.ref.data_bytes = 200;
  e.chunker = ChunkerParams{ChunkerKind::kFixed, 100, 100, 100};
  auto ok = DecodeSegment(bytes->span(), e, "s");
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->frames[2].offset, 1200u);
  for (int lie = 0; lie < 5; ++lie) {
    SegmentExpectation x = e;
    if (lie == 0) x.level = 1;
    if (lie == 1) x.ref.length = 301;
    if (lie == 2) x.ref.frame_count = 2;
    if (lie == 3) x.ref.data_bytes = 300;
    if (lie == 4) x.chunker.max_size = x.chunker.avg_size = x.chunker.min_size = 50;
    EXPECT_FALSE(DecodeSegment(bytes->span(), x, "s")) << "lie " << lie;
  }
  // Truncated anywhere: an error, never a crash.
  for (size_t n = 0; n < bytes->size(); ++n) {
    EXPECT_FALSE(DecodeSegment(bytes->span().subspan(0, n), e, "s")) << n;
  }
}

}  // namespace
}  // namespace hugeblob
