#include "cli/mount_command.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "fuse/mount.h"
#include "util/cancel.h"
#include "util/units.h"

namespace hugeblob::cli {
namespace {

struct MountArgs {
  std::string mountpoint;
  bool foreground = false;
  bool allow_other = false;
  unsigned threads = 16;
  double refresh_s = 2;
  std::string read_timeout = "60s";
  CacheOptions cache;
};

int RunMountCommand(const GlobalOptions& g, const MountArgs& a) {
  MountOptions o;
  o.mountpoint = a.mountpoint;
  o.foreground = a.foreground;
  o.allow_other = a.allow_other;
  o.max_threads = a.threads == 0 ? 1 : a.threads;
  o.refresh_interval = std::chrono::milliseconds(static_cast<int64_t>(a.refresh_s * 1000));
  auto read_timeout = ParseDurationSeconds(a.read_timeout);
  if (!read_timeout) {
    std::fprintf(stderr, "hugeblob: --read-timeout: %s\n", read_timeout.error().message().c_str());
    return 2;
  }
  o.read_timeout = std::chrono::seconds(static_cast<int64_t>(*read_timeout));
  // The daemon's log goes to stderr (foreground) or syslog (detached), never
  // to stdout, which scripts capture.
  auto logger = spdlog::stderr_logger_mt("hugeblob-mount-stderr");
  logger->set_pattern("hugeblob: %l: %v");
  logger->set_level(spdlog::get_level());
  spdlog::set_default_logger(logger);
  auto store = g.OpenStore();
  if (!store) {
    std::fprintf(stderr, "hugeblob: %s\n", store.error().message().c_str());
    return 1;
  }
  o.store = *store;
  // The disk cache is on for every store: in front of a local one it holds
  // decoded chunks that random readers come back to (a 4 KiB read is then one
  // pread, not a whole chunk read, decoded and hashed), admitted on their
  // second load so that a sequential pass writes nothing.
  auto reader = a.cache.ToReaderOptions(/*disk_default=*/true, IsLocalStore(**store));
  if (!reader) {
    std::fprintf(stderr, "hugeblob: %s\n", reader.error().message().c_str());
    return 2;
  }
  o.reader = *reader;
  // The disk cache keeps up to a quarter of the fd limit open (one fd per
  // hot entry): let the daemon use what it is allowed, up to 64Ki.
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  // SIGINT/SIGTERM set this token (the CLI's handlers); the mount then
  // unmounts cleanly and exits 0: a signal is how a foreground mount stops.
  o.cancel = &ProcessCancelToken();
  Status s = RunMount(o);
  if (!s) {
    std::fprintf(stderr, "hugeblob: %s\n", s.error().message().c_str());
    return s.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace

void AddMountCommand(CLI::App& app, GlobalOptions& g, std::function<int()>& run) {
  // Held for the life of the program, like the other commands' arguments.
  static MountArgs args;
  auto* cmd =
      app.add_subcommand("mount", "Mount the store read-only (FUSE); unmount with fusermount3 -u");
  cmd->add_option("mountpoint", args.mountpoint, "An existing directory")->required();
  cmd->add_flag("-f,--foreground", args.foreground, "Stay in the foreground (Ctrl-C unmounts)");
  cmd->add_flag(
      "--allow-other", args.allow_other,
      "Let other users read the mount (non-root needs user_allow_other in /etc/fuse.conf)");
  cmd->add_option("--threads", args.threads, "FUSE worker threads (default 16)");
  cmd->add_option("--refresh", args.refresh_s,
                  "Seconds between re-listings of the names (default 2)");
  cmd->add_option("--read-timeout", args.read_timeout,
                  "A read the store has not answered after this long fails with EIO "
                  "(e.g. 30s, 5m; 0 = wait forever)")
      ->capture_default_str();
  args.cache.Add(cmd, "on for every store");
  cmd->callback([&g, &run] { run = [&g] { return RunMountCommand(g, args); }; });
}

}  // namespace hugeblob::cli
