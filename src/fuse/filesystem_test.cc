// BlobFs on an in-memory store: what the FUSE adapter would see, without
// FUSE. The end-to-end mount tests are tests/fuse_mount.sh.
#include "fuse/filesystem.h"

#include <gtest/gtest.h>

#include <thread>

#include "format/layout.h"
#include "reader/reader_test_util.h"
#include "store/memory_store.h"

namespace hugeblob::fuse {
namespace {

using reader_test::BlobLayout;
using reader_test::MakeData;
using reader_test::StoreBlob;

class BlobFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<MemoryStore>();
    ReaderOptions ro;
    ro.disk_cache = false;
    ro.memory_cache_bytes = 8 << 20;
    auto ctx = ReaderContext::Create(ro);
    ASSERT_TRUE(ctx) << ctx.error().message();
    ctx_ = *ctx;
  }

  std::unique_ptr<BlobFs> Make(std::chrono::milliseconds interval = std::chrono::milliseconds(0)) {
    FsOptions o;
    o.refresh_interval = interval;
    auto fs = BlobFs::Create(store_, o);
    EXPECT_TRUE(fs) << fs.error().message();
    if (!fs) return nullptr;
    (*fs)->SetReaderContext(ctx_);
    return std::move(*fs);
  }

  Buffer Put(const std::string& name, size_t size, uint64_t seed) {
    Buffer data = MakeData(size, size_t{64} * 1024, seed);
    auto m = StoreBlob(*store_, name, data, BlobLayout{});
    EXPECT_TRUE(m) << m.error().message();
    return data;
  }

  // Walks a path from the root with Lookup, as the kernel would.
  Result<Attr> Resolve(BlobFs& fs, const std::string& path) {
    Attr a;
    a.ino = kRootIno;
    a.dir = true;
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      HB_ASSIGN_OR_RETURN(a, fs.Lookup(a.ino, path.substr(start, end - start)));
      start = end + 1;
    }
    return a;
  }

  std::shared_ptr<MemoryStore> store_;
  std::shared_ptr<ReaderContext> ctx_;
};

TEST_F(BlobFsTest, LookupGetattrReaddir) {
  Put("vm/a.img", 300000, 1);
  Put("vm/b.img", 1000, 2);
  Put("top", 0, 3);
  auto fs = Make();
  ASSERT_NE(fs, nullptr);
  auto a = Resolve(*fs, "vm/a.img");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_FALSE(a->dir);
  EXPECT_EQ(a->size, 300000u);
  EXPECT_EQ(a->mtime_unix, 1700000000);
  auto again = fs->GetAttr(a->ino);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size, 300000u);

  auto vm = fs->Lookup(kRootIno, "vm");
  ASSERT_TRUE(vm);
  EXPECT_TRUE(vm->dir);
  auto list = fs->ReadDir(vm->ino);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].name, ".");
  EXPECT_EQ((*list)[1].name, "..");
  EXPECT_EQ((*list)[1].attr.ino, kRootIno);
  EXPECT_EQ((*list)[2].name, "a.img");
  EXPECT_EQ((*list)[3].name, "b.img");

  auto missing = fs->Lookup(kRootIno, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().to_errno(), ENOENT);
  auto under_file = fs->Lookup(a->ino, "x");
  ASSERT_FALSE(under_file);
  EXPECT_FALSE(fs->ReadDir(a->ino));
  EXPECT_FALSE(fs->GetAttr(987654));
}

TEST_F(BlobFsTest, ReadsMatchTheDataAtAnyOffset) {
  Buffer data = Put("f", 1 << 20, 7);
  auto fs = Make();
  auto a = Resolve(*fs, "f");
  ASSERT_TRUE(a);
  auto f = fs->Open(a->ino);
  ASSERT_TRUE(f) << f.error().message();
  std::vector<uint8_t> buf(200000);
  for (uint64_t off : {0ull, 1ull, 65535ull, 65536ull, 500000ull, (1ull << 20) - 10}) {
    auto n = fs->Read(**f, off, buf);
    ASSERT_TRUE(n) << n.error().message();
    size_t want = std::min<uint64_t>(buf.size(), data.size() - off);
    ASSERT_EQ(*n, want);
    EXPECT_EQ(std::memcmp(buf.data(), data.data() + off, want), 0) << off;
  }
  auto past = fs->Read(**f, 5 << 20, buf);
  ASSERT_TRUE(past);
  EXPECT_EQ(*past, 0u);
}

TEST_F(BlobFsTest, OpensShareOneReaderAndSurviveRemoval) {
  Buffer data = Put("f", 100000, 3);
  auto fs = Make();
  auto a = Resolve(*fs, "f");
  ASSERT_TRUE(a);
  auto f1 = fs->Open(a->ino);
  auto f2 = fs->Open(a->ino);
  ASSERT_TRUE(f1 && f2);
  EXPECT_EQ(f1->get(), f2->get());
  // The name goes away; the open file still reads and still has attributes.
  ASSERT_TRUE(store_->Delete(RefKey("f")));
  ASSERT_TRUE(fs->Refresh(true));
  EXPECT_FALSE(fs->Lookup(kRootIno, "f"));
  auto st = fs->GetAttr(a->ino);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 100000u);
  std::vector<uint8_t> buf(100);
  auto n = fs->Read(**f1, 1000, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::memcmp(buf.data(), data.data() + 1000, 100), 0);
  f1->reset();
  f2->reset();
  EXPECT_FALSE(fs->GetAttr(a->ino));
}

TEST_F(BlobFsTest, NewNamesAppearAfterTheRefreshInterval) {
  Put("a", 10, 1);
  auto fs = Make(std::chrono::milliseconds(200));
  EXPECT_FALSE(fs->Lookup(kRootIno, "b"));
  uint64_t a_ino = fs->Lookup(kRootIno, "a")->ino;
  Put("b", 10, 2);
  EXPECT_FALSE(fs->Lookup(kRootIno, "b")) << "refreshed before the interval";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto b = fs->Lookup(kRootIno, "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(fs->Lookup(kRootIno, "a")->ino, a_ino);
}

TEST_F(BlobFsTest, PutAgainChangesTheInodeAndOpenFilesKeepTheirContent) {
  Buffer old_data = Put("f", 70000, 1);
  auto fs = Make();
  auto a = Resolve(*fs, "f");
  auto f = fs->Open(a->ino);
  ASSERT_TRUE(f);
  Buffer new_data = Put("f", 90000, 2);
  ASSERT_TRUE(fs->Refresh(true));
  auto b = Resolve(*fs, "f");
  ASSERT_TRUE(b);
  EXPECT_NE(a->ino, b->ino);
  EXPECT_EQ(b->size, 90000u);
  std::vector<uint8_t> buf(70000);
  auto n = fs->Read(**f, 0, buf);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 70000u);
  EXPECT_EQ(std::memcmp(buf.data(), old_data.data(), 70000), 0);
}

TEST_F(BlobFsTest, ACorruptRefHidesOnlyItself) {
  Put("good", 10, 1);
  ASSERT_TRUE(store_->Put(RefKey("bad"), Buffer::Copy(std::string_view("garbage"))));
  auto fs = Make();
  EXPECT_TRUE(fs->Lookup(kRootIno, "good"));
  EXPECT_FALSE(fs->Lookup(kRootIno, "bad"));
}

TEST_F(BlobFsTest, AMissingPackIsAnIoErrorNotACrash) {
  Put("f", 200000, 5);
  // Delete every pack: opening works (manifest), reading fails with EIO.
  auto packs = store_->List(kPacksPrefix);
  ASSERT_TRUE(packs);
  for (const ObjectInfo& o : *packs) ASSERT_TRUE(store_->Delete(o.key));
  auto fs = Make();
  auto a = Resolve(*fs, "f");
  auto f = fs->Open(a->ino);
  ASSERT_TRUE(f) << f.error().message();
  std::vector<uint8_t> buf(4096);
  auto n = fs->Read(**f, 100000, buf);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find("packs/"), std::string::npos) << n.error().message();
}

TEST_F(BlobFsTest, SeekDataAndHoleFollowZeroChunks) {
  // 64 KiB chunks: data, hole, hole, data.
  Buffer data = Buffer::Allocate(size_t{4} * 65536);
  std::memset(data.mutable_data(), 0, data.size());
  std::memset(data.mutable_data(), 'a', 65536);
  std::memset(data.mutable_data() + size_t{3} * 65536, 'b', 65536);
  ASSERT_TRUE(StoreBlob(*store_, "sparse", data, BlobLayout{}));
  auto fs = Make();
  auto f = fs->Open(Resolve(*fs, "sparse")->ino);
  ASSERT_TRUE(f);
  EXPECT_EQ(*fs->SeekData(**f, 10, /*hole=*/true), 65536u);
  EXPECT_EQ(*fs->SeekData(**f, 65536, /*hole=*/false), 3u * 65536);
  EXPECT_EQ(*fs->SeekData(**f, 3 * 65536 + 5, /*hole=*/false), 3u * 65536 + 5);
  EXPECT_EQ(*fs->SeekData(**f, 3 * 65536 + 5, /*hole=*/true), 4u * 65536);
  EXPECT_EQ(fs->SeekData(**f, int64_t{4} * 65536, false).error().code(), ErrorCode::kNotFound);
}

TEST_F(BlobFsTest, ConcurrentLookupsAndReadsDuringRefreshes) {
  std::vector<Buffer> data;
  for (int i = 0; i < 4; ++i) data.push_back(Put("d/f" + std::to_string(i), 300000, i + 1));
  auto fs = Make(std::chrono::milliseconds(1));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> buf(4096);
      for (int i = 0; i < 200; ++i) {
        auto a = Resolve(*fs, "d/f" + std::to_string(t));
        if (!a) {
          ++bad;
          continue;
        }
        auto f = fs->Open(a->ino);
        if (!f) {
          ++bad;
          continue;
        }
        uint64_t off = (static_cast<uint64_t>(i) * 7919 * 13) % (300000 - 4096);
        auto n = fs->Read(**f, off, buf);
        if (!n || *n != 4096 || std::memcmp(buf.data(), data[t].data() + off, 4096) != 0) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(fs->refreshes(), 1u);
}

}  // namespace
}  // namespace hugeblob::fuse
