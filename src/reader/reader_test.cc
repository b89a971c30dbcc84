// BlobReader end to end over in-memory, local and (when HB_TEST_S3_URL is
// set) S3 stores: random ranges against the original bytes on every codec,
// single-flight and coalescing proven by request counts, verification,
// read-ahead, the memory bound, and a concurrency stress for TSan.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "format/manifest_codec.h"
#include "reader/blob_reader.h"
#include "reader/context.h"
#include "reader/reader_test_util.h"
#include "store/local_store.h"
#include "store/memory_store.h"
#include "testing/wrapper_store.h"
#include "util/zeros.h"

namespace hugeblob {
namespace {

using reader_test::BlobLayout;
using reader_test::MakeData;
using reader_test::StoreBlob;

ReaderOptions NoDisk(uint64_t memory = 64ull << 20) {
  ReaderOptions o;
  o.disk_cache = false;
  o.memory_cache_bytes = memory;
  return o;
}

std::shared_ptr<ContextImpl> MakeContext(const ReaderOptions& o) {
  auto ctx = ReaderContext::Create(o);
  EXPECT_TRUE(ctx) << ctx.error().ToString();
  return std::dynamic_pointer_cast<ContextImpl>(*ctx);
}

std::unique_ptr<BlobReader> OpenReader(std::shared_ptr<ReaderContext> ctx,
                                       std::shared_ptr<ObjectStore> store, std::string_view name) {
  auto r = BlobReader::Open(std::move(ctx), std::move(store), name);
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? std::move(*r) : nullptr;
}

// Reads [off, off+len) and compares with `data`.
void ExpectRange(BlobReader& r, const Buffer& data, uint64_t off, size_t len) {
  std::vector<uint8_t> out(len);
  auto n = r.pread(off, out);
  ASSERT_TRUE(n) << n.error().ToString();
  size_t want = off >= data.size() ? 0 : std::min<uint64_t>(len, data.size() - off);
  ASSERT_EQ(*n, want) << "offset " << off;
  ASSERT_EQ(std::memcmp(out.data(), data.data() + std::min<uint64_t>(off, data.size()), want), 0)
      << "offset " << off << " length " << len;
}

// The same through the zero-copy ReadRange.
void ExpectChainRange(BlobReader& r, const Buffer& data, uint64_t off, size_t len) {
  size_t want = off >= data.size() ? 0 : std::min<uint64_t>(len, data.size() - off);
  auto chain = r.ReadRange(off, len);
  ASSERT_TRUE(chain) << chain.error().ToString();
  ASSERT_EQ(chain->size(), want) << "ReadRange at offset " << off;
  if (want == 0) return;
  Buffer flat = chain->Flatten();
  ASSERT_EQ(std::memcmp(flat.data(), data.data() + std::min<uint64_t>(off, data.size()), want), 0)
      << "ReadRange at offset " << off << " length " << len;
}

uint64_t PackGets(const CountingStore& s) { return s.calls(StoreOp::kGetRange); }

// ---- random ranges on every codec and store ----

struct StoreCase {
  std::string kind;  // "memory", "local", "s3"
  Codec codec;
};

class RandomRangesTest : public ::testing::TestWithParam<StoreCase> {};

TEST_P(RandomRangesTest, MatchesOriginalBytes) {
  const StoreCase& c = GetParam();
  TempDir dir;
  std::shared_ptr<ObjectStore> store;
  if (c.kind == "memory") {
    store = std::make_shared<MemoryStore>();
  } else if (c.kind == "local") {
    auto s = LocalStore::Open(dir.path() + "/store");
    ASSERT_TRUE(s) << s.error().ToString();
    store = *s;
  } else {
    const char* url = std::getenv("HB_TEST_S3_URL");
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "HB_TEST_S3_URL not set";
    auto s = OpenStore(url);
    ASSERT_TRUE(s) << s.error().ToString();
    store = *s;
  }
  const size_t kSize = 3 * 1024 * 1024 + 12345;  // a short last chunk
  Buffer data = MakeData(kSize, 64 * 1024, 42 + static_cast<int>(c.codec));
  BlobLayout layout;
  layout.codec = c.codec;
  layout.pack_bytes = 700 * 1024;  // several packs
  std::string name = "test/ranges-" + std::string(CodecName(c.codec));
  auto m = StoreBlob(*store, name, data, layout);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_GT(m->packs.size(), 1u);

  for (bool small_cache : {false, true}) {
    auto ctx = MakeContext(NoDisk(small_cache ? 256 * 1024 : 64ull << 20));
    auto r = OpenReader(ctx, store, name);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->size(), kSize);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 300; ++i) {
      uint64_t off = rng() % (kSize + 1000);
      size_t len = rng() % 4 == 0 ? rng() % (400 * 1024) : rng() % 9000;
      ExpectRange(*r, data, off, len);
      ExpectChainRange(*r, data, off, len);
    }
    ExpectChainRange(*r, data, 0, kSize);
    ExpectChainRange(*r, data, kSize - 1, 10);
    ExpectChainRange(*r, data, kSize, 10);
    ExpectChainRange(*r, data, 64 * 1024 - 1, 2);
    ExpectRange(*r, data, 0, kSize);          // the whole file in one call
    ExpectRange(*r, data, kSize - 1, 10);     // the last byte
    ExpectRange(*r, data, kSize, 10);         // at the end: 0
    ExpectRange(*r, data, 64 * 1024 - 1, 2);  // across a chunk boundary
    for (size_t f = 0; f < r->manifest().frames.size(); ++f) {
      auto b = r->ReadFrame(f);
      ASSERT_TRUE(b) << b.error().ToString();
      const FrameRef& fr = r->manifest().frames[f];
      ASSERT_EQ(b->size(), fr.length);
      ASSERT_EQ(std::memcmp(b->data(), data.data() + fr.offset, fr.length), 0) << "frame " << f;
    }
    EXPECT_FALSE(r->ReadFrame(r->manifest().frames.size()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllCodecsAndStores, RandomRangesTest,
    ::testing::Values(StoreCase{"memory", Codec::kNone}, StoreCase{"memory", Codec::kLz4},
                      StoreCase{"memory", Codec::kZstd}, StoreCase{"local", Codec::kNone},
                      StoreCase{"local", Codec::kLz4}, StoreCase{"local", Codec::kZstd},
                      StoreCase{"s3", Codec::kNone}, StoreCase{"s3", Codec::kLz4},
                      StoreCase{"s3", Codec::kZstd}),
    [](const auto& info) {
      return info.param.kind + "_" + std::string(CodecName(info.param.codec));
    });

// ---- fixtures over a counting store ----

class ReaderTest : public ::testing::Test {
 protected:
  void Build(size_t size, BlobLayout layout = {}, bool holes_and_dups = false,
             const std::string& name = "f") {
    data_ = MakeData(size, layout.chunk, 1, holes_and_dups);
    auto m = StoreBlob(*mem_, name, data_, layout);
    ASSERT_TRUE(m) << m.error().ToString();
    manifest_ = *m;
  }
  std::unique_ptr<BlobReader> Open(std::shared_ptr<ReaderContext> ctx,
                                   const std::string& name = "f") {
    auto r = OpenReader(std::move(ctx), counting_, name);
    counting_->Reset();
    return r;
  }
  size_t FrameCount() const { return manifest_.frames.size(); }

  std::shared_ptr<MemoryStore> mem_ = std::make_shared<MemoryStore>();
  std::shared_ptr<FaultInjectingStore> faults_ = std::make_shared<FaultInjectingStore>(mem_);
  std::shared_ptr<CountingStore> counting_ = std::make_shared<CountingStore>(faults_);
  Buffer data_;
  Manifest manifest_;
};

TEST_F(ReaderTest, OpenErrors) {
  Build(100 * 1024);
  auto ctx = MakeContext(NoDisk());
  auto missing = BlobReader::Open(ctx, mem_, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto bad = BlobReader::Open(ctx, mem_, "../x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);

  // A manifest whose bytes no longer match its id.
  auto ref = mem_->Get(RefKey("f"));
  ASSERT_TRUE(ref);
  auto decoded = DecodeRef(ref->span(), "f");
  ASSERT_TRUE(decoded);
  auto mbytes = mem_->Get(ManifestKey(decoded->manifest));
  ASSERT_TRUE(mbytes);
  Buffer broken = Buffer::Copy(mbytes->span());
  broken.mutable_data()[broken.size() / 2] ^= 1;
  mem_->Overwrite(ManifestKey(decoded->manifest), broken);
  auto corrupt = BlobReader::Open(ctx, mem_, "f");
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(corrupt.error().message().find("manifests/"), std::string::npos);
}

TEST_F(ReaderTest, EmptyFile) {
  Build(0);
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->size(), 0u);
  std::vector<uint8_t> out(10);
  auto n = r->pread(0, out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  r->Prefetch(0, 10);
}

TEST_F(ReaderTest, ConcurrentMissesOnOneChunkFetchOnce) {
  Build(1 << 20);
  FaultRule slow;
  slow.op = StoreOp::kGetRange;
  slow.key_substring = "packs/";
  slow.times = -1;
  slow.action = FaultRule::Action::kDelay;
  slow.delay_ms = 100;  // long enough that every thread misses while it runs
  faults_->AddRule(slow);
  ReaderOptions o = NoDisk();
  o.readahead_chunks = 0;  // only the one chunk is wanted
  auto ctx = MakeContext(o);
  auto r = Open(ctx);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> out(4096);
      // Mixed entry points, all on frame 3.
      if (t % 2 == 0) {
        auto n = r->pread(3 * 65536 + t * 100, out);
        if (n && *n == 4096 &&
            std::memcmp(out.data(), data_.data() + 3 * 65536 + t * 100, 4096) == 0)
          ok++;
      } else {
        auto b = r->ReadFrame(3);
        if (b && std::memcmp(b->data(), data_.data() + 3 * 65536, 65536) == 0) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(PackGets(*counting_), 1u);
  EXPECT_EQ(ctx->stats().misses, 1u);
}

TEST_F(ReaderTest, AdjacentFramesOfOnePackAreOneRangedGet) {
  BlobLayout layout;
  layout.pack_bytes = 8 << 20;  // one pack
  Build(1 << 20, layout);
  ASSERT_EQ(manifest_.packs.size(), 1u);
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  // 8 frames in one pread.
  ExpectRange(*r, data_, 2 * 65536 + 10, 8 * 65536 - 20);
  EXPECT_EQ(PackGets(*counting_), 1u);
  EXPECT_EQ(ctx->stats().misses, 8u);
  // Warm: nothing more.
  ExpectRange(*r, data_, 2 * 65536 + 10, 8 * 65536 - 20);
  EXPECT_EQ(PackGets(*counting_), 1u);
  // Frames 0..15 with 2..9 cached: two runs, 0-1 and 10-15.
  ExpectRange(*r, data_, 0, 16 * 65536);
  EXPECT_EQ(PackGets(*counting_), 3u);
  // The bytes fetched are exactly the frames' stored bytes.
  uint64_t stored = 0;
  for (size_t i = 0; i < 16; ++i) stored += manifest_.frames[i].stored_length;
  EXPECT_EQ(counting_->bytes_read(), stored);
}

TEST_F(ReaderTest, CoalescingRespectsPacksAndTheByteCap) {
  BlobLayout layout;
  layout.codec = Codec::kNone;  // stored length = length: easy arithmetic
  layout.pack_bytes = 4 * 65536;
  Build(16 * 65536, layout);
  ASSERT_EQ(manifest_.packs.size(), 4u);
  ReaderOptions o = NoDisk();
  o.max_coalesce_bytes = 2 * 65536;
  auto ctx = MakeContext(o);
  auto r = Open(ctx);
  ExpectRange(*r, data_, 0, 16 * 65536);
  EXPECT_EQ(PackGets(*counting_), 8u);  // 4 packs x 2 runs of 2 frames
}

TEST_F(ReaderTest, ColdRandomSmallReadFetchesOneChunkWarmFetchesNothing) {
  Build(4 << 20);
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  std::mt19937_64 rng(3);
  std::set<size_t> touched;
  for (int i = 0; i < 40; ++i) {
    // Offsets inside one chunk, far apart: a random pattern.
    size_t frame = (i * 37) % FrameCount();
    uint64_t off = frame * 65536 + rng() % (65536 - 4096);
    uint64_t before = PackGets(*counting_);
    ExpectRange(*r, data_, off, 4096);
    uint64_t fetched = PackGets(*counting_) - before;
    EXPECT_EQ(fetched, touched.count(frame) ? 0u : 1u) << "read " << i;
    touched.insert(frame);
  }
  ctx->WaitIdle();
  EXPECT_EQ(ctx->stats().misses, touched.size());  // no read-ahead on random access
  EXPECT_EQ(ctx->prefetch_in_flight(), 0u);
}

TEST_F(ReaderTest, SequentialReadsTriggerReadahead) {
  Build(4 << 20);
  ReaderOptions o = NoDisk();
  o.readahead_chunks = 4;
  auto ctx = MakeContext(o);
  auto r = Open(ctx);
  // 16 KiB reads through the first three chunks.
  for (uint64_t off = 0; off < 3 * 65536; off += 16384) ExpectRange(*r, data_, off, 16384);
  ctx->WaitIdle();
  // The next chunks were fetched before anyone asked for them.
  EXPECT_TRUE(ctx->memory().Contains(manifest_.frames[3].chunk));
  EXPECT_TRUE(ctx->memory().Contains(manifest_.frames[4].chunk));
  // Reading on is served from memory, and nothing was fetched twice.
  for (uint64_t off = 3 * 65536; off < (4 << 20); off += 16384) ExpectRange(*r, data_, off, 16384);
  ctx->WaitIdle();
  EXPECT_EQ(ctx->stats().misses, FrameCount());
  EXPECT_GT(ctx->stats().memory_hits, 0u);
}

TEST_F(ReaderTest, PrefetchThenReadFrameInOrderFetchesEachFrameOnce) {
  BlobLayout layout;
  layout.pack_bytes = 16 << 20;
  Build(8 << 20, layout, /*holes_and_dups=*/true);
  ReaderOptions o = NoDisk(8 << 20);  // prefetch bound: 4 MiB
  o.fetch_threads = 4;
  auto ctx = MakeContext(o);
  auto r = Open(ctx);
  const size_t kWindow = 16;
  std::set<ChunkId> distinct;
  for (const FrameRef& f : manifest_.frames) {
    if (!f.zero) distinct.insert(f.chunk);
  }
  for (size_t i = 0; i < FrameCount(); ++i) {
    r->Prefetch(i, i + kWindow);
    auto b = r->ReadFrame(i);
    ASSERT_TRUE(b) << b.error().ToString();
    const FrameRef& f = manifest_.frames[i];
    ASSERT_EQ(std::memcmp(b->data(), data_.data() + f.offset, f.length), 0) << i;
  }
  ctx->WaitIdle();
  EXPECT_EQ(ctx->stats().misses, distinct.size());
  // Coalesced: far fewer requests than frames.
  EXPECT_LT(PackGets(*counting_), distinct.size() / 2);
  EXPECT_EQ(ctx->prefetch_in_flight(), 0u);
}

TEST_F(ReaderTest, HolesNeedNoFetch) {
  Build(1 << 20);
  // Rebuild with a hole at frame 2.
  Buffer d = Buffer::Copy(data_.span());
  std::memset(d.mutable_data() + 2 * 65536, 0, 65536);
  data_ = d;
  ASSERT_TRUE(StoreBlob(*mem_, "holes", data_, BlobLayout{}));
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx, "holes");
  ASSERT_TRUE(r->manifest().frames[2].zero);
  auto b = r->ReadFrame(2);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size(), 65536u);
  EXPECT_TRUE(IsAllZero(b->span()));
  ExpectRange(*r, data_, 2 * 65536 + 5, 1000);
  ExpectChainRange(*r, data_, 2 * 65536 + 5, 1000);
  EXPECT_EQ(PackGets(*counting_), 0u);
}

TEST_F(ReaderTest, CorruptFrameIsAnErrorNamingPackAndOffset) {
  BlobLayout layout;
  layout.codec = Codec::kNone;
  Build(1 << 20, layout);
  const FrameRef& f = manifest_.frames[5];
  std::string key = PackKey(manifest_.packs[f.pack]);
  auto pack = mem_->Get(key);
  ASSERT_TRUE(pack);
  Buffer good = Buffer::Copy(pack->span());
  Buffer bad = Buffer::Copy(pack->span());
  bad.mutable_data()[f.stored_offset + 100] ^= 0x40;
  mem_->Overwrite(key, bad);

  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  std::vector<uint8_t> out(4096);
  auto n = r->pread(5 * 65536, out);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(n.error().message().find(key), std::string::npos) << n.error().message();
  EXPECT_NE(n.error().message().find("offset " + std::to_string(f.stored_offset)),
            std::string::npos)
      << n.error().message();
  EXPECT_FALSE(r->ReadFrame(5));
  EXPECT_FALSE(ctx->memory().Contains(f.chunk));  // nothing bad was cached
  // A frame in the same pack that is intact still reads.
  ExpectRange(*r, data_, 6 * 65536, 4096);
  // Repaired store: the next read fetches again and succeeds.
  mem_->Overwrite(key, good);
  ExpectRange(*r, data_, 5 * 65536, 4096);

  // A lying compressed frame fails to decode with the same naming.
  layout.codec = Codec::kZstd;
  ASSERT_TRUE(StoreBlob(*mem_, "z", data_, layout));
  auto rz = Open(ctx, "z");
  const FrameRef& fz = rz->manifest().frames[1];
  std::string zkey = PackKey(rz->manifest().packs[fz.pack]);
  auto zpack = mem_->Get(zkey);
  Buffer zbad = Buffer::Copy(zpack->span());
  std::memset(zbad.mutable_data() + fz.stored_offset, 0xff, 8);
  mem_->Overwrite(zkey, zbad);
  ctx->memory().Clear();
  auto b = rz->ReadFrame(1);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(b.error().message().find(zkey), std::string::npos) << b.error().message();
}

TEST_F(ReaderTest, ChunkIdWithTwoLengthsIsCorruptionNotAnOverread) {
  Build(1 << 20);
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  ExpectRange(*r, data_, 0, 65536);  // frame 0 cached at 64 KiB
  // A corrupt manifest claims frame 0's chunk is longer.
  auto bad = std::make_shared<Manifest>(manifest_);
  bad->frames[0].length = 65536 + 100;
  bad->chunker.max_size = 1 << 20;
  for (size_t i = 1; i < bad->frames.size(); ++i) bad->frames[i].offset += 100;
  bad->size += 100;
  bad->digest = ContentDigestOf(bad->frames);
  auto rb = BlobReader::Open(ctx, counting_, bad, "bad");
  ASSERT_TRUE(rb) << rb.error().ToString();
  std::vector<uint8_t> out(65536 + 100);
  auto n = (*rb)->pread(0, out);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::kCorruption);
  EXPECT_FALSE((*rb)->ReadFrame(0));
}

TEST_F(ReaderTest, StoreErrorReachesEveryWaiterAndIsNotCached) {
  Build(1 << 20);
  FaultRule fail;
  fail.op = StoreOp::kGetRange;
  fail.key_substring = "packs/";
  fail.times = 1;
  fail.action = FaultRule::Action::kFail;
  fail.code = ErrorCode::kServer;
  faults_->AddRule(fail);
  auto ctx = MakeContext(NoDisk());
  auto r = Open(ctx);
  std::vector<uint8_t> out(100);
  auto n = r->pread(0, out);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::kServer);
  EXPECT_NE(n.error().message().find("f: reading"), std::string::npos) << n.error().message();
  ExpectRange(*r, data_, 0, 100);  // the rule is spent: a fresh fetch works
}

TEST_F(ReaderTest, MemoryBoundHoldsUnderALargerWorkingSet) {
  Build(8 << 20);                 // 128 chunks of 64 KiB
  const uint64_t kCap = 1 << 20;  // room for 16
  auto ctx = MakeContext(NoDisk(kCap));
  auto r = Open(ctx);
  const int kThreads = 8;
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> out(4096);
      for (int i = 0; i < 400; ++i) {
        uint64_t off = rng() % (data_.size() - 4096);
        auto n = r->pread(off, out);
        if (!n || std::memcmp(out.data(), data_.data() + off, 4096) != 0) over = true;
        if (ctx->memory().bytes() > kCap + kThreads * 65536) over = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_LE(ctx->memory().bytes(), kCap);
  // Every decoded chunk alive at any moment: the cache, plus at most two
  // chunks per reading thread (a 4 KiB read spans at most two), plus the
  // one each inserting thread adds before it evicts.
  EXPECT_LE(ctx->live_peak_bytes(), kCap + 3 * kThreads * 65536);
  EXPECT_GT(ctx->memory().evictions(), 0u);
}

TEST_F(ReaderTest, SequentialReadaheadStaysWithinTheMemoryBound) {
  Build(8 << 20);
  const uint64_t kCap = 512 * 1024;
  ReaderOptions o = NoDisk(kCap);
  o.readahead_chunks = 64;  // asks for far more than the bound allows
  auto ctx = MakeContext(o);
  auto r = Open(ctx);
  for (uint64_t off = 0; off < data_.size(); off += 32768) ExpectRange(*r, data_, off, 32768);
  ctx->WaitIdle();
  EXPECT_LE(ctx->live_peak_bytes(), kCap + ctx->prefetch_limit() + 2 * 65536);
}

// Many threads, two files sharing chunks, every entry point, a cache smaller
// than the data and a slow store: the TSan run's main course.
TEST_F(ReaderTest, ConcurrencyStress) {
  BlobLayout layout;
  layout.chunk = 16 * 1024;
  layout.pack_bytes = 256 * 1024;
  Build(2 << 20, layout, true, "a");
  Buffer a = data_;
  Buffer b = Buffer::Copy(a.span());
  std::memset(b.mutable_data() + 100000, 0x5a, 50000);  // most chunks shared with "a"
  ASSERT_TRUE(StoreBlob(*mem_, "b", b, layout));
  FaultRule slow;
  slow.op = StoreOp::kGetRange;
  slow.key_substring = "packs/";
  slow.times = -1;
  slow.action = FaultRule::Action::kDelay;
  slow.delay_ms = 1;
  faults_->AddRule(slow);

  ReaderOptions o = NoDisk(512 * 1024);
  o.fetch_threads = 4;
  auto ctx = MakeContext(o);
  auto ra = Open(ctx, "a");
  auto rb = Open(ctx, "b");
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      BlobReader& r = t % 2 ? *ra : *rb;
      const Buffer& d = t % 2 ? a : b;
      std::vector<uint8_t> out(64 * 1024);
      uint64_t seq = (rng() % 64) * 16384;
      for (int i = 0; i < 300; ++i) {
        switch (rng() % 4) {
          case 0: {  // random
            uint64_t off = rng() % d.size();
            size_t len = 1 + rng() % out.size();
            auto n = r.pread(off, {out.data(), len});
            size_t want = std::min<uint64_t>(len, d.size() - off);
            if (!n || *n != want || std::memcmp(out.data(), d.data() + off, want) != 0) bad++;
            break;
          }
          case 1: {  // sequential
            auto n = r.pread(seq, {out.data(), 8192});
            size_t want = seq >= d.size() ? 0 : std::min<uint64_t>(8192, d.size() - seq);
            if (!n || *n != want || std::memcmp(out.data(), d.data() + seq, want) != 0) bad++;
            seq = seq + 8192 >= d.size() ? 0 : seq + 8192;
            break;
          }
          case 2: {
            size_t f = rng() % r.manifest().frames.size();
            auto c = r.ReadFrame(f);
            const FrameRef& fr = r.manifest().frames[f];
            if (!c || c->size() != fr.length ||
                std::memcmp(c->data(), d.data() + fr.offset, fr.length) != 0) {
              bad++;
            }
            break;
          }
          case 3: {
            size_t f = rng() % r.manifest().frames.size();
            r.Prefetch(f, f + 1 + rng() % 16);
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  ctx->WaitIdle();
  EXPECT_EQ(ctx->prefetch_in_flight(), 0u);
  EXPECT_EQ(ctx->flights().in_flight(), 0u);
  EXPECT_LE(ctx->memory().bytes(), 512u * 1024);
}

TEST_F(ReaderTest, ReaderAndContextCanGoWhilePrefetchesRun) {
  Build(4 << 20);
  FaultRule slow;
  slow.op = StoreOp::kGetRange;
  slow.key_substring = "packs/";
  slow.times = -1;
  slow.action = FaultRule::Action::kDelay;
  slow.delay_ms = 20;
  faults_->AddRule(slow);
  for (int round = 0; round < 3; ++round) {
    auto ctx = MakeContext(NoDisk());
    auto r = Open(ctx);
    r->Prefetch(0, FrameCount());
    if (round == 1) r.reset();  // reader first, context second
  }
}

// ---- the disk cache on the pread miss path, and admission ----

class DiskRangeTest : public ReaderTest {
 protected:
  // A memory cache of two chunks (so reads keep missing it), a disk cache in
  // a temp dir, no read-ahead unless asked.
  ReaderOptions Options(DiskCacheAdmission admission = DiskCacheAdmission::kAlways) const {
    ReaderOptions o;
    o.memory_cache_bytes = 2 * 65536;
    o.disk_cache_dir = dir_.path() + "/cache";
    o.disk_cache_admission = admission;
    o.readahead_chunks = 0;
    return o;
  }
  // Reads three chunks far from `frame`: first loads of each (which push
  // older chunks out of the two-chunk memory cache), or disk range reads.
  void ReadOthers(BlobReader& r, size_t frame) {
    for (size_t k = 1; k <= 3; ++k) {
      size_t other = (frame + k * 5) % FrameCount();
      ExpectRange(r, data_, other * 65536 + 10, 100);
    }
  }
  bool OnDisk(ContextImpl& ctx, size_t frame) {
    struct stat st;
    return ::stat(ctx.disk()->PathFor(manifest_.frames[frame].chunk).c_str(), &st) == 0;
  }
  TempDir dir_;
};

TEST_F(DiskRangeTest, PartialReadsComeFromTheDiskCacheWithoutFetching) {
  Build(2 << 20);  // 32 chunks of 64 KiB
  auto ctx = MakeContext(Options());
  auto r = Open(ctx);
  ExpectRange(*r, data_, 0, data_.size());  // every chunk loaded once and written
  ASSERT_EQ(ctx->disk()->stats().writes, FrameCount());
  counting_->Reset();
  const uint64_t c = 65536;
  struct Case {
    uint64_t off;
    size_t len;
  };
  const Case cases[] = {
      {5 * c, 4096},              // a chunk's start
      {9 * c + 30000, 4096},      // middle
      {12 * c + c - 4096, 4096},  // end
      {20 * c - 1000, 4096},      // across a chunk boundary: two ranges
      {25 * c - 100, 200},        // across, small
      {31 * c + c - 1, 1},        // the file's last byte
      {3 * c + 1, c - 2},         // nearly a whole chunk
  };
  uint64_t ranges = 0;
  for (const Case& k : cases) {
    ctx->memory().Clear();
    ctx->memory().Clear();
    uint64_t before = ctx->stats().disk_range_hits;
    ExpectRange(*r, data_, k.off, k.len);
    uint64_t pieces = (k.off + k.len - 1) / c - k.off / c + 1;
    EXPECT_EQ(ctx->stats().disk_range_hits - before, pieces) << "offset " << k.off;
    ranges += pieces;
  }
  EXPECT_EQ(PackGets(*counting_), 0u);  // nothing from the store
  // Random 4 KiB reads all over: right bytes, still nothing fetched.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 500; ++i) ExpectRange(*r, data_, rng() % (data_.size() - 4096), 4096);
  EXPECT_EQ(PackGets(*counting_), 0u);
  EXPECT_GT(ctx->stats().disk_range_hits, ranges + 300);
  EXPECT_EQ(ctx->disk()->stats().hits, 0u);  // no whole chunk read back

  // A read covering whole chunks and ReadFrame load whole chunks (from disk).
  ctx->memory().Clear();
  ExpectRange(*r, data_, 7 * c, c);
  EXPECT_EQ(ctx->disk()->stats().hits, 1u);
  ctx->memory().Clear();
  auto frame = r->ReadFrame(8);
  ASSERT_TRUE(frame);
  EXPECT_EQ(std::memcmp(frame->data(), data_.data() + 8 * c, c), 0);
  EXPECT_EQ(ctx->disk()->stats().hits, 2u);
  EXPECT_EQ(PackGets(*counting_), 0u);
}

TEST_F(DiskRangeTest, UnverifiedEntryIsNeverRangeRead) {
  Build(2 << 20);
  {
    auto first = MakeContext(Options());
    ExpectRange(*Open(first), data_, 0, data_.size());  // fills the cache
  }
  auto ctx = MakeContext(Options());  // a new process: knows nothing verified
  // Damage chunk 3's entry in place before this process ever read it.
  const std::string path = ctx->disk()->PathFor(manifest_.frames[3].chunk);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.put('\x01');
  }
  auto r = Open(ctx);
  ExpectRange(*r, data_, 3 * 65536 + 4096, 4096);  // the damaged spot, served right
  EXPECT_EQ(ctx->stats().disk_range_hits, 0u);
  EXPECT_EQ(ctx->disk()->stats().corrupt, 1u);  // read whole, rejected, deleted
  EXPECT_EQ(PackGets(*counting_), 1u);          // and fetched from the store
  // An intact entry: read whole and hashed once, then range-read.
  ExpectRange(*r, data_, 10 * 65536 + 100, 4096);
  EXPECT_EQ(ctx->disk()->stats().hits, 1u);
  ctx->memory().Clear();
  ExpectRange(*r, data_, 10 * 65536 + 8000, 4096);
  EXPECT_EQ(ctx->stats().disk_range_hits, 1u);
  EXPECT_EQ(PackGets(*counting_), 1u);
}

TEST_F(DiskRangeTest, ReplacedEntryIsVerifiedAgainRejectedAndRefetched) {
  Build(2 << 20);
  auto ctx = MakeContext(Options());
  auto r = Open(ctx);
  ExpectRange(*r, data_, 0, data_.size());  // written by us: verified
  const size_t frame = 6;
  ctx->memory().Clear();
  ExpectRange(*r, data_, frame * 65536 + 100, 4096);  // range-read once (fd kept open)
  ASSERT_EQ(ctx->stats().disk_range_hits, 1u);
  // Our fd reads the verified inode whatever happens to the name, so close
  // it the way an fd-cache eviction would, then publish a corrupt
  // replacement (a new inode) under the name.
  const ChunkId id = manifest_.frames[frame].chunk;
  ctx->disk()->Forget(id);
  Buffer chunk = data_.Slice(frame * 65536, 65536);
  const std::string path = ctx->disk()->PathFor(id);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ctx->disk()->Put(id, chunk);  // verified again (written by us), no fd open...
  ASSERT_TRUE(ctx->disk()->IsVerified(id));
  ASSERT_EQ(ctx->disk()->stats().open_files, 0u);
  Buffer bad = Buffer::Copy(chunk.span());
  bad.mutable_data()[200] ^= 0xFF;
  {
    std::ofstream f(path + ".x", std::ios::binary);
    f.write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
  }
  ASSERT_EQ(::rename((path + ".x").c_str(), path.c_str()), 0);  // ...then replaced
  counting_->Reset();
  ctx->memory().Clear();
  counting_->Reset();
  ExpectRange(*r, data_, frame * 65536 + 100, 4096);  // covers the damaged byte
  EXPECT_EQ(ctx->stats().disk_range_hits, 1u);        // not served from the new inode
  EXPECT_EQ(ctx->disk()->stats().corrupt, 1u);        // verified, rejected, deleted
  EXPECT_EQ(PackGets(*counting_), 1u);                // the right bytes from the store
  // Rewritten intact (admission kAlways) and range-read from then on.
  ctx->memory().Clear();
  counting_->Reset();
  ExpectRange(*r, data_, frame * 65536 + 100, 4096);
  EXPECT_EQ(ctx->stats().disk_range_hits, 2u);
  EXPECT_EQ(PackGets(*counting_), 0u);
}

TEST_F(DiskRangeTest, SecondLoadAdmission) {
  Build(2 << 20);
  auto ctx = MakeContext(Options(DiskCacheAdmission::kSecondLoad));
  auto r = Open(ctx);
  const size_t frame = 4;
  ExpectRange(*r, data_, frame * 65536 + 10, 4096);  // first load: not written
  EXPECT_FALSE(OnDisk(*ctx, frame));
  EXPECT_EQ(ctx->disk()->stats().writes, 0u);
  EXPECT_EQ(ctx->stats().disk_deferred, 1u);
  ReadOthers(*r, frame);  // three more first loads, pushing it out of memory
  EXPECT_EQ(ctx->disk()->stats().writes, 0u);
  EXPECT_EQ(ctx->stats().disk_deferred, 4u);
  ASSERT_FALSE(ctx->memory().Contains(manifest_.frames[frame].chunk));
  counting_->Reset();
  ExpectRange(*r, data_, frame * 65536 + 20000, 4096);  // second load: written
  EXPECT_EQ(PackGets(*counting_), 1u);
  EXPECT_TRUE(OnDisk(*ctx, frame));
  EXPECT_EQ(ctx->disk()->stats().writes, 1u);
  ctx->memory().Clear();
  counting_->Reset();
  ExpectRange(*r, data_, frame * 65536 + 40000, 4096);  // third: a disk range read
  EXPECT_EQ(PackGets(*counting_), 0u);
  EXPECT_EQ(ctx->stats().disk_range_hits, 1u);
}

TEST_F(DiskRangeTest, OneSequentialPassWritesNothingWithSecondLoadAdmission) {
  Build(8 << 20);  // 128 chunks
  for (uint64_t memory : {16ull << 20, 4ull << 20}) {
    ReaderOptions o = Options(DiskCacheAdmission::kSecondLoad);
    o.readahead_chunks = 4;  // as a real reader: read-ahead loads count too
    o.memory_cache_bytes = memory;
    o.disk_cache_dir = dir_.path() + "/cache" + std::to_string(memory);
    auto ctx = MakeContext(o);
    auto r = Open(ctx);
    for (uint64_t off = 0; off < data_.size(); off += 128 * 1024) {
      ExpectRange(*r, data_, off, 131072);
    }
    ctx->WaitIdle();
    EXPECT_EQ(ctx->stats().disk_deferred, FrameCount());
    if (memory > data_.size()) {
      EXPECT_EQ(ctx->stats().misses, FrameCount());
      EXPECT_EQ(ctx->disk()->stats().writes, 0u);
      for (size_t f = 0; f < FrameCount(); ++f) EXPECT_FALSE(OnDisk(*ctx, f)) << f;
    } else {
      // A small memory cache can drop a prefetched chunk before it is read
      // (eviction is per shard); only a chunk loaded twice is written.
      EXPECT_EQ(ctx->disk()->stats().writes, ctx->stats().misses - FrameCount());
      EXPECT_LT(ctx->disk()->stats().writes, FrameCount() / 8);
      // A second pass (the memory cache holds half the file) writes what it
      // loads again.
      auto r2 = Open(ctx);
      for (uint64_t off = 0; off < data_.size(); off += 128 * 1024) {
        ExpectRange(*r2, data_, off, 131072);
      }
      ctx->WaitIdle();
      EXPECT_GE(ctx->disk()->stats().writes, FrameCount() / 2);
    }
  }
}

TEST_F(DiskRangeTest, RemotePolicyWritesOnFirstLoad) {
  Build(2 << 20);
  auto ctx = MakeContext(Options(DiskCacheAdmission::kAlways));
  auto r = Open(ctx);
  ExpectRange(*r, data_, 4 * 65536 + 10, 4096);
  EXPECT_TRUE(OnDisk(*ctx, 4));
  EXPECT_EQ(ctx->disk()->stats().writes, 1u);
  EXPECT_EQ(ctx->stats().disk_deferred, 0u);
}

TEST(SeenOnceTest, RemembersFirstSightingsWithinItsBound) {
  SeenOnce seen(1000);
  EXPECT_FALSE(seen.CheckAndInsert(42));
  EXPECT_TRUE(seen.CheckAndInsert(42));
  EXPECT_TRUE(seen.CheckAndInsert(42));
  for (uint64_t k = 0; k < 100000; ++k) {
    seen.CheckAndInsert(k * 7919 + 1000003);
    ASSERT_LE(seen.size(), 1000u);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(seen.CheckAndInsert(42));                     // forgotten: FIFO
  EXPECT_TRUE(seen.CheckAndInsert(99999 * 7919 + 1000003));  // the newest kept
}

TEST_F(DiskRangeTest, MemoryStaysBoundedUnderRandomReadsThroughTheDiskCache) {
  Build(4 << 20);
  ReaderOptions o = Options(DiskCacheAdmission::kSecondLoad);
  o.readahead_chunks = 4;
  auto ctx = MakeContext(o);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto r = OpenReader(ctx, counting_, "f");
      std::mt19937_64 rng(t);
      std::vector<uint8_t> out(4096);
      for (int i = 0; i < 2000; ++i) {
        uint64_t off = rng() % (data_.size() - out.size());
        auto n = r->pread(off, out);
        if (!n || std::memcmp(out.data(), data_.data() + off, out.size()) != 0) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ctx->WaitIdle();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(ctx->stats().disk_range_hits, 1000u);
  // Decoded memory: the cache plus what the 4 readers held at once.
  EXPECT_LE(ctx->live_peak_bytes(), o.memory_cache_bytes + 4 * 2 * 65536);
  EXPECT_LE(ctx->memory().bytes(), o.memory_cache_bytes);
  EXPECT_LE(ctx->seen().size(), ctx->seen().capacity());
  EXPECT_LE(ctx->disk()->stats().verified, FrameCount());
}

}  // namespace
}  // namespace hugeblob

namespace hugeblob {
namespace {

// SeekData/SeekHole through the pread API agree with lseek on the original
// file: a copy can skip holes without reading them.
TEST(ReaderSeekTest, DataAndHolesFollowZeroChunks) {
  auto store = std::make_shared<MemoryStore>();
  // 64 KiB chunks: data, hole, hole, data, hole (the end).
  Buffer data = Buffer::Zeros(5 * 65536);
  std::memset(data.mutable_data(), 7, 65536);
  std::memset(data.mutable_data() + 3 * 65536 + 100, 9, 1000);
  BlobLayout layout;
  auto m = StoreBlob(*store, "f", data, layout);
  ASSERT_TRUE(m) << m.error().message();
  auto ctx = ReaderContext::Create(ReaderOptions{});
  ASSERT_TRUE(ctx);
  auto r = BlobReader::Open(*ctx, store, "f");
  ASSERT_TRUE(r) << r.error().message();
  auto at = [&](uint64_t off, bool hole) -> int64_t {
    auto p = (*r)->SeekData(off, hole);
    return p ? static_cast<int64_t>(*p) : -1;
  };
  EXPECT_EQ(at(0, false), 0);
  EXPECT_EQ(at(0, true), 65536);
  EXPECT_EQ(at(65536, false), 3 * 65536);
  EXPECT_EQ(at(2 * 65536 + 5, false), 3 * 65536);
  EXPECT_EQ(at(3 * 65536 + 7, false), 3 * 65536 + 7);
  EXPECT_EQ(at(3 * 65536, true), 4 * 65536);
  EXPECT_EQ(at(4 * 65536, false), -1);  // only a hole follows: ENXIO
  EXPECT_EQ(at(4 * 65536, true), 4 * 65536);
  EXPECT_EQ(at(5 * 65536, true), -1);  // past the end
}

}  // namespace
}  // namespace hugeblob
