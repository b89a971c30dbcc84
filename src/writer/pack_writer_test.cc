#include "writer/pack_writer.h"

#include <gtest/gtest.h>

#include <thread>

#include "format/layout.h"
#include "store/local_store.h"
#include "store/memory_store.h"
#include "testing/temp_dir.h"
#include "testing/wrapper_store.h"
#include "writer/store_lock.h"

namespace hugeblob {
namespace {

Buffer Frame(size_t size, uint8_t fill) {
  Buffer b = Buffer::Allocate(size);
  std::memset(b.mutable_data(), fill, size);
  return b;
}

ChunkId IdOf(const Buffer& b) { return Sha256Of(b.span()); }

TEST(PackWriterTest, PacksFlushesAndIndexes) {
  auto store = std::make_shared<MemoryStore>();
  ChunkIndex index;
  PackWriterOptions o;
  o.pack_size = 1 << 20;
  o.uploaders = 2;
  PackWriter w(store, &index, o);
  w.Start();
  std::vector<ChunkId> ids;
  for (int i = 0; i < 10; ++i) {
    Buffer f = Frame(300 << 10, static_cast<uint8_t>(i));
    ids.push_back(IdOf(f));
    auto loc = w.Append(ids.back(), f, static_cast<uint32_t>(f.size()), Codec::kNone);
    ASSERT_TRUE(loc) << loc.error().message();
  }
  ASSERT_TRUE(w.Flush());
  // 10 x 300 KiB in packs of at most 1 MiB: 3 frames, 3, 3, then 1 flushed.
  EXPECT_EQ(w.packs(), 4u);
  EXPECT_EQ(w.packs_stored(), 4u);
  auto packs = store->List(kPacksPrefix);
  ASSERT_TRUE(packs);
  EXPECT_EQ(packs->size(), 4u);
  for (const ChunkId& id : ids) {
    auto loc = index.Find(id);
    ASSERT_TRUE(loc);
    EXPECT_TRUE(store->Head(PackKey(index.PackId(loc->pack_no))));
  }
  ASSERT_TRUE(w.Finish());
  // A fresh load sees every chunk through the index object(s).
  auto loaded = ChunkIndex::Load(*store, 2, nullptr);
  ASSERT_TRUE(loaded);
  EXPECT_EQ((*loaded)->size(), ids.size());
  EXPECT_TRUE((*loaded)->TakeUnindexed().empty());
}

// On a local store packs are written as their frames come (PendingObject):
// the same packs, frames at the offsets the index says, including frames
// larger than the staging buffer, and nothing left in tmp/.
TEST(PackWriterTest, StreamsPacksIntoALocalStore) {
  TempDir dir;
  auto opened = LocalStore::Open(dir.path() + "/store");
  ASSERT_TRUE(opened);
  std::shared_ptr<ObjectStore> store = *opened;
  ChunkIndex index;
  PackWriterOptions o;
  o.pack_size = 4 << 20;
  PackWriter w(store, &index, o);
  w.Start();
  std::vector<std::pair<ChunkId, Buffer>> frames;
  const size_t sizes[] = {300 << 10, 3 << 20, 5 << 20, 100, 1 << 20, 2 << 20, 777777};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    Buffer f = Frame(sizes[i], static_cast<uint8_t>(i + 1));
    frames.emplace_back(IdOf(f), f);
    auto loc = w.Append(frames.back().first, f, static_cast<uint32_t>(f.size()), Codec::kNone);
    ASSERT_TRUE(loc) << loc.error().message();
    EXPECT_LE(loc->offset + loc->stored_length, std::max<uint64_t>(o.pack_size, f.size()));
  }
  ASSERT_TRUE(w.Finish());
  for (const auto& [id, bytes] : frames) {
    auto loc = index.Find(id);
    ASSERT_TRUE(loc);
    auto got =
        store->GetRange(PackKey(index.PackId(loc->pack_no)), loc->offset, loc->stored_length);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->view(), bytes.view());
  }
  // Packs verify against their trailers (ids) from a fresh load.
  auto loaded = ChunkIndex::Load(*store, 2, nullptr);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ((*loaded)->size(), frames.size());
  auto temps = store->CleanTemporaries(INT64_MAX, /*dry_run=*/true);
  ASSERT_TRUE(temps);
  EXPECT_EQ(temps->files, 0u);
}

TEST(PackWriterTest, UploadErrorIsReportedOnceAndReturned) {
  auto faulty = std::make_shared<FaultInjectingStore>(std::make_shared<MemoryStore>());
  FaultRule rule;
  rule.op = StoreOp::kPut;
  rule.key_substring = "packs/";
  rule.times = -1;
  rule.retryable = false;
  faulty->AddRule(rule);
  ChunkIndex index;
  PackWriterOptions o;
  o.pack_size = 1 << 20;
  int reported = 0;
  o.on_error = [&](const Error&) { ++reported; };
  PackWriter w(faulty, &index, o);
  w.Start();
  Status st = OkStatus();
  for (int i = 0; i < 20 && st; ++i) {
    Buffer f = Frame(600 << 10, static_cast<uint8_t>(i));
    auto loc = w.Append(IdOf(f), f, static_cast<uint32_t>(f.size()), Codec::kNone);
    if (!loc) st = Fail(loc.error());
  }
  if (st) st = w.Flush();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("injected fault"), std::string::npos) << st.error().message();
  EXPECT_EQ(reported, 1);
}

TEST(StoreLockTest, PutAndGcExcludeEachOther) {
  auto store = std::make_shared<MemoryStore>();
  auto put1 = StoreLock::Acquire(store, LockKind::kPut, "put a");
  auto put2 = StoreLock::Acquire(store, LockKind::kPut, "put b");
  ASSERT_TRUE(put1 && put2);  // puts do not exclude each other
  auto gc = StoreLock::Acquire(store, LockKind::kGc, "gc");
  ASSERT_FALSE(gc);
  EXPECT_EQ(gc.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(gc.error().retryable());
  put1->reset();
  put2->reset();
  auto locks = ListLocks(*store, {});
  ASSERT_TRUE(locks);
  EXPECT_TRUE(locks->empty());

  auto gc2 = StoreLock::Acquire(store, LockKind::kGc, "gc");
  ASSERT_TRUE(gc2);
  auto put3 = StoreLock::Acquire(store, LockKind::kPut, "put c");
  ASSERT_FALSE(put3);
  EXPECT_NE(put3.error().message().find("a gc is running (locks/gc-"), std::string::npos);
  auto gc3 = StoreLock::Acquire(store, LockKind::kGc, "gc");
  EXPECT_FALSE(gc3);  // nor two gcs
  ASSERT_TRUE((*gc2)->Release());
  EXPECT_TRUE(StoreLock::Acquire(store, LockKind::kPut, "put d"));
}

TEST(StoreLockTest, RefreshKeepsALockFreshAndDeadHoldersAreStale) {
  auto store = std::make_shared<MemoryStore>();
  LockTiming fast{/*refresh_seconds=*/1, /*stale_seconds=*/2};
  auto lock = StoreLock::Acquire(store, LockKind::kPut, "put slow", fast);
  ASSERT_TRUE(lock);
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));
  auto locks = ListLocks(*store, fast);
  ASSERT_TRUE(locks);
  ASSERT_EQ(locks->size(), 1u);
  EXPECT_FALSE((*locks)[0].stale) << (*locks)[0].why_stale;
  EXPECT_NE((*locks)[0].holder.find("put slow"), std::string::npos);

  // A lock left by a process of this host that is gone (kill -9).
  auto mine = store->Get((*lock)->key());
  ASSERT_TRUE(mine);
  std::string text(mine->view());
  auto pid_at = text.find("pid ");
  auto eol = text.find('\n', pid_at);
  text.replace(pid_at, eol - pid_at, "pid 999999999");
  ASSERT_TRUE(store->Put("locks/put-dead", Buffer::Copy(std::string_view(text))));
  locks = ListLocks(*store, {});
  ASSERT_TRUE(locks);
  int stale = 0;
  for (const auto& l : *locks) stale += l.stale;
  EXPECT_EQ(stale, 1);
}

}  // namespace
}  // namespace hugeblob
