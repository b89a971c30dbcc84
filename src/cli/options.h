// Options shared by the command implementations in src/cli/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/progress.h"
#include "hugeblob/error.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"
#include "store/local_store.h"

namespace CLI {
class App;
}

namespace hugeblob::cli {

struct GlobalOptions {
  std::string store;           // URL; empty: the default store
  std::string endpoint;        // S3 endpoint override (AWS_ENDPOINT_URL_S3)
  std::string sse;             // S3 server-side encryption: AES256 | aws:kms | aws:kms:dsse
  std::string sse_kms_key_id;  // KMS key for aws:kms / aws:kms:dsse
  std::string read_timeout;    // local store read deadline (HUGEBLOB_READ_TIMEOUT)
  bool json = false;
  bool quiet = false;
  bool verbose = false;
  std::string progress = "auto";  // auto | json | none

  // Only put, init and copy (destination) may create a store; every other
  // command opens it with kExisting and says "no store at ..." otherwise.
  Result<std::shared_ptr<ObjectStore>> OpenStore(
      StoreOpenMode mode = StoreOpenMode::kExisting) const;
  // How to show progress on stderr: --progress json asks for JSON lines;
  // by default (auto) a bar when stderr is a terminal and neither --quiet
  // nor --json is given; --progress none never.
  ProgressMode Progress() const;
  // Human summaries on stdout: --verbose, or stdout is a TTY and not --quiet.
  bool Chatty() const;
  // A command's one-line human summary (`line` ends with a newline): on
  // stdout when Chatty(); otherwise on stderr unless --quiet or --json, so
  // a script that captures stdout still sees in its log what happened.
  void Summary(const std::string& line) const;
};

struct CacheOptions {
  std::string cache_dir;
  std::string cache_size;
  std::string memory_cache;
  bool no_disk_cache = false;

  // `disk_default` says, for --help, when the command uses the disk cache
  // without --cache-dir or --no-disk-cache; `memory_default` is the memory
  // cache the command uses without --memory-cache.
  void Add(CLI::App* cmd, const std::string& disk_default,
           const std::string& memory_default = "64M; 128M for S3 stores");
  // disk_default: the disk cache is on unless --no-disk-cache (--cache-dir
  // turns it on). local_store: the store is cheap to read (file://), so a
  // chunk is admitted to the disk cache on its second load, not its first;
  // otherwise (S3) reads get more in flight: a 128 MiB memory cache, read-ahead
  // up to 64 MiB and 8 fetch threads unless --memory-cache says otherwise.
  Result<ReaderOptions> ToReaderOptions(bool disk_default, bool local_store) const;
};

// IsLocalStore: store/local_store.h.

// Parses a size option value; the error names the option.
Result<uint64_t> SizeArg(const std::string& text, const char* option);

// Exit statuses (README "exit codes"): 0 success; 1 any failure the command
// ran into; 2 bad usage (options, arguments, names), detected by the CLI
// before any work; 3 verify found damage; 128+N killed by signal N.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitDamage = 3;

// With --json, errors go to stderr as one JSON object
// {"error":{"code":"not found","message":"..."}}; otherwise as
// "hugeblob: message". Set once, after parsing.
void SetJsonErrors(bool json);
// Prints `e` and returns its exit status: 1, or 128+N after a signal.
int ReportError(const Error& e);
// Prints a usage error and returns 2.
int UsageError(const std::string& message);
// A usage error when `name` is not a valid name (the rules of the store).
std::optional<int> CheckNameArg(const std::string& name);
// Checks an optional thread-count option: 0 (the default) or 1..kMaxThreads.
inline constexpr unsigned kMaxThreads = 64;
std::optional<int> CheckThreadsArg(unsigned threads, const char* option);

// "2026-11-22T10:00:00Z".
std::string FormatTime(int64_t unix_seconds);

// A string quoted for JSON.
std::string JsonString(std::string_view s);
// `s` with control bytes, DEL, bytes >= 0x80 and backslashes written as
// \n, \t, \xHH, \\: a name made outside the CLI can then never print forged
// lines or terminal escape sequences.
std::string Escaped(std::string_view s);

}  // namespace hugeblob::cli
