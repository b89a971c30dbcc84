#include "fuse/read_deadline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace hugeblob::fuse {
namespace {

using std::chrono::milliseconds;

// Records what the watchdog answered.
struct Answers {
  std::mutex mu;
  std::vector<ReadDeadlines::Pending> expired;
  ReadDeadlines::OnExpired Callback() {
    return [this](const ReadDeadlines::Pending& p) {
      std::lock_guard lock(mu);
      expired.push_back(p);
    };
  }
  size_t count() {
    std::lock_guard lock(mu);
    return expired.size();
  }
};

TEST(ReadDeadlinesTest, FastReadsAreNeverExpired) {
  Answers a;
  ReadDeadlines d(milliseconds(200), a.Callback());
  const std::string name = "f";
  int req = 0;
  for (int i = 0; i < 1000; ++i) {
    d.Begin(&req, &name, i, 4096);
    EXPECT_TRUE(d.Finish());
  }
  std::this_thread::sleep_for(milliseconds(400));  // a few watchdog passes
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(d.expired(), 0u);
}

TEST(ReadDeadlinesTest, AStuckReadIsAnsweredOnceByTheWatchdog) {
  Answers a;
  ReadDeadlines d(milliseconds(200), a.Callback());
  const std::string name = "dir/stuck.bin";
  int req = 0;
  auto start = std::chrono::steady_clock::now();
  d.Begin(&req, &name, 12345, 4096);
  // The "store" hangs: wait until the watchdog has answered.
  while (a.count() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(a.count(), 1u);
  EXPECT_GE(waited, milliseconds(200));
  EXPECT_LT(waited, milliseconds(1500));
  EXPECT_EQ(a.expired[0].req, &req);
  EXPECT_EQ(*a.expired[0].name, name);
  EXPECT_EQ(a.expired[0].offset, 12345u);
  EXPECT_EQ(a.expired[0].size, 4096u);
  EXPECT_GE(a.expired[0].waited, milliseconds(200));
  // The call finally returns: the request was answered already.
  EXPECT_FALSE(d.Finish());
  EXPECT_EQ(d.expired(), 1u);
  // The slot serves the next request normally.
  d.Begin(&req, &name, 0, 1);
  EXPECT_TRUE(d.Finish());
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(a.count(), 1u);
}

TEST(ReadDeadlinesTest, EveryRequestIsAnsweredExactlyOnceUnderConcurrency) {
  Answers a;
  ReadDeadlines d(milliseconds(100), a.Callback());
  const std::string name = "f";
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  std::vector<int> reqs(kThreads * kPerThread);
  std::atomic<int> answered_by_worker{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int* req = &reqs[t * kPerThread + i];
        d.Begin(req, &name, i, 1);
        // Every 100th request hangs past the deadline; the rest are quick,
        // some taking a good part of it (the race window of the watchdog).
        if (i % 100 == 7) {
          std::this_thread::sleep_for(milliseconds(350));
        } else if (i % 10 == 3) {
          std::this_thread::sleep_for(milliseconds(1));
        }
        if (d.Finish()) answered_by_worker.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<void*> expired;
  for (const auto& p : a.expired) EXPECT_TRUE(expired.insert(p.req).second) << "answered twice";
  EXPECT_EQ(answered_by_worker.load() + static_cast<int>(a.count()), kThreads * kPerThread);
  // Exactly the hung ones expired.
  EXPECT_EQ(a.count(), static_cast<size_t>(kThreads * 3));
  for (void* r : expired) {
    auto idx = static_cast<int*>(r) - reqs.data();
    EXPECT_EQ(idx % kPerThread % 100, 7) << idx;
  }
}

TEST(ReadDeadlinesTest, ZeroTimeoutMeansNoDeadline) {
  Answers a;
  ReadDeadlines d(milliseconds(0), a.Callback());
  const std::string name = "f";
  int req = 0;
  d.Begin(&req, &name, 0, 1);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(d.Finish());
  EXPECT_EQ(a.count(), 0u);
}

TEST(ReadDeadlinesTest, TwoInstancesOnOneThreadKeepSeparateSlots) {
  Answers a1, a2;
  auto d1 = std::make_unique<ReadDeadlines>(milliseconds(150), a1.Callback());
  ReadDeadlines d2(milliseconds(150), a2.Callback());
  const std::string name = "f";
  int r1 = 0, r2 = 0;
  d1->Begin(&r1, &name, 0, 1);
  d2.Begin(&r2, &name, 0, 1);
  EXPECT_TRUE(d2.Finish());
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_FALSE(d1->Finish());
  EXPECT_EQ(a1.count(), 1u);
  EXPECT_EQ(a2.count(), 0u);
  d1.reset();
  d2.Begin(&r2, &name, 0, 1);
  EXPECT_TRUE(d2.Finish());
}

}  // namespace
}  // namespace hugeblob::fuse
