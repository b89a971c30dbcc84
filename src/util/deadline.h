// Deadlines on calls that can block in the kernel for ever.
//
// A read from a local directory is a system call; on a dead NFS server, a
// wedged disk or a FUSE file system that stopped answering, pread() (or
// open(), or readdir()) does not return, and no signal but SIGKILL (and on
// some file systems not even that) ends it. Such a call cannot be
// cancelled, only abandoned: CallWithDeadline runs it on a helper thread and
// waits for it with a timed wait, giving up at the deadline or at the first
// cancellation (Ctrl-C). The abandoned call keeps its helper thread until
// the kernel lets it return; the caller has long moved on.
//
// Therefore the function must own everything it touches: capture by value,
// shared_ptr, Buffer (reference-counted); never a reference to the caller's
// stack or a borrowed span, which may be gone when the call returns. Its
// result is dropped if nobody waits for it any more.
//
// Helper threads are detached and made on demand (one per call in flight),
// kept idle for a while for the next call, and never joined: a thread stuck
// in the kernel cannot hold up the process's exit (exit_group ends it as
// soon as the kernel lets the call go). At most kMaxAbandoned calls may be
// stuck at once; beyond that, calls fail at once instead of piling up
// threads on a file system that is known not to answer.
//
// The fast path costs one hand-off to a waiting thread (a few microseconds),
// which is why callers use it for calls that move kilobytes to megabytes,
// not for every byte.
//
// Thread-safe. The runner is process-wide and never destroyed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "hugeblob/error.h"
#include "util/cancel.h"

namespace hugeblob {

struct DeadlineOptions {
  // 0 = no deadline (still cancellable).
  std::chrono::milliseconds timeout{0};
  // Polled while waiting (every 50 ms); may be null.
  const CancelToken* cancel = nullptr;
  // The name of the option that sets the timeout, for the error message.
  const char* option = "--read-timeout";
};

inline constexpr int kMaxAbandonedCalls = 64;

// Calls that were abandoned and have not returned yet (for tests and logs).
int AbandonedCallsInFlight();

namespace detail {
struct CallState;
// kCancelled if cancelled already; kTimeout if kMaxAbandonedCalls calls are
// stuck already (the file system is known not to answer).
Status BeforeCall(const DeadlineOptions& options, const std::string& what);
std::shared_ptr<CallState> NewCallState();
// Runs `job` on a helper thread, then marks the call done.
void StartCall(const std::shared_ptr<CallState>& state, std::function<void()> job);
// Waits until the call is done (OkStatus), or abandons it at the deadline
// (kTimeout) or at cancellation (kCancelled); the errors name `what`.
Status WaitForCall(const std::shared_ptr<CallState>& state, const DeadlineOptions& options,
                   const std::string& what);
}  // namespace detail

// Runs `fn` (returning Result<T> or Status) with a deadline; see the file
// comment for what `fn` may capture. `what` names the call and the object
// ("read /srv/store/packs/ab/ab12..").
template <typename Fn>
auto CallWithDeadline(Fn fn, const DeadlineOptions& options, const std::string& what)
    -> decltype(fn()) {
  using R = decltype(fn());
  if (Status st = detail::BeforeCall(options, what); !st) return Fail(st.error());
  // The job owns the box its result goes into, so an abandoned job writes
  // into memory that stays alive until it ends.
  auto box = std::make_shared<std::optional<R>>();
  auto state = detail::NewCallState();
  detail::StartCall(state, [box, fn = std::move(fn)]() mutable { box->emplace(fn()); });
  if (Status st = detail::WaitForCall(state, options, what); !st) return Fail(st.error());
  return std::move(**box);
}

}  // namespace hugeblob
