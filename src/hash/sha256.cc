#include "hash/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>

namespace hugeblob {

std::string Hash256::Hex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

Result<Hash256> Hash256::FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Hash256 h;
  if (hex.size() != 64) {
    return Fail(ErrorCode::kInvalidArgument,
                "not a SHA-256 hex digest: '" + std::string(hex) + "'");
  }
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  "not a SHA-256 hex digest: '" + std::string(hex) + "'");
    }
    h.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return h;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

void Sha256::UpdateZeros(uint64_t n) {
  static const uint8_t kZeros[64 * 1024] = {};
  while (n > 0) {
    size_t take = std::min<uint64_t>(n, sizeof kZeros);
    Update({kZeros, take});
    n -= take;
  }
}

Hash256 Sha256::Finish() {
  Hash256 h;
  unsigned int len = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, h.bytes.data(), &len);
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  return h;
}

Hash256 Sha256Of(std::span<const uint8_t> data) {
  Hash256 h;
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), h.bytes.data(), &len, EVP_sha256(), nullptr);
  return h;
}

}  // namespace hugeblob
