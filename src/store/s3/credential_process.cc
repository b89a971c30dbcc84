// credential_process: a profile names a program that prints credentials as
// JSON. Run with posix_spawn (safe in a threaded process, unlike fork) under
// /bin/sh -c, as the Go and Java SDKs do, so quoting works as in a shell.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "store/s3/aws_util.h"
#include "store/s3/credential_sources.h"

extern char** environ;

namespace hugeblob::s3 {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;  // a credentials document is < 2 KiB
constexpr int kTimeoutS = 60;             // the Go SDK's default

}  // namespace

Result<TimedCredentials> RunCredentialProcess(const std::string& command,
                                              const std::string& where) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(ErrnoError(errno, where + ": pipe"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears O_CLOEXEC on the child's stdout; the other ends close on exec.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // We ignore SIGPIPE; the child should not inherit that.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Fail(ErrnoError(rc, where + ": cannot run the command"));
  }

  std::string out;
  bool too_long = false, timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutS);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // timeout: the loop head notices
    char buf[4096];
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF (or an error: the exit status tells)
    if (out.size() + static_cast<size_t>(got) > kMaxOutput) {
      too_long = true;
      break;
    }
    out.append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out || too_long) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Fail(ErrorCode::kTimeout,
                where + ": the command did not finish within " + std::to_string(kTimeoutS) + " s");
  }
  if (too_long) return Fail(ErrorCode::kCorruption, where + ": the command printed over 64 KiB");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Its output is not shown: it may hold half a secret.
    return Fail(ErrorCode::kPermission,
                where + ": the command failed (" +
                    (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                       : "killed by signal " + std::to_string(WTERMSIG(status))) +
                    ")");
  }
  auto doc = ParseJsonObject(out);
  if (!doc) return Fail(doc.error().Wrap(where + ": output"));
  if ((*doc)["Version"] != "1") {
    return Fail(ErrorCode::kUnsupported,
                where + ": output has Version '" + (*doc)["Version"] + "', expected 1");
  }
  return CredentialsFromJson(out, where, "AccessKeyId", "SecretAccessKey", "SessionToken",
                             "Expiration");
}

}  // namespace hugeblob::s3
