// A store in a local directory: one file per object under root/<key>.
// Every object is written crash-safely: a temporary file under root/tmp/,
// fsync, rename into place, fsync of the directory. A multipart upload is one
// temporary file that parts are written into in place (part n at
// (n-1)*part_size), renamed into place on completion. Safe for several
// processes sharing one directory. Keys under "tmp/" are refused (that
// directory holds the temporary files); List never shows it.
//
// Reads (GetRange, GetRangeInto, Head, List) have a deadline: a directory on
// a dead NFS server or a FUSE file system that stopped answering blocks a
// read in the kernel for ever, so each read runs on a helper thread and is
// abandoned after read_timeout (kTimeout naming the object) or at the first
// Ctrl-C (the process cancel token: kCancelled). See util/deadline.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hugeblob/store.h"
#include "util/deadline.h"

namespace hugeblob {

// Whether `store` is a local directory (file://): what decides, wherever
// reads are shaped, between a disk and a store that charges tens of ms per
// request (S3). Wrappers report their base store's URL.
inline bool IsLocalStore(const ObjectStore& store) { return store.url().rfind("file://", 0) == 0; }

class LocalStore : public ObjectStore {
 public:
  // Creates `root` if it does not exist. The read deadline comes from
  // $HUGEBLOB_READ_TIMEOUT (a duration: 30s, 5m; 0 = none), default
  // kDefaultReadTimeout; a malformed value is kInvalidArgument.
  static Result<std::shared_ptr<LocalStore>> Open(const std::string& root);
  static constexpr std::chrono::seconds kDefaultReadTimeout{60};
  const std::string& root() const { return root_; }
  // Not thread-safe against reads in flight: set it before sharing the store.
  void set_read_timeout(std::chrono::milliseconds timeout) { read_timeout_ = timeout; }
  std::chrono::milliseconds read_timeout() const { return read_timeout_; }

  std::string url() const override;
  using ObjectStore::Put;  // the Buffer overload, hidden by the override below
  Status Put(std::string_view key, const BufferChain& data) override;
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) override;
  Status GetRangeIntoBuffer(std::string_view key, uint64_t offset, const Buffer& owner,
                            std::span<uint8_t> dst) override;
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
  Result<TempCleanup> CleanTemporaries(int64_t older_than_unix, bool dry_run) override;
  // A temporary file in tmp/, written as the bytes come; Commit fsyncs it
  // and renames it into place, exactly like Put.
  Result<std::unique_ptr<PendingObject>> BeginPut() override;

 private:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}
  DeadlineOptions Deadline() const;
  std::string root_;
  std::chrono::milliseconds read_timeout_ = kDefaultReadTimeout;
};

}  // namespace hugeblob
