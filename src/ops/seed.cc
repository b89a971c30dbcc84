#include "ops/seed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <unordered_set>

#include "chunking/chunker.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "util/cancel.h"

namespace hugeblob {
namespace {

// Reads [pos, pos + limit) of `fd` block by block and cuts it with `chunker`
// (the island ends the last chunk), calling `chunk(offset, bytes)`.
Status ScanIsland(int fd, const std::string& name, const Chunker& chunker, uint64_t pos,
                  uint64_t limit, std::vector<uint8_t>& block, const CancelToken* cancel,
                  const std::function<void(uint64_t, std::span<const uint8_t>)>& chunk) {
  size_t fill = 0;  // bytes of `block` holding data not cut yet, starting at `base`
  uint64_t base = pos;
  uint64_t left = limit;
  for (;;) {
    if (cancel != nullptr && cancel->cancelled()) return Fail(CancelledError("get"));
    const size_t want = static_cast<size_t>(std::min<uint64_t>(block.size() - fill, left));
    size_t got = 0;
    while (got < want) {
      ssize_t n =
          ::pread(fd, block.data() + fill + got, want - got, static_cast<off_t>(base + fill + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrnoError(errno, "read seed " + name));
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    fill += got;
    left -= got;
    const bool eof = got < want || left == 0;
    size_t at = 0;
    while (at < fill) {
      size_t n = chunker.NextCut({block.data() + at, fill - at}, eof);
      if (n == 0) break;
      chunk(base + at, {block.data() + at, n});
      at += n;
    }
    if (eof) return OkStatus();
    std::memmove(block.data(), block.data() + at, fill - at);
    base += at;
    fill -= at;
  }
}

}  // namespace

Result<std::unique_ptr<SeedIndex>> SeedIndex::Build(const Manifest& m,
                                                    const std::vector<std::string>& paths,
                                                    const CancelToken* cancel) {
  auto index = std::make_unique<SeedIndex>();
  std::unordered_set<ChunkId, Hash256Hasher> needed;
  for (const FrameRef& f : m.frames) {
    if (!f.zero) needed.insert(f.chunk);
  }
  HB_TRY(ValidateChunkerParams(m.chunker));
  std::unique_ptr<Chunker> chunker = MakeChunker(m.chunker);
  std::vector<uint8_t> block(std::max<size_t>(4u << 20, 2 * size_t{chunker->max_size()}));
  for (const std::string& path : paths) {
    if (needed.size() == index->map_.size()) break;  // everything found already
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;
      return Fail(ErrnoError(errno, "open seed " + path));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError(errno, "stat seed " + path));
    if (!S_ISREG(st.st_mode)) {
      return Fail(ErrorCode::kInvalidArgument, "seed " + path + " is not a regular file");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const uint32_t file = static_cast<uint32_t>(index->files_.size());
    auto on_chunk = [&](uint64_t offset, std::span<const uint8_t> bytes) {
      index->scanned_ += bytes.size();
      if (IsAllZero(bytes)) return;  // holes are never fetched anyway
      ChunkId id = ChunkHash(m.chunk_hash, bytes);
      if (needed.count(id) != 0) index->map_.emplace(id, Source{file, offset});
    };
    // Island by island, as put cuts a file; a file system that cannot tell
    // holes from data is one island.
    uint64_t pos = 0;
    while (pos < size) {
      uint64_t end = size;
      if (auto extent = NextDataExtent(fd.get(), pos, size, kMinSkippedHole)) {
        pos = extent->first;
        end = extent->second;
        if (pos >= size) break;
      }
      HB_TRY(ScanIsland(fd.get(), path, *chunker, pos, end - pos, block, cancel, on_chunk));
      pos = end;
    }
    index->names_.push_back(path);
    index->files_.push_back(std::move(fd));
  }
  return index;
}

const SeedIndex::Source* SeedIndex::Find(const ChunkId& id) const {
  auto it = map_.find(id);
  return it == map_.end() ? nullptr : &it->second;
}

bool SeedIndex::Read(const Source& src, std::span<uint8_t> dst, HashAlgo hash,
                     const ChunkId& id) const {
  if (!PreadAll(files_[src.file].get(), dst, src.offset, names_[src.file])) return false;
  return ChunkHash(hash, dst) == id;
}

}  // namespace hugeblob
