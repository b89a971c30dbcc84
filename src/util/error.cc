#include "hugeblob/error.h"

#include <cerrno>
#include <cstring>

namespace hugeblob {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kIOError:
      return "I/O error";
    case ErrorCode::kNoSpace:
      return "no space";
    case ErrorCode::kPermission:
      return "permission denied";
    case ErrorCode::kNetwork:
      return "network error";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kThrottled:
      return "throttled";
    case ErrorCode::kServer:
      return "server error";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown error";
}

Error Error::Wrap(std::string_view context) const {
  std::string m(context);
  m += ": ";
  m += message_;
  return Error(code_, std::move(m), retryable_);
}

int Error::to_errno() const {
  switch (code_) {
    case ErrorCode::kNotFound:
      return ENOENT;
    case ErrorCode::kAlreadyExists:
      return EEXIST;
    case ErrorCode::kInvalidArgument:
      return EINVAL;
    case ErrorCode::kUnsupported:
      return ENOTSUP;
    case ErrorCode::kNoSpace:
      return ENOSPC;
    case ErrorCode::kPermission:
      return EACCES;
    case ErrorCode::kTimeout:
      return ETIMEDOUT;
    case ErrorCode::kCancelled:
      return EINTR;
    case ErrorCode::kCorruption:
    case ErrorCode::kIOError:
    case ErrorCode::kNetwork:
    case ErrorCode::kThrottled:
    case ErrorCode::kServer:
    case ErrorCode::kInternal:
      return EIO;
  }
  return EIO;
}

Error ErrnoError(int err, std::string_view what) {
  ErrorCode code = ErrorCode::kIOError;
  switch (err) {
    case ENOENT:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
      code = ErrorCode::kPermission;
      break;
    case ENOSPC:
    case EDQUOT:
      code = ErrorCode::kNoSpace;
      break;
    case EINVAL:
      code = ErrorCode::kInvalidArgument;
      break;
    case EINTR:
      code = ErrorCode::kCancelled;
      break;
    default:
      break;
  }
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Error(code, std::move(m), err == EAGAIN || err == EINTR);
}

}  // namespace hugeblob
