// S3-compatible object store backend (see docs/s3.md).
//
// Objects live at s3://bucket/prefix/<key>. Every request is signed with
// SigV4; transient failures (5xx, 429, SlowDown, RequestTimeout, dropped or
// stalled connections) are retried with backoff, per request and per part;
// an expired token makes the store re-read the credentials and try again.
// Errors name the bucket and key, never a secret.
//
// Put of an object at or above multipart_threshold() is uploaded in parts by
// the store itself: the part size grows with the object so that no object
// needs more than 10,000 parts, and at most `parts_in_flight` parts are sent
// at once, each straight from a slice of the caller's BufferChain (no copy).
// Put returns only when no request, retries included, can still read the
// caller's buffers; a failed multipart upload is aborted (where the server
// refuses to abort, that is logged once and the upload is left for gc).
//
// Thread-safe: any number of threads may call any method at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "hugeblob/error.h"
#include "hugeblob/store.h"
#include "store/s3/credentials.h"
#include "store/s3/http.h"
#include "store/s3/retry.h"
#include "store/s3/s3_config.h"
#include "store/s3/xml.h"

namespace hugeblob {

// Opens "s3://bucket/prefix" with endpoint, region and credentials taken the
// way the AWS CLI takes them (environment, ~/.aws/credentials, ~/.aws/config).
Result<std::shared_ptr<ObjectStore>> OpenS3Store(std::string_view url);

namespace s3 {

// The part size for an object of `size` bytes: at least `min_part`, a whole
// number of MiB, and large enough that the object fits in 10,000 parts.
// Fails for objects above S3's 5 TiB limit.
Result<uint64_t> PartSizeFor(uint64_t size, uint64_t min_part);

class S3Store : public ObjectStore {
 public:
  // `credentials` may be null: they are then resolved from the config's
  // sources (environment, profile files).
  static Result<std::shared_ptr<S3Store>> Open(
      S3Config config, std::shared_ptr<CredentialsProvider> credentials = nullptr);

  const S3Config& config() const { return config_; }

  std::string url() const override;
  using ObjectStore::Put;
  Status Put(std::string_view key, const BufferChain& data) override;
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  // Reads a 206 response straight into dst (HttpRequest::into).
  Status GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) override;
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
  uint64_t multipart_threshold() const override { return config_.multipart_threshold; }

  // Requests sent and retried since the store was opened (for tests and
  // benchmarks).
  uint64_t requests_sent() const { return requests_.load(); }
  uint64_t retries() const { return retries_.load(); }

 private:
  struct Request;
  S3Store(S3Config config, std::shared_ptr<CredentialsProvider> credentials);

  // Sends with retries; returns the response when its status is 2xx or in
  // `accept`, else the mapped error.
  Result<HttpResponse> Call(const Request& req, std::initializer_list<long> accept = {});
  // `deadline`: the end of a cleanup request's time (max() for others).
  Result<HttpResponse> SendOnce(const Request& req, const Credentials& creds,
                                std::chrono::steady_clock::time_point deadline);
  Error ErrorFromResponse(const Request& req, const HttpResponse& resp) const;
  // GetRange, or with `into` (length bytes) the range read straight into
  // it when the server answers 206 (*into_used set, an empty Buffer back).
  Result<Buffer> RangedGet(std::string_view key, uint64_t offset, uint64_t length,
                           std::span<uint8_t> into, bool* into_used);

  std::string FullKey(std::string_view key) const;
  std::string Describe(std::string_view full_key) const;  // "s3://bucket/full/key"
  std::string PayloadHash(const BufferChain* body) const;
  // Adds the configured server-side encryption headers (signed like every
  // x-amz-* header) to a request that writes an object.
  void AddEncryptionHeaders(Request& req) const;

  Status PutMultipart(const std::string& full_key, const BufferChain& data);
  Result<std::string> CreateMultipartFull(const std::string& full_key);
  Result<CompletedPart> UploadPartFull(const std::string& full_key, std::string_view upload_id,
                                       int part_number, const BufferChain& data);
  Status CompleteMultipartFull(const std::string& full_key, std::string_view upload_id,
                               const std::vector<CompletedPart>& parts, uint64_t expected_size);
  Status AbortMultipartFull(const std::string& full_key, std::string_view upload_id);

  const S3Config config_;
  const std::shared_ptr<CredentialsProvider> credentials_;
  const RetryPolicy retry_;
  HttpClient http_;
  std::string scheme_;     // "http" or "https"
  std::string authority_;  // host[:port] of the endpoint
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<bool> abort_refused_logged_{false};
  // Set by the first HTTP answer of any kind: until then the server is
  // unproven (wrong port, wrong host) and gets fewer, shorter tries.
  std::atomic<bool> server_answered_{false};
};

}  // namespace s3
}  // namespace hugeblob
