#include "writer/store_lock.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>

#include "util/fs.h"

namespace hugeblob {
namespace {

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// Identifies this boot of this machine: a pid is only meaningful within it.
std::string BootId() {
  auto id = ReadFileToString("/proc/sys/kernel/random/boot_id");
  if (!id) return "";
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string_view KindName(LockKind kind) { return kind == LockKind::kGc ? "gc" : "put"; }

struct LockContent {
  std::string host;
  std::string boot;
  int64_t pid = 0;
  int64_t refreshed = 0;
  std::string purpose;
};

// Lenient on purpose: a lock is advisory, and one we cannot parse is treated
// as fresh (by its mtime) rather than ignored.
LockContent ParseLock(std::string_view text) {
  LockContent c;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
    auto number = [&](int64_t* v) {
      std::from_chars(value.data(), value.data() + value.size(), *v);
    };
    if (key == "host") c.host = value;
    if (key == "boot") c.boot = value;
    if (key == "pid") number(&c.pid);
    if (key == "refreshed") number(&c.refreshed);
    if (key == "purpose") c.purpose = value;
  }
  return c;
}

std::string Duration(int64_t s) {
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  return std::to_string(s / 3600) + "h";
}

}  // namespace

Result<std::vector<LockInfo>> ListLocks(ObjectStore& store, const LockTiming& timing,
                                        int64_t now_unix) {
  if (now_unix == 0) now_unix = NowUnix();
  HB_ASSIGN_OR_RETURN(auto objects, store.List(kLocksPrefix));
  static const std::string host = HostName();
  static const std::string boot = BootId();
  std::vector<LockInfo> out;
  for (const ObjectInfo& o : objects) {
    std::string_view base = std::string_view(o.key).substr(kLocksPrefix.size());
    LockInfo info;
    info.key = o.key;
    if (base.starts_with("gc-")) {
      info.kind = LockKind::kGc;
    } else if (base.starts_with("put-")) {
      info.kind = LockKind::kPut;
    } else {
      continue;  // not ours
    }
    auto bytes = store.Get(o.key);
    if (!bytes) {
      if (bytes.error().code() == ErrorCode::kNotFound) continue;  // released meanwhile
      return Fail(bytes.error());
    }
    LockContent c = ParseLock(bytes->view());
    // The younger of the two clocks' opinions: the store's mtime and the
    // holder's own clock. Either one saying "fresh" keeps the lock.
    int64_t age = INT64_MAX;
    if (o.mtime_unix != 0) age = now_unix - o.mtime_unix;
    if (c.refreshed != 0) age = std::min(age, now_unix - c.refreshed);
    if (age == INT64_MAX) age = 0;
    info.age_seconds = std::max<int64_t>(age, 0);
    info.holder = c.host + " pid " + std::to_string(c.pid) +
                  (c.purpose.empty() ? "" : " (" + c.purpose + ")");
    if (info.age_seconds >= timing.stale_seconds) {
      info.stale = true;
      info.why_stale = "not refreshed for " + Duration(info.age_seconds);
    } else if (!boot.empty() && c.host == host && c.boot == boot && c.pid > 0 &&
               ::kill(static_cast<pid_t>(c.pid), 0) != 0 && errno == ESRCH) {
      // Same machine, same boot: the pid cannot have been reused by another
      // hugeblob without this check seeing it alive, and a dead holder (kill
      // -9) would otherwise block gc for the whole stale period.
      info.stale = true;
      info.why_stale = "process " + std::to_string(c.pid) + " on this host is gone";
    }
    out.push_back(std::move(info));
  }
  return out;
}

StoreLock::StoreLock(std::shared_ptr<ObjectStore> store, std::string key, std::string purpose,
                     LockTiming timing)
    : store_(std::move(store)),
      key_(std::move(key)),
      purpose_(std::move(purpose)),
      timing_(timing),
      started_unix_(NowUnix()) {}

Status StoreLock::Write() {
  static const std::string host = HostName();
  static const std::string boot = BootId();
  std::string text = "hugeblob-lock 1\n";
  text += "host " + host + "\n";
  text += "boot " + boot + "\n";
  text += "pid " + std::to_string(::getpid()) + "\n";
  text += "started " + std::to_string(started_unix_) + "\n";
  text += "refreshed " + std::to_string(NowUnix()) + "\n";
  std::string purpose = purpose_;
  std::replace(purpose.begin(), purpose.end(), '\n', ' ');
  text += "purpose " + purpose + "\n";
  return store_->Put(key_, Buffer::Copy(std::string_view(text)));
}

Result<std::unique_ptr<StoreLock>> StoreLock::Acquire(const std::shared_ptr<ObjectStore>& store,
                                                      LockKind kind, std::string purpose,
                                                      LockTiming timing) {
  HB_ASSIGN_OR_RETURN(std::string rnd, RandomHex(16));
  std::string key = std::string(kLocksPrefix) + std::string(KindName(kind)) + "-" + rnd;
  std::unique_ptr<StoreLock> lock(new StoreLock(store, key, std::move(purpose), timing));
  if (auto st = lock->Write(); !st) return Fail(st.error().Wrap("writing lock " + key));
  // Created; now look. From here on the destructor deletes the lock.
  auto locks = ListLocks(*store, timing);
  if (!locks) return Fail(locks.error().Wrap("listing locks"));
  for (const LockInfo& other : *locks) {
    if (other.key == key || other.stale) continue;
    if (kind == LockKind::kPut && other.kind == LockKind::kGc) {
      return Fail(ErrorCode::kAlreadyExists,
                  "a gc is running (" + other.key + ", " + other.holder + "), retry when it ends",
                  /*retryable=*/true);
    }
    if (kind == LockKind::kGc) {
      std::string what = other.kind == LockKind::kGc ? "another gc" : "a put or copy";
      return Fail(ErrorCode::kAlreadyExists,
                  "gc refused: " + what + " is running (" + other.key + ", " + other.holder +
                      ", refreshed " + Duration(other.age_seconds) +
                      " ago); retry when it ends. A lock counts until it has not been refreshed "
                      "for " +
                      Duration(timing.stale_seconds),
                  /*retryable=*/true);
    }
  }
  lock->refresher_ = std::thread([l = lock.get()] { l->RefreshLoop(); });
  return lock;
}

void StoreLock::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, std::chrono::seconds(timing_.refresh_seconds),
                     [&] { return stopping_; })) {
      break;
    }
    lock.unlock();
    // A failed refresh is not fatal: the lock stays valid until it is
    // stale, and the next refresh may succeed.
    if (auto st = Write(); !st) spdlog::warn("refreshing lock {}: {}", key_, st.error().message());
    lock.lock();
  }
}

Status StoreLock::Release() {
  {
    std::lock_guard lock(mu_);
    if (released_) return OkStatus();
    released_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  return store_->Delete(key_);
}

StoreLock::~StoreLock() {
  if (auto st = Release(); !st) {
    spdlog::warn("could not delete lock {} ({}); it expires on its own", key_,
                 st.error().message());
  }
}

}  // namespace hugeblob
