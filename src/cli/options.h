// Options shared by the command implementations in src/cli/.
#pragma once

#include <memory>
#include <string>

#include "hugeblob/error.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"

namespace CLI {
class App;
}

namespace hugeblob::cli {

struct GlobalOptions {
  std::string store;     // URL; empty: the default store
  std::string endpoint;  // S3 endpoint override
  bool json = false;
  bool quiet = false;
  bool verbose = false;

  Result<std::shared_ptr<ObjectStore>> OpenStore() const;
  // Progress line on stderr: a TTY, not --quiet, not --json.
  bool ShowProgress() const;
  // Human summaries on stdout: --verbose, or stdout is a TTY and not --quiet.
  bool Chatty() const;
};

struct CacheOptions {
  std::string cache_dir;
  std::string cache_size;
  std::string memory_cache;
  bool no_disk_cache = false;

  // `disk_default` says, for --help, when the command uses the disk cache
  // without --cache-dir or --no-disk-cache.
  void Add(CLI::App* cmd, const std::string& disk_default);
  // disk_default: the disk cache is on unless --no-disk-cache (--cache-dir
  // turns it on). local_store: the store is cheap to read (file://), so a
  // chunk is admitted to the disk cache on its second load, not its first.
  Result<ReaderOptions> ToReaderOptions(bool disk_default, bool local_store) const;
};

// A store that is cheap to read: a local directory (file://).
bool IsLocalStore(const ObjectStore& store);

// Parses a size option value; the error names the option.
Result<uint64_t> SizeArg(const std::string& text, const char* option);

}  // namespace hugeblob::cli
