// The C++ side of bench/python_bench.sh: the same reads as the Python side,
// through the same public API (hugeblob::Store / File), so the two differ
// only by the binding.
//
//   api_read STORE NAME seq BUFSIZE      read the whole file in order, pread
//                                        into one buffer: prints "seconds bytes"
//   api_read STORE NAME warm4k N SPAN    N preads of 4 KiB at random offsets
//                                        within the first SPAN bytes, after
//                                        one pass over them (so all hit the
//                                        memory cache): prints "ns-per-read"
#include <hugeblob/hugeblob.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Report(const hugeblob::Error& e) {
  std::fprintf(stderr, "%s\n", e.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s STORE NAME seq BUFSIZE | warm4k N SPAN\n", argv[0]);
    return 2;
  }
  auto store = hugeblob::Store::Open(argv[1]);
  if (!store) return Report(store.error());
  auto file = store->OpenFile(argv[2]);
  if (!file) return Report(file.error());
  hugeblob::File& f = **file;
  const std::string mode = argv[3];
  if (mode == "seq") {
    std::vector<uint8_t> buf(std::strtoull(argv[4], nullptr, 10));
    const double t0 = Now();
    uint64_t pos = 0;
    for (;;) {
      auto n = f.pread(pos, buf);
      if (!n) return Report(n.error());
      if (*n == 0) break;
      pos += *n;
    }
    std::printf("%.6f %llu\n", Now() - t0, static_cast<unsigned long long>(pos));
    return 0;
  }
  if (mode == "warm4k" && argc == 6) {
    const uint64_t n = std::strtoull(argv[4], nullptr, 10);
    const uint64_t span = std::min<uint64_t>(std::strtoull(argv[5], nullptr, 10), f.size());
    std::vector<uint8_t> buf(4096);
    for (uint64_t off = 0; off + 4096 <= span; off += 4096) {
      if (!f.pread(off, buf)) return 1;
    }
    std::mt19937_64 rnd(1);
    std::vector<uint64_t> offsets(n);
    for (auto& o : offsets) o = rnd() % (span - 4096);
    const double t0 = Now();
    for (uint64_t o : offsets) {
      auto r = f.pread(o, buf);
      if (!r || *r != 4096) return 1;
    }
    std::printf("%.1f\n", (Now() - t0) * 1e9 / static_cast<double>(n));
    return 0;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
