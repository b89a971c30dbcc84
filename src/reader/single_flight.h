// Single-flight: concurrent misses on one key make one fetch; the others
// wait for its result.
//
// The first caller to Join a key becomes the leader and receives a Lease; a
// later caller, while the lease is outstanding, receives the Flight to Wait
// on. The leader publishes a value with Complete; a Lease dropped without
// completing publishes the table's `abandoned` value, so a waiter can never
// hang on a leader that returned early.
//
// Deadlock rule for users: never Wait while holding an uncompleted Lease
// (complete or drop your own leases first). Two threads that each lead one
// key and follow the other then always make progress.
//
// Completing removes the key from the table. A caller that missed the cache
// just before the leader inserted its result and joins just after Complete
// would lead a second fetch; a new leader therefore re-checks the cache
// first (the leader inserts into the cache before completing).
//
// Thread-safe. The table lock is held only to find or insert a key; waiting
// happens on the flight's own condition variable.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace hugeblob {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class SingleFlight {
 public:
  class Flight {
   public:
    // Blocks until the leader completes; returns a copy of its value.
    Value Wait() const {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return value_.has_value(); });
      return *value_;
    }

   private:
    friend class SingleFlight;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::optional<Value> value_;  // guarded by mu_; set once
  };

  // The leader's duty to complete a flight. Move-only.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept { *this = std::move(o); }
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        Abandon();
        owner_ = std::exchange(o.owner_, nullptr);
        key_ = std::move(o.key_);
        flight_ = std::move(o.flight_);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Abandon(); }

    explicit operator bool() const { return owner_ != nullptr; }
    const Key& key() const { return key_; }

    // Publishes `value` to every waiter and ends the flight.
    void Complete(Value value) {
      if (owner_ == nullptr) return;
      SingleFlight* owner = std::exchange(owner_, nullptr);
      owner->Finish(key_, flight_, std::move(value));
      flight_.reset();
    }

   private:
    friend class SingleFlight;
    Lease(SingleFlight* owner, Key key, std::shared_ptr<Flight> flight)
        : owner_(owner), key_(std::move(key)), flight_(std::move(flight)) {}
    void Abandon() {
      if (owner_ != nullptr) Complete(owner_->abandoned_);
    }

    SingleFlight* owner_ = nullptr;
    Key key_{};
    std::shared_ptr<Flight> flight_;
  };

  // What Join gives: a lease (you lead) or a flight to wait on (you follow).
  struct Joined {
    Lease lease;
    std::shared_ptr<const Flight> follow;
  };

  // `abandoned` is what waiters get when a leader drops its lease.
  explicit SingleFlight(Value abandoned) : abandoned_(std::move(abandoned)) {}
  SingleFlight(const SingleFlight&) = delete;
  SingleFlight& operator=(const SingleFlight&) = delete;

  Joined Join(const Key& key) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = flights_.try_emplace(key);
    if (!fresh) return Joined{Lease(), it->second};
    it->second = std::make_shared<Flight>();
    return Joined{Lease(this, key, it->second), nullptr};
  }

  // A lease if nobody is fetching `key`, else an empty Lease (for
  // background prefetch, which never waits).
  Lease TryLead(const Key& key) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = flights_.try_emplace(key);
    if (!fresh) return Lease();
    it->second = std::make_shared<Flight>();
    return Lease(this, key, it->second);
  }

  // True if a flight for `key` is in progress (a hint: it may end at once).
  bool Busy(const Key& key) const {
    std::lock_guard lock(mu_);
    return flights_.find(key) != flights_.end();
  }

  size_t in_flight() const {
    std::lock_guard lock(mu_);
    return flights_.size();
  }

 private:
  void Finish(const Key& key, const std::shared_ptr<Flight>& flight, Value value) {
    {
      std::lock_guard lock(mu_);
      auto it = flights_.find(key);
      if (it != flights_.end() && it->second == flight) flights_.erase(it);
    }
    {
      std::lock_guard lock(flight->mu_);
      flight->value_.emplace(std::move(value));
    }
    flight->cv_.notify_all();
  }

  const Value abandoned_;
  mutable std::mutex mu_;
  std::unordered_map<Key, std::shared_ptr<Flight>, Hash> flights_;  // guarded by mu_
};

}  // namespace hugeblob
