#include "reader/readahead.h"

#include <gtest/gtest.h>

#include <vector>

#include "reader/fetcher.h"

namespace hugeblob {
namespace {

TEST(ReadaheadTest, SequentialGrowsWindowRandomGetsNone) {
  Readahead ra(8);
  EXPECT_EQ(ra.Observe(0, 4096), 0u);     // first read: no history
  EXPECT_EQ(ra.Observe(4096, 4096), 0u);  // one continuation can be chance
  EXPECT_EQ(ra.Observe(8192, 4096), 1u);  // two in a row: start small
  EXPECT_EQ(ra.Observe(12288, 4096), 2u);
  EXPECT_EQ(ra.Observe(16384, 4096), 4u);
  EXPECT_EQ(ra.Observe(20480, 4096), 8u);
  EXPECT_EQ(ra.Observe(24576, 4096), 8u);    // capped
  EXPECT_EQ(ra.Observe(1 << 30, 4096), 0u);  // a jump resets
  EXPECT_EQ(ra.Observe(5 << 20, 4096), 0u);
  EXPECT_EQ(ra.Observe(77 << 20, 4096), 0u);
}

TEST(ReadaheadTest, SmallReorderingStillSequential) {
  Readahead ra(4);
  ra.Observe(0, 65536);
  ra.Observe(65536, 65536);
  EXPECT_GT(ra.Observe(196608, 65536), 0u);  // skipped one block (FUSE reordering)
  EXPECT_EQ(ra.Observe(131072, 65536), 0u);  // the late one: no progress, no reset
  EXPECT_EQ(ra.Observe(262144, 65536), 2u);  // the stream goes on
}

TEST(ReadaheadTest, ThreadsRereadingOneSpotAreNotAStream) {
  Readahead ra(4);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ra.Observe(1 << 20, 4096), 0u);
}

TEST(ReadaheadTest, DisabledWithZeroChunks) {
  Readahead ra(0);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(ra.Observe(i * 4096, 4096), 0u);
}

TEST(ReadaheadTest, ClaimHandsOutEachFrameOnce) {
  Readahead ra(4);
  EXPECT_EQ(ra.Claim(3, 5), (std::pair<size_t, size_t>(3, 5)));
  EXPECT_EQ(ra.Claim(4, 7), (std::pair<size_t, size_t>(5, 7)));
  auto none = ra.Claim(5, 7);
  EXPECT_EQ(none.first, none.second);
  // A jump resets the streak, and with it what was handed out.
  ra.Observe(0, 10);
  ra.Observe(1 << 30, 10);
  EXPECT_EQ(ra.Claim(0, 2), (std::pair<size_t, size_t>(0, 2)));
}

FrameRef F(uint32_t pack, uint64_t off, uint32_t len) {
  FrameRef f;
  f.pack = pack;
  f.stored_offset = off;
  f.stored_length = len;
  f.length = len;
  return f;
}

TEST(PlanRunsTest, CoalescesAdjacentFramesOfOnePack) {
  std::vector<FrameRef> frames = {F(0, 0, 100),   F(0, 100, 100), F(0, 200, 100), F(1, 0, 100),
                                  F(0, 400, 100), F(1, 100, 100), F(0, 300, 100)};
  std::vector<size_t> want = {6, 0, 1, 2, 3, 5, 4};  // any order in
  auto runs = PlanRuns(frames, want, 1 << 20);
  ASSERT_EQ(runs.size(), 2u);
  std::vector<size_t> first;
  for (size_t p : runs[0]) first.push_back(want[p]);
  EXPECT_EQ(first, (std::vector<size_t>{0, 1, 2, 6, 4}));  // pack 0, 0..500
  std::vector<size_t> second;
  for (size_t p : runs[1]) second.push_back(want[p]);
  EXPECT_EQ(second, (std::vector<size_t>{3, 5}));
}

TEST(PlanRunsTest, GapsAndByteCapSplitRuns) {
  std::vector<FrameRef> frames = {F(0, 0, 100), F(0, 100, 100), F(0, 200, 100), F(0, 300, 100)};
  std::vector<size_t> gap = {0, 2};
  EXPECT_EQ(PlanRuns(frames, gap, 1 << 20).size(), 2u);
  std::vector<size_t> all = {0, 1, 2, 3};
  EXPECT_EQ(PlanRuns(frames, all, 200).size(), 2u);
  EXPECT_EQ(PlanRuns(frames, all, 1).size(), 4u);  // a frame over the cap is its own run
}

}  // namespace
}  // namespace hugeblob
