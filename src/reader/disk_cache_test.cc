#include "reader/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "reader/blob_reader.h"
#include "reader/context.h"
#include "reader/reader_test_util.h"
#include "store/memory_store.h"
#include "testing/wrapper_store.h"

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
  // This process wrote it and trusts that inode (see the trust model in
  // disk_cache.h); another process, or this one after a restart, verifies.
  cache = DiskCache::Open(dir.path(), 1 << 20);
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

// Replaces the file at `path` by a new inode holding `bytes` (the way an
// entry is published: written aside, renamed into place).
void ReplaceFile(const std::string& path, const Buffer& bytes) {
  const std::string tmp = path + ".replacement";
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
  ASSERT_EQ(::rename(tmp.c_str(), path.c_str()), 0);
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_ino;
}

// Expects ReadRange of [off, off + len) to succeed with the bytes of `c`.
void ExpectRangeOf(DiskCache& cache, const ChunkId& id, const Buffer& c, uint64_t off, size_t len) {
  std::vector<uint8_t> out(len, 0xEE);
  ASSERT_TRUE(cache.ReadRange(id, static_cast<uint32_t>(c.size()), off, out)) << "offset " << off;
  EXPECT_EQ(std::memcmp(out.data(), c.data() + off, len), 0) << "offset " << off;
}

TEST(DiskCacheRangeTest, OnlyVerifiedEntriesAreRangeRead) {
  TempDir dir;
  Buffer c = RandomChunk(65536, 11);
  ChunkId id = Sha256Of(c.span());
  DiskCache::Open(dir.path(), 1 << 20)->Put(id, c);  // another process wrote it

  auto cache = DiskCache::Open(dir.path(), 1 << 20);  // this process: never verified it
  std::vector<uint8_t> out(4096);
  EXPECT_FALSE(cache->IsVerified(id));
  EXPECT_FALSE(cache->ReadRange(id, 65536, 0, out));
  EXPECT_EQ(cache->stats().range_misses, 1u);
  Buffer got;
  ASSERT_TRUE(cache->Get(id, 65536, &got));  // reads and hashes it once
  EXPECT_TRUE(cache->IsVerified(id));
  ExpectRangeOf(*cache, id, c, 0, 4096);             // start
  ExpectRangeOf(*cache, id, c, 30000, 4096);         // middle
  ExpectRangeOf(*cache, id, c, 65536 - 4096, 4096);  // end
  ExpectRangeOf(*cache, id, c, 65535, 1);            // last byte
  ExpectRangeOf(*cache, id, c, 0, 65536);            // all of it
  EXPECT_EQ(cache->stats().range_hits, 5u);
  // Outside the chunk, or the wrong length: refused, nothing read.
  EXPECT_FALSE(cache->ReadRange(id, 65536, 65536 - 100, out));
  EXPECT_FALSE(cache->ReadRange(id, 65536, 1 << 20, out));
  EXPECT_FALSE(cache->ReadRange(id, 65535, 0, out));
  // A chunk never cached.
  Buffer other = RandomChunk(65536, 12);
  EXPECT_FALSE(cache->ReadRange(Sha256Of(other.span()), 65536, 0, out));
}

TEST(DiskCacheRangeTest, OwnWritesAreVerified) {
  TempDir dir;
  auto cache = DiskCache::Open(dir.path(), 1 << 20);
  Buffer c = RandomChunk(20000, 13);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);  // from bytes the caller verified
  EXPECT_TRUE(cache->IsVerified(id));
  ExpectRangeOf(*cache, id, c, 1000, 5000);
  EXPECT_EQ(cache->stats().hits, 0u);  // no whole read was needed
}

TEST(DiskCacheRangeTest, ReplacedEntryIsVerifiedAgainAndRejected) {
  TempDir dir;
  DiskCache::Limits no_fds;
  no_fds.max_open_files = 0;  // every ReadRange checks the path's inode
  auto cache = DiskCache::Open(dir.path(), 1 << 20, no_fds);
  Buffer c = RandomChunk(65536, 14);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);
  ExpectRangeOf(*cache, id, c, 8192, 4096);
  const std::string path = cache->PathFor(id);
  const ino_t old_ino = InodeOf(path);

  // Someone publishes a bad file under the name: a new inode.
  Buffer bad = Buffer::Copy(c.span());
  bad.mutable_data()[9000] ^= 0x55;
  ReplaceFile(path, bad);
  ASSERT_NE(InodeOf(path), old_ino);

  std::vector<uint8_t> out(4096);
  EXPECT_FALSE(cache->ReadRange(id, 65536, 8192, out));  // not the inode we verified
  EXPECT_FALSE(cache->IsVerified(id));                   // forgotten
  EXPECT_FALSE(cache->ReadRange(id, 65536, 8192, out));  // and stays refused
  Buffer got;
  EXPECT_FALSE(cache->Get(id, 65536, &got));  // verified again: rejected and deleted
  EXPECT_EQ(cache->stats().corrupt, 1u);
  struct stat st;
  EXPECT_NE(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(cache->stats().range_hits, 1u);

  // A good replacement (another process re-published it) is verified once
  // by Get, then range-read.
  DiskCache::Open(dir.path(), 1 << 20)->Put(id, c);
  EXPECT_FALSE(cache->ReadRange(id, 65536, 0, out));
  ASSERT_TRUE(cache->Get(id, 65536, &got));
  ExpectRangeOf(*cache, id, c, 60000, 5536);
}

TEST(DiskCacheRangeTest, OpenFdKeepsReadingTheVerifiedInode) {
  TempDir dir;
  auto cache = DiskCache::Open(dir.path(), 1 << 20);
  Buffer c = RandomChunk(65536, 15);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);
  ExpectRangeOf(*cache, id, c, 0, 4096);  // opens and keeps the fd
  EXPECT_EQ(cache->stats().open_files, 1u);
  const std::string path = cache->PathFor(id);
  // Replaced by a corrupt inode, or evicted by another process: the open fd
  // still reads the old inode, whose bytes are the verified ones.
  Buffer bad = Buffer::Copy(c.span());
  std::memset(bad.mutable_data(), 0, 8192);
  ReplaceFile(path, bad);
  ExpectRangeOf(*cache, id, c, 0, 8192);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ExpectRangeOf(*cache, id, c, 100, 8192);
  // Once forgotten (or after a restart) the entry is a plain miss.
  cache->Forget(id);
  EXPECT_EQ(cache->stats().open_files, 0u);
  std::vector<uint8_t> out(10);
  EXPECT_FALSE(cache->ReadRange(id, 65536, 0, out));
}

TEST(DiskCacheRangeTest, EvictedEntryMissesAndOwnEvictionClosesItsFd) {
  TempDir dir;
  DiskCache::Limits no_fds;
  no_fds.max_open_files = 0;
  auto cache = DiskCache::Open(dir.path(), 1 << 20, no_fds);
  Buffer c = RandomChunk(30000, 16);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);
  ASSERT_EQ(::unlink(cache->PathFor(id).c_str()), 0);  // another process evicted it
  std::vector<uint8_t> out(100);
  EXPECT_FALSE(cache->ReadRange(id, 30000, 0, out));
  EXPECT_FALSE(cache->IsVerified(id));
  EXPECT_EQ(cache->stats().corrupt, 0u);  // a miss, not a bad entry

  auto with_fds = DiskCache::Open(dir.path() + "/2", 1 << 20);
  with_fds->Put(id, c);
  ExpectRangeOf(*with_fds, id, c, 0, 100);
  EXPECT_EQ(with_fds->stats().open_files, 1u);
  EXPECT_EQ(with_fds->Evict(0), 0u);  // our own eviction forgets it, closing the fd
  EXPECT_EQ(with_fds->stats().open_files, 0u);
  EXPECT_FALSE(with_fds->IsVerified(id));
  EXPECT_FALSE(with_fds->ReadRange(id, 30000, 0, out));
}

TEST(DiskCacheRangeTest, InPlaceDamageAfterVerificationIsTheDocumentedBlindSpot) {
  // The trust model: an inode is verified once per process. Damage written
  // into the same inode afterwards is served until the process forgets the
  // entry; a new process (a restart) verifies again and rejects it.
  TempDir dir;
  DiskCache::Limits no_fds;
  no_fds.max_open_files = 0;
  auto cache = DiskCache::Open(dir.path(), 1 << 20, no_fds);
  Buffer c = RandomChunk(10000, 17);
  ChunkId id = Sha256Of(c.span());
  cache->Put(id, c);
  {
    std::fstream f(cache->PathFor(id), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(50);
    f.put('\x7f');
  }
  std::vector<uint8_t> out(100);
  ASSERT_TRUE(cache->ReadRange(id, 10000, 0, out));
  EXPECT_EQ(out[50], 0x7f);
  auto restarted = DiskCache::Open(dir.path(), 1 << 20);
  EXPECT_FALSE(restarted->ReadRange(id, 10000, 0, out));
  Buffer got;
  EXPECT_FALSE(restarted->Get(id, 10000, &got));
  EXPECT_EQ(restarted->stats().corrupt, 1u);
}

TEST(DiskCacheRangeTest, PerProcessStateIsBounded) {
  TempDir dir;
  DiskCache::Limits limits;
  limits.max_verified = 64;    // 4 per shard
  limits.max_open_files = 16;  // 1 per shard
  auto cache = DiskCache::Open(dir.path(), 64 << 20, limits);
  std::vector<std::pair<ChunkId, Buffer>> chunks;
  for (int i = 0; i < 300; ++i) {
    Buffer c = RandomChunk(4096, 1000 + i);
    ChunkId id = Sha256Of(c.span());
    cache->Put(id, c);
    ExpectRangeOf(*cache, id, c, 100, 1000);
    chunks.emplace_back(id, c);
    EXPECT_LE(cache->stats().verified, 64u);
    EXPECT_LE(cache->stats().open_files, 16u);
  }
  EXPECT_EQ(cache->stats().verified, 64u);
  EXPECT_EQ(cache->stats().open_files, 16u);
  // The most recent entry is still known; the oldest are not, and are
  // verified again (read whole) before they are range-read.
  EXPECT_TRUE(cache->IsVerified(chunks.back().first));
  EXPECT_FALSE(cache->IsVerified(chunks.front().first));
  Buffer got;
  ASSERT_TRUE(cache->Get(chunks.front().first, 4096, &got));
  ExpectRangeOf(*cache, chunks.front().first, chunks.front().second, 0, 4096);
  // Nothing leaks: closing the cache closes every fd (checked by counting
  // this process's fds).
  auto fds = [] {
    size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (::readdir(d) != nullptr) ++n;
      ::closedir(d);
    }
    return n;
  };
  size_t with = fds();
  cache.reset();
  EXPECT_EQ(fds(), with - 17);  // 16 entries + the lock file
}

TEST(DiskCacheRangeTest, ConcurrentRangeReadsUnderEvictionAreCorrect) {
  // Readers range-read while another thread keeps evicting and re-adding:
  // a read either misses or returns the right bytes, never others (an fd
  // is never closed while in use, so a reused fd number is never read).
  TempDir dir;
  DiskCache::Limits limits;
  limits.max_open_files = 16;
  auto cache = DiskCache::Open(dir.path(), 8 << 20, limits);
  std::vector<std::pair<ChunkId, Buffer>> chunks;
  for (int i = 0; i < 64; ++i) {
    Buffer c = RandomChunk(16384, 2000 + i);
    chunks.emplace_back(Sha256Of(c.span()), c);
    cache->Put(chunks.back().first, c);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> out(4096);
      Buffer got;
      while (!stop.load()) {
        auto& [id, c] = chunks[rng() % chunks.size()];
        uint64_t off = rng() % (16384 - 4096);
        if (cache->ReadRange(id, 16384, off, out)) {
          ++hits;
          if (std::memcmp(out.data(), c.data() + off, 4096) != 0) ++bad;
        } else if (cache->Get(id, 16384, &got)) {
          if (std::memcmp(got.data(), c.data(), 16384) != 0) ++bad;
        }
      }
    });
  }
  for (int round = 0; round < 50; ++round) {
    cache->Evict(512 << 10);  // unlinks about half, closing our fds of them
    for (auto& [id, c] : chunks) cache->Put(id, c);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  EXPECT_EQ(cache->stats().corrupt, 0u);
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
  EXPECT_EQ(ctx->disk()->stats().object_hits, 1u);  // the manifest (object_cache.h)
}

TEST_F(DiskCacheReaderTest, CorruptedEntryIsDetectedAndRefetched) {
  std::shared_ptr<ContextImpl> ctx;
  ReadAll(Options(), &ctx);
  const ChunkId id = Blake3Of(data_.Slice(7 * 65536, 65536).span());
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
    if (cache->Get(Blake3Of(chunk.span()), 65536, &got)) ++entries;
  }
  EXPECT_GT(entries, 0u);
  EXPECT_EQ(cache->stats().corrupt, 0u);
}

}  // namespace
}  // namespace hugeblob
