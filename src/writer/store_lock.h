// Lock objects that keep gc away from a running put or copy, and the other
// way round (docs/gc.md).
//
// Object stores have no atomic "create if absent" that works on every
// backend, so the protocol is create-then-check: a writer (put, copy) puts
// locks/put-<random>, then lists locks/; gc puts locks/gc-<random>, then lists
// locks/. Whoever finds a fresh lock of the other kind deletes its own and
// refuses. Since both create before they look, two that overlap cannot both
// miss each other (listings are strongly consistent on every backend we
// support, S3 included since 2020).
//
// A held lock is rewritten every `refresh` seconds by a background thread, so
// its age (the object's mtime, or the time written inside it) says whether the
// holder is alive. A lock not refreshed for `stale` seconds is ignored, and so
// is one written on this host, since this boot, by a process that no longer
// exists (kill -9): neither blocks anyone, and gc deletes them.
//
// Thread-safety: a StoreLock may be released from any one thread; ListLocks is
// thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

inline constexpr std::string_view kLocksPrefix = "locks/";

struct LockTiming {
  int64_t refresh_seconds = 60;
  int64_t stale_seconds = 600;  // 10 refresh periods: survives a slow store and clock skew
};

enum class LockKind { kPut, kGc };

struct LockInfo {
  std::string key;  // "locks/put-3f2a..."
  LockKind kind = LockKind::kPut;
  int64_t age_seconds = 0;  // since it was last written
  std::string holder;       // "host 1234 (put vm/1)", from the object
  bool stale = false;       // too old, or its process is gone
  std::string why_stale;    // "not refreshed for 3h", "process 1234 on this host is gone"
};

// Every lock in the store. `now_unix` 0 means the current time.
Result<std::vector<LockInfo>> ListLocks(ObjectStore& store, const LockTiming& timing,
                                        int64_t now_unix = 0);

class StoreLock {
 public:
  // Writes the lock, then refuses (kAlreadyExists, retryable, naming the
  // other lock) if a fresh lock of the opposing kind exists: gc for a put,
  // put or another gc for a gc. `purpose` ("put vm/1") goes into the object
  // so that a refusal can say who holds the store.
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::shared_ptr<ObjectStore>& store,
                                                    LockKind kind, std::string purpose,
                                                    LockTiming timing = {});
  ~StoreLock();  // Release(), errors only logged
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  // Stops the refresh thread and deletes the lock object. Idempotent.
  Status Release();
  const std::string& key() const { return key_; }

 private:
  StoreLock(std::shared_ptr<ObjectStore> store, std::string key, std::string purpose,
            LockTiming timing);
  Status Write();
  void RefreshLoop();

  std::shared_ptr<ObjectStore> store_;
  const std::string key_;
  const std::string purpose_;
  const LockTiming timing_;
  const int64_t started_unix_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool released_ = false;  // guarded by mu_
  std::thread refresher_;
};

}  // namespace hugeblob
