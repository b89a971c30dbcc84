#include "util/deadline.h"

#include <pthread.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace hugeblob {

namespace detail {

struct CallState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;       // guarded by mu
  bool abandoned = false;  // guarded by mu
};

}  // namespace detail

namespace {

std::atomic<int> g_abandoned{0};

// Helper threads: one per call in flight, reused while idle. Never
// destroyed (see the header): it outlives every detached helper.
class Helpers {
 public:
  static Helpers& Get() {
    static const bool registered = [] {
      // A forked child (the mount's fuse_daemonize) has none of the parent's
      // helper threads, but would count them as idle and hand them work
      // that never runs: it starts over with a fresh, empty set (the old one
      // is left as it is: its mutex may have been held at the fork).
      pthread_atfork(nullptr, nullptr, [] {
        current_.store(new Helpers(), std::memory_order_release);
        g_abandoned.store(0, std::memory_order_relaxed);
      });
      return true;
    }();
    (void)registered;
    Helpers* h = current_.load(std::memory_order_acquire);
    if (h == nullptr) {
      Helpers* fresh = new Helpers();
      if (current_.compare_exchange_strong(h, fresh, std::memory_order_acq_rel)) return *fresh;
      delete fresh;
    }
    return *h;
  }

  void Run(std::function<void()> job) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
    if (queue_.size() > idle_) {
      std::thread([this] { Loop(); }).detach();
    } else {
      cv_.notify_one();
    }
  }

 private:
  // An idle helper waits this long for work before it exits.
  static constexpr auto kIdle = std::chrono::seconds(30);

  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      ++idle_;
      const bool got = cv_.wait_for(lock, kIdle, [this] { return !queue_.empty(); });
      --idle_;
      if (!got) return;
      std::function<void()> job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // its captures go before the next wait
      lock.lock();
    }
  }

  static inline std::atomic<Helpers*> current_{nullptr};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
};

}  // namespace

int AbandonedCallsInFlight() { return g_abandoned.load(std::memory_order_relaxed); }

namespace detail {

Status BeforeCall(const DeadlineOptions& options, const std::string& what) {
  if (options.cancel != nullptr && options.cancel->cancelled()) {
    return Fail(CancelledError(what.c_str()));
  }
  const int stuck = g_abandoned.load(std::memory_order_relaxed);
  if (stuck >= kMaxAbandonedCalls) {
    return Fail(ErrorCode::kTimeout,
                fmt::format("{}: not tried: {} earlier calls are still stuck in the file system "
                            "(it is not responding)",
                            what, stuck));
  }
  return OkStatus();
}

std::shared_ptr<CallState> NewCallState() { return std::make_shared<CallState>(); }

void StartCall(const std::shared_ptr<CallState>& state, std::function<void()> job) {
  Helpers::Get().Run([state, job = std::move(job)] {
    job();
    bool abandoned;
    {
      std::lock_guard lock(state->mu);
      state->done = true;
      abandoned = state->abandoned;
    }
    if (abandoned) {
      g_abandoned.fetch_sub(1, std::memory_order_relaxed);
    } else {
      state->cv.notify_all();
    }
  });
}

Status WaitForCall(const std::shared_ptr<CallState>& state, const DeadlineOptions& options,
                   const std::string& what) {
  using Clock = std::chrono::steady_clock;
  // How often a wait looks at the cancel token: the signal handler that sets
  // it cannot notify a condition variable.
  constexpr auto kPoll = std::chrono::milliseconds(50);
  const auto start = Clock::now();
  const bool timed = options.timeout.count() > 0;
  std::unique_lock lock(state->mu);
  while (!state->done) {
    const auto now = Clock::now();
    const bool cancelled = options.cancel != nullptr && options.cancel->cancelled();
    if (cancelled || (timed && now - start >= options.timeout)) {
      state->abandoned = true;
      g_abandoned.fetch_add(1, std::memory_order_relaxed);
      if (cancelled) return Fail(CancelledError(what.c_str()));
      const double secs = std::chrono::duration<double>(options.timeout).count();
      return Fail(ErrorCode::kTimeout,
                  fmt::format("{}: no answer after {:g} s: the file system is not responding "
                              "(a dead network mount or a wedged disk?); {} sets this deadline",
                              what, secs, options.option),
                  /*retryable=*/false);
    }
    auto step = kPoll;
    if (timed) {
      step = std::min<std::chrono::milliseconds>(
          step, std::chrono::ceil<std::chrono::milliseconds>(options.timeout - (now - start)));
    }
    state->cv.wait_for(lock, step);
  }
  return OkStatus();
}

}  // namespace detail

}  // namespace hugeblob
