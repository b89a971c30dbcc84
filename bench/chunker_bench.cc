// Chunking throughput: how many bytes per second one core cuts into chunks.
// The writer's chunker stage is single-threaded (cut points depend on the
// previous cut), so this number bounds put throughput on fast storage.
//
//   ./chunker_bench --benchmark_filter=FastCdc
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "chunking/chunker.h"

namespace hugeblob {
namespace {

// 64 MiB: larger than any CPU cache, so the chunker streams from memory as it
// does in the writer, and big enough for hundreds of chunks at a 256 KiB average.
constexpr size_t kDataSize = 64 << 20;

const std::vector<uint8_t>& RandomData() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> d(kDataSize);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i + 8 <= d.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      for (int b = 0; b < 8; ++b) d[i + b] = static_cast<uint8_t>(x >> (8 * b));
    }
    return d;
  }();
  return data;
}

void CutWhole(benchmark::State& state, const ChunkerParams& params) {
  auto chunker = MakeChunker(params);
  if (!chunker) {
    state.SkipWithError("invalid chunker params");
    return;
  }
  const auto& data = RandomData();
  size_t chunks = 0;
  for (auto _ : state) {
    std::span<const uint8_t> rest(data);
    while (!rest.empty()) {
      size_t n = chunker->NextCut(rest, /*eof=*/true);
      rest = rest.subspan(n);
      ++chunks;
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.counters["avg_chunk"] =
      static_cast<double>(data.size()) * state.iterations() / static_cast<double>(chunks);
}

void BM_Fixed(benchmark::State& state) {
  CutWhole(state, ChunkerParams::For(ChunkerKind::kFixed, static_cast<uint32_t>(state.range(0))));
}
BENCHMARK(BM_Fixed)->Arg(256 << 10);

void BM_FastCdc(benchmark::State& state) {
  CutWhole(state, ChunkerParams::For(ChunkerKind::kFastCdc, static_cast<uint32_t>(state.range(0))));
}
BENCHMARK(BM_FastCdc)->Arg(8 << 10)->Arg(64 << 10)->Arg(256 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace hugeblob

BENCHMARK_MAIN();
