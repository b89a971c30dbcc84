#include "store/s3/retry.h"

#include <algorithm>
#include <random>
#include <thread>

#include "util/cancel.h"

namespace hugeblob::s3 {

std::chrono::milliseconds RetryPolicy::Backoff(const Error& e, int attempt) const {
  // A server that says "slow down" is overloaded; come back later than after
  // a one-off error.
  double base = e.code() == ErrorCode::kThrottled ? base_ms_ * 4.0 : base_ms_;
  int shift = std::clamp(attempt - 1, 0, 20);
  double cap = std::min<double>(max_ms_, base * static_cast<double>(1u << shift));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(cap / 4, cap);
  // Full jitter, but not less than a quarter of the window: a zero wait
  // after a stall or a 503 only repeats the failure.
  return std::chrono::milliseconds(static_cast<int64_t>(dist(rng)));
}

bool RetryPolicy::Wait(const Error& e, int attempt, bool cancellable,
                       std::chrono::steady_clock::time_point deadline) const {
  auto until = std::chrono::steady_clock::now() + Backoff(e, attempt);
  if (until >= deadline) return false;  // no time left for another attempt
  while (std::chrono::steady_clock::now() < until) {
    if (cancellable && ProcessCancelToken().cancelled()) return false;
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return !cancellable || !ProcessCancelToken().cancelled();
}

}  // namespace hugeblob::s3
