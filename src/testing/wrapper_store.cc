#include "testing/wrapper_store.h"

#include <chrono>
#include <thread>

namespace hugeblob {

namespace {

const char* OpName(StoreOp op) {
  switch (op) {
    case StoreOp::kPut:
      return "put";
    case StoreOp::kGetRange:
      return "get_range";
    case StoreOp::kHead:
      return "head";
    case StoreOp::kList:
      return "list";
    case StoreOp::kDelete:
      return "delete";
    case StoreOp::kCreateMultipart:
      return "create_multipart";
    case StoreOp::kUploadPart:
      return "upload_part";
    case StoreOp::kCompleteMultipart:
      return "complete_multipart";
    case StoreOp::kAbortMultipart:
      return "abort_multipart";
    case StoreOp::kListMultipart:
      return "list_multipart";
  }
  return "unknown";
}

// A private copy with the middle byte flipped: the returned or stored buffer
// may be shared with a cache or with the base store and must stay intact.
Buffer Corrupted(const Buffer& b) {
  if (b.empty()) return b;
  Buffer copy = Buffer::Copy(b.span());
  copy.mutable_data()[copy.size() / 2] ^= 0xff;
  return copy;
}

Buffer Truncated(const Buffer& b) { return b.Slice(0, b.size() / 2); }

// Put/UploadPart payload altered per the rule (the chain is flattened).
BufferChain Altered(const FaultRule& rule, const BufferChain& data) {
  Buffer flat = data.Flatten();
  return BufferChain(rule.action == FaultRule::Action::kCorrupt ? Corrupted(flat)
                                                                : Truncated(flat));
}

}  // namespace

// ---- CountingStore --------------------------------------------------------

#define HB_COUNT(op) calls_[static_cast<int>(op)].fetch_add(1, std::memory_order_relaxed)

Status CountingStore::Put(std::string_view key, const BufferChain& data) {
  HB_COUNT(StoreOp::kPut);
  bytes_written_.fetch_add(data.size(), std::memory_order_relaxed);
  return base_->Put(key, data);
}

Result<Buffer> CountingStore::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  HB_COUNT(StoreOp::kGetRange);
  auto r = base_->GetRange(key, offset, length);
  if (r) bytes_read_.fetch_add(r->size(), std::memory_order_relaxed);
  return r;
}

Result<ObjectInfo> CountingStore::Head(std::string_view key) {
  HB_COUNT(StoreOp::kHead);
  return base_->Head(key);
}

Result<std::vector<ObjectInfo>> CountingStore::List(std::string_view prefix) {
  HB_COUNT(StoreOp::kList);
  return base_->List(prefix);
}

Status CountingStore::Delete(std::string_view key) {
  HB_COUNT(StoreOp::kDelete);
  return base_->Delete(key);
}

Result<std::string> CountingStore::CreateMultipart(std::string_view key, uint64_t part_size) {
  HB_COUNT(StoreOp::kCreateMultipart);
  return base_->CreateMultipart(key, part_size);
}

Result<CompletedPart> CountingStore::UploadPart(std::string_view key, std::string_view upload_id,
                                                int part_number, const BufferChain& data) {
  HB_COUNT(StoreOp::kUploadPart);
  bytes_written_.fetch_add(data.size(), std::memory_order_relaxed);
  return base_->UploadPart(key, upload_id, part_number, data);
}

Status CountingStore::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                        const std::vector<CompletedPart>& parts) {
  HB_COUNT(StoreOp::kCompleteMultipart);
  return base_->CompleteMultipart(key, upload_id, parts);
}

Status CountingStore::AbortMultipart(std::string_view key, std::string_view upload_id) {
  HB_COUNT(StoreOp::kAbortMultipart);
  return base_->AbortMultipart(key, upload_id);
}

Result<std::vector<MultipartUpload>> CountingStore::ListMultipart(std::string_view prefix) {
  HB_COUNT(StoreOp::kListMultipart);
  return base_->ListMultipart(prefix);
}

#undef HB_COUNT

void CountingStore::Reset() {
  for (auto& c : calls_) c.store(0);
  bytes_read_.store(0);
  bytes_written_.store(0);
}

// ---- FaultInjectingStore --------------------------------------------------

void FaultInjectingStore::AddRule(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back({std::move(rule)});
}

void FaultInjectingStore::ClearRules() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

std::optional<FaultRule> FaultInjectingStore::Match(StoreOp op, std::string_view key) {
  std::lock_guard lock(mu_);
  std::optional<FaultRule> hit;
  // Every matching rule counts the call, so `after` means "the n-th call of
  // this kind" whatever other rules do; the first eligible rule fires.
  for (ActiveRule& r : rules_) {
    if (r.rule.op != op || key.find(r.rule.key_substring) == std::string_view::npos) continue;
    int index = r.seen++;
    if (hit || index < r.rule.after) continue;
    if (r.rule.times >= 0 && r.fired >= r.rule.times) continue;
    ++r.fired;
    hit = r.rule;
  }
  if (hit) injected_.fetch_add(1, std::memory_order_relaxed);
  return hit;
}

namespace {

Error Injected(const FaultRule& rule, StoreOp op, std::string_view key) {
  return Error(rule.code, std::string("injected fault: ") + OpName(op) + " " + std::string(key),
               rule.retryable);
}

void Sleep(const FaultRule& rule) {
  std::this_thread::sleep_for(std::chrono::milliseconds(rule.delay_ms));
}

}  // namespace

// Fail and delay behave the same for every op; this handles both and says
// whether the call should go on to the base store.
#define HB_FAULT_PROLOGUE(op, key)                        \
  auto rule = Match(op, key);                             \
  if (rule && rule->action == FaultRule::Action::kFail) { \
    return ::tl::unexpected(Injected(*rule, op, key));    \
  }                                                       \
  if (rule && rule->action == FaultRule::Action::kDelay) Sleep(*rule)

Status FaultInjectingStore::Put(std::string_view key, const BufferChain& data) {
  HB_FAULT_PROLOGUE(StoreOp::kPut, key);
  if (rule && rule->action != FaultRule::Action::kDelay)
    return base_->Put(key, Altered(*rule, data));
  return base_->Put(key, data);
}

Result<Buffer> FaultInjectingStore::GetRange(std::string_view key, uint64_t offset,
                                             uint64_t length) {
  HB_FAULT_PROLOGUE(StoreOp::kGetRange, key);
  auto r = base_->GetRange(key, offset, length);
  if (!r || !rule) return r;
  if (rule->action == FaultRule::Action::kCorrupt) return Corrupted(*r);
  if (rule->action == FaultRule::Action::kTruncate) return Truncated(*r);
  return r;
}

Result<ObjectInfo> FaultInjectingStore::Head(std::string_view key) {
  HB_FAULT_PROLOGUE(StoreOp::kHead, key);
  return base_->Head(key);
}

Result<std::vector<ObjectInfo>> FaultInjectingStore::List(std::string_view prefix) {
  HB_FAULT_PROLOGUE(StoreOp::kList, prefix);
  return base_->List(prefix);
}

Status FaultInjectingStore::Delete(std::string_view key) {
  HB_FAULT_PROLOGUE(StoreOp::kDelete, key);
  return base_->Delete(key);
}

Result<std::string> FaultInjectingStore::CreateMultipart(std::string_view key, uint64_t part_size) {
  HB_FAULT_PROLOGUE(StoreOp::kCreateMultipart, key);
  return base_->CreateMultipart(key, part_size);
}

Result<CompletedPart> FaultInjectingStore::UploadPart(std::string_view key,
                                                      std::string_view upload_id, int part_number,
                                                      const BufferChain& data) {
  HB_FAULT_PROLOGUE(StoreOp::kUploadPart, key);
  if (rule && rule->action != FaultRule::Action::kDelay) {
    return base_->UploadPart(key, upload_id, part_number, Altered(*rule, data));
  }
  return base_->UploadPart(key, upload_id, part_number, data);
}

Status FaultInjectingStore::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                              const std::vector<CompletedPart>& parts) {
  HB_FAULT_PROLOGUE(StoreOp::kCompleteMultipart, key);
  return base_->CompleteMultipart(key, upload_id, parts);
}

Status FaultInjectingStore::AbortMultipart(std::string_view key, std::string_view upload_id) {
  HB_FAULT_PROLOGUE(StoreOp::kAbortMultipart, key);
  return base_->AbortMultipart(key, upload_id);
}

Result<std::vector<MultipartUpload>> FaultInjectingStore::ListMultipart(std::string_view prefix) {
  HB_FAULT_PROLOGUE(StoreOp::kListMultipart, prefix);
  return base_->ListMultipart(prefix);
}

#undef HB_FAULT_PROLOGUE

}  // namespace hugeblob
