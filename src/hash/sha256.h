// SHA-256 through OpenSSL's EVP interface (which uses the SHA extensions of
// the CPU where present). A Hash256 names chunks (hash of the uncompressed
// bytes), packs, indexes and manifests.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "hugeblob/error.h"

namespace hugeblob {

struct Hash256 {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const;
  // The first 12 hex digits, for messages.
  std::string Short() const { return Hex().substr(0, 12); }
  static Result<Hash256> FromHex(std::string_view hex);
  static Hash256 FromBytes(const uint8_t* p) {
    Hash256 h;
    std::memcpy(h.bytes.data(), p, 32);
    return h;
  }

  friend bool operator==(const Hash256&, const Hash256&) = default;
  friend auto operator<=>(const Hash256&, const Hash256&) =
      default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 misreads <=>
};
using ChunkId = Hash256;

struct Hash256Hasher {
  size_t operator()(const Hash256& h) const {
    size_t v;
    std::memcpy(&v, h.bytes.data(), sizeof v);  // already uniformly distributed
    return v;
  }
};

// Incremental hashing. Not thread-safe; one per thread or per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data) {
    Update({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }
  // Feeds `n` zero bytes (for holes), without allocating n bytes.
  void UpdateZeros(uint64_t n);
  Hash256 Finish();  // resets for reuse

 private:
  void* ctx_;  // EVP_MD_CTX*
};

Hash256 Sha256Of(std::span<const uint8_t> data);
inline Hash256 Sha256Of(std::string_view data) {
  return Sha256Of({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
}

}  // namespace hugeblob
