#include "ops/forget.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "repo/refs.h"
#include "store/memory_store.h"

namespace hugeblob {
namespace {

std::vector<ForgetEntry> Timeline(const std::vector<int64_t>& times) {
  std::vector<ForgetEntry> out;
  for (size_t i = 0; i < times.size(); ++i) {
    ForgetEntry e;
    e.name = "n";
    e.number = static_cast<uint32_t>(i + 1);
    e.created_unix = times[i];
    out.push_back(e);
  }
  return out;
}

std::string Kept(const std::vector<ForgetEntry>& es) {
  std::string s;
  for (const ForgetEntry& e : es) {
    if (e.keep) s += (s.empty() ? "" : ",") + std::to_string(e.number);
  }
  return s;
}

TEST(ForgetTest, ParsesResticDurations) {
  auto d = ParseKeepDuration("1y6m3d12h");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->years, 1);
  EXPECT_EQ(d->months, 6);
  EXPECT_EQ(d->days, 3);
  EXPECT_EQ(d->hours, 12);
  for (const char* bad : {"", "7", "3w", "d", "1d2"}) {
    EXPECT_FALSE(ParseKeepDuration(bad)) << bad;
  }
}

// ISO weeks cross years: 2020-12-31 (Thu) and 2021-01-03 (Sun) are both in
// 2020-W53; 2021-01-04 (Mon) starts W01.
TEST(ForgetTest, WeeklyUsesIsoWeeksAcrossTheYear) {
  ForgetPolicy p;
  p.keep_weekly = 2;
  auto out = ApplyForgetPolicy(p, Timeline({1609416000,     // 2020-12-31 12:00
                                            1609675200,     // 2021-01-03 12:00
                                            1609761600}));  // 2021-01-04 12:00
  EXPECT_EQ(Kept(out), "2,3");
}

TEST(ForgetTest, MonthlyKeepsTheOldestWhenPeriodsRunOut) {
  ForgetPolicy p;
  p.keep_monthly = 5;
  auto out = ApplyForgetPolicy(p, Timeline({1672574400,     // 2023-01-01
                                            1672660800,     // 2023-01-02
                                            1675252800}));  // 2023-02-01
  EXPECT_EQ(Kept(out), "1,2,3");
  EXPECT_EQ(out[0].reasons, std::vector<std::string>{"oldest monthly"});
}

TEST(ForgetTest, KeepLastUnlimitedAndWithinRelativeToNewest) {
  ForgetPolicy all;
  all.keep_last = -1;
  EXPECT_EQ(Kept(ApplyForgetPolicy(all, Timeline({1, 2, 3}))), "1,2,3");
  ForgetPolicy within;
  within.keep_within.hours = 2;
  // Newest at 10h; cutoff 8h (exclusive).
  EXPECT_EQ(Kept(ApplyForgetPolicy(within, Timeline({int64_t{3600} * 7, int64_t{3600} * 8,
                                                     int64_t{3600} * 9, int64_t{3600} * 10}))),
            "3,4");
}

TEST(RefsTest, VersionsPublishListResolveRemove) {
  auto store = std::make_shared<MemoryStore>();
  Ref r;
  r.size = 1;
  for (int i = 0; i < 3; ++i) {
    r.manifest.bytes[0] = static_cast<uint8_t>(0xa0 + i);
    r.created_unix = 100 + i;
    ASSERT_TRUE(PublishVersion(*store, "x/y", r, LegacyStamp(100 + i)));
  }
  auto vs = ListVersions(*store, "x/y");
  ASSERT_TRUE(vs);
  ASSERT_EQ(vs->size(), 3u);
  EXPECT_EQ(vs->back().number, 3u);
  auto first = ResolveVersion(*store, "x/y@1");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->ref.created_unix, 100);
  auto newest = ResolveVersion(*store, "x/y@-1");
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->ref.created_unix, 102);
  auto by_id = ResolveVersion(*store, "x/y@a1");
  EXPECT_FALSE(by_id);                               // fewer than 4 digits
  auto by_id4 = ResolveVersion(*store, "x/y@a100");  // manifest a1 00 00 ...
  ASSERT_TRUE(by_id4) << by_id4.error().message();
  EXPECT_EQ(by_id4->version.number, 2u);
  EXPECT_FALSE(ResolveVersion(*store, "x/y@4"));
  // The name is a file: x/y/z cannot be put; x is a folder: x cannot.
  EXPECT_FALSE(CheckNamePlacement(*store, "x/y/z"));
  EXPECT_FALSE(CheckNamePlacement(*store, "x"));
  EXPECT_TRUE(CheckNamePlacement(*store, "x/w"));
  EXPECT_FALSE(ValidateNewName("a@b"));
  ASSERT_TRUE(RemoveVersion(*store, (*vs)[0]));
  auto after = ListVersions(*store, "x/y");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), 2u);
  EXPECT_EQ(after->front().number, 1u);
}

}  // namespace
}  // namespace hugeblob
