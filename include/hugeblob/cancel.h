// Cooperative cancellation for long calls (put, get, verify).
//
// A CancelToken is set once, by the caller, by a signal handler or by the
// first failing stage of a pipeline, and is polled by every loop that may
// block for long: a call given a token returns ErrorCode::kCancelled within
// a fraction of a second of Cancel(), leaving the store consistent (a put
// that was cancelled writes no name; rerunning it resumes).
//
// Thread safety: every method may be called from any thread at any time;
// Cancel() is async-signal-safe (one atomic store).
// Lifetime: a token passed in an options struct must outlive the call.
#pragma once

#include <atomic>

namespace hugeblob {

class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Makes the token usable for another call (not while one polls it).
  void Reset() { cancelled_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace hugeblob
