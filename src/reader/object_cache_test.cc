#include "reader/object_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "format/layout.h"
#include "reader/blob_reader.h"
#include "reader/context.h"
#include "reader/reader_test_util.h"
#include "repo/manifests.h"
#include "store/memory_store.h"
#include "testing/temp_dir.h"
#include "testing/wrapper_store.h"

namespace hugeblob {
namespace {

using reader_test::BlobLayout;
using reader_test::MakeData;
using reader_test::StoreBlob;

// Records the key of every GetRange and GetRangeInto.
class KeyLogStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    Log(key);
    return base_->GetRange(key, offset, length);
  }
  Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) override {
    Log(key);
    return base_->GetRangeInto(key, offset, dst);
  }
  // Reads of keys starting with `prefix` since the last Take, then forgets them.
  size_t Take(std::string_view prefix) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const std::string& k : keys_) n += k.starts_with(prefix) ? 1 : 0;
    return n;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    keys_.clear();
  }

 private:
  void Log(std::string_view key) {
    std::lock_guard lock(mu_);
    keys_.emplace_back(key);
  }
  std::mutex mu_;
  std::vector<std::string> keys_;
};

class ObjectCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeData(1 << 20, 8192, 3, /*holes_and_dups=*/false);
    auto m = StoreBlob(*mem_, "f", data_, BlobLayout{.chunk = 8192});
    ASSERT_TRUE(m);
    // 128 frames in leaves of 8 under inner segments of 3: a tree of segments.
    auto id = StoreManifest(*mem_, *m, nullptr, ManifestShape{8, 3});
    ASSERT_TRUE(id);
    id_ = *id;
  }
  ReaderOptions Options() const {
    ReaderOptions o;
    o.disk_cache_dir = dir_.path() + "/cache";
    o.disk_cache_bytes = 64 << 20;
    o.disk_cache_admission = DiskCacheAdmission::kAlways;
    o.readahead_chunks = 0;
    return o;
  }
  // Opens the manifest and reads the whole file through a fresh context
  // (another process, as far as the caches go).
  void ReadAll(std::shared_ptr<ContextImpl>* keep = nullptr) {
    auto ctx = ReaderContext::Create(Options());
    ASSERT_TRUE(ctx);
    auto objects = WithObjectCache(log_, *ctx);
    auto top = LoadManifestTop(*objects, id_);
    ASSERT_TRUE(top) << top.error().message();
    ASSERT_TRUE(top->segmented());
    auto r = BlobReader::Open(*ctx, log_, std::make_shared<const Manifest>(std::move(*top)), "f");
    ASSERT_TRUE(r);
    std::vector<uint8_t> out(data_.size());
    auto n = (*r)->pread(0, out);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, out.size());
    EXPECT_EQ(std::memcmp(out.data(), data_.data(), data_.size()), 0);
    if (keep != nullptr) *keep = std::dynamic_pointer_cast<ContextImpl>(*ctx);
  }

  TempDir dir_;
  std::shared_ptr<MemoryStore> mem_ = std::make_shared<MemoryStore>();
  std::shared_ptr<KeyLogStore> log_ = std::make_shared<KeyLogStore>(mem_);
  Buffer data_;
  Hash256 id_;
};

TEST_F(ObjectCacheTest, ASecondReaderAsksTheStoreForNothing) {
  ReadAll();
  EXPECT_EQ(log_->Take(kManifestsPrefix), 1u);
  EXPECT_GT(log_->Take(kSegmentsPrefix), 2u);
  EXPECT_GT(log_->Take(kPacksPrefix), 0u);
  log_->Clear();
  ReadAll();
  EXPECT_EQ(log_->Take(kManifestsPrefix), 0u);
  EXPECT_EQ(log_->Take(kSegmentsPrefix), 0u);
  EXPECT_EQ(log_->Take(kPacksPrefix), 0u);
}

TEST_F(ObjectCacheTest, ADamagedEntryIsFetchedAgainNeverUsed) {
  std::shared_ptr<ContextImpl> ctx;
  ReadAll(&ctx);
  log_->Clear();
  const std::string path = ctx->disk()->PathFor(id_);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekp(20);
    f.put('\x55');
  }
  ReadAll(&ctx);  // and the bytes were right (checked inside)
  EXPECT_EQ(log_->Take(kManifestsPrefix), 1u);
  EXPECT_EQ(ctx->disk()->stats().corrupt, 1u);
  EXPECT_EQ(ctx->disk()->stats().object_writes, 1u);
  log_->Clear();
  ReadAll();  // rewritten intact
  EXPECT_EQ(log_->Take(kManifestsPrefix), 0u);
}

TEST_F(ObjectCacheTest, AnObjectThatDoesNotMatchItsIdIsNotCached) {
  // The store answers with other bytes under the manifest's key: the
  // caller reports it, and the cache keeps nothing.
  auto good = mem_->Get(ManifestKey(id_));
  ASSERT_TRUE(good);
  std::string bad(reinterpret_cast<const char*>(good->data()), good->size());
  bad[10] ^= 1;
  ASSERT_TRUE(mem_->Put(ManifestKey(id_), Buffer::Copy(std::string_view(bad))));
  auto ctx = ReaderContext::Create(Options());
  ASSERT_TRUE(ctx);
  auto objects = WithObjectCache(log_, *ctx);
  auto top = LoadManifestTop(*objects, id_);
  ASSERT_FALSE(top);
  EXPECT_NE(top.error().message().find("does not match its id"), std::string::npos);
  auto impl = std::dynamic_pointer_cast<ContextImpl>(*ctx);
  struct stat st;
  EXPECT_NE(::stat(impl->disk()->PathFor(id_).c_str(), &st), 0);
}

TEST_F(ObjectCacheTest, WithoutADiskCacheTheStoreIsUsedAsIs) {
  ReaderOptions o = Options();
  o.disk_cache = false;
  auto ctx = ReaderContext::Create(o);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(WithObjectCache(log_, *ctx).get(), log_.get());
  // And a wrapped store is not wrapped twice.
  auto on = ReaderContext::Create(Options());
  ASSERT_TRUE(on);
  auto once = WithObjectCache(log_, *on);
  EXPECT_NE(once.get(), log_.get());
  EXPECT_EQ(WithObjectCache(once, *on).get(), once.get());
}

}  // namespace
}  // namespace hugeblob
