#include "repo/indexes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "format/layout.h"
#include "store/memory_store.h"

namespace hugeblob {
namespace {

std::vector<IndexEntry> Entries(int n) {
  std::vector<IndexEntry> out;
  for (int i = 0; i < n; ++i) {
    IndexEntry e;
    e.chunk = Sha256Of("chunk " + std::to_string(i));
    e.pack = Sha256Of("pack " + std::to_string(i % 3));
    e.offset = static_cast<uint64_t>(i) * 1000;
    e.stored_length = 900;
    e.length = 1000;
    e.codec = Codec::kZstd;
    out.push_back(e);
  }
  return out;
}

std::vector<IndexEntry> SortedByPackOffset(std::vector<IndexEntry> v) {
  std::sort(v.begin(), v.end(), [](const IndexEntry& a, const IndexEntry& b) {
    return std::tie(a.pack, a.offset) < std::tie(b.pack, b.offset);
  });
  return v;
}

TEST(IndexObjectTest, WrittenUnderItsIdAndReadBack) {
  MemoryStore store;
  auto stored = WriteIndexObject(store, Entries(50));
  ASSERT_TRUE(stored) << stored.error().message();
  auto listed = store.List("");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, IndexKey(stored->id));
  EXPECT_EQ((*listed)[0].size, stored->bytes);
  uint64_t read = 0;
  auto back = ReadIndexObject(store, IndexKey(stored->id), &read);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(read, stored->bytes);
  EXPECT_EQ(*back, SortedByPackOffset(Entries(50)));
}

// An object whose bytes are not what its name says is refused before it is
// decoded (a lying index would send put's dedup to the wrong frame), and a
// missing one is kNotFound, not damage.
TEST(IndexObjectTest, ContentNotMatchingItsIdIsCorruption) {
  MemoryStore store;
  auto a = WriteIndexObject(store, Entries(10));
  auto b = WriteIndexObject(store, Entries(20));
  ASSERT_TRUE(a && b);
  auto b_bytes = store.Get(IndexKey(b->id));
  ASSERT_TRUE(b_bytes);
  ASSERT_TRUE(store.Put(IndexKey(a->id), *b_bytes));  // a valid index, under a's name
  auto r = ReadIndexObject(store, IndexKey(a->id));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.error().message().find("content does not match its id"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find(IndexKey(a->id)), std::string::npos);

  auto gone = ReadIndexObject(store, IndexKey(Sha256Of("nothing")));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hugeblob
