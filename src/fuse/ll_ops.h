// The libfuse3 low-level callbacks: each decodes a request, makes one BlobFs
// call and replies with data or one errno (Error::to_errno). Nothing throws
// out of a callback: exceptions are caught at this edge and become EIO.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_set>

#include "fuse/filesystem.h"
#include "fuse/read_deadline.h"

namespace hugeblob::fuse {

// Kernel cache lifetimes. An inode's content and attributes never change
// (a name put again gets a new inode, tree.h), so file attributes can be
// cached long; names and directories change, so their entries expire soon
// enough that a new name shows up within a few seconds.
struct CacheTimes {
  double file_attr_s = 3600;
  double dir_attr_s = 1;
  double entry_s = 1;
  double negative_s = 1;  // a missing name, cached so probes (sqlite's -journal) stay cheap
};

// Rate-limits error lines so a broken store cannot flood the log: at most
// `burst` lines per window, then one line saying how many were dropped.
class LogLimiter {
 public:
  bool Allow();
  uint64_t TakeSuppressed() { return suppressed_.exchange(0); }

 private:
  static constexpr int kBurst = 20;
  static constexpr std::chrono::seconds kWindow{10};
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_start_;  // guarded by mu_
  int in_window_ = 0;                                   // guarded by mu_
  std::atomic<uint64_t> suppressed_{0};
};

// The userdata of the session: what every callback reaches through
// fuse_req_userdata. Outlives the session.
struct OpsContext {
  BlobFs* fs = nullptr;
  CacheTimes times;
  LogLimiter read_errors;
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> read_bytes{0};
  ReadDeadlines* deadlines = nullptr;  // null: reads wait as long as the store takes
  // The file handles the kernel holds (fi->fh of each open file; its
  // release frees it). A daemon stopped while programs still hold files
  // open (Ctrl-C) gets no release for them: CloseOpenFiles frees those.
  std::mutex open_mu;
  std::unordered_set<uint64_t> open_files;  // guarded by open_mu
};

const fuse_lowlevel_ops& LowLevelOps();

// Frees the handles of files still open once the session is over (its
// loop has returned: no callback runs any more).
void CloseOpenFiles(OpsContext& c);

}  // namespace hugeblob::fuse
