// The process's cancellation: the token SIGINT/SIGTERM set, and the error a
// cancelled loop returns. CancelToken itself is public (hugeblob/cancel.h).
#pragma once

#include <string>

#include "hugeblob/cancel.h"  // CancelToken (public)
#include "hugeblob/error.h"

namespace hugeblob {

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
