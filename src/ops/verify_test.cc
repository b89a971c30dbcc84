// verify against a hostile store: objects that lie about where a chunk is,
// and lengths that no frame can have. "verify finds every object that would
// make a get fail" (issue 14), within bounded memory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/index.h"
#include "format/index_codec.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "format/manifest_codec.h"
#include "format/pack.h"
#include "format/pack_codec.h"
#include "hugeblob/hugeblob.h"
#include "ops/gc_test_util.h"
#include "ops/load.h"
#include "repo/refs.h"
#include "testing/temp_dir.h"

namespace hugeblob {
namespace {

using testing_gc::MakeData;
using testing_gc::SmallPut;
using testing_gc::WriteFile;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenStore("mem://");
    ASSERT_TRUE(s) << s.error().message();
    store_ = *s;
    const std::string path = WriteFile(dir_, "a", MakeData(3 << 20, 7));
    auto put = Put(store_, path, SmallPut("a"));
    ASSERT_TRUE(put) << put.error().message();
    auto r = Verify(store_, VerifyOptions{});
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(r->problems.empty()) << r->problems.front();
  }

  // Problems of a whole-store verify that contain `needle`.
  std::vector<std::string> ProblemsWith(const std::string& needle, const std::string& name = "") {
    VerifyOptions o;
    o.name = name;
    auto r = Verify(store_, o);
    EXPECT_TRUE(r) << r.error().message();
    std::vector<std::string> out;
    if (!r) return out;
    for (const std::string& p : r->problems) {
      if (p.find(needle) != std::string::npos) out.push_back(p);
    }
    return out;
  }

  TempDir dir_;
  std::shared_ptr<ObjectStore> store_;
};

// An index entry that names the wrong frame: put would dedup against it and
// write a manifest that get cannot restore. verify must report it.
TEST_F(VerifyTest, LyingIndexEntryIsAProblem) {
  auto keys = store_->List(kIndexPrefix);
  ASSERT_TRUE(keys && !keys->empty());
  auto bytes = store_->Get((*keys)[0].key);
  ASSERT_TRUE(bytes);
  auto entries = DecodeIndex(bytes->span(), (*keys)[0].key);
  ASSERT_TRUE(entries) << entries.error().message();
  ASSERT_GE(entries->size(), 2u);
  // Entry 0 now claims entry 1's chunk id at entry 0's place.
  (*entries)[0].chunk = (*entries)[1].chunk;
  auto lie = EncodeIndex(*entries);
  ASSERT_TRUE(lie) << lie.error().message();
  const std::string key = IndexKey(Sha256Of(lie->span()));
  ASSERT_TRUE(store_->Put(key, *lie));
  auto found = ProblemsWith(key);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("the pack holds chunk"), std::string::npos) << found[0];
}

// A manifest frame that points at another frame of the pack: the pack is
// intact (every trailer entry checks out), yet get of this name fails.
TEST_F(VerifyTest, ManifestFrameNotInThePackIsAProblem) {
  auto ref = LoadRef(*store_, "a");
  ASSERT_TRUE(ref);
  auto m = LoadManifest(*store_, ref->manifest);
  ASSERT_TRUE(m);
  ASSERT_GE(m->frames.size(), 2u);
  FrameRef& f = m->frames[0];
  f.stored_offset += 1;  // no frame starts there
  auto bytes = EncodeManifest(*m);
  ASSERT_TRUE(bytes) << bytes.error().message();
  const Hash256 id = Sha256Of(bytes->span());
  ASSERT_TRUE(store_->Put(ManifestKey(id), *bytes));
  Ref bad = *ref;
  bad.manifest = id;
  ASSERT_TRUE(store_->Put(RefKey("bad"), EncodeRef(bad)));
  EXPECT_EQ(ProblemsWith("of 'bad'").size(), 1u);
  EXPECT_EQ(ProblemsWith("of 'bad'", "bad").size(), 1u);
  EXPECT_TRUE(ProblemsWith("of 'a'").empty());
}

// A tiny unreferenced pack whose trailer claims a 4 GiB frame: refused by
// the decoder's limits, never allocated.
TEST_F(VerifyTest, TinyPackClaimingAHugeFrameIsAProblem) {
  PackEntry e;
  e.chunk = Sha256Of(std::string_view("x"));
  e.offset = 0;
  e.stored_length = 10;
  e.length = 0xffffffffu;
  e.codec = Codec::kZstd;
  Buffer trailer = EncodePackTrailer(std::vector<PackEntry>{e}, 10);
  std::string pack(10, 'z');
  pack.append(trailer.view());
  const std::string key = PackKey(Sha256Of(trailer.span()));
  ASSERT_TRUE(store_->Put(key, Buffer::Copy(pack)));
  auto found = ProblemsWith(key);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("larger than a frame can be"), std::string::npos) << found[0];
}

// A ref whose size disagrees with its manifest is refused by every command
// the same way.
TEST_F(VerifyTest, RefSizeDisagreeingWithManifestIsRefused) {
  auto r = ResolveVersion(*store_, "a");
  ASSERT_TRUE(r);
  Ref bad = r->ref;
  bad.size += 1;
  ASSERT_TRUE(RewriteVersion(*store_, r->version, bad));
  EXPECT_EQ(ProblemsWith("the ref says", "a").size(), 1u);
  GetOptions o;
  o.reader.disk_cache = false;
  auto got = Get(store_, "a", dir_.path() + "/out", o);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(got.error().message().find("the ref says"), std::string::npos);
  auto st = StatBlob(store_, "a");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorruption);
}

// One damaged ref does not hide the others, and rm removes it.
TEST_F(VerifyTest, DamagedRefIsListedAndRemovable) {
  ASSERT_TRUE(store_->Put(RefKey("broken"), Buffer::Copy(std::string_view("garbage\n"))));
  ASSERT_TRUE(store_->Put("refs/evil\nname", Buffer::Copy(std::string_view("garbage\n"))));
  auto list = ListBlobs(store_);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 3u);
  int good = 0, bad = 0;
  for (const BlobInfo& b : *list) (b.error.empty() ? good : bad)++;
  EXPECT_EQ(good, 1);
  EXPECT_EQ(bad, 2);
  EXPECT_TRUE(RemoveBlob(store_, "broken"));
  EXPECT_TRUE(RemoveBlob(store_, "evil\nname"));
  EXPECT_FALSE(RemoveBlob(store_, "no/such"));
  list = ListBlobs(store_);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);
}

}  // namespace
}  // namespace hugeblob
