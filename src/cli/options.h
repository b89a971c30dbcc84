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

  void Add(CLI::App* cmd);
  Result<ReaderOptions> ToReaderOptions(bool disk_default) const;
};

// Parses a size option value; the error names the option.
Result<uint64_t> SizeArg(const std::string& text, const char* option);

}  // namespace hugeblob::cli
