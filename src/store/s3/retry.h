// The one retry policy of the S3 store: which failures are worth another
// try, and how long to wait before it. Exponential backoff with jitter
// (a uniformly random wait in [w/4, w] with w = min(cap, base * 2^n)), so
// that many parts failing together do not come back together. Throttling answers wait from a
// larger base. Waits end early on Ctrl-C (the process cancel token).
#pragma once

#include <chrono>

#include "hugeblob/error.h"

namespace hugeblob::s3 {

class RetryPolicy {
 public:
  RetryPolicy(int max_attempts, int base_ms, int max_ms)
      : max_attempts_(max_attempts < 1 ? 1 : max_attempts), base_ms_(base_ms), max_ms_(max_ms) {}

  int max_attempts() const { return max_attempts_; }

  // True if `e`, the failure of attempt number `attempt` (1-based), should be
  // retried: it is retryable and attempts remain.
  bool ShouldRetry(const Error& e, int attempt) const {
    return e.retryable() && attempt < max_attempts_;
  }

  // The wait before attempt `attempt + 1`.
  std::chrono::milliseconds Backoff(const Error& e, int attempt) const;

  // Sleeps for Backoff(e, attempt); false if cancelled while waiting (when
  // `cancellable`: cleanup requests wait through Ctrl-C) or if the wait would
  // end after `deadline`.
  bool Wait(const Error& e, int attempt, bool cancellable = true,
            std::chrono::steady_clock::time_point deadline =
                std::chrono::steady_clock::time_point::max()) const;

 private:
  int max_attempts_;
  int base_ms_;
  int max_ms_;
};

}  // namespace hugeblob::s3
