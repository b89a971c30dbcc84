#include "hash/blake3.h"

#include <blake3.h>

#include <new>

namespace hugeblob {

static_assert(sizeof(blake3_hasher) <= 1920, "Blake3::state_ is too small for blake3_hasher");
static_assert(alignof(blake3_hasher) <= 16, "Blake3::state_ is under-aligned");

namespace {
blake3_hasher* H(uint8_t* state) { return std::launder(reinterpret_cast<blake3_hasher*>(state)); }
// BLAKE3 picks its SIMD implementation on first use and caches the CPU's
// features in a plain global: two threads hashing first at once race on it
// (harmlessly: both store the same value, but ThreadSanitizer is right to
// say so). Hashing once while the program starts, before any thread,
// settles it.
const bool kFeaturesDetected = [] {
  blake3_hasher h;
  blake3_hasher_init(&h);
  const uint8_t byte = 0;
  blake3_hasher_update(&h, &byte, 1);
  uint8_t out[BLAKE3_OUT_LEN];
  blake3_hasher_finalize(&h, out, sizeof out);
  return true;
}();

}  // namespace

std::string_view HashAlgoName(HashAlgo algo) {
  switch (algo) {
    case HashAlgo::kSha256:
      return "sha256";
    case HashAlgo::kBlake3:
      return "blake3";
  }
  return "unknown";
}

Result<HashAlgo> ParseHashAlgo(std::string_view name) {
  if (name == "sha256") return HashAlgo::kSha256;
  if (name == "blake3") return HashAlgo::kBlake3;
  return Fail(ErrorCode::kUnsupported, "chunk hash '" + std::string(name) +
                                           "' is not supported (this hugeblob knows "
                                           "blake3 and sha256)");
}

Blake3::Blake3() { blake3_hasher_init(new (state_) blake3_hasher); }

void Blake3::Update(std::span<const uint8_t> data) {
  blake3_hasher_update(H(state_), data.data(), data.size());
}

Hash256 Blake3::Finish() {
  Hash256 h;
  blake3_hasher_finalize(H(state_), h.bytes.data(), h.bytes.size());
  blake3_hasher_reset(H(state_));
  return h;
}

Hash256 Blake3Of(std::span<const uint8_t> data) {
  Blake3 h;
  h.Update(data);
  return h.Finish();
}

Hash256 ChunkHash(HashAlgo algo, std::span<const uint8_t> data) {
  return algo == HashAlgo::kBlake3 ? Blake3Of(data) : Sha256Of(data);
}

}  // namespace hugeblob
