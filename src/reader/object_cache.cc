#include "reader/object_cache.h"

#include "format/layout.h"
#include "hash/sha256.h"
#include "reader/context.h"
#include "store/forwarding_store.h"

namespace hugeblob {
namespace {

class ObjectCacheStore final : public ForwardingStore {
 public:
  ObjectCacheStore(std::shared_ptr<ObjectStore> base, std::shared_ptr<DiskCache> cache)
      : ForwardingStore(std::move(base)), cache_(std::move(cache)) {}

  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    DiskCache* cache = cache_.get();
    if (offset != 0 || length == 0 ||
        !(key.starts_with(kManifestsPrefix) || key.starts_with(kSegmentsPrefix))) {
      return base_->GetRange(key, offset, length);
    }
    auto id = IdFromKey(key);
    if (!id) return base_->GetRange(key, offset, length);
    Buffer cached;
    if (cache->GetObject(*id, length, &cached)) return cached;
    HB_ASSIGN_OR_RETURN(Buffer bytes, base_->GetRange(key, offset, length));
    // Only the whole object, and only if it is what its name says (the
    // caller checks that too, and reports it: a bad object is not cached).
    if (bytes.size() < length && Sha256Of(bytes.span()) == *id) cache->PutObject(*id, bytes);
    return bytes;
  }
  // Packs keep the wrapped store's direct reads.
  Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) override {
    return base_->GetRangeInto(key, offset, dst);
  }
  Status GetRangeIntoBuffer(std::string_view key, uint64_t offset, const Buffer& owner,
                            std::span<uint8_t> dst) override {
    return base_->GetRangeIntoBuffer(key, offset, owner, dst);
  }
  Result<std::unique_ptr<PendingObject>> BeginPut() override { return base_->BeginPut(); }

 private:
  // The disk cache alone, not the context: readers' background tasks hold
  // this store, and a context must never be destroyed on its own threads.
  const std::shared_ptr<DiskCache> cache_;
};

}  // namespace

std::shared_ptr<ObjectStore> WithObjectCache(std::shared_ptr<ObjectStore> store,
                                             const std::shared_ptr<ReaderContext>& context) {
  if (store == nullptr || dynamic_cast<ObjectCacheStore*>(store.get()) != nullptr) return store;
  auto impl = std::dynamic_pointer_cast<ContextImpl>(context);
  std::shared_ptr<DiskCache> cache = impl != nullptr ? impl->shared_disk() : nullptr;
  if (cache == nullptr) return store;
  return std::make_shared<ObjectCacheStore>(std::move(store), std::move(cache));
}

}  // namespace hugeblob
