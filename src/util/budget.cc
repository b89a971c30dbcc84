#include "util/budget.h"

#include <chrono>

namespace hugeblob {

Result<Reservation> MemoryBudget::Reserve(uint64_t bytes, const CancelToken* cancel) {
  if (bytes > limit_) {
    return Fail(ErrorCode::kInvalidArgument, "memory budget of " + std::to_string(limit_) +
                                                 " bytes cannot hold a buffer of " +
                                                 std::to_string(bytes) + " bytes; raise --memory");
  }
  std::unique_lock lock(mu_);
  while (used_ + bytes > limit_) {
    if (cancel != nullptr && cancel->cancelled()) return Fail(CancelledError("waiting for memory"));
    // Poll the token: cancellation may come from a signal handler, which
    // cannot notify a condition variable.
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  used_ += bytes;
  if (used_ > peak_) peak_ = used_;
  return Reservation(shared_from_this(), bytes);
}

Reservation MemoryBudget::ForceReserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  used_ += bytes;
  if (used_ > peak_) peak_ = used_;
  return Reservation(shared_from_this(), bytes);
}

void MemoryBudget::Return(uint64_t bytes) {
  {
    std::lock_guard lock(mu_);
    used_ -= bytes;
  }
  cv_.notify_all();
}

uint64_t MemoryBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

uint64_t MemoryBudget::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

}  // namespace hugeblob
