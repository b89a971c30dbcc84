// `hugeblob mount`: serves a store as a read-only FUSE file system (libfuse3
// low-level API, multi-threaded) until it is unmounted (fusermount3 -u),
// signalled (SIGINT/SIGTERM), or `cancel` is set. See docs/fuse.md.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hugeblob/error.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"

namespace hugeblob {

class CancelToken;

struct MountOptions {
  std::string store_url;  // used when `store` is null ("" = default store)
  std::shared_ptr<ObjectStore> store;
  std::string mountpoint;
  bool foreground = false;   // false: detach (fork) once the mount is up
  bool allow_other = false;  // let other users read (needs user_allow_other)
  ReaderOptions reader;      // chunk caches shared by every open file
  std::chrono::milliseconds refresh_interval{2000};  // how often names are re-listed
  unsigned max_threads = 16;                         // FUSE worker threads
  // A read not answered by then fails with EIO (see read_deadline.h); 0 = none.
  std::chrono::milliseconds read_timeout{60000};
  const CancelToken* cancel = nullptr;  // polled; set -> unmount and return
};

// Checks the mountpoint and the store, mounts, detaches unless foreground
// (errors so far are returned to the caller before it detaches), then serves
// requests until unmounted. Returns OK after a clean unmount, including one
// caused by a signal or `cancel`. A mountpoint left by a crashed mount
// (ENOTCONN) is reported with the command that clears it.
Status RunMount(const MountOptions& options);

}  // namespace hugeblob
