#include "store/s3/credentials.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace hugeblob::s3 {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// "3541 s" or "2.4 s" for messages: how long credentials remain valid.
std::string Remaining(std::chrono::system_clock::time_point t) {
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::system_clock::now())
          .count();
  if (ms >= 10000 || ms <= -10000) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms / 1000) + "." + std::to_string(std::abs(ms) % 1000 / 100) + " s";
}

}  // namespace

RefreshTimes RefreshScheduleFor(std::chrono::system_clock::time_point fetched,
                                std::chrono::system_clock::time_point expires) {
  auto life = std::max(expires - fetched, std::chrono::system_clock::duration::zero());
  auto advisory = std::min<std::chrono::system_clock::duration>(minutes(5), life / 3);
  auto mandatory = std::min<std::chrono::system_clock::duration>(minutes(1), life / 10);
  return {expires - advisory, expires - mandatory};
}

CredentialsProvider::CredentialsProvider(const S3Config& config) {
  ChainConfig chain;
  chain.profile = config.profile;
  chain.credentials_file = config.credentials_file;
  chain.config_file = config.config_file;
  chain.region = config.region;
  // Its own connections: credential endpoints are other hosts than S3's.
  auto http = std::make_shared<HttpClient>();
  loader_ = [chain, http] { return ResolveCredentialChain(chain, *http); };
}

CredentialsProvider::CredentialsProvider(Credentials fixed)
    : fixed_(true),
      current_(std::make_shared<const Credentials>(std::move(fixed))),
      source_("fixed credentials") {}

CredentialsProvider::CredentialsProvider(Loader loader) : loader_(std::move(loader)) {}

Status CredentialsProvider::Reload() {
  loads_.fetch_add(1);
  const auto now = Clock::now();
  HB_ASSIGN_OR_RETURN(TimedCredentials t, loader_());
  if (t.expiration && *t.expiration <= now) {
    return Fail(ErrorCode::kPermission,
                "credentials from " + t.source +
                    " had already expired when they arrived (is this machine's clock right?)");
  }
  std::lock_guard lock(mu_);
  const bool first = current_ == nullptr;
  current_ = std::make_shared<const Credentials>(std::move(t.credentials));
  source_ = std::move(t.source);
  expires_ = t.expiration;
  if (expires_) due_ = RefreshScheduleFor(now, *expires_);
  next_advisory_try_ = {};
  // Where they came from, never what they are (shown with -v).
  spdlog::info("s3: credentials {} {}{}", first ? "from" : "refreshed from", source_,
               expires_ ? "; valid for " + Remaining(*expires_) : std::string());
  return OkStatus();
}

Result<std::shared_ptr<const Credentials>> CredentialsProvider::Get() {
  std::shared_ptr<const Credentials> seen;
  bool mandatory = true;
  {
    std::lock_guard lock(mu_);
    if (fixed_) return current_;
    const auto now = Clock::now();
    if (current_ && (!expires_ || now < due_.advisory)) return current_;
    if (current_ && now < due_.mandatory) {
      if (now < next_advisory_try_) return current_;
      mandatory = false;
    }
    seen = current_;
  }
  if (!mandatory) {
    // Ahead of time: one thread reloads, the others sign with what they have.
    std::unique_lock reload(reload_mu_, std::try_to_lock);
    if (!reload.owns_lock()) return seen;
    {
      std::lock_guard lock(mu_);
      if (current_ != seen) return current_;  // reloaded while we looked
    }
    Status st = Reload();
    std::lock_guard lock(mu_);
    if (!st) {
      const auto now = Clock::now();
      auto left = expires_ ? *expires_ - now : Clock::duration::zero();
      next_advisory_try_ = now + std::min<Clock::duration>(seconds(30), left / 10);
      spdlog::warn(
          "s3: could not refresh credentials from {} ahead of expiry ({}); the current "
          "ones stay in use, valid for {}",
          source_, st.error().message(), expires_ ? Remaining(*expires_) : std::string("?"));
    }
    return current_;
  }
  std::lock_guard reload(reload_mu_);
  {
    std::lock_guard lock(mu_);
    if (current_ && current_ != seen && (!expires_ || Clock::now() < due_.mandatory)) {
      return current_;  // another thread reloaded while we waited
    }
  }
  HB_TRY(Reload());
  std::lock_guard lock(mu_);
  return current_;
}

Result<bool> CredentialsProvider::Refresh(const Credentials& seen) {
  if (fixed_) return false;
  std::lock_guard reload(reload_mu_);
  {
    std::lock_guard lock(mu_);
    // Another thread may have reloaded since `seen` was handed out.
    if (current_ && !(*current_ == seen)) return true;
  }
  HB_TRY(Reload());
  std::lock_guard lock(mu_);
  return !(*current_ == seen);
}

std::string CredentialsProvider::source() const {
  std::lock_guard lock(mu_);
  return source_;
}

std::optional<CredentialsProvider::Clock::time_point> CredentialsProvider::expiration() const {
  std::lock_guard lock(mu_);
  return expires_;
}

}  // namespace hugeblob::s3
