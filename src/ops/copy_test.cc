#include "ops/copy.h"

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "ops/gc.h"
#include "ops/gc_test_util.h"
#include "ops/load.h"
#include "repo/refs.h"
#include "store/local_store.h"
#include "store/memory_store.h"
#include "testing/wrapper_store.h"
#include "util/cancel.h"
#include "writer/store_lock.h"

namespace hugeblob {
namespace {

using namespace testing_gc;

CopyOptions SmallCopy() {
  CopyOptions o;
  o.pack_size = 1 << 20;
  o.memory_budget = 16 << 20;
  return o;
}

struct Fixture {
  TempDir dir;
  TempDir root;
  std::shared_ptr<MemoryStore> mem = std::make_shared<MemoryStore>();
  std::shared_ptr<ObjectStore> local;
  std::string a, b;

  Fixture() {
    auto s = LocalStore::Open(root.path() + "/dst");
    EXPECT_TRUE(s);
    local = *s;
    a = MakeData(3 << 20, 21) + std::string(512 << 10, '\0');  // with a hole
    b = a.substr(0, 2 << 20) + MakeData(1 << 20, 22);
    EXPECT_TRUE(Put(mem, WriteFile(dir, "a", a), SmallPut("v/a")));
    EXPECT_TRUE(Put(mem, WriteFile(dir, "b", b), SmallPut("v/b")));
  }
};

TEST(CopyTest, MemoryToLocalAndBackVerified) {
  Fixture f;
  // One more name, cut by the CDC chunker.
  ASSERT_TRUE(Put(f.mem, WriteFile(f.dir, "c", f.b), SmallPut("v/c", "cdc")));
  auto r = CopyNames(f.mem, f.local, SmallCopy());
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->names.size(), 3u);
  EXPECT_EQ(r->names[0].name, "v/a");
  EXPECT_GT(r->names[0].chunks_sent, 0u);
  EXPECT_GT(r->packs, 0u);
  ExpectVerifies(f.local);
  EXPECT_EQ(Restore(f.local, "v/a", f.dir), f.a);
  EXPECT_EQ(Restore(f.local, "v/b", f.dir), f.b);
  EXPECT_EQ(Restore(f.local, "v/c", f.dir), f.b);
  // Same file content, same size and creation time; sharing recorded.
  for (const char* name : {"v/a", "v/b"}) {
    auto s = StatBlob(f.mem, name), d = StatBlob(f.local, name);
    ASSERT_TRUE(s && d);
    EXPECT_EQ(s->sha256, d->sha256);
    EXPECT_EQ(s->info.size, d->info.size);
    EXPECT_EQ(s->info.created_unix, d->info.created_unix);
  }
  EXPECT_TRUE(Keys(*f.local, kLocksPrefix).empty());

  // Copied again: nothing to send.
  auto again = CopyNames(f.mem, f.local, SmallCopy());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->packs, 0u);
  EXPECT_EQ(again->bytes_read, 0u);
  for (const auto& n : again->names) EXPECT_EQ(n.chunks_sent, 0u);

  // And back into a fresh store, one name only.
  auto back = std::make_shared<MemoryStore>();
  CopyOptions one = SmallCopy();
  one.names = {"v/b"};
  auto rb = CopyNames(f.local, back, one);
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_EQ(Restore(back, "v/b", f.dir), f.b);
  EXPECT_FALSE(LoadRef(*back, "v/a"));
  ExpectVerifies(back);
}

TEST(CopyTest, SendsOnlyWhatTheDestinationLacks) {
  Fixture f;
  CopyOptions one = SmallCopy();
  one.names = {"v/a"};
  ASSERT_TRUE(CopyNames(f.mem, f.local, one));
  auto counting = std::make_shared<CountingStore>(f.mem);
  one.names = {"v/b"};
  auto r = CopyNames(counting, f.local, one);
  ASSERT_TRUE(r) << r.error().message();
  // b shares its first 2 MiB with a: only about the last MiB is read.
  EXPECT_GT(r->names[0].chunks_present, 0u);
  EXPECT_GT(r->names[0].shared_bytes, 1u << 20);
  EXPECT_LT(r->bytes_read, 3u << 20);
  EXPECT_EQ(Restore(f.local, "v/b", f.dir), f.b);
  auto ref = LoadRef(*f.local, "v/b");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->shared_bytes, r->names[0].shared_bytes);
}

TEST(CopyTest, ResumesWithoutRewritingPacks) {
  Fixture f;
  auto faulty = std::make_shared<FaultInjectingStore>(f.local);
  FaultRule rule;
  rule.op = StoreOp::kPut;
  rule.key_substring = "packs/";
  rule.after = 3;  // the fourth pack fails: v/a takes three
  rule.times = -1;
  rule.retryable = false;
  faulty->AddRule(rule);
  auto r = CopyNames(f.mem, faulty, SmallCopy());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("are kept and a rerun resumes"), std::string::npos)
      << r.error().message();
  const auto packs_before = Keys(*f.local, kPacksPrefix);
  ASSERT_EQ(packs_before.size(), 3u) << r.error().message();
  // The names completed before the failure are complete; the rest are not.
  EXPECT_NE(r.error().message().find("1 of 2 versions copied (v/a)"), std::string::npos)
      << r.error().message();
  auto versions = ListAllVersions(*f.local);
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(versions->front().size(), 1u);
  EXPECT_EQ(versions->front().front().name, "v/a");
  EXPECT_EQ(Restore(f.local, "v/a", f.dir), f.a);
  EXPECT_TRUE(Keys(*f.local, kLocksPrefix).empty());

  auto counting = std::make_shared<CountingStore>(f.local);
  auto again = CopyNames(f.mem, counting, SmallCopy());
  ASSERT_TRUE(again) << again.error().message();
  const auto packs_after = Keys(*f.local, kPacksPrefix);
  for (const auto& k : packs_before) EXPECT_TRUE(packs_after.count(k)) << k;
  // Every pack stored by the rerun is a new one: none of the first run's
  // packs was written again.
  EXPECT_EQ(again->packs, packs_after.size() - packs_before.size());
  PackCensus c = Census(*f.local);
  EXPECT_EQ(c.frames, c.distinct) << "a chunk was stored twice";
  EXPECT_EQ(Restore(f.local, "v/a", f.dir), f.a);
  EXPECT_EQ(Restore(f.local, "v/b", f.dir), f.b);
  ExpectVerifies(f.local);
}

TEST(CopyTest, CorruptSourceFrameIsRefusedNamingThePack) {
  Fixture f;
  auto faulty = std::make_shared<FaultInjectingStore>(f.mem);
  FaultRule rule;
  rule.op = StoreOp::kGetRange;
  rule.key_substring = "packs/";
  rule.action = FaultRule::Action::kCorrupt;
  faulty->AddRule(rule);
  auto r = CopyNames(faulty, f.local, SmallCopy());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << r.error().message();
  EXPECT_NE(r.error().message().find("packs/"), std::string::npos) << r.error().message();
  EXPECT_TRUE(Keys(*f.local, kRefsPrefix).empty());
}

TEST(CopyTest, CancelStopsAndSaysWhatWasKept) {
  Fixture f;
  CancelToken cancel;
  CopyOptions o = SmallCopy();
  o.cancel = &cancel;
  o.progress = [&](const Progress& p) {
    if (p.done > 0) cancel.Cancel();
  };
  auto r = CopyNames(f.mem, f.local, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  EXPECT_NE(r.error().message().find("copy interrupted: 0 of 2 versions copied"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(Keys(*f.local, kLocksPrefix).empty());
}

TEST(CopyTest, RefusesWhileGcRunsOnTheDestination) {
  Fixture f;
  auto gc = StoreLock::Acquire(f.local, LockKind::kGc, "gc");
  ASSERT_TRUE(gc);
  auto r = CopyNames(f.mem, f.local, SmallCopy());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("a gc is running"), std::string::npos) << r.error().message();
}

TEST(CopyTest, UnknownNameFailsBeforeWriting) {
  Fixture f;
  CopyOptions o = SmallCopy();
  o.names = {"v/a", "nope"};
  auto r = CopyNames(f.mem, f.local, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no file named 'nope'"), std::string::npos);
  EXPECT_TRUE(Keys(*f.local, kPacksPrefix).empty());
}

}  // namespace
}  // namespace hugeblob
