#include "ops/gc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <thread>

#include "format/manifest.h"
#include "ops/gc_test_util.h"
#include "ops/load.h"
#include "store/local_store.h"
#include "store/memory_store.h"
#include "testing/wrapper_store.h"
#include "writer/store_lock.h"

namespace hugeblob {
namespace {

using namespace testing_gc;

GcOptions NoGrace() {
  GcOptions o;
  o.grace_seconds = 0;
  return o;
}

// Two versions: b shares the first and last MiB of a, and has 2 MiB of its own.
struct TwoVersions {
  std::string a, b;
  PutResult ra, rb;
};

TwoVersions PutTwoVersions(const std::shared_ptr<ObjectStore>& store, const TempDir& dir) {
  TwoVersions v;
  v.a = MakeData(4 << 20, 1);
  v.b = v.a.substr(0, 1 << 20) + MakeData(2 << 20, 2) + v.a.substr(3 << 20);
  auto ra = Put(store, WriteFile(dir, "a", v.a), SmallPut("a"));
  EXPECT_TRUE(ra) << ra.error().message();
  auto rb = Put(store, WriteFile(dir, "b", v.b), SmallPut("b"));
  EXPECT_TRUE(rb) << rb.error().message();
  if (ra) v.ra = *ra;
  if (rb) v.rb = *rb;
  return v;
}

TEST(GcTest, AfterRmReclaimsUniqueBytesAndKeepsShared) {
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  TwoVersions v = PutTwoVersions(store, dir);
  ASSERT_GT(v.rb.shared_bytes, 0u);
  ASSERT_GT(v.rb.packs, 0u);
  const auto manifests_before = Keys(*store, kManifestsPrefix);

  // Nothing is garbage yet.
  auto r0 = CollectGarbage(store, NoGrace());
  ASSERT_TRUE(r0) << r0.error().message();
  EXPECT_EQ(r0->packs_deleted, 0u);
  EXPECT_EQ(r0->manifests_deleted, 0u);

  ASSERT_TRUE(RemoveBlob(store, "b"));
  const uint64_t packs_before = Bytes(*store, kPacksPrefix);

  // Dry run: reports, changes nothing.
  GcOptions dry = NoGrace();
  dry.dry_run = true;
  auto d = CollectGarbage(store, dry);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->packs_deleted, v.rb.packs);
  EXPECT_EQ(Bytes(*store, kPacksPrefix), packs_before);

  auto r = CollectGarbage(store, NoGrace());
  ASSERT_TRUE(r) << r.error().message();
  // b's put wrote packs holding only b's new chunks: exactly those go.
  EXPECT_EQ(r->packs_deleted, v.rb.packs);
  EXPECT_EQ(r->pack_bytes_deleted, d->pack_bytes_deleted);
  EXPECT_EQ(packs_before - Bytes(*store, kPacksPrefix), r->pack_bytes_deleted);
  EXPECT_EQ(r->manifests_deleted, 1u);
  EXPECT_GT(r->reclaimed_bytes(), 0);
  // What b added was packs + index objects + its manifest; gc took back the
  // packs and the manifest (index objects were rewritten, not simply dropped).
  EXPECT_LE(r->pack_bytes_deleted + r->manifest_bytes_deleted, v.rb.added_bytes);
  EXPECT_GT(r->pack_bytes_deleted, (2u << 20) / 2);  // b's 2 MiB, partly compressible
  EXPECT_EQ(Restore(store, "a", dir), v.a);
  ExpectVerifies(store);
  EXPECT_TRUE(Keys(*store, kLocksPrefix).empty());

  // The index no longer offers b's chunks: putting b again writes them again
  // (and the result restores).
  auto again = Put(store, WriteFile(dir, "b", v.b), SmallPut("b"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->new_chunks, v.rb.new_chunks);
  EXPECT_EQ(Restore(store, "b", dir), v.b);

  // A second gc finds nothing more.
  auto r2 = CollectGarbage(store, NoGrace());
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->packs_deleted, 0u);
  EXPECT_EQ(r2->manifests_deleted, 0u);
}

TEST(GcTest, GracePeriodKeepsYoungObjects) {
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  TwoVersions v = PutTwoVersions(store, dir);
  ASSERT_TRUE(RemoveBlob(store, "b"));
  GcOptions o;  // default grace: 1h
  auto r = CollectGarbage(store, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->packs_deleted, 0u);
  EXPECT_EQ(r->manifests_deleted, 0u);
  EXPECT_EQ(r->young_kept, v.rb.packs + 1);
  // An hour later they go.
  o.now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               3601;
  auto later = CollectGarbage(store, o);
  ASSERT_TRUE(later) << later.error().message();
  EXPECT_EQ(later->packs_deleted, v.rb.packs);
  EXPECT_EQ(Restore(store, "a", dir), v.a);
}

TEST(GcTest, RefusesWhileAPutLockIsFreshAndPutRefusesDuringGc) {
  auto store = std::make_shared<MemoryStore>();
  {
    auto lock = StoreLock::Acquire(store, LockKind::kPut, "put x");
    ASSERT_TRUE(lock) << lock.error().message();
    auto r = CollectGarbage(store, NoGrace());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(r.error().message().find((*lock)->key()), std::string::npos) << r.error().message();
    // gc removed its own lock.
    EXPECT_EQ(Keys(*store, kLocksPrefix), std::set<std::string>{(*lock)->key()});
  }
  EXPECT_TRUE(Keys(*store, kLocksPrefix).empty());  // released by the destructor

  TempDir dir;
  auto gc_lock = StoreLock::Acquire(store, LockKind::kGc, "gc");
  ASSERT_TRUE(gc_lock);
  auto put = Put(store, WriteFile(dir, "f", MakeData(100000, 3)), SmallPut("f"));
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message().find("a gc is running (" + (*gc_lock)->key()), std::string::npos)
      << put.error().message();
  EXPECT_EQ(Keys(*store, kLocksPrefix).size(), 1u);
  EXPECT_TRUE(Keys(*store, kRefsPrefix).empty());
}

TEST(GcTest, StaleLocksAreIgnoredAndRemoved) {
  auto store = std::make_shared<MemoryStore>();
  // A lock whose holder stopped refreshing: written by hand, an hour old by
  // its own clock, from another host.
  ASSERT_TRUE(store->Put("locks/put-0123456789abcdef0123456789abcdef",
                         Buffer::Copy(std::string_view("hugeblob-lock 1\nhost elsewhere\npid 7\n"
                                                       "refreshed 1000\npurpose put old\n"))));
  GcOptions o = NoGrace();
  // MemoryStore dates objects by the wall clock: judge them from the future.
  o.now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               3600;
  // gc's own lock is checked at the real time, where the stale lock looks
  // fresh by its mtime; a short stale limit makes it old enough there too.
  o.lock_timing.stale_seconds = 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto r = CollectGarbage(store, o);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->stale_locks.size(), 1u);
  EXPECT_NE(r->stale_locks[0].find("elsewhere pid 7"), std::string::npos) << r->stale_locks[0];
  EXPECT_TRUE(Keys(*store, kLocksPrefix).empty());
}

TEST(GcTest, RepackCopiesLiveFramesOutOfMostlyDeadPacks) {
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  // big: 4 MiB in 1 MiB packs. small: the first 256 KiB of big (fixed 64 KiB
  // chunks, so the same chunks): after rm big, the first pack is 1/4 live.
  const std::string big = MakeData(4 << 20, 9);
  const std::string small = big.substr(0, 256 << 10);
  ASSERT_TRUE(Put(store, WriteFile(dir, "big", big), SmallPut("big")));
  auto rs = Put(store, WriteFile(dir, "small", small), SmallPut("small"));
  ASSERT_TRUE(rs);
  EXPECT_EQ(rs->new_chunks, 0u);
  auto ref_before = LoadRef(*store, "small");
  ASSERT_TRUE(ref_before);
  ASSERT_TRUE(RemoveBlob(store, "big"));

  GcOptions o = NoGrace();
  o.repack_threshold = 0.5;
  o.pack_size = 1 << 20;
  auto r = CollectGarbage(store, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->packs_repacked, 1u);
  EXPECT_EQ(r->manifests_rewritten, 1u);
  EXPECT_GT(r->repack_bytes_written, 0u);
  // Every old pack went; one small new pack holds small's frames.
  auto packs = Keys(*store, kPacksPrefix);
  EXPECT_EQ(packs.size(), 1u);
  EXPECT_LT(Bytes(*store, kPacksPrefix), 300u << 10);
  auto ref_after = LoadRef(*store, "small");
  ASSERT_TRUE(ref_after);
  EXPECT_NE(ref_after->manifest, ref_before->manifest);
  EXPECT_EQ(ref_after->size, ref_before->size);
  EXPECT_EQ(ref_after->created_unix, ref_before->created_unix);
  EXPECT_EQ(Keys(*store, kManifestsPrefix).size(), 1u);
  EXPECT_EQ(Restore(store, "small", dir), small);
  ExpectVerifies(store);

  // The new pack is fully live: nothing more to repack.
  auto r2 = CollectGarbage(store, o);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->packs_repacked, 0u);
  EXPECT_EQ(r2->packs_deleted, 0u);
}

TEST(GcTest, IndexEntriesOfVanishedPacksAreNotUsedForDedup) {
  // A crash of gc between deleting a pack and rewriting an index could only
  // leave the opposite (index first), but an index naming a missing pack
  // must never make a put skip a chunk.
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  const std::string data = MakeData(3 << 20, 4);
  ASSERT_TRUE(Put(store, WriteFile(dir, "x", data), SmallPut("x")));
  auto packs = Keys(*store, kPacksPrefix);
  ASSERT_GE(packs.size(), 2u);
  ASSERT_TRUE(store->Delete(*packs.begin()));
  auto again = Put(store, WriteFile(dir, "x", data), SmallPut("y"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_GT(again->new_chunks, 0u);
  EXPECT_EQ(Restore(store, "y", dir), data);
}

TEST(GcTest, PutRefusesToPublishWhenAReusedPackVanished) {
  TempDir dir;
  auto base = std::make_shared<MemoryStore>();
  const std::string data = MakeData(2 << 20, 5);
  ASSERT_TRUE(Put(base, WriteFile(dir, "x", data), SmallPut("x")));
  auto packs = base->List("packs/");
  ASSERT_TRUE(packs && !packs->empty());
  auto faulty = std::make_shared<FaultInjectingStore>(base);
  FaultRule rule;
  rule.op = StoreOp::kHead;
  rule.key_substring = "packs/";
  // put first confirms each reused pack's entries with its trailer (one HEAD
  // per pack, writer/chunk_index.h); the packs vanish after that.
  rule.after = static_cast<int>(packs->size());
  rule.times = -1;
  rule.code = ErrorCode::kNotFound;
  rule.retryable = false;
  faulty->AddRule(rule);
  auto r = Put(faulty, WriteFile(dir, "x", data), SmallPut("y"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("deleted while it was being written"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(LoadRef(*base, "y"));
}

// Packs that are gone before put deduplicates against them: their chunks
// are stored again, and the new file refers to none of them.
TEST(GcTest, PutStoresAgainWhatAVanishedPackHeld) {
  TempDir dir;
  auto base = std::make_shared<MemoryStore>();
  const std::string data = MakeData(2 << 20, 5);
  ASSERT_TRUE(Put(base, WriteFile(dir, "x", data), SmallPut("x")));
  auto faulty = std::make_shared<FaultInjectingStore>(base);
  FaultRule rule;
  rule.op = StoreOp::kHead;
  rule.key_substring = "packs/";
  rule.times = -1;
  rule.code = ErrorCode::kNotFound;
  rule.retryable = false;
  faulty->AddRule(rule);
  auto r = Put(faulty, WriteFile(dir, "x", data), SmallPut("y"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->shared_bytes, 0u);
  EXPECT_EQ(r->size, data.size());
}

TEST(GcTest, AbortsAbandonedMultipartUploads) {
  auto store = std::make_shared<MemoryStore>();
  auto id = store->CreateMultipart("packs/ab/abandoned", 5 << 20);
  ASSERT_TRUE(id);
  GcOptions o = NoGrace();
  auto r = CollectGarbage(store, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uploads_aborted, 1u);
  auto left = store->ListMultipart("");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

TEST(GcTest, DeletesTemporaryFilesOfKilledWritersAfterTheGrace) {
  TempDir dir;
  auto opened = LocalStore::Open(dir.path() + "/store");
  ASSERT_TRUE(opened) << opened.error().message();
  std::shared_ptr<ObjectStore> store = *opened;
  TwoVersions v = PutTwoVersions(store, dir);
  // What kill -9 during a Put leaves: a half-written pack in tmp/.
  const std::string leftover = dir.path() + "/store/tmp/put.99999.deadbeef.tmp";
  ASSERT_TRUE(WriteFileAtomic(leftover, std::string(1000, 'x')));
  struct timespec minute_ago[2] = {{std::time(nullptr) - 60, 0}, {std::time(nullptr) - 60, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, leftover.c_str(), minute_ago, 0), 0);

  GcOptions graced;  // default grace: the file is too young
  auto r1 = CollectGarbage(store, graced);
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_EQ(r1->temp_files_deleted, 0u);
  EXPECT_EQ(::access(leftover.c_str(), F_OK), 0);

  auto r2 = CollectGarbage(store, NoGrace());
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(r2->temp_files_deleted, 1u);
  EXPECT_EQ(r2->temp_bytes_deleted, 1000u);
  EXPECT_NE(::access(leftover.c_str(), F_OK), 0);
  // Both names still read back whole.
  EXPECT_EQ(Restore(store, "a", dir), v.a);
  EXPECT_EQ(Restore(store, "b", dir), v.b);
  ExpectVerifies(store);
}

TEST(GcTest, ConcurrentPutsAndGcLoseNothing) {
  // Puts into a slow store while gc runs again and again: each gc either
  // refuses (a put holds the store) or runs between puts; every put either
  // completes or refuses cleanly. Afterwards every name restores.
  TempDir dir;
  auto base = std::make_shared<MemoryStore>();
  auto slow = std::make_shared<FaultInjectingStore>(base);
  FaultRule delay;
  delay.op = StoreOp::kPut;
  delay.key_substring = "packs/";
  delay.times = -1;
  delay.action = FaultRule::Action::kDelay;
  delay.delay_ms = 20;
  slow->AddRule(delay);
  std::vector<std::string> data;
  for (int i = 0; i < 4; ++i)
    data.push_back(MakeData(2 << 20, 100 + i % 2) + MakeData(512 << 10, 200 + i));
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) files.push_back(WriteFile(dir, "v" + std::to_string(i), data[i]));

  std::atomic<bool> done{false};
  // Put attempts started: after each gc run, the gc loop waits for the next
  // attempt (a state, not a guessed time), so that a put always gets its
  // turn however slow the build (a fixed number of retries ran out under
  // ThreadSanitizer while gc kept taking the lock).
  std::atomic<int> attempts{0};
  std::vector<bool> stored(4, false);
  std::thread writer([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    for (int i = 0; i < 4; ++i) {
      while (std::chrono::steady_clock::now() < deadline) {
        ++attempts;
        auto r = Put(slow, files[i], SmallPut("v" + std::to_string(i)));
        if (r) {
          stored[i] = true;
          break;
        }
        ASSERT_EQ(r.error().code(), ErrorCode::kAlreadyExists) << r.error().message();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    done = true;
  });
  int ran = 0, refused = 0;
  while (!done) {
    const int seen = attempts.load();
    auto r = CollectGarbage(base, NoGrace());
    if (r) {
      ++ran;
    } else {
      ASSERT_EQ(r.error().code(), ErrorCode::kAlreadyExists) << r.error().message();
      ++refused;
    }
    while (!done && attempts.load() == seen)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  writer.join();
  EXPECT_GT(refused, 0);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(stored[i]) << i;
    EXPECT_EQ(Restore(base, "v" + std::to_string(i), dir), data[i]);
  }
  ASSERT_TRUE(CollectGarbage(base, NoGrace()));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Restore(base, "v" + std::to_string(i), dir), data[i]);
  ExpectVerifies(base);
}

TEST(PutTest, ConcurrentPutsIntoOneStore) {
  TempDir dir;
  TempDir root;
  auto store = LocalStore::Open(root.path() + "/store");
  ASSERT_TRUE(store);
  std::shared_ptr<ObjectStore> s = *store;
  const std::string shared = MakeData(2 << 20, 11);
  const std::string a = shared + MakeData(1 << 20, 12);
  const std::string b = MakeData(1 << 20, 13) + shared;
  const std::string fa = WriteFile(dir, "a", a), fb = WriteFile(dir, "b", b);
  Result<PutResult> ra, rb;
  std::thread ta([&] { ra = Put(s, fa, SmallPut("a")); });
  std::thread tb([&] { rb = Put(s, fb, SmallPut("b")); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra) << ra.error().message();
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_EQ(Restore(s, "a", dir), a);
  EXPECT_EQ(Restore(s, "b", dir), b);
  ExpectVerifies(s);
  auto list = ListBlobs(s);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
  EXPECT_TRUE(Keys(*s, kLocksPrefix).empty());
  // A third put of either finds everything.
  auto rc = Put(s, fa, SmallPut("c"));
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->new_chunks, 0u);
}

}  // namespace
}  // namespace hugeblob
