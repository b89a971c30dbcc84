// BlobReader benchmarks (docs/reader.md has the targets and the latest run).
//
//   WarmPread4K / WarmReadFrame     mean ns per call, everything cached
//   WarmLatency/{pread,frame}       p50 / p99 ns per call (custom counters)
//   ColdSequential/codec/threads    GB/s through fresh caches from a local store
//   RandomAmplification             bytes fetched / bytes asked, cold and warm
//
// The stored files live in a local store in a temp dir, written once per run:
// 256 MiB each of half text-like, half random data, 256 KiB fixed chunks,
// 32 MiB packs, one file per codec. "Cold" means the reader's caches are
// empty (a new ReaderContext, disk cache off); the store's files are in the
// OS page cache, as they are for any local store read twice. That measures
// the reader, not the disk.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "reader/blob_reader.h"
#include "reader/context.h"
#include "reader/reader_test_util.h"
#include "store/local_store.h"
#include "testing/wrapper_store.h"

namespace hugeblob {
namespace {

constexpr uint64_t kFileSize = 256ull << 20;
constexpr uint32_t kChunk = 256 * 1024;

struct Env {
  TempDir dir;
  std::shared_ptr<ObjectStore> store;
  std::map<Codec, std::shared_ptr<const Manifest>> files;
};

Env& GetEnv() {
  static Env* env = [] {
    auto* e = new Env;
    auto s = LocalStore::Open(e->dir.path() + "/store");
    if (!s) {
      std::fprintf(stderr, "local store: %s\n", s.error().ToString().c_str());
      std::abort();
    }
    e->store = *s;
    for (Codec c : {Codec::kNone, Codec::kLz4, Codec::kZstd}) {
      Buffer data = reader_test::MakeData(kFileSize, kChunk, 17 + static_cast<int>(c), false);
      reader_test::BlobLayout layout;
      layout.chunk = kChunk;
      layout.codec = c;
      layout.pack_bytes = 32 << 20;
      auto m =
          reader_test::StoreBlob(*e->store, "bench/" + std::string(CodecName(c)), data, layout);
      if (!m) {
        std::fprintf(stderr, "store blob: %s\n", m.error().ToString().c_str());
        std::abort();
      }
      e->files[c] = std::make_shared<const Manifest>(std::move(*m));
    }
    return e;
  }();
  return *env;
}

ReaderOptions BenchOptions() {
  ReaderOptions o;
  o.disk_cache = false;
  return o;
}

std::shared_ptr<ContextImpl> NewContext(const ReaderOptions& o) {
  return std::dynamic_pointer_cast<ContextImpl>(*ReaderContext::Create(o));
}

std::unique_ptr<BlobReader> NewReader(std::shared_ptr<ContextImpl> ctx, Codec c,
                                      std::shared_ptr<ObjectStore> store = nullptr) {
  Env& env = GetEnv();
  auto r = BlobReader::Open(std::move(ctx), store ? store : env.store, env.files[c],
                            "bench/" + std::string(CodecName(c)));
  if (!r) std::abort();
  return std::move(*r);
}

// A warm reader: the first `region` bytes of the lz4 file are in the memory
// cache, and the offsets are 4 KiB-aligned random positions in them. 1 MiB
// fits the L2 cache; 32 MiB does not, and there the 4 KiB copy out of DRAM
// costs more than the reader itself (see BM_MemcpyBaseline).
struct Warm {
  std::shared_ptr<ContextImpl> ctx = NewContext(BenchOptions());
  std::unique_ptr<BlobReader> reader = NewReader(ctx, Codec::kLz4);
  std::vector<uint64_t> offsets;
  explicit Warm(uint64_t region) {
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t off = 0; off < region; off += buf.size()) (void)reader->pread(off, buf);
    ctx->WaitIdle();
    std::mt19937_64 rng(1);
    offsets.resize(1 << 16);
    for (auto& o : offsets) o = (rng() % (region / 4096)) * 4096;
  }
};

uint64_t Region(const benchmark::State& state, int arg) {
  return static_cast<uint64_t>(state.range(arg)) << 20;
}

void BM_WarmPread4K(benchmark::State& state) {
  Warm w(Region(state, 0));
  std::vector<uint8_t> buf(4096);
  size_t i = 0;
  for (auto _ : state) {
    auto n = w.reader->pread(w.offsets[i++ & 0xffff], buf);
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_WarmPread4K)->ArgName("region_mib")->Arg(1)->Arg(32);

void BM_WarmReadFrame(benchmark::State& state) {
  Warm w(Region(state, 0));
  size_t i = 0;
  for (auto _ : state) {
    auto b = w.reader->ReadFrame(w.offsets[i++ & 0xffff] / kChunk);
    benchmark::DoNotOptimize(b->data());
  }
}
BENCHMARK(BM_WarmReadFrame)->ArgName("region_mib")->Arg(1)->Arg(32);

// What a 4 KiB memcpy from random aligned offsets of a region costs by
// itself: the floor under pread-with-copy.
void BM_MemcpyBaseline(benchmark::State& state) {
  const uint64_t region = Region(state, 0);
  std::vector<uint8_t> src(region, 1), dst(4096);
  std::mt19937_64 rng(1);
  std::vector<uint64_t> offsets(1 << 16);
  for (auto& o : offsets) o = (rng() % (region / 4096)) * 4096;
  size_t i = 0;
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data() + offsets[i++ & 0xffff], 4096);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_MemcpyBaseline)->ArgName("region_mib")->Arg(1)->Arg(32);

// Per-call latency percentiles. Each call is timed with steady_clock; the
// median cost of the two clock reads alone is measured and subtracted.
void BM_WarmLatency(benchmark::State& state) {
  const bool zero_copy = state.range(0) == 1;
  Warm w(Region(state, 1));
  std::vector<uint8_t> buf(4096);
  using Clock = std::chrono::steady_clock;
  std::vector<int64_t> empty(100000);
  for (auto& e : empty) {
    auto a = Clock::now();
    auto b = Clock::now();
    e = (b - a).count();
  }
  std::nth_element(empty.begin(), empty.begin() + empty.size() / 2, empty.end());
  const int64_t overhead = empty[empty.size() / 2];

  std::vector<int64_t> ns;
  ns.reserve(1 << 22);
  size_t i = 0;
  for (auto _ : state) {
    uint64_t off = w.offsets[i++ & 0xffff];
    auto a = Clock::now();
    if (zero_copy) {
      auto b = w.reader->ReadFrame(off / kChunk);
      benchmark::DoNotOptimize(b->data());
    } else {
      auto n = w.reader->pread(off, buf);
      benchmark::DoNotOptimize(n);
    }
    auto b = Clock::now();
    if (ns.size() < ns.capacity()) ns.push_back((b - a).count() - overhead);
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
  state.counters["clock_ns"] = static_cast<double>(overhead);
  state.SetLabel(zero_copy ? "ReadFrame (zero copy)" : "pread 4 KiB (copy)");
}
BENCHMARK(BM_WarmLatency)->ArgNames({"zero_copy", "region_mib"})->ArgsProduct({{0, 1}, {1, 32}});

// Cold sequential throughput: `threads` threads, each with its own reader
// (read-ahead is per reader) on one shared fresh context, reading its
// contiguous slice of the file in 1 MiB preads.
void BM_ColdSequential(benchmark::State& state) {
  const Codec codec = static_cast<Codec>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  GetEnv();
  uint64_t fetched = 0;
  for (auto _ : state) {
    auto ctx = NewContext(BenchOptions());
    std::vector<std::thread> ts;
    const uint64_t slice = kFileSize / threads;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        auto r = NewReader(ctx, codec);
        std::vector<uint8_t> buf(1 << 20);
        for (uint64_t off = t * slice; off < (t + 1) * slice; off += buf.size()) {
          auto n =
              r->pread(off, {buf.data(), std::min<uint64_t>(buf.size(), (t + 1) * slice - off)});
          if (!n) std::abort();
        }
      });
    }
    for (auto& th : ts) th.join();
    ctx->WaitIdle();
    fetched += ctx->stats().store_bytes;
  }
  state.SetBytesProcessed(state.iterations() * kFileSize);
  state.counters["fetched_per_byte"] =
      static_cast<double>(fetched) / static_cast<double>(state.iterations() * kFileSize);
  state.SetLabel(std::string(CodecName(codec)));
}
BENCHMARK(BM_ColdSequential)
    ->ArgsProduct({{0, 2, 1}, {1, 4, 16}})
    ->ArgNames({"codec", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// Random 4 KiB reads at aligned offsets (as a page cache or FUSE issues
// them): bytes fetched from the store per byte asked, and the most chunks a
// single read fetched. Cold = a fresh context; warm = the same reads again.
void BM_RandomAmplification(benchmark::State& state) {
  const bool warm = state.range(0) == 1;
  const Codec codec = Codec::kLz4;
  GetEnv();
  auto counting = std::make_shared<CountingStore>(GetEnv().store);
  std::mt19937_64 rng(5);
  std::vector<uint64_t> offsets(512);
  for (auto& o : offsets) o = (rng() % (kFileSize / 4096)) * 4096;
  uint64_t asked = 0, fetched = 0, max_chunks = 0;
  std::vector<uint8_t> buf(4096);
  ReaderOptions o = BenchOptions();
  o.memory_cache_bytes = 1ull << 30;  // the whole working set fits: warm means warm
  for (auto _ : state) {
    auto ctx = NewContext(o);
    auto r = NewReader(ctx, codec, counting);
    if (warm) {
      for (uint64_t off : offsets) (void)r->pread(off, buf);
    }
    ctx->WaitIdle();
    counting->Reset();
    for (uint64_t off : offsets) {
      uint64_t b = ctx->stats().misses;
      (void)r->pread(off, buf);
      max_chunks = std::max<uint64_t>(max_chunks, ctx->stats().misses - b);
    }
    ctx->WaitIdle();
    asked += offsets.size() * buf.size();
    fetched += counting->bytes_read();
  }
  state.counters["fetched_per_asked"] = static_cast<double>(fetched) / static_cast<double>(asked);
  state.counters["max_chunks_per_read"] = static_cast<double>(max_chunks);
  state.SetLabel(warm ? "warm" : "cold");
}
BENCHMARK(BM_RandomAmplification)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace hugeblob

BENCHMARK_MAIN();
