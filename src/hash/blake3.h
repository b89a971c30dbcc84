// BLAKE3 through the official C implementation (SSE4.1/AVX2/AVX-512 chosen at
// run time), and the choice of chunk-id hash a store or manifest records.
//
// New stores name chunks by BLAKE3 (4.5-5.5 GB/s per core here, against
// SHA-256's 1.7 GB/s with SHA-NI); stores made before keep SHA-256. Object
// keys (packs, indexes, manifests) stay SHA-256 of small metadata in both, so
// `sha256sum manifests/ID` names any object with a stock tool.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "hash/sha256.h"
#include "hugeblob/error.h"

namespace hugeblob {

// Which hash names chunks. The numbers are stored in manifests: never reuse.
enum class HashAlgo : uint8_t { kSha256 = 0, kBlake3 = 1 };

std::string_view HashAlgoName(HashAlgo algo);  // "sha256", "blake3"
Result<HashAlgo> ParseHashAlgo(std::string_view name);

// Incremental BLAKE3 (32-byte output). Not thread-safe; one per thread or
// stream. About 1.9 KB of state, no heap.
class Blake3 {
 public:
  Blake3();
  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data) {
    Update({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }
  Hash256 Finish();  // resets for reuse

 private:
  alignas(16) uint8_t state_[1920];  // blake3_hasher, opaque here (checked in blake3.cc)
};

Hash256 Blake3Of(std::span<const uint8_t> data);

// The id of a chunk under `algo`.
Hash256 ChunkHash(HashAlgo algo, std::span<const uint8_t> data);

}  // namespace hugeblob
