// Extended attributes of an open file (Linux *xattr(2)), for put --xattrs
// and get --xattrs. Every error names the path; EINTR is not a concern
// (the calls do not block), and a list that changes between the two calls
// the kernel needs (size, then contents) is read again.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hugeblob/error.h"

namespace hugeblob {

// Every extended attribute of `fd` that this process may read, as (name,
// value), sorted by name. A file system without extended attributes gives
// an empty list. Attributes the kernel lists but refuses to read (EACCES,
// EPERM: trusted.* for a user) are left out and named in *skipped.
Result<std::vector<std::pair<std::string, std::string>>> ReadXattrs(
    int fd, const std::string& path, std::vector<std::string>* skipped);

// Sets one attribute on `fd`; the errno of fsetxattr, 0 on success.
int WriteXattr(int fd, const std::string& name, const std::string& value);
// Removes one attribute from `fd`; the errno of fremovexattr, 0 on success
// (ENODATA: it was not there).
int RemoveXattr(int fd, const std::string& name);

}  // namespace hugeblob
