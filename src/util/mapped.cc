#include "util/mapped.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

namespace hugeblob {
namespace {

struct Guard {
  sigjmp_buf env;
  uintptr_t begin;
  uintptr_t end;
  Guard* outer;  // a guarded call this one runs inside
};

// The guarded calls under way, by thread: a fixed table rather than a
// thread_local, because the handler reads it, and a thread_local of a
// module loaded with dlopen (the Python bindings) is allocated on first use
// with malloc, which a signal handler must not call (and initial-exec TLS
// does not fit there: "cannot allocate memory in static TLS block").
// pthread_self() reads a register.
constexpr size_t kSlots = 256;
struct Slot {
  std::atomic<pthread_t> owner{0};  // 0: free
  std::atomic<Guard*> guard{nullptr};
};
Slot g_slots[kSlots];

// Not inlined into CatchSigbusImpl: its loop variables would then live
// across sigsetjmp (-Wclobbered), though nothing reads them after the jump.
[[gnu::noinline]] Slot* SlotOf(pthread_t self) {
  for (Slot& s : g_slots) {
    if (s.owner.load(std::memory_order_acquire) == self) return &s;
  }
  return nullptr;
}

struct sigaction g_previous;  // written once, before the handler can run

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  Slot* slot = info->si_code > 0 ? SlotOf(::pthread_self()) : nullptr;
  Guard* g = slot != nullptr ? slot->guard.load(std::memory_order_acquire) : nullptr;
  for (; g != nullptr; g = g->outer) {
    if (addr >= g->begin && addr < g->end) siglongjmp(g->env, 1);
  }
  // Not ours: what would have happened without this handler.
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // The default action: a fault repeats when the handler returns and then
  // ends the process with SIGBUS; a signal sent by kill is sent again.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
  if (info->si_code <= 0) ::raise(sig);
}

void InstallHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    // SA_NODEFER: the jump out leaves the signal mask as it was, so
    // sigsetjmp need not save it (a system call per guarded call).
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    // The handler before is read first: it is there to be called as soon
    // as ours is installed.
    ::sigaction(SIGBUS, nullptr, &g_previous);
    ::sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace

std::unique_ptr<FileMapping> FileMapping::Map(int fd, uint64_t size) {
  if (size == 0) return nullptr;
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  return std::unique_ptr<FileMapping>(new FileMapping(fd, static_cast<uint8_t*>(p), size));
}

FileMapping::~FileMapping() { ::munmap(base_, size_); }

std::span<const uint8_t> FileMapping::View(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset || length == 0) return {};
  return {base_ + offset, length};
}

void FileMapping::Release(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) return;
  // Every page the range touches, and the rest of the 64 KiB blocks it
  // touches: a fault maps the cached pages around it too ("fault-around",
  // /sys/kernel/mm/... fault_around_bytes, 64 KiB by default), and those
  // would stay mapped. A page another thread still reads is simply faulted
  // in again there.
  constexpr uint64_t kAround = 64 << 10;
  const uint64_t first = offset / kAround * kAround;
  const uint64_t last = std::min(size_, (offset + length + kAround - 1) / kAround * kAround);
  if (last > first) ::madvise(base_ + first, last - first, MADV_DONTNEED);
}

bool FileMapping::Cached(uint64_t offset) const {
  uint8_t byte;
  struct iovec iov = {&byte, 1};
  const ssize_t n = ::preadv2(fd_, &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
  return n == 1 || (n < 0 && errno != EAGAIN);
}

namespace internal {

bool CatchSigbusImpl(const void* begin, size_t length, void (*fn)(void*), void* arg) {
  InstallHandler();
  const pthread_t self = ::pthread_self();
  Slot* slot = SlotOf(self);  // set: a guarded call inside another
  const bool claimed = slot == nullptr;
  for (size_t i = 0; slot == nullptr && i < kSlots; ++i) {
    pthread_t free_slot = 0;
    if (g_slots[i].owner.compare_exchange_strong(free_slot, self, std::memory_order_acq_rel)) {
      slot = &g_slots[i];
    }
  }
  if (slot == nullptr) return false;  // kSlots threads at once: the caller reads another way
  Guard guard;
  guard.begin = reinterpret_cast<uintptr_t>(begin);
  guard.end = guard.begin + length;
  guard.outer = slot->guard.load(std::memory_order_relaxed);
  auto leave = [&] {
    slot->guard.store(guard.outer, std::memory_order_release);
    if (claimed) slot->owner.store(0, std::memory_order_release);
  };
  if (sigsetjmp(guard.env, 0) == 0) {
    slot->guard.store(&guard, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    fn(arg);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    leave();
    return true;
  }
  leave();  // back from the handler
  return false;
}

}  // namespace internal
}  // namespace hugeblob
