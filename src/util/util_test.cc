#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "hugeblob/buffer.h"
#include "util/bounded_queue.h"
#include "util/budget.h"
#include "util/thread_pool.h"
#include "util/units.h"

namespace hugeblob {
namespace {

TEST(BufferTest, SlicesShareOwnership) {
  Buffer b = Buffer::Copy(std::string_view("hello world"));
  Buffer s = b.Slice(6, 5);
  EXPECT_EQ(s.view(), "world");
  EXPECT_EQ(b.use_count(), 2);
  b = Buffer();
  EXPECT_EQ(s.view(), "world");  // the slice keeps the block alive
  EXPECT_EQ(s.Slice(3, 100).view(), "ld");
}

TEST(BufferTest, ReservationReturnedWhenLastViewDies) {
  auto budget = MemoryBudget::Create(1000);
  {
    auto r = budget->Reserve(600);
    ASSERT_TRUE(r);
    Buffer b = Buffer::Allocate(600, std::move(*r));
    Buffer s = b.Slice(0, 10);
    b = Buffer();
    EXPECT_EQ(budget->used(), 600u);
  }
  EXPECT_EQ(budget->used(), 0u);
  EXPECT_EQ(budget->peak(), 600u);
}

TEST(BufferTest, TruncateReturnsExcessReservation) {
  auto budget = MemoryBudget::Create(1 << 20);
  Buffer b = Buffer::Allocate(1000, budget->ForceReserve(1000));
  b.Truncate(100);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(budget->used(), 100u);
}

TEST(BufferChainTest, SubAndCopyOut) {
  BufferChain c;
  c.Append(Buffer::Copy(std::string_view("abc")));
  c.Append(Buffer::Copy(std::string_view("defg")));
  c.Append(Buffer::Copy(std::string_view("h")));
  EXPECT_EQ(c.size(), 8u);
  EXPECT_EQ(c.Flatten().view(), "abcdefgh");
  EXPECT_EQ(c.Sub(2, 4).Flatten().view(), "cdef");
  EXPECT_EQ(c.Sub(7, 10).Flatten().view(), "h");
  uint8_t out[5];
  EXPECT_EQ(c.CopyOut(5, out), 3u);
  EXPECT_EQ(std::string_view(reinterpret_cast<char*>(out), 3), "fgh");
}

TEST(MemoryBudgetTest, ReserveBlocksUntilReturned) {
  auto budget = MemoryBudget::Create(100);
  auto a = budget->Reserve(80);
  ASSERT_TRUE(a);
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto b = budget->Reserve(50);
    ASSERT_TRUE(b);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load());
  a->Release();
  t.join();
  EXPECT_TRUE(got.load());
  EXPECT_LE(budget->peak(), 100u);
}

TEST(MemoryBudgetTest, TooLargeAndCancelled) {
  auto budget = MemoryBudget::Create(100);
  auto r = budget->Reserve(101);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  auto hold = budget->Reserve(100);
  CancelToken cancel;
  cancel.Cancel();
  auto c = budget->Reserve(1, &cancel);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kCancelled);
}

TEST(BoundedQueueTest, BackpressureAndClose) {
  BoundedQueue<int> q(2);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(q.Push(i));
      ++pushed;
    }
    q.Close();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(pushed.load(), 3);  // at most capacity + the one blocked in Push
  int expect = 0;
  while (auto v = q.Pop()) EXPECT_EQ(*v, expect++);
  EXPECT_EQ(expect, 10);
  producer.join();
  EXPECT_FALSE(q.Push(1));
}

TEST(BoundedQueueTest, CancelWakesBlockedProducer) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  std::thread t([&] { EXPECT_FALSE(q.Push(2)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.Cancel();
  t.join();
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(ThreadPoolTest, RunsEverything) {
  ThreadPool pool(3, 4);
  std::atomic<int> sum{0};
  for (int i = 1; i <= 100; ++i) pool.Submit([&, i] { sum += i; });
  pool.Wait();
  EXPECT_EQ(sum.load(), 5050);
}

TEST(UnitsTest, ParseSize) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64K"), 65536u);
  EXPECT_EQ(*ParseSize("16M"), 16u << 20);
  EXPECT_EQ(*ParseSize("1.5G"), 3ull << 29);
  EXPECT_EQ(*ParseSize("2MiB"), 2u << 20);
  EXPECT_EQ(*ParseSize("1m"), 1u << 20);
  EXPECT_FALSE(ParseSize(""));
  EXPECT_FALSE(ParseSize("12Q"));
  EXPECT_FALSE(ParseSize("-1"));
  EXPECT_FALSE(ParseSize("M"));
  EXPECT_EQ(FormatSize(1536), "1.5 KiB");
  EXPECT_EQ(*ParseDurationSeconds("15m"), 900u);
  EXPECT_FALSE(ParseDurationSeconds("5y"));
}

}  // namespace
}  // namespace hugeblob
