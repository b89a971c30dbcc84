#include "cli/mount_progress.h"

#include <fmt/format.h>

#include <cstdio>

#include "cli/options.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

bool IsPack(std::string_view key) { return key.rfind("packs/", 0) == 0; }

}  // namespace

// Counts one read of a pack while it is in flight.
class FetchCountingStore::Flight {
 public:
  Flight(FetchCountingStore& s, std::string_view key) : s_(IsPack(key) ? &s : nullptr) {
    if (s_ != nullptr) s_->in_flight_.fetch_add(1, std::memory_order_relaxed);
  }
  ~Flight() {
    if (s_ != nullptr) s_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
  }
  void Done(uint64_t bytes) {
    if (s_ == nullptr) return;
    s_->bytes_.fetch_add(bytes, std::memory_order_relaxed);
    s_->requests_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  FetchCountingStore* s_;
};

Result<Buffer> FetchCountingStore::GetRange(std::string_view key, uint64_t offset,
                                            uint64_t length) {
  Flight f(*this, key);
  auto r = base_->GetRange(key, offset, length);
  if (r) f.Done(r->size());
  return r;
}

Status FetchCountingStore::GetRangeInto(std::string_view key, uint64_t offset,
                                        std::span<uint8_t> dst) {
  Flight f(*this, key);
  Status s = base_->GetRangeInto(key, offset, dst);
  if (s) f.Done(dst.size());
  return s;
}

Status FetchCountingStore::GetRangeIntoBuffer(std::string_view key, uint64_t offset,
                                              const Buffer& owner, std::span<uint8_t> dst) {
  Flight f(*this, key);
  Status s = base_->GetRangeIntoBuffer(key, offset, owner, dst);
  if (s) f.Done(dst.size());
  return s;
}

MountProgress::MountProgress(std::shared_ptr<FetchCountingStore> store, std::string mountpoint,
                             ProgressMode mode)
    : store_(std::move(store)),
      mountpoint_(std::move(mountpoint)),
      mode_(mode),
      line_("mount", mountpoint_, mode, ProgressUnit::kBytes, "fetched"),
      start_(std::chrono::steady_clock::now()) {}

void MountProgress::Start() {
  if (mode_ == ProgressMode::kOff) return;
  thread_ = std::thread([this] { Loop(); });
}

void MountProgress::Loop() {
  uint64_t shown_requests = 0;
  bool shown_busy = false;
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stop_) break;
    const uint64_t requests = store_->requests();
    const uint64_t in_flight = store_->in_flight();
    // Quiet while nothing is fetched: an idle mount draws nothing. One more
    // update after the last fetch lets the rate fall back to what it is.
    const bool busy = requests != shown_requests || in_flight > 0;
    Progress p;
    p.done = store_->bytes();
    if (!busy && !shown_busy) {
      line_.Record(p);  // the rate's starting point for the next fetches
      continue;
    }
    shown_requests = requests;
    shown_busy = busy;
    line_.SetExtras({{"requests", "requests", requests}, {"in_flight", "in flight", in_flight}});
    line_.Update(p);
  }
}

void MountProgress::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The final count, even if the last fetches ended after the last tick.
  Progress p;
  p.done = store_->bytes();
  line_.Record(p);
  line_.SetExtras({{"requests", "requests", store_->requests()}, {"in_flight", "in flight", 0}});
  line_.Finish();
}

std::string MountProgress::Summary() const {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const uint64_t requests = store_->requests();
  return fmt::format("mount {}: fetched {} from the store in {} request{} over {:.1f}s\n",
                     Escaped(mountpoint_), FormatSize(store_->bytes()), requests,
                     requests == 1 ? "" : "s", secs);
}

}  // namespace hugeblob::cli
