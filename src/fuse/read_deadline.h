// A deadline on every FUSE read: a store that stops answering (an NFS or
// sshfs directory behind a file:// store, a wedged disk, a server that
// accepts a connection and never replies) must make the program's read fail
// after a bounded time, not hang it forever.
//
// The stuck call itself cannot be interrupted (a thread blocked in open()
// or pread() on a hung file system is in the kernel), but a FUSE request
// can be answered from any thread. So each worker thread owns a slot: it
// marks the slot busy before the read and claims it after; a watchdog
// thread scans the slots and answers any request busy for longer than the
// timeout with an error, marking the slot expired. When the stuck call
// finally returns, the worker finds its slot expired and does not answer
// again (a FUSE request is answered exactly once: the state change is a
// compare-and-swap that only one side wins).
//
// The fast path costs two clock reads and two atomic operations on a
// thread-local slot: no lock, no allocation.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hugeblob::fuse {

class ReadDeadlines {
 public:
  // What a stuck request is; passed to the expiry callback.
  struct Pending {
    void* req = nullptr;                // the fuse_req_t
    const std::string* name = nullptr;  // the file (alive while the call is)
    uint64_t offset = 0;
    uint64_t size = 0;
    std::chrono::milliseconds waited{0};
  };
  // Called on the watchdog thread, once per expired request; must answer it.
  using OnExpired = std::function<void(const Pending&)>;

  // A timeout of zero disables the deadline (Begin/Finish still work and
  // Finish always returns true).
  ReadDeadlines(std::chrono::milliseconds timeout, OnExpired on_expired);
  ~ReadDeadlines();
  ReadDeadlines(const ReadDeadlines&) = delete;
  ReadDeadlines& operator=(const ReadDeadlines&) = delete;

  // Before a read on this thread.
  void Begin(void* req, const std::string* name, uint64_t offset, uint64_t size);
  // After it: true if the caller still owns the request and must answer it;
  // false if the watchdog already answered it.
  bool Finish();

  std::chrono::milliseconds timeout() const { return timeout_; }
  uint64_t expired() const { return expired_.load(std::memory_order_relaxed); }

 private:
  struct Slot;
  Slot& ThisThreadSlot();
  void Watch();

  const std::chrono::milliseconds timeout_;
  const OnExpired on_expired_;
  const uint64_t id_;  // tells this instance's thread-local slots from another's

  std::mutex mu_;  // guards slots_ (registration) and stop_
  std::vector<std::unique_ptr<Slot>> slots_;
  bool stop_ = false;
  std::condition_variable cv_;
  std::atomic<uint64_t> expired_{0};
  std::thread watchdog_;
};

}  // namespace hugeblob::fuse
