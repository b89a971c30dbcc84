// Dedup study: which chunking stores a series of versions of a big file in
// the fewest bytes, at what manifest size and chunking speed.
//
// Not a Google Benchmark program (it is named *_bench.cc only so the bench
// glob builds it). It takes a base file, derives a series of versions from
// it in two scenarios, chunks every version with fixed and FastCDC chunking
// at several average sizes, and counts what a store would hold: the bytes of
// the distinct chunks (by SHA-256; all-zero chunks are never stored) and the
// number of chunks (each costs about 60 bytes of manifest). The distinct
// chunks are also compressed with zstd level 3, the default codec, because a
// store holds frames, and smaller chunks compress a little worse.
//
//   tar cf - /usr/share 2>/dev/null | head -c 256M > /tmp/base.tar
//   ./dedup_study_bench /tmp/base.tar [versions=5] [seed=1]
//
// Scenarios (each version is derived from the previous one):
//   inplace: about 1% of the 4 KiB blocks overwritten with random bytes at
//            random places (a VM disk or database file between snapshots);
//   insert:  3 runs of 1-64 random bytes inserted at random places in the
//            middle half (a file edited in the middle; everything after
//            the edit shifts).
// Output is a Markdown table (docs/chunking.md holds a run of it).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "chunking/chunker.h"
#include "codec/codec.h"
#include "hash/sha256.h"
#include "util/zeros.h"

namespace hugeblob {
namespace {

// What one manifest frame-table entry costs (offset, length, hash, pack,
// compressed offset and length, codec), for the manifest column.
constexpr uint64_t kManifestBytesPerChunk = 60;
constexpr size_t kBlock = 4096;

struct Rng {
  uint64_t x;
  uint64_t Next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
};

bool ReadFile(const char* path, std::vector<uint8_t>* out) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(got);
  return true;
}

void EditInPlace(std::vector<uint8_t>& data, Rng& rng) {
  const size_t blocks = data.size() / kBlock;
  for (size_t k = 0; k < blocks / 100; ++k) {
    uint8_t* p = data.data() + rng.Below(blocks) * kBlock;
    for (size_t i = 0; i < kBlock; ++i) p[i] = static_cast<uint8_t>(rng.Next() >> 24);
  }
}

void EditInsert(std::vector<uint8_t>& data, Rng& rng) {
  for (int k = 0; k < 3; ++k) {
    size_t at = data.size() / 4 + rng.Below(data.size() / 2);
    std::vector<uint8_t> run(1 + rng.Below(64));
    for (auto& b : run) b = static_cast<uint8_t>(rng.Next() >> 24);
    data.insert(data.begin() + static_cast<ptrdiff_t>(at), run.begin(), run.end());
  }
}

struct Config {
  ChunkerParams params;
  std::unique_ptr<Chunker> chunker;
  std::unordered_map<Hash256, uint64_t, Hash256Hasher> stored;  // hash -> size
  uint64_t chunks = 0;                                          // over all versions
  uint64_t compressed = 0;  // zstd-3 frames of the distinct chunks
  uint64_t first_version_unique = 0;
  double chunk_seconds = 0;  // cutting only, over all versions
  double hash_seconds = 0;   // SHA-256 of every chunk, over all versions
  uint64_t chunk_bytes = 0;
};

void ChunkVersion(Config& c, const std::vector<uint8_t>& data) {
  std::vector<size_t> lens;
  auto t0 = std::chrono::steady_clock::now();
  std::span<const uint8_t> rest(data);
  while (!rest.empty()) {
    size_t n = c.chunker->NextCut(rest, /*eof=*/true);
    lens.push_back(n);
    rest = rest.subspan(n);
  }
  c.chunk_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.chunk_bytes += data.size();
  c.chunks += lens.size();
  size_t pos = 0;
  for (size_t n : lens) {
    std::span<const uint8_t> chunk(data.data() + pos, n);
    pos += n;
    if (IsAllZero(chunk)) continue;  // a hole in the manifest, nothing stored
    auto h0 = std::chrono::steady_clock::now();
    Hash256 id = Sha256Of(chunk);
    c.hash_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
    if (c.stored.emplace(id, n).second) {
      auto frame = EncodeFrame(Codec::kZstd, DefaultLevel(Codec::kZstd), Buffer::Copy(chunk));
      c.compressed += frame ? frame->bytes.size() : n;
    }
  }
}

uint64_t UniqueBytes(const Config& c) {
  uint64_t sum = 0;
  for (const auto& [h, n] : c.stored) sum += n;
  return sum;
}

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void RunScenario(const char* name, const std::vector<uint8_t>& base, int versions, uint64_t seed,
                 void (*edit)(std::vector<uint8_t>&, Rng&)) {
  std::vector<Config> configs;
  for (auto kind : {ChunkerKind::kFixed, ChunkerKind::kFastCdc}) {
    for (uint32_t avg : {64u << 10, 128u << 10, 256u << 10, 512u << 10, 1u << 20}) {
      Config c;
      c.params = ChunkerParams::For(kind, avg);
      c.chunker = MakeChunker(c.params);
      configs.push_back(std::move(c));
    }
  }
  Rng rng{seed * 0x9E3779B97F4A7C15ull | 1};
  std::vector<uint8_t> data = base;
  uint64_t logical = 0;
  for (int v = 0; v < versions; ++v) {
    if (v > 0) edit(data, rng);
    logical += data.size();
    for (auto& c : configs) {
      ChunkVersion(c, data);
      if (v == 0) c.first_version_unique = UniqueBytes(c);
    }
    std::fprintf(stderr, "%s: version %d of %d done\n", name, v + 1, versions);
  }

  std::printf("\n### %s: %d versions, %s MiB logical\n\n", name, versions, Mib(logical).c_str());
  std::printf(
      "| chunking | avg | chunks/version | manifest (all versions) | unique MiB | "
      "MiB added per version | dedup ratio | unique + manifest MiB | zstd-3 MiB | cut MB/s | "
      "cut+SHA-256 MB/s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& c : configs) {
    uint64_t unique = UniqueBytes(c);
    uint64_t manifest = c.chunks * kManifestBytesPerChunk;
    double added = versions > 1 ? static_cast<double>(unique - c.first_version_unique) /
                                      (versions - 1) / (1 << 20)
                                : 0.0;
    // Fixed cuts cost nothing per byte, so their "speed" is meaningless.
    std::string cut = "-";
    if (c.params.kind != ChunkerKind::kFixed) {
      cut = std::to_string(static_cast<int>(c.chunk_bytes / c.chunk_seconds / 1e6));
    }
    std::printf("| %s | %uK | %.0f | %s KiB | %s | %.2f | %.2f | %s | %s | %s | %.0f |\n",
                std::string(ChunkerName(c.params.kind)).c_str(), c.params.avg_size >> 10,
                static_cast<double>(c.chunks) / versions, std::to_string(manifest >> 10).c_str(),
                Mib(unique).c_str(), added,
                static_cast<double>(logical) / static_cast<double>(unique),
                Mib(unique + manifest).c_str(), Mib(c.compressed).c_str(), cut.c_str(),
                static_cast<double>(c.chunk_bytes) / (c.chunk_seconds + c.hash_seconds) / 1e6);
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace hugeblob

int main(int argc, char** argv) {
  using namespace hugeblob;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BASE_FILE [versions=5] [seed=1]\n", argv[0]);
    return 2;
  }
  int versions = argc > 2 ? std::atoi(argv[2]) : 5;
  uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  std::vector<uint8_t> base;
  if (!ReadFile(argv[1], &base) || base.size() < (1 << 20)) {
    std::fprintf(stderr, "cannot read %s (or smaller than 1 MiB)\n", argv[1]);
    return 1;
  }
  std::printf("base: %s, %s MiB, seed %" PRIu64 "\n", argv[1], Mib(base.size()).c_str(), seed);
  RunScenario("inplace (1% of 4 KiB blocks rewritten per version)", base, versions, seed,
              EditInPlace);
  RunScenario("insert (3 small insertions in the middle per version)", base, versions, seed,
              EditInsert);
  return 0;
}
