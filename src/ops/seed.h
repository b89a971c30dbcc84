// Seeds of a restore: local files (an older version of the file, the target
// itself) whose chunks a get may take instead of fetching them.
//
// A seed is cut exactly as put cuts a file, with the manifest's chunker and
// island by island around holes of kMinSkippedHole and more, and every chunk
// is hashed with the manifest's chunk hash. Only the ids the manifest needs
// are kept. A chunk taken from a seed is read again and checked against its
// id when it is used, so a seed that changed meanwhile costs a fetch, never
// a wrong byte.
//
// Thread-safety: Build once; then Read may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/manifest.h"
#include "hugeblob/error.h"
#include "util/fs.h"

namespace hugeblob {

class CancelToken;

class SeedIndex {
 public:
  struct Source {
    uint32_t file = 0;    // index into the seed files
    uint64_t offset = 0;  // of the chunk in that file
  };

  // Scans `paths` (missing files are skipped: a target that does not exist
  // yet is no seed). Errors only for a seed that exists and cannot be read.
  static Result<std::unique_ptr<SeedIndex>> Build(const Manifest& m,
                                                  const std::vector<std::string>& paths,
                                                  const CancelToken* cancel);

  // Where a chunk of `m` can be read locally, or null.
  const Source* Find(const ChunkId& id) const;
  // Reads the chunk at `src` into `dst` (its length) and checks it against
  // `id`; false if it cannot be read or no longer matches.
  bool Read(const Source& src, std::span<uint8_t> dst, HashAlgo hash, const ChunkId& id) const;

  uint64_t scanned_bytes() const { return scanned_; }  // seed bytes read and hashed
  size_t chunks() const { return map_.size(); }        // distinct needed chunks found

 private:
  std::vector<std::string> names_;
  std::vector<ScopedFd> files_;
  std::unordered_map<ChunkId, Source, Hash256Hasher> map_;
  uint64_t scanned_ = 0;
};

}  // namespace hugeblob
