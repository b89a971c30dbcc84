// Cooperative cancellation. A CancelToken is set once (by a signal handler,
// by the first failing stage of a pipeline, or by a caller) and polled by
// every loop that may block for long. Setting it is async-signal-safe.
#pragma once

#include <atomic>

#include "hugeblob/error.h"

namespace hugeblob {

class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  void Reset() { cancelled_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> cancelled_{false};
};

// The process-wide token that SIGINT/SIGTERM set once InstallSignalHandlers()
// has run. Library code polls it through the tokens it is given; the CLI
// passes this one.
CancelToken& ProcessCancelToken();
// The signal number that cancelled the process, or 0.
int CancelSignal();
void InstallSignalHandlers();

inline Error CancelledError(const char* what) {
  return Error(ErrorCode::kCancelled, std::string(what) + ": interrupted");
}

}  // namespace hugeblob
