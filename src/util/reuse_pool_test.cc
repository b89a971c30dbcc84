// Buffer::AllocateReusable: freed blocks come back for similar sizes, and
// the pool of idle blocks stays within its bound.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hugeblob/buffer.h"
#include "util/budget.h"

namespace hugeblob {
namespace {

TEST(ReusableBufferTest, FreedBlockIsReusedForASimilarSize) {
  const uint8_t* first;
  {
    Buffer b = Buffer::AllocateReusable(256 * 1024);
    ASSERT_EQ(b.size(), 256u * 1024);
    std::memset(b.mutable_data(), 1, b.size());
    first = b.data();
  }
  // Slightly smaller: the same block (up to 1/4 to spare).
  Buffer again = Buffer::AllocateReusable(240 * 1024);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(again.size(), 240u * 1024);
  // Held: a second one of the same size is another block.
  Buffer other = Buffer::AllocateReusable(240 * 1024);
  EXPECT_NE(other.data(), first);
}

TEST(ReusableBufferTest, MuchSmallerOrLargerSizesDoNotTakeTheBlock) {
  const uint8_t* first;
  {
    Buffer b = Buffer::AllocateReusable(512 * 1024);
    first = b.data();
  }
  Buffer small = Buffer::AllocateReusable(200 * 1024);  // would waste over 1/4
  EXPECT_NE(small.data(), first);
  Buffer large = Buffer::AllocateReusable(1024 * 1024);
  EXPECT_NE(large.data(), first);
}

TEST(ReusableBufferTest, IdleBlocksStayWithinTheBoundAndReservationsReturn) {
  auto budget = MemoryBudget::Create(1ull << 30);
  {
    std::vector<Buffer> held;
    for (int i = 0; i < 40; ++i) {
      held.push_back(Buffer::AllocateReusable(1 << 20, budget->ForceReserve(1 << 20)));
    }
    EXPECT_EQ(budget->used(), 40u << 20);
  }  // 40 MiB freed at once: the pool keeps at most its bound
  EXPECT_EQ(budget->used(), 0u);
  EXPECT_LE(Buffer::ReusePoolIdleBytes(), Buffer::kReusePoolBytes);
  EXPECT_GE(Buffer::ReusePoolIdleBytes(), Buffer::kReusePoolBytes - (2 << 20));
  // Small buffers never go to the pool.
  uint64_t before = Buffer::ReusePoolIdleBytes();
  { Buffer tiny = Buffer::AllocateReusable(1000); }
  EXPECT_EQ(Buffer::ReusePoolIdleBytes(), before);
}

}  // namespace
}  // namespace hugeblob
