#include "util/xattrs.h"

#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

namespace hugeblob {
namespace {

bool NotSupported(int err) { return err == ENOTSUP || err == ENOSYS; }

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ReadXattrs(
    int fd, const std::string& path, std::vector<std::string>* skipped) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string names;
  for (int attempt = 0;; ++attempt) {
    const ssize_t need = ::flistxattr(fd, nullptr, 0);
    if (need < 0) {
      if (NotSupported(errno)) return out;
      return Fail(ErrnoError(errno, "list extended attributes of " + path));
    }
    names.resize(static_cast<size_t>(need));
    const ssize_t got = need == 0 ? 0 : ::flistxattr(fd, names.data(), names.size());
    if (got >= 0) {
      names.resize(static_cast<size_t>(got));
      break;
    }
    if (errno != ERANGE || attempt >= 8) {
      return Fail(ErrnoError(errno, "list extended attributes of " + path));
    }
  }
  for (size_t pos = 0; pos < names.size();) {
    const size_t end = names.find('\0', pos);
    const std::string name = names.substr(pos, end == std::string::npos ? end : end - pos);
    pos = end == std::string::npos ? names.size() : end + 1;
    if (name.empty()) continue;
    std::string value;
    bool read = false;
    for (int attempt = 0; attempt < 8 && !read; ++attempt) {
      const ssize_t need = ::fgetxattr(fd, name.c_str(), nullptr, 0);
      if (need < 0) break;
      value.resize(static_cast<size_t>(need));
      const ssize_t got = need == 0 ? 0 : ::fgetxattr(fd, name.c_str(), value.data(), value.size());
      if (got >= 0) {
        value.resize(static_cast<size_t>(got));
        read = true;
      } else if (errno != ERANGE) {
        break;
      }
    }
    if (!read) {
      if (errno == ENODATA) continue;  // removed since it was listed
      if (errno == EACCES || errno == EPERM) {
        if (skipped != nullptr) skipped->push_back(name);
        continue;
      }
      return Fail(ErrnoError(errno, "read extended attribute " + name + " of " + path));
    }
    out.emplace_back(name, std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

int WriteXattr(int fd, const std::string& name, const std::string& value) {
  return ::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) == 0 ? 0 : errno;
}

int RemoveXattr(int fd, const std::string& name) {
  return ::fremovexattr(fd, name.c_str()) == 0 ? 0 : errno;
}

}  // namespace hugeblob
