// Test doubles: stores that wrap another store (on ForwardingStore,
// store/forwarding_store.h), for tests and benchmarks only (the "testing"
// layer, never in the installed library):
//
//  * CountingStore counts calls and bytes per operation (proves single-flight
//    and range coalescing).
//  * FaultInjectingStore fails, corrupts, truncates or delays chosen calls
//    according to rules set by the test.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hugeblob/store.h"
#include "store/forwarding_store.h"

namespace hugeblob {

enum class StoreOp {
  kPut,
  kGetRange,
  kHead,
  kList,
  kDelete,
  kCreateMultipart,
  kUploadPart,
  kCompleteMultipart,
  kAbortMultipart,
  kListMultipart
};
inline constexpr int kStoreOpCount = 10;

class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  using ObjectStore::Put;
  // Implemented in wrapper_store.cc: count, then forward. A call is counted
  // whether or not it succeeds; bytes_read counts bytes returned by
  // GetRange, bytes_written bytes passed to Put and UploadPart.
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

  uint64_t calls(StoreOp op) const { return calls_[static_cast<int>(op)].load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }
  uint64_t bytes_written() const { return bytes_written_.load(); }
  void Reset();

 private:
  std::atomic<uint64_t> calls_[kStoreOpCount] = {};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
};

// A rule: calls of `op` on keys containing `key_substring`, from the
// `after`-th matching call on (0-based), `times` times (-1: forever), do
// `action`:
//  * kFail: the call returns Error(code, "injected fault: <op> <key>",
//    retryable) without reaching the base store.
//  * kDelay: sleeps delay_ms, then forwards.
//  * kCorrupt / kTruncate: on GetRange, the returned bytes are a copy with
//    the middle byte flipped / the first half only; on Put and UploadPart,
//    the bytes written are altered the same way. Other ops just forward.
// For List and ListMultipart the prefix plays the part of the key.
struct FaultRule {
  enum class Action { kFail, kCorrupt, kTruncate, kDelay };
  StoreOp op = StoreOp::kGetRange;
  std::string key_substring;
  int after = 0;
  int times = 1;
  Action action = Action::kFail;
  ErrorCode code = ErrorCode::kServer;  // for kFail
  bool retryable = true;                // for kFail
  int delay_ms = 0;                     // for kDelay
};

class FaultInjectingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  using ObjectStore::Put;
  void AddRule(FaultRule rule);
  void ClearRules();
  // How many times rules fired.
  uint64_t faults_injected() const { return injected_.load(); }

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

 private:
  struct ActiveRule {
    FaultRule rule;
    int seen = 0;
    int fired = 0;
  };
  // Returns (a copy of) the rule to apply to this call, if any.
  std::optional<FaultRule> Match(StoreOp op, std::string_view key);

  std::mutex mu_;
  std::vector<ActiveRule> rules_;  // guarded by mu_
  std::atomic<uint64_t> injected_{0};
};

}  // namespace hugeblob
