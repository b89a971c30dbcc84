// Shared by the fuzz targets: seed corpus writing.
//
// Each fuzz target can write a few valid encoded objects as seeds: run it with
// HB_FUZZ_WRITE_SEEDS=<dir> and it writes them and exits (scripts/fuzz.sh
// does this), so the corpus always matches the current format.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace hugeblob::fuzz {

inline void WriteSeed(const std::string& dir, const std::string& name,
                      std::span<const uint8_t> bytes) {
  std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// Calls write(dir) and exits if HB_FUZZ_WRITE_SEEDS is set.
template <typename F>
void MaybeWriteSeeds(F write) {
  const char* dir = std::getenv("HB_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == 0) return;
  write(std::string(dir));
  std::exit(0);
}

}  // namespace hugeblob::fuzz
