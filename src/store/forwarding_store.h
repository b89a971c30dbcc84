// ForwardingStore: a store that forwards every call to another; a subclass
// overrides the calls it watches or changes (the mount's fetch counter,
// src/cli/mount_progress.h; the test doubles of src/testing/wrapper_store.h).
// Thread safety: as the wrapped store's.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hugeblob/store.h"

namespace hugeblob {

class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::shared_ptr<ObjectStore> base) : base_(std::move(base)) {}
  ObjectStore& base() { return *base_; }

  std::string url() const override { return base_->url(); }
  using ObjectStore::Put;
  Status Put(std::string_view key, const BufferChain& data) override {
    return base_->Put(key, data);
  }
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    return base_->GetRange(key, offset, length);
  }
  Result<ObjectInfo> Head(std::string_view key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    return base_->List(prefix);
  }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  Result<std::string> CreateMultipart(std::string_view key, uint64_t part_size) override {
    return base_->CreateMultipart(key, part_size);
  }
  Result<CompletedPart> UploadPart(std::string_view key, std::string_view upload_id,
                                   int part_number, const BufferChain& data) override {
    return base_->UploadPart(key, upload_id, part_number, data);
  }
  Status CompleteMultipart(std::string_view key, std::string_view upload_id,
                           const std::vector<CompletedPart>& parts) override {
    return base_->CompleteMultipart(key, upload_id, parts);
  }
  Status AbortMultipart(std::string_view key, std::string_view upload_id) override {
    return base_->AbortMultipart(key, upload_id);
  }
  Result<std::vector<MultipartUpload>> ListMultipart(std::string_view prefix) override {
    return base_->ListMultipart(prefix);
  }
  Result<TempCleanup> CleanTemporaries(int64_t older_than_unix, bool dry_run) override {
    return base_->CleanTemporaries(older_than_unix, dry_run);
  }
  uint64_t multipart_threshold() const override { return base_->multipart_threshold(); }

 protected:
  std::shared_ptr<ObjectStore> base_;
};

}  // namespace hugeblob
