#include "reader/memory_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "reader/single_flight.h"

namespace hugeblob {
namespace {

ChunkId Id(uint64_t n) {
  // Spread over shards like real ids: hash the number.
  return Sha256Of(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
}

Buffer Chunk(size_t size, uint8_t fill) {
  Buffer b = Buffer::Allocate(size);
  std::memset(b.mutable_data(), fill, size);
  return b;
}

TEST(ChunkCacheTest, HitReturnsTheSameBlock) {
  ChunkCache cache(1 << 20);
  Buffer c = Chunk(1000, 7);
  cache.Insert(Id(1), c);
  Buffer got;
  ASSERT_TRUE(cache.Lookup(Id(1), &got));
  EXPECT_EQ(got.data(), c.data());  // zero copy
  EXPECT_FALSE(cache.Lookup(Id(2), &got));
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.bytes(), 1000u);
}

TEST(ChunkCacheTest, EvictsLeastRecentlyUsedWithinBound) {
  // The bound, and that the newest entry survives a full turnover of the
  // others.
  ChunkCache cache(10 * 1000);
  for (uint64_t i = 0; i < 10; ++i) cache.Insert(Id(i), Chunk(1000, 1));
  EXPECT_EQ(cache.bytes(), 10000u);
  Buffer got;
  for (uint64_t i = 10; i < 1000; ++i) {
    cache.Insert(Id(i), Chunk(1000, 1));
    EXPECT_LE(cache.bytes(), cache.capacity());
    ASSERT_TRUE(cache.Lookup(Id(i), &got)) << i;  // the newest entry is never the victim
  }
  EXPECT_EQ(cache.bytes(), 10000u);
  EXPECT_EQ(cache.entries(), 10u);
}

TEST(ChunkCacheTest, EvictionIsLeastRecentlyUsedAcrossShards) {
  // 64 entries spread over 32 shards: shards hold unequal shares, and the
  // victim must still be the globally oldest entry, never a newer one of the
  // inserting shard (a streaming reader's read-ahead lives on that).
  const uint64_t kEntries = 64;
  ChunkCache cache(kEntries * 1000);
  for (uint64_t i = 0; i < 4 * kEntries; ++i) {
    cache.Insert(Id(i), Chunk(1000, 1));
    for (uint64_t j = i + 1 > kEntries ? i + 1 - kEntries : 0; j <= i; ++j) {
      ASSERT_TRUE(cache.Contains(Id(j))) << "entry " << j << " evicted after inserting " << i;
    }
  }
  EXPECT_EQ(cache.entries(), kEntries);
  // A hit makes an old entry the most recent: the next victims are the
  // ones after it.
  Buffer got;
  const uint64_t oldest = 3 * kEntries;
  ASSERT_TRUE(cache.Lookup(Id(oldest), &got));
  cache.Insert(Id(1000), Chunk(1000, 1));
  EXPECT_TRUE(cache.Contains(Id(oldest)));
  EXPECT_FALSE(cache.Contains(Id(oldest + 1)));
  EXPECT_TRUE(cache.Contains(Id(oldest + 2)));
}

TEST(ChunkCacheTest, OversizeChunkIsNotCachedAndHeldBuffersOutliveEviction) {
  ChunkCache cache(4096);
  cache.Insert(Id(1), Chunk(5000, 1));
  EXPECT_EQ(cache.entries(), 0u);
  cache.Insert(Id(2), Chunk(4096, 2));
  Buffer held;
  ASSERT_TRUE(cache.Lookup(Id(2), &held));
  cache.Insert(Id(3), Chunk(4096, 3));  // evicts 2
  EXPECT_FALSE(cache.Contains(Id(2)));
  EXPECT_EQ(held.data()[4095], 2);  // still valid while held
  cache.Erase(Id(3));
  EXPECT_EQ(cache.bytes(), 0u);
  cache.Insert(Id(4), Chunk(10, 4));
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST(ChunkCacheTest, ReinsertRefreshesWithoutDoubleCounting) {
  ChunkCache cache(1 << 20);
  cache.Insert(Id(1), Chunk(100, 1));
  cache.Insert(Id(1), Chunk(100, 1));
  EXPECT_EQ(cache.bytes(), 100u);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(ChunkCacheTest, ConcurrentInsertLookupKeepsTheBound) {
  constexpr uint64_t kCap = 64 * 1024;
  ChunkCache cache(kCap);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      Buffer got;
      for (int i = 0; i < 20000; ++i) {
        uint64_t k = rng() % 200;
        if (cache.Lookup(Id(k), &got)) {
          if (got.size() != 1024 || got.data()[0] != static_cast<uint8_t>(k)) over = true;
        } else {
          cache.Insert(Id(k), Chunk(1024, static_cast<uint8_t>(k)));
        }
        // Inserts in flight may add one chunk each before they evict.
        if (cache.bytes() > kCap + 8 * 1024) over = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_LE(cache.bytes(), kCap);
}

TEST(SingleFlightTest, OneLeaderOthersWait) {
  SingleFlight<int, int> sf(-1);
  auto a = sf.Join(5);
  ASSERT_TRUE(a.lease);
  auto b = sf.Join(5);
  ASSERT_FALSE(b.lease);
  ASSERT_TRUE(b.follow);
  EXPECT_FALSE(sf.TryLead(5));
  std::thread waiter([&] { EXPECT_EQ(b.follow->Wait(), 42); });
  a.lease.Complete(42);
  waiter.join();
  EXPECT_EQ(sf.in_flight(), 0u);
  auto c = sf.Join(5);  // a new flight after completion
  EXPECT_TRUE(c.lease);
}

TEST(SingleFlightTest, DroppedLeaseReleasesWaiters) {
  SingleFlight<int, int> sf(-1);
  std::shared_ptr<const SingleFlight<int, int>::Flight> follow;
  {
    auto a = sf.Join(1);
    follow = sf.Join(1).follow;
  }
  EXPECT_EQ(follow->Wait(), -1);
  EXPECT_EQ(sf.in_flight(), 0u);
}

TEST(SingleFlightTest, ManyThreadsOneExecution) {
  SingleFlight<int, int> sf(-1);
  std::atomic<int> executions{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        auto j = sf.Join(round);
        int v;
        if (j.lease) {
          executions.fetch_add(1);
          j.lease.Complete(round * 2);
          v = round * 2;
        } else {
          v = j.follow->Wait();
        }
        if (v == round * 2) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 16 * 200);
  // Without a cache in front, a late thread may lead a second flight of the
  // same round after the first completed; never more than once per thread.
  EXPECT_GE(executions.load(), 200);
  EXPECT_EQ(sf.in_flight(), 0u);
}

}  // namespace
}  // namespace hugeblob
