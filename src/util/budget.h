// A byte budget: the one place peak memory is decided. Stages reserve bytes
// before they allocate (Reserve blocks while the budget is spent) and the
// Reservation, usually attached to a Buffer, gives them back when the last
// view of the buffer dies. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"
#include "util/cancel.h"

namespace hugeblob {

class MemoryBudget : public std::enable_shared_from_this<MemoryBudget> {
 public:
  static std::shared_ptr<MemoryBudget> Create(uint64_t limit) {
    return std::shared_ptr<MemoryBudget>(new MemoryBudget(limit));
  }

  // Blocks until `bytes` are available or `cancel` is set. Asking for more
  // than the whole limit is an error (it could never be satisfied).
  Result<Reservation> Reserve(uint64_t bytes, const CancelToken* cancel = nullptr);
  // Never blocks; may push usage above the limit. For bookkeeping of memory
  // whose size is only known after the fact.
  Reservation ForceReserve(uint64_t bytes);

  uint64_t limit() const { return limit_; }
  uint64_t used() const;
  uint64_t peak() const;

 private:
  friend class Reservation;
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  void Return(uint64_t bytes);

  const uint64_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t used_ = 0;  // guarded by mu_
  uint64_t peak_ = 0;  // guarded by mu_
};

}  // namespace hugeblob
