// CredentialsProvider: what S3Store asks for credentials before it signs each
// request. It resolves the AWS credential chain (credential_sources.h) once,
// keeps the result, and refreshes temporary credentials before they expire,
// so a put, get or mount that outlives a one-hour STS session keeps going.
//
// Refresh schedule, for credentials that live L (expiry minus fetch time):
//   - advisory, from min(5 min, L/3) before expiry: one caller reloads the
//     chain while the others keep signing with the current credentials; if
//     the reload fails they stay in use (they are still valid) and the next
//     try comes min(30 s, L/10) later;
//   - mandatory, from min(1 min, L/10) before expiry: callers wait for the
//     reload, and its failure is their error (a request signed with expired
//     credentials would fail anyway).
// With L = 1 h that is 5 min and 1 min before expiry; with the 9 s credentials
// of the tests, 3 s and 0.9 s. Static credentials are never reloaded except by
// Refresh (the server said the token expired: the files may have been rotated).
//
// Thread-safe. Get is cheap when nothing is due (a mutex and a shared_ptr
// copy); at most one thread reloads at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hugeblob/error.h"
#include "store/s3/credential_sources.h"
#include "store/s3/s3_config.h"
#include "store/s3/sigv4.h"

namespace hugeblob::s3 {

// When to reload credentials fetched at `fetched` that expire at `expires`.
struct RefreshTimes {
  std::chrono::system_clock::time_point advisory;
  std::chrono::system_clock::time_point mandatory;
};
RefreshTimes RefreshScheduleFor(std::chrono::system_clock::time_point fetched,
                                std::chrono::system_clock::time_point expires);

class CredentialsProvider {
 public:
  using Clock = std::chrono::system_clock;
  using Loader = std::function<Result<TimedCredentials>()>;

  // The AWS chain with the profile, files and region of `config`.
  explicit CredentialsProvider(const S3Config& config);
  // Fixed credentials (tests); Refresh never changes them.
  explicit CredentialsProvider(Credentials fixed);
  // Any loader (tests; callers with their own source).
  explicit CredentialsProvider(Loader loader);

  // The current credentials, loading or reloading them when due.
  Result<std::shared_ptr<const Credentials>> Get();
  // Reloads now unless someone already replaced `seen`. Returns true if the
  // credentials now differ from `seen` (so a retry with them may succeed).
  Result<bool> Refresh(const Credentials& seen);

  // Where the current credentials came from, for messages; never the values.
  std::string source() const;
  // When the current credentials expire (nullopt: they do not, or none yet).
  std::optional<Clock::time_point> expiration() const;
  // How many times the sources were read (for tests).
  uint64_t loads() const { return loads_.load(); }

 private:
  // Calls the loader and installs the result. Caller holds reload_mu_.
  Status Reload();

  const bool fixed_ = false;
  Loader loader_;
  // Held by the one thread that reloads; others wait on it only when the
  // credentials are (nearly) expired.
  std::mutex reload_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<const Credentials> current_;  // guarded by mu_
  std::string source_;                          // guarded by mu_
  std::optional<Clock::time_point> expires_;    // guarded by mu_
  RefreshTimes due_{};                          // guarded by mu_
  Clock::time_point next_advisory_try_{};       // guarded by mu_
  std::atomic<uint64_t> loads_{0};
};

}  // namespace hugeblob::s3
