// RunMount: checks, mount, detach, serve, unmount. The order matters:
// everything that can fail for a reason the user should see (mountpoint,
// store, mount itself) happens before fuse_daemonize forks, and nothing that
// starts a thread (the reader context, the stop watcher) happens before it,
// because a forked child keeps only the forking thread.
#include "fuse/mount.h"

#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fuse/filesystem.h"
#include "fuse/ll_ops.h"  // libfuse, with FUSE_USE_VERSION set
#include "reader/disk_cache.h"
#include "store/local_store.h"
#include "util/cancel.h"

namespace hugeblob {
namespace {

using fuse::BlobFs;

// libfuse's own messages (mount failures, protocol errors) go to our log,
// which is syslog once detached.
void FuseLog(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string msg(buf);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (level <= FUSE_LOG_ERR) {
    spdlog::error("fuse: {}", msg);
  } else if (level <= FUSE_LOG_NOTICE) {
    spdlog::warn("fuse: {}", msg);
  } else {
    spdlog::debug("fuse: {}", msg);
  }
}

Error StaleError(const std::string& path) {
  return Error(ErrorCode::kIOError, "mountpoint " + path +
                                        " is stale (a previous hugeblob mount crashed): run "
                                        "fusermount3 -u " +
                                        path);
}

Result<std::string> CheckMountpoint(const std::string& path) {
  if (path.empty()) return Fail(ErrorCode::kInvalidArgument, "mount: no mountpoint given");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOTCONN) return Fail(StaleError(path));
    return Fail(ErrnoError(err, "mountpoint " + path));
  }
  // The kernel may answer stat of a dead FUSE mount's root from its
  // attribute cache; a lookup inside it always reaches the (missing)
  // daemon, and fails with ENOTCONN.
  std::string probe = path + "/.hugeblob-probe-" + std::to_string(::getpid());
  if (::access(probe.c_str(), F_OK) != 0 && errno == ENOTCONN) return Fail(StaleError(path));
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, "mountpoint " + path + " is not a directory");
  }
  // Absolute: fuse_daemonize changes to "/", and the stop watcher needs it.
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr)
    return Fail(ErrnoError(errno, "mountpoint " + path));
  return std::string(resolved);
}

// The device number ("major:minor") of the file system mounted last at
// `mountpoint`, from /proc/self/mountinfo. Not from stat(mountpoint): that
// is a request to this very daemon, and a daemon killed (kill -9) while
// one of its threads waits for such an answer never ends; its zombie holds
// the mount until the connection is aborted (fuse_mount.sh's crash test
// hung that way under ASan, whose slower start left the stat in flight).
std::string MountedDevice(const std::string& mountpoint) {
  // mountinfo escapes space, tab, newline and backslash as \ooo.
  std::string escaped;
  for (char c : mountpoint) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char oct[5];
      std::snprintf(oct, sizeof oct, "\\%03o", static_cast<unsigned char>(c));
      escaped += oct;
    } else {
      escaped += c;
    }
  }
  std::ifstream in("/proc/self/mountinfo");
  std::string line, device;
  while (std::getline(in, line)) {
    // "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ..."
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (fields >> id >> parent >> dev >> root >> point && point == escaped) device = dev;
  }
  return device;
}

// A FUSE file system gets the kernel's default read-ahead (128 KiB), far
// below the chunk size; raise its bdi's so buffered sequential reads arrive
// as full 1 MiB requests (max_read), several at a time: kKernelReadaheadKb
// of read-ahead keeps up to 8 requests in flight on as many worker threads,
// so copying the replies into the page cache runs on every core while the
// reader's own read-ahead fetches further on. Best effort: needs root and
// sysfs.
constexpr int kKernelReadaheadKb = 8192;
void RaiseReadahead(const std::string& mountpoint) {
  const std::string device = MountedDevice(mountpoint);
  if (device.empty()) return;
  const std::string path = "/sys/class/bdi/" + device + "/read_ahead_kb";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return;
  std::fputs(std::to_string(kKernelReadaheadKb).c_str(), f);
  if (std::fclose(f) != 0) spdlog::debug("mount: cannot raise read-ahead in {}", path);
}

// A directory the daemon itself reads (a local store, the disk cache) must
// not be the mountpoint or under it: the mount hides it, and each of its
// reads would be a request to this very daemon.
Status CheckOutsideMount(const std::string& mountpoint, const std::string& path,
                         const std::string& what) {
  if (path.empty()) return OkStatus();
  // Resolved through its nearest existing ancestor: a cache directory may
  // not exist yet.
  std::error_code ec;
  const std::string resolved =
      std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec).string();
  if (ec || resolved.empty()) return OkStatus();
  if (resolved == mountpoint || mountpoint == "/" || resolved.rfind(mountpoint + "/", 0) == 0) {
    return Fail(ErrorCode::kInvalidArgument, "mount: " + what + " " + path +
                                                 " is inside the mountpoint " + mountpoint +
                                                 ": the mount would hide it; mount elsewhere");
  }
  return OkStatus();
}

// Owns the libfuse session, so every exit path unmounts and frees it.
class Session {
 public:
  ~Session() {
    if (se_ == nullptr) return;
    if (signals_) fuse_remove_signal_handlers(se_);
    if (mounted_) fuse_session_unmount(se_);
    fuse_session_destroy(se_);
  }
  fuse_session* se_ = nullptr;
  bool mounted_ = false;
  bool signals_ = false;
};

}  // namespace

Status RunMount(const MountOptions& options) {
  HB_ASSIGN_OR_RETURN(const std::string mountpoint, CheckMountpoint(options.mountpoint));
  std::shared_ptr<ObjectStore> store = options.store;
  if (store == nullptr) {
    HB_ASSIGN_OR_RETURN(store, OpenStore(options.store_url));
  }
  if (IsLocalStore(*store)) {
    HB_TRY(CheckOutsideMount(mountpoint, store->url().substr(std::strlen("file://")), "the store"));
  }
  if (options.reader.disk_cache) {
    HB_TRY(CheckOutsideMount(mountpoint,
                             options.reader.disk_cache_dir.empty() ? DiskCache::DefaultDir()
                                                                   : options.reader.disk_cache_dir,
                             "the disk cache"));
  }
  fuse::FsOptions fs_options;
  fs_options.refresh_interval = options.refresh_interval;
  fs_options.uid = ::getuid();
  fs_options.gid = ::getgid();
  // Lists the store: an unreachable store fails here, before mounting.
  auto fs_or = BlobFs::Create(store, fs_options);
  if (!fs_or) return Fail(fs_or.error().Wrap("mount: cannot list " + store->url()));
  std::unique_ptr<BlobFs> fs = std::move(*fs_or);

  fuse_set_log_func(FuseLog);
  fuse::OpsContext ctx;
  ctx.fs = fs.get();

  // fsname shows in mount(8) and df; commas would split the option string.
  std::string fsname = store->url();
  for (char& c : fsname) {
    if (c == ',' || c == '\\') c = '_';
  }
  std::string opts = "ro,default_permissions,subtype=hugeblob,max_read=1048576,fsname=" + fsname;
  if (options.allow_other) opts += ",allow_other";
  std::vector<std::string> arg_strings = {"hugeblob", "-o", opts};
  std::vector<char*> argv;
  for (std::string& s : arg_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  Session session;
  session.se_ = fuse_session_new(&args, &fuse::LowLevelOps(), sizeof(fuse_lowlevel_ops), &ctx);
  // fuse_session_new may copy our arguments into storage it allocates.
  fuse_opt_free_args(&args);
  if (session.se_ == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "mount: libfuse rejected the mount options: " + opts);
  }
  if (fuse_session_mount(session.se_, mountpoint.c_str()) != 0) {
    return Fail(
        ErrorCode::kIOError,
        "mount: cannot mount on " + mountpoint +
            " (see the fuse: message above; is /dev/fuse there and fusermount3 installed?)");
  }
  session.mounted_ = true;

  if (!options.foreground) {
    // From here on stderr is /dev/null: log to syslog instead.
    if (fuse_daemonize(0) != 0) return Fail(ErrorCode::kIOError, "mount: cannot detach");
    try {
      auto logger = spdlog::syslog_logger_mt("hugeblob-mount", "hugeblob", LOG_PID, LOG_DAEMON);
      logger->set_pattern("%l: %v");  // syslog adds the time and pid
      logger->set_level(spdlog::get_level());
      spdlog::set_default_logger(logger);
    } catch (const std::exception&) {
      // No syslog: keep the default logger (messages are lost, not fatal).
    }
  }

  // After the fork: these own threads.
  auto reader_ctx = ReaderContext::Create(options.reader);
  if (!reader_ctx) {
    spdlog::error("mount: {}", reader_ctx.error().message());
    return Fail(reader_ctx.error().Wrap("mount"));
  }
  fs->SetReaderContext(*reader_ctx);

  // Answers a read the store has not answered in time; the stuck call is
  // left to finish (or not) on its own thread. Created after the fork: it
  // owns a thread.
  std::unique_ptr<fuse::ReadDeadlines> deadlines;
  if (options.read_timeout.count() > 0) {
    deadlines = std::make_unique<fuse::ReadDeadlines>(
        options.read_timeout, [](const fuse::ReadDeadlines::Pending& p) {
          spdlog::error(
              "mount: read {} bytes at {} of '{}': the store has not answered in {:.1f} s; "
              "failing the read with EIO (--read-timeout)",
              p.size, p.offset, p.name != nullptr ? *p.name : std::string("?"),
              static_cast<double>(p.waited.count()) / 1000.0);
          fuse_reply_err(static_cast<fuse_req_t>(p.req), EIO);
        });
    ctx.deadlines = deadlines.get();
  }

  // libfuse installs its SIGINT/SIGTERM/SIGHUP handlers only where none is
  // set; the CLI sets its own, which set `cancel`, handled by the watcher.
  if (fuse_set_signal_handlers(session.se_) == 0) session.signals_ = true;

  std::atomic<bool> done{false};
  std::thread watcher([&] {
    bool raised = false;
    while (!done.load()) {
      // Unmounted (fusermount3 -u): the loop joins its workers before it
      // returns, and a worker may wait for a store read stuck in the kernel
      // (a store on a dead network mount, no deadline). Cancelling lets the
      // local store's wait (which polls the process token) give up
      // (util/deadline.h), so the loop ends.
      if (fuse_session_exited(session.se_)) ProcessCancelToken().Cancel();
      if (!raised && options.cancel != nullptr && options.cancel->cancelled()) {
        fuse_session_exit(session.se_);
        // The worker threads sleep in read(/dev/fuse) until a request
        // comes: send one (a name that never exists, never cached) so one
        // wakes, sees the exit flag and ends the loop.
        raised = true;
        std::string probe = mountpoint + "/.hugeblob-stop-" + std::to_string(::getpid());
        struct stat st;
        (void)::stat(probe.c_str(), &st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::thread readahead([&] { RaiseReadahead(mountpoint); });

  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 1);  // one fd per worker: no contention on one queue
  fuse_loop_cfg_set_max_threads(cfg, options.max_threads);
  // Keep workers alive between bursts (their 1 MiB read buffers with them).
  fuse_loop_cfg_set_idle_threads(cfg, options.max_threads);
  spdlog::info("mount: serving {} on {} ({} names)", store->url(), mountpoint, fs->tree()->files());
  int rc = fuse_session_loop_mt(session.se_, cfg);
  fuse_loop_cfg_destroy(cfg);

  // Unmount before joining: a helper blocked on the mountpoint returns then.
  if (session.signals_) fuse_remove_signal_handlers(session.se_);
  session.signals_ = false;
  fuse_session_unmount(session.se_);
  session.mounted_ = false;
  done.store(true);
  watcher.join();
  readahead.join();
  fuse::CloseOpenFiles(ctx);  // files programs still held when the daemon stopped
  spdlog::info("mount: {} unmounted ({} reads, {} bytes)", mountpoint, ctx.reads.load(),
               ctx.read_bytes.load());
  // rc > 0 is the signal that ended the loop: a normal way to stop.
  if (rc < 0) return Fail(ErrnoError(-rc, "mount: serving " + mountpoint));
  return OkStatus();
}

}  // namespace hugeblob
