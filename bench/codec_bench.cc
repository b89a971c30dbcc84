// Per-chunk costs of the writer's hash + compress workers and of the reader's
// decode: SHA-256, zstd levels 1 and 3, and LZ4, each on 256 KiB chunks (the
// default average chunk size) of random data and of real binaries.
//
//   ./codec_bench                       # all
//   ./codec_bench --benchmark_filter=Binaries
//
// "Binaries" is /usr/bin/* concatenated up to 64 MiB: compressible the way
// VM images and container layers are, unlike text or zeros which flatter every
// codec. Throughput is in uncompressed bytes per second; "ratio" is
// uncompressed / stored (1.0 when the frame fell back to raw).
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "hash/sha256.h"
#include "hugeblob/buffer.h"

namespace hugeblob {
namespace {

constexpr size_t kChunkSize = 256 << 10;
// 64 MiB of chunks, cycled through so that the input streams from memory as
// in the writer rather than sitting in L2.
constexpr size_t kCorpusSize = 64 << 20;

std::vector<Buffer> Split(const std::vector<uint8_t>& data) {
  std::vector<Buffer> chunks;
  for (size_t off = 0; off + kChunkSize <= data.size(); off += kChunkSize) {
    chunks.push_back(Buffer::Copy(std::span<const uint8_t>(data).subspan(off, kChunkSize)));
  }
  return chunks;
}

const std::vector<Buffer>& RandomChunks() {
  static const std::vector<Buffer> chunks = [] {
    std::vector<uint8_t> d(kCorpusSize);
    uint64_t x = 0x243F6A8885A308D3ull;
    for (auto& b : d) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<uint8_t>(x >> 29);
    }
    return Split(d);
  }();
  return chunks;
}

const std::vector<Buffer>& BinaryChunks() {
  static const std::vector<Buffer> chunks = [] {
    std::vector<uint8_t> d;
    d.reserve(kCorpusSize);
    std::vector<std::string> names;
    if (DIR* dir = opendir("/usr/bin")) {
      while (dirent* e = readdir(dir)) names.push_back(e->d_name);
      closedir(dir);
    }
    std::sort(names.begin(), names.end());  // the same corpus on every run
    std::vector<uint8_t> buf(1 << 20);
    for (const auto& name : names) {
      if (d.size() >= kCorpusSize) break;
      std::string path = "/usr/bin/" + name;
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      int fd = open(path.c_str(), O_RDONLY);
      if (fd < 0) continue;
      ssize_t n;
      while (d.size() < kCorpusSize && (n = read(fd, buf.data(), buf.size())) > 0) {
        size_t take = std::min<size_t>(static_cast<size_t>(n), kCorpusSize - d.size());
        d.insert(d.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(take));
      }
      close(fd);
    }
    return Split(d);
  }();
  return chunks;
}

const std::vector<Buffer>& Chunks(int corpus) {
  return corpus == 0 ? RandomChunks() : BinaryChunks();
}
const char* CorpusName(int corpus) { return corpus == 0 ? "random" : "binaries"; }

void Finish(benchmark::State& state, int corpus, uint64_t raw, uint64_t stored) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunkSize));
  if (stored > 0) state.counters["ratio"] = static_cast<double>(raw) / static_cast<double>(stored);
  state.SetLabel(CorpusName(corpus));
}

void BM_Sha256(benchmark::State& state) {
  const auto& chunks = Chunks(static_cast<int>(state.range(0)));
  if (chunks.empty()) return state.SkipWithError("no input");
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sha256Of(chunks[i++ % chunks.size()].span()));
  }
  Finish(state, static_cast<int>(state.range(0)), 0, 0);
}
BENCHMARK(BM_Sha256)->Arg(0)->Arg(1);

// Args: corpus (0 random, 1 binaries), codec, level.
void BM_Encode(benchmark::State& state) {
  const int corpus = static_cast<int>(state.range(0));
  const auto codec = static_cast<Codec>(state.range(1));
  const int level = static_cast<int>(state.range(2));
  const auto& chunks = Chunks(corpus);
  if (chunks.empty()) return state.SkipWithError("no input");
  size_t i = 0;
  uint64_t raw = 0, stored = 0;
  for (auto _ : state) {
    auto f = EncodeFrame(codec, level, chunks[i++ % chunks.size()]);
    if (!f) return state.SkipWithError(f.error().message().c_str());
    raw += kChunkSize;
    stored += f->bytes.size();
    benchmark::DoNotOptimize(f->bytes.data());
  }
  Finish(state, corpus, raw, stored);
}

void BM_Decode(benchmark::State& state) {
  const int corpus = static_cast<int>(state.range(0));
  const auto codec = static_cast<Codec>(state.range(1));
  const int level = static_cast<int>(state.range(2));
  std::vector<Frame> frames;
  uint64_t raw = 0, stored = 0;
  for (const auto& c : Chunks(corpus)) {
    auto f = EncodeFrame(codec, level, c);
    if (!f) return state.SkipWithError(f.error().message().c_str());
    raw += c.size();
    stored += f->bytes.size();
    frames.push_back(std::move(*f));
  }
  if (frames.empty()) return state.SkipWithError("no input");
  std::vector<uint8_t> out(kChunkSize);
  size_t i = 0;
  for (auto _ : state) {
    const Frame& f = frames[i++ % frames.size()];
    auto s = DecodeFrame(f.codec, f.bytes.span(), out);
    if (!s) return state.SkipWithError(s.error().message().c_str());
    benchmark::DoNotOptimize(out.data());
  }
  Finish(state, corpus, raw, stored);
}

void CodecArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"corpus", "codec", "level"});
  for (int corpus : {0, 1}) {
    b->Args({corpus, static_cast<int>(Codec::kZstd), 1});
    b->Args({corpus, static_cast<int>(Codec::kZstd), 3});
    b->Args({corpus, static_cast<int>(Codec::kLz4), 0});
  }
}
BENCHMARK(BM_Encode)->Apply(CodecArgs);
BENCHMARK(BM_Decode)->Apply(CodecArgs);

}  // namespace
}  // namespace hugeblob

BENCHMARK_MAIN();
