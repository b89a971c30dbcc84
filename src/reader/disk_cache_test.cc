#include "reader/disk_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "hugeblob/reader.h"
#include "reader/context.h"
#include "reader/reader_test_util.h"
#include "store/memory_store.h"
#include "store/wrapper_store.h"

namespace hugeblob {
namespace {

using reader_test::BlobLayout;
using reader_test::MakeData;
using reader_test::StoreBlob;

Buffer RandomChunk(size_t size, uint64_t seed) {
  Buffer b = Buffer::Allocate(size);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < size; ++i) b.mutable_data()[i] = static_cast<uint8_t>(rng());
  return b;
}

TEST(DiskCacheTest, PutGetAndVerify) {
  TempDir dir;
  auto cache = DiskCache::Open(dir.path(), 1 << 20);
  ASSERT_TRUE(cache->enabled());
  Buffer c = RandomChunk(10000, 1);
  ChunkId id = Sha256Of(c.span());
  Buffer got;
  EXPECT_FALSE(cache->Get(id, 10000, &got));
  cache->Put(id, c);
  ASSERT_TRUE(cache->Get(id, 10000, &got));
  EXPECT_EQ(std::memcmp(got.data(), c.data(), c.size()), 0);
  EXPECT_EQ(cache->usage(), 12288u);         // counted in 4 KiB blocks
  EXPECT_FALSE(cache->Get(id, 9999, &got));  // wrong length: treated as bad, deleted
  EXPECT_EQ(cache->stats().corrupt, 1u);
  EXPECT_FALSE(cache->Get(id, 10000, &got));
}

TEST(DiskCacheTest, CorruptEntryIsDroppedAndRewritten) {
  TempDir dir;
  auto cache = DiskCache::Open(dir.path(), 1 << 20);
  Buffer c = RandomChunk(5000, 2);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);
  {
    std::fstream f(cache->PathFor(id), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1234);
    f.put('\x99');
  }
  Buffer got;
  EXPECT_FALSE(cache->Get(id, 5000, &got));
  EXPECT_EQ(cache->stats().corrupt, 1u);
  struct stat st;
  EXPECT_NE(::stat(cache->PathFor(id).c_str(), &st), 0);  // deleted
  cache->Put(id, c);
  EXPECT_TRUE(cache->Get(id, 5000, &got));
}

TEST(DiskCacheTest, EvictsLeastRecentlyUsedToTheBoundAndSurvivesReopen) {
  TempDir dir;
  const uint64_t kCap = 64 * 4096;
  std::vector<ChunkId> ids;
  {
    auto cache = DiskCache::Open(dir.path(), kCap);
    for (int i = 0; i < 100; ++i) {
      Buffer c = RandomChunk(4096, 100 + i);
      ids.push_back(Sha256Of(c.span()));
      cache->Put(ids.back(), c);
      // Spread mtimes so LRU order is well defined.
      struct timespec ts[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
      ::utimensat(AT_FDCWD, cache->PathFor(ids.back()).c_str(), ts, 0);
      EXPECT_LE(cache->usage(), kCap);
    }
    EXPECT_GT(cache->stats().evicted, 0u);
  }
  auto cache = DiskCache::Open(dir.path(), kCap);  // a restart: counts what is there
  EXPECT_LE(cache->usage(), kCap);
  EXPECT_GT(cache->usage(), kCap / 2);
  Buffer got;
  EXPECT_TRUE(cache->Get(ids.back(), 4096, &got));    // newest kept
  EXPECT_FALSE(cache->Get(ids.front(), 4096, &got));  // oldest gone
  EXPECT_EQ(cache->Evict(0), 0u);
  EXPECT_FALSE(cache->Get(ids.back(), 4096, &got));
}

TEST(DiskCacheTest, UnusableDirectoryDisablesWithoutFailingReads) {
  auto cache = DiskCache::Open("/dev/null/cache", 1 << 20);
  EXPECT_FALSE(cache->enabled());
  Buffer c = RandomChunk(100, 3);
  cache->Put(Sha256Of(c.span()), c);
  Buffer got;
  EXPECT_FALSE(cache->Get(Sha256Of(c.span()), 100, &got));

  MemoryStore store;
  Buffer data = MakeData(512 * 1024, 65536, 5);
  ASSERT_TRUE(StoreBlob(store, "f", data, BlobLayout{}));
  ReaderOptions o;
  o.disk_cache_dir = "/dev/null/cache";
  auto ctx = ReaderContext::Create(o);
  ASSERT_TRUE(ctx);
  auto r = BlobReader::Open(*ctx, std::shared_ptr<ObjectStore>(&store, [](ObjectStore*) {}), "f");
  ASSERT_TRUE(r);
  std::vector<uint8_t> out(data.size());
  auto n = (*r)->pread(0, out);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::memcmp(out.data(), data.data(), data.size()), 0);
}

class DiskCacheReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeData(2 << 20, 65536, 9, /*holes_and_dups=*/false);
    ASSERT_TRUE(StoreBlob(*mem_, "f", data_, BlobLayout{}));
  }
  ReaderOptions Options(uint64_t disk = 64 << 20) const {
    ReaderOptions o;
    o.disk_cache_dir = dir_.path() + "/cache";
    o.disk_cache_bytes = disk;
    o.readahead_chunks = 0;
    return o;
  }
  // Reads the whole file through a fresh context; returns pack GETs made.
  uint64_t ReadAll(const ReaderOptions& o, std::shared_ptr<ContextImpl>* keep = nullptr) {
    auto ctx = ReaderContext::Create(o);
    EXPECT_TRUE(ctx);
    auto r = BlobReader::Open(*ctx, counting_, "f");
    EXPECT_TRUE(r);
    counting_->Reset();
    std::vector<uint8_t> out(data_.size());
    auto n = (*r)->pread(0, out);
    EXPECT_TRUE(n);
    EXPECT_EQ(std::memcmp(out.data(), data_.data(), data_.size()), 0);
    if (keep != nullptr) *keep = std::dynamic_pointer_cast<ContextImpl>(*ctx);
    return counting_->calls(StoreOp::kGetRange);
  }

  TempDir dir_;
  std::shared_ptr<MemoryStore> mem_ = std::make_shared<MemoryStore>();
  std::shared_ptr<CountingStore> counting_ = std::make_shared<CountingStore>(mem_);
  Buffer data_;
};

TEST_F(DiskCacheReaderTest, SecondProcessLifetimeReadsFromDisk) {
  EXPECT_GT(ReadAll(Options()), 0u);
  std::shared_ptr<ContextImpl> ctx;
  EXPECT_EQ(ReadAll(Options(), &ctx), 0u);  // a new context: memory is cold, disk warm
  EXPECT_EQ(ctx->stats().disk_hits, 32u);
}

TEST_F(DiskCacheReaderTest, CorruptedEntryIsDetectedAndRefetched) {
  std::shared_ptr<ContextImpl> ctx;
  ReadAll(Options(), &ctx);
  const ChunkId id = Sha256Of(data_.Slice(7 * 65536, 65536).span());
  std::string path = ctx->disk()->PathFor(id);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x01');
    f.put('\x02');
  }
  EXPECT_EQ(ReadAll(Options(), &ctx), 1u);  // exactly the bad chunk again
  EXPECT_EQ(ctx->disk()->stats().corrupt, 1u);
  EXPECT_EQ(ReadAll(Options()), 0u);  // and it was rewritten, intact
  // A truncated entry, too.
  ASSERT_EQ(::truncate(path.c_str(), 1000), 0);
  EXPECT_EQ(ReadAll(Options()), 1u);
}

TEST_F(DiskCacheReaderTest, DisabledCacheWritesNothing) {
  ReaderOptions o = Options();
  o.disk_cache = false;
  ReadAll(o);
  struct stat st;
  EXPECT_NE(::stat((dir_.path() + "/cache").c_str(), &st), 0);
  EXPECT_GT(ReadAll(o), 0u);
}

TEST_F(DiskCacheReaderTest, WriteFailuresNeverFailARead) {
  // A child with a tiny file size limit: every cache write fails (EFBIG),
  // the way a full disk would, and every read must still succeed.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1000, 1000};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    auto ctx = ReaderContext::Create(Options());
    if (!ctx) ::_exit(2);
    auto r = BlobReader::Open(*ctx, mem_, "f");
    if (!r) ::_exit(3);
    std::vector<uint8_t> out(data_.size());
    for (int pass = 0; pass < 2; ++pass) {
      auto n = (*r)->pread(0, out);
      if (!n || *n != out.size() || std::memcmp(out.data(), data_.data(), out.size()) != 0) {
        ::_exit(4);
      }
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(DiskCacheReaderTest, TwoProcessesShareOneCache) {
  // Both children read every chunk in their own random order with a cache
  // small enough that both evict while the other reads and writes.
  const uint64_t kDisk = 1 << 20;  // half the file
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ReaderOptions o = Options(kDisk);
      o.memory_cache_bytes = 128 * 1024;  // force the disk path
      auto ctx = ReaderContext::Create(o);
      if (!ctx) ::_exit(2);
      auto r = BlobReader::Open(*ctx, mem_, "f");
      if (!r) ::_exit(3);
      std::mt19937_64 rng(k);
      std::vector<uint8_t> out(8192);
      for (int i = 0; i < 1500; ++i) {
        uint64_t off = rng() % (data_.size() - out.size());
        auto n = (*r)->pread(off, out);
        if (!n || std::memcmp(out.data(), data_.data() + off, out.size()) != 0) ::_exit(4);
      }
      auto impl = std::dynamic_pointer_cast<ContextImpl>(*ctx);
      if (impl->disk()->stats().hits == 0) ::_exit(5);  // they did share
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << pid;
  }
  // The directory holds only whole, intact entries within the bound (a
  // little over is allowed: each process trims after it sees the excess).
  auto cache = DiskCache::Open(dir_.path() + "/cache", kDisk);
  EXPECT_LE(cache->usage(), kDisk + 4 * 65536);
  uint64_t entries = 0;
  for (size_t f = 0; f < 32; ++f) {
    Buffer chunk = data_.Slice(f * 65536, 65536);
    Buffer got;
    if (cache->Get(Sha256Of(chunk.span()), 65536, &got)) ++entries;
  }
  EXPECT_GT(entries, 0u);
  EXPECT_EQ(cache->stats().corrupt, 0u);
}

}  // namespace
}  // namespace hugeblob
