// Errors are values. Every fallible call in hugeblob returns Result<T> (or
// Status for Result<void>); nothing throws across a layer boundary. An Error
// carries a code, a message that names the object concerned (a key, a path, a
// chunk id), and whether retrying the same call may succeed. The first root
// cause wins: callers add context with Error::Wrap, they do not replace it.
//
// Thread safety and lifetimes: Error and Result are plain values, owned by
// whoever holds them; the library keeps no reference to an Error it returns.
// Like any value, one may be read from several threads at once but not
// written while read. ErrorCodeName returns a view of a static string.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace hugeblob {

enum class ErrorCode {
  kNotFound,         // object, ref, file or chunk does not exist
  kAlreadyExists,    // target exists and --force was not given
  kInvalidArgument,  // bad option, size, name or URL
  kCorruption,       // checksum/hash mismatch, truncated or malformed object
  kUnsupported,      // unknown format version or feature
  kIOError,          // local I/O failure
  kNoSpace,          // disk full or not enough free space up front
  kPermission,       // EACCES / access denied / bad credentials
  kNetwork,          // connection failure, reset, stalled transfer
  kTimeout,          // an operation took longer than its deadline
  kThrottled,        // 429 / SlowDown / 503
  kServer,           // a 5xx from a remote store
  kCancelled,        // Ctrl-C / SIGTERM / explicit cancellation
  kInternal,         // a bug: an invariant did not hold
};

std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message, bool retryable = false)
      : code_(code), message_(std::move(message)), retryable_(retryable) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return retryable_; }

  // "what we were doing: root cause". Keeps the code and retryability.
  Error Wrap(std::string_view context) const;

  // One mapping to errno for the FUSE adapter and for exit codes.
  int to_errno() const;

  std::string ToString() const { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
  bool retryable_;
};

// A value or an Error. [[nodiscard]]: a dropped Result is a dropped error,
// and the build treats it as one (-Werror=unused-result). Where ignoring a
// result is right, cast it to void with the reason beside it. It is a
// tl::expected<T, Error> in every other way, and converts from one.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  Result() = default;
  Result(const Base& e) : Base(e) {}
  Result(Base&& e) : Base(std::move(e)) {}
};
using Status = Result<void>;

inline Status OkStatus() { return {}; }

// Construct an unexpected value: `return Fail(ErrorCode::kNotFound, "ref " + name);`
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message, bool retryable = false) {
  return tl::unexpected<Error>(Error(code, std::move(message), retryable));
}
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

// Error from errno with the operation and path: "open /x/y: No such file or directory".
Error ErrnoError(int err, std::string_view what);

}  // namespace hugeblob

// Propagate an error: HB_TRY(store.Put(key, buf));
#define HB_TRY(expr)                                              \
  do {                                                            \
    auto hb_try_result_ = (expr);                                 \
    if (!hb_try_result_) {                                        \
      return ::tl::unexpected(std::move(hb_try_result_).error()); \
    }                                                             \
  } while (0)

#define HB_CONCAT_INNER_(a, b) a##b
#define HB_CONCAT_(a, b) HB_CONCAT_INNER_(a, b)

// HB_ASSIGN_OR_RETURN(auto buf, store.Get(key));
#define HB_ASSIGN_OR_RETURN(lhs, expr) \
  HB_ASSIGN_OR_RETURN_IMPL_(HB_CONCAT_(hb_result_, __LINE__), lhs, expr)
// `tmp` names a variable and `lhs` may be a declaration ("auto x"):
// neither can be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define HB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)            \
  auto tmp = (expr);                                         \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)
