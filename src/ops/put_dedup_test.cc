// put against index entries that lie (issue 14): an entry that names a pack
// lacking the chunk, or the wrong offset or length, must not become a
// manifest that get cannot restore. put confirms every entry it dedups
// against with the pack's trailer and stores the chunk itself otherwise.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/index.h"
#include "format/index_codec.h"
#include "format/layout.h"
#include "hugeblob/hugeblob.h"
#include "ops/gc_test_util.h"
#include "testing/temp_dir.h"

namespace hugeblob {
namespace {

using testing_gc::MakeData;
using testing_gc::Restore;
using testing_gc::SmallPut;
using testing_gc::WriteFile;

class PutDedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenStore("mem://");
    ASSERT_TRUE(s) << s.error().message();
    store_ = *s;
    a_ = MakeData(3 << 20, 7);
    auto put = Put(store_, WriteFile(dir_, "a", a_), SmallPut("a"));
    ASSERT_TRUE(put) << put.error().message();
  }

  // Every index entry of the store; the index objects are deleted.
  std::vector<IndexEntry> TakeIndex() {
    std::vector<IndexEntry> all;
    auto keys = store_->List(kIndexPrefix);
    EXPECT_TRUE(keys && !keys->empty());
    for (const ObjectInfo& k : *keys) {
      auto bytes = store_->Get(k.key);
      EXPECT_TRUE(bytes);
      auto entries = DecodeIndex(bytes->span(), k.key);
      EXPECT_TRUE(entries) << entries.error().message();
      all.insert(all.end(), entries->begin(), entries->end());
      EXPECT_TRUE(store_->Delete(k.key));
    }
    return all;
  }
  void WriteIndex(const std::vector<IndexEntry>& entries) {
    auto bytes = EncodeIndex(entries);
    ASSERT_TRUE(bytes) << bytes.error().message();
    ASSERT_TRUE(store_->Put(IndexKey(Sha256Of(bytes->span())), *bytes));
  }
  // The chunk entries a put of `data` makes, learnt in a store of their own.
  std::vector<IndexEntry> EntriesOf(const std::string& data) {
    auto other = OpenStore("mem://");
    EXPECT_TRUE(other);
    auto put = Put(*other, WriteFile(dir_, "probe", data), SmallPut("probe"));
    EXPECT_TRUE(put) << put.error().message();
    std::vector<IndexEntry> all;
    auto keys = (*other)->List(kIndexPrefix);
    for (const ObjectInfo& k : *keys) {
      auto entries = DecodeIndex((*other)->Get(k.key)->span(), k.key);
      all.insert(all.end(), entries->begin(), entries->end());
    }
    return all;
  }

  TempDir dir_;
  std::shared_ptr<ObjectStore> store_;
  std::string a_;
};

// The index claims the chunks of a new file are in a pack of 'a', at the
// place of one of a's frames: put stores them and get restores the file.
TEST_F(PutDedupTest, EntryNamingAPackThatLacksTheChunk) {
  const std::vector<IndexEntry> index = TakeIndex();
  WriteIndex(index);
  const std::string b = MakeData(1 << 20, 99);
  // (One index object per lie: an index object refuses overlapping frames.)
  for (const IndexEntry& e : EntriesOf(b)) {
    IndexEntry lie = index[0];  // a real frame of a's first pack ...
    lie.chunk = e.chunk;        // ... claimed to hold b's chunk
    WriteIndex({lie});
  }
  auto put = Put(store_, WriteFile(dir_, "b", b), SmallPut("b"));
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(put->shared_bytes, 0u);  // nothing deduplicated against the lies
  EXPECT_TRUE(Restore(store_, "b", dir_) == b) << "b does not restore";
  EXPECT_TRUE(Restore(store_, "a", dir_) == a_) << "a does not restore";
  auto v = Verify(store_, VerifyOptions{});
  ASSERT_TRUE(v) << v.error().message();
  // The lying index object is still there, and verify still reports it.
  EXPECT_FALSE(v->problems.empty());
}

// Entries for a's own chunks with a wrong offset or length: a re-put of 'a'
// stores those chunks again; the true entries still dedup.
TEST_F(PutDedupTest, EntryWithWrongOffsetOrLength) {
  std::vector<IndexEntry> index = TakeIndex();
  ASSERT_GE(index.size(), 4u);
  std::vector<IndexEntry> lies(index.begin(), index.begin() + 3);
  lies[0].offset += 1;
  lies[1].stored_length -= 1;
  lies[2].length -= 1;
  for (const IndexEntry& lie : lies) WriteIndex({lie});
  WriteIndex(std::vector<IndexEntry>(index.begin() + 3, index.end()));
  auto put = Put(store_, WriteFile(dir_, "a2", a_), SmallPut("a2"));
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(put->new_chunks, 3u);
  EXPECT_EQ(put->shared_bytes, a_.size() - 3 * (64 << 10));
  EXPECT_TRUE(Restore(store_, "a2", dir_) == a_) << "a2 does not restore";
}

// An entry naming a pack that is not a pack (or is gone): stored again,
// not an error.
TEST_F(PutDedupTest, EntryNamingAMissingPack) {
  std::vector<IndexEntry> index = TakeIndex();
  const std::string b = MakeData(256 << 10, 5);
  std::vector<IndexEntry> b_entries = EntriesOf(b);
  // b's entries name b's packs, which only the probe store holds. The
  // index loader drops entries of packs the store does not list, so an
  // object that is not a pack at all stands in for each of them.
  for (const IndexEntry& e : b_entries) {
    ASSERT_TRUE(store_->Put(PackKey(e.pack), Buffer::Copy(std::string_view("not a pack"))));
  }
  index.insert(index.end(), b_entries.begin(), b_entries.end());
  WriteIndex(index);
  auto put = Put(store_, WriteFile(dir_, "b", b), SmallPut("b"));
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(put->shared_bytes, 0u);
  EXPECT_TRUE(Restore(store_, "b", dir_) == b) << "b does not restore";
}

}  // namespace
}  // namespace hugeblob
