#include "fuse/read_deadline.h"

#include <algorithm>

namespace hugeblob::fuse {

namespace {

enum State : int { kIdle = 0, kBusy = 1, kExpired = 2 };

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::atomic<uint64_t> next_id{1};

}  // namespace

namespace {

// The slot's state word is (generation << 2) | State. The generation grows
// with every request on the slot, so the watchdog's compare-and-swap cannot
// expire a later request that reuses the slot (ABA).
uint64_t Word(uint64_t gen, State s) { return (gen << 2) | s; }
State StateOf(uint64_t word) { return static_cast<State>(word & 3); }

}  // namespace

struct ReadDeadlines::Slot {
  std::atomic<uint64_t> state{0};
  uint64_t gen = 0;  // owner thread only
  std::atomic<int64_t> start_ms{0};
  // Written by the owner thread before state becomes kBusy (release) and
  // read by the watchdog only after it saw kBusy (acquire) and won the CAS.
  void* req = nullptr;
  const std::string* name = nullptr;
  uint64_t offset = 0;
  uint64_t size = 0;
};

ReadDeadlines::ReadDeadlines(std::chrono::milliseconds timeout, OnExpired on_expired)
    : timeout_(timeout), on_expired_(std::move(on_expired)), id_(next_id.fetch_add(1)) {
  if (timeout_.count() > 0) watchdog_ = std::thread([this] { Watch(); });
}

ReadDeadlines::~ReadDeadlines() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

ReadDeadlines::Slot& ReadDeadlines::ThisThreadSlot() {
  // One slot per (thread, instance); instances are few (one per mount).
  thread_local std::vector<std::pair<uint64_t, Slot*>> mine;
  for (const auto& [id, slot] : mine) {
    if (id == id_) return *slot;
  }
  auto slot = std::make_unique<Slot>();
  Slot* raw = slot.get();
  {
    std::lock_guard lock(mu_);
    slots_.push_back(std::move(slot));
  }
  mine.emplace_back(id_, raw);
  return *raw;
}

void ReadDeadlines::Begin(void* req, const std::string* name, uint64_t offset, uint64_t size) {
  if (timeout_.count() == 0) return;
  Slot& s = ThisThreadSlot();
  s.req = req;
  s.name = name;
  s.offset = offset;
  s.size = size;
  s.start_ms.store(NowMs(), std::memory_order_relaxed);
  s.state.store(Word(++s.gen, kBusy), std::memory_order_release);
}

bool ReadDeadlines::Finish() {
  if (timeout_.count() == 0) return true;
  Slot& s = ThisThreadSlot();
  uint64_t expected = Word(s.gen, kBusy);
  if (s.state.compare_exchange_strong(expected, Word(s.gen, kIdle), std::memory_order_acq_rel)) {
    return true;
  }
  // The watchdog answered; the slot is ours again for the next request.
  s.state.store(Word(s.gen, kIdle), std::memory_order_release);
  return false;
}

void ReadDeadlines::Watch() {
  // Check a few times per timeout: a stuck read is answered between 1x and
  // 1.25x the timeout (at least every 100 ms, at most every second).
  const auto period =
      std::clamp(timeout_ / 4, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    const int64_t now = NowMs();
    for (const auto& slot : slots_) {
      Slot& s = *slot;
      uint64_t word = s.state.load(std::memory_order_acquire);
      if (StateOf(word) != kBusy) continue;
      const int64_t waited = now - s.start_ms.load(std::memory_order_relaxed);
      if (waited < timeout_.count()) continue;
      if (!s.state.compare_exchange_strong(word, (word & ~uint64_t{3}) | kExpired,
                                           std::memory_order_acq_rel)) {
        continue;  // finished meanwhile: the worker answers
      }
      expired_.fetch_add(1, std::memory_order_relaxed);
      Pending p{s.req, s.name, s.offset, s.size, std::chrono::milliseconds(waited)};
      // Answering does not touch slots_; keep the lock (registration of a
      // new thread waits a moment, which is fine).
      on_expired_(p);
    }
  }
}

}  // namespace hugeblob::fuse
