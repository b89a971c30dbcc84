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

// Set by get on a file it restored: the id (hex) of the manifest whose
// bytes it wrote. A hint for a later get that takes the file as a seed
// (--in-place, a seed of a new file): the chunks that version lacks can be
// fetched at once, while the file is still being checked. Never trusted:
// every chunk taken from the file is checked against its id, and a wrong
// hint costs at most a fetch. It describes this copy, not the file's
// content: ReadXattrs leaves it out, so put --xattrs does not record it.
inline constexpr char kRestoredFromXattr[] = "user.hugeblob.manifest";

// The value of kRestoredFromXattr on `path` (not followed if a symlink),
// if it has one of at most 64 bytes; empty otherwise (none, unreadable, or
// a file system without extended attributes).
std::string ReadRestoredFrom(const std::string& path);

// Every extended attribute of `fd` that this process may read, as (name,
// value), sorted by name, but for kRestoredFromXattr. A file system without extended attributes gives
// an empty list. Attributes the kernel lists but refuses to read (EACCES,
// EPERM: trusted.* for a user) are left out and named in *skipped.
Result<std::vector<std::pair<std::string, std::string>>> ReadXattrs(
    int fd, const std::string& path, std::vector<std::string>* skipped);

// Sets one attribute on `fd`; the errno of fsetxattr, 0 on success.
int WriteXattr(int fd, const std::string& name, const std::string& value);
// Removes one attribute from `fd`; the errno of fremovexattr (ENODATA: it
// had none), 0 on success.
int RemoveXattr(int fd, const std::string& name);

}  // namespace hugeblob
