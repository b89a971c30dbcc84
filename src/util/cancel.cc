#include "util/cancel.h"

#include <signal.h>

namespace hugeblob {
namespace {
CancelToken g_token;
volatile sig_atomic_t g_signal = 0;

void OnSignal(int sig) {
  if (g_signal != 0) {
    // Second Ctrl-C: the user insists. Restore the default and re-raise.
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_signal = sig;
  g_token.Cancel();
}
}  // namespace

CancelToken& ProcessCancelToken() { return g_token; }
int CancelSignal() { return g_signal; }

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace hugeblob
