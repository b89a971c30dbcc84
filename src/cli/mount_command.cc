#include "cli/mount_command.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "cli/mount_progress.h"
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
  bool keep_all = false;
  CacheOptions cache;
};

// Whether `path` is already a mount point (in /proc/self/mountinfo, whose
// fifth field is the mount point with spaces and such written as \ooo).
// Read from the table rather than by stat, which could hang on a dead FUSE
// mount.
bool IsMountPoint(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return false;
  const std::string target = real;
  std::free(real);
  std::FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (f == nullptr) return false;
  bool found = false;
  char* line = nullptr;
  size_t cap = 0;
  while (!found && ::getline(&line, &cap, f) > 0) {
    std::string_view rest = line;
    for (int field = 0; field < 4; ++field) {
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    std::string_view escaped = rest.substr(0, rest.find(' '));
    std::string point;
    for (size_t i = 0; i < escaped.size(); ++i) {
      auto octal = [&](size_t k) { return escaped[k] >= '0' && escaped[k] <= '7'; };
      if (escaped[i] == '\\' && i + 3 < escaped.size() && octal(i + 1) && octal(i + 2) &&
          octal(i + 3)) {
        point += static_cast<char>((escaped[i + 1] - '0') * 64 + (escaped[i + 2] - '0') * 8 +
                                   (escaped[i + 3] - '0'));
        i += 3;
      } else {
        point += escaped[i];
      }
    }
    found = point == target;
  }
  std::free(line);
  std::fclose(f);
  return found;
}

int RunMountCommand(const GlobalOptions& g, const MountArgs& a) {
  MountOptions o;
  o.mountpoint = a.mountpoint;
  o.foreground = a.foreground;
  o.allow_other = a.allow_other;
  if (a.threads == 0 || a.threads > 256) {
    return UsageError("--threads " + std::to_string(a.threads) + ": must be 1 to 256");
  }
  o.max_threads = a.threads;
  // A day is far more than any refresh needs; NaN, negatives and 0 mean
  // nothing sensible.
  if (!std::isfinite(a.refresh_s) || a.refresh_s < 0.1 || a.refresh_s > 86400) {
    return UsageError(fmt::format("--refresh {}: seconds from 0.1 to 86400", a.refresh_s));
  }
  o.refresh_interval = std::chrono::milliseconds(static_cast<int64_t>(a.refresh_s * 1000));
  auto read_timeout = ParseDurationSeconds(a.read_timeout);
  if (!read_timeout) return UsageError("--read-timeout: " + read_timeout.error().message());
  // A live mount is refused here (mounting again would stack a second one);
  // a stale one (its daemon died: ENOTCONN) is left to RunMount, which
  // names the command that clears it.
  // (stat of a dead mount's root may be answered from the attribute cache;
  // a lookup inside it reaches the missing daemon.)
  struct stat st {};
  const std::string probe = a.mountpoint + "/.hugeblob-probe-" + std::to_string(::getpid());
  const bool stale = (::stat(a.mountpoint.c_str(), &st) != 0 && errno == ENOTCONN) ||
                     (::access(probe.c_str(), F_OK) != 0 && errno == ENOTCONN);
  if (!stale && IsMountPoint(a.mountpoint)) {
    return ReportError(
        Error(ErrorCode::kAlreadyExists, a.mountpoint +
                                             " is already a mount point (unmount it first: "
                                             "fusermount3 -u " +
                                             a.mountpoint + ")"));
  }
  o.read_timeout = std::chrono::seconds(static_cast<int64_t>(*read_timeout));
  // The same deadline on the store's own reads (a local store on a dead
  // network mount): the worker thread gets its error and is free again,
  // instead of staying stuck after the request was answered with EIO.
  ::setenv("HUGEBLOB_READ_TIMEOUT", a.read_timeout.c_str(), 1);
  // The daemon's log goes to stderr (foreground) or syslog (detached), never
  // to stdout, which scripts capture.
  auto logger = spdlog::stderr_logger_mt("hugeblob-mount-stderr");
  logger->set_pattern("hugeblob: %l: %v");
  logger->set_level(spdlog::get_level());
  spdlog::set_default_logger(logger);
  auto store = g.OpenStore();
  if (!store) return ReportError(store.error());
  // Counts what the mount fetches from the store (chunk data its caches did
  // not have): shown while it runs in the foreground, summed up at unmount.
  auto counting = std::make_shared<FetchCountingStore>(*store);
  o.store = counting;
  // The disk cache is on for every store: in front of a local one it holds
  // decoded chunks that random readers come back to (a 4 KiB read is then one
  // pread, not a whole chunk read, decoded and hashed), admitted on their
  // second load so that a sequential pass writes nothing.
  auto reader = a.cache.ToReaderOptions(/*disk_default=*/true, IsLocalStore(**store));
  if (!reader) return UsageError(reader.error().message());
  o.reader = *reader;
  if (a.keep_all && !a.cache.no_disk_cache) {
    o.reader.disk_cache = true;
    o.reader.disk_cache_admission = DiskCacheAdmission::kAlways;
  }
  // The disk cache keeps up to a quarter of the fd limit open (one fd per
  // hot entry): let the daemon use what it is allowed, up to 64Ki.
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  // SIGINT/SIGTERM set this token (the CLI's handlers); the mount then
  // unmounts cleanly and exits 0: a signal is how a foreground mount stops.
  o.cancel = &ProcessCancelToken();
  // A detached mount has no terminal: no progress, no summary.
  MountProgress progress(counting, a.mountpoint, a.foreground ? g.Progress() : ProgressMode::kOff);
  progress.Start();
  Status s = RunMount(o);
  progress.Stop();
  if (!s) return ReportError(s.error());
  if (a.foreground) g.Summary(progress.Summary());
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
  cmd->add_flag("--cache", args.keep_all,
                "Keep every chunk read in the disk cache, for a local store too (by default a "
                "local store's chunk is kept on its second read). The cache survives restarts "
                "and is shared with every mount, cat and get --cache using the same directory; "
                "processes sharing it fetch each chunk once");
  args.cache.Add(cmd, "on for every store");
  cmd->callback([&g, &run] { run = [&g] { return RunMountCommand(g, args); }; });
}

}  // namespace hugeblob::cli
