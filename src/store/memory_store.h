// An in-memory store for tests and benchmarks. Thread-safe. Same rules as
// every backend (key validation, atomic publication, multipart part sizes);
// Put copies the bytes in, reads return slices of the stored block.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "hugeblob/store.h"

namespace hugeblob {

class MemoryStore : public ObjectStore {
 public:
  MemoryStore() = default;
  using ObjectStore::Put;  // the Buffer overload, hidden by the override below

  std::string url() const override { return "mem://"; }
  Status Put(std::string_view key, const BufferChain& data) override;
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  Result<std::string> CreateMultipart(std::string_view key, uint64_t part_size) override;
  Result<CompletedPart> UploadPart(std::string_view key, std::string_view upload_id,
                                   int part_number, const BufferChain& data) override;
  Status CompleteMultipart(std::string_view key, std::string_view upload_id,
                           const std::vector<CompletedPart>& parts) override;
  Status AbortMultipart(std::string_view key, std::string_view upload_id) override;
  Result<std::vector<MultipartUpload>> ListMultipart(std::string_view prefix) override;

  // Test access: replace an object's bytes in place (to simulate corruption).
  void Overwrite(std::string_view key, const Buffer& bytes);

 private:
  struct Part {
    Buffer data;
    std::string etag;
  };
  struct Upload {
    std::string key;
    uint64_t part_size = 0;
    int64_t initiated_unix = 0;
    std::map<int, Part> parts;
  };
  struct Object {
    Buffer data;
    int64_t mtime_unix = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;  // guarded by mu_
  std::map<std::string, Upload, std::less<>> uploads_;  // guarded by mu_
  uint64_t next_upload_ = 1;                            // guarded by mu_
  uint64_t next_etag_ = 1;                              // guarded by mu_
};

}  // namespace hugeblob
