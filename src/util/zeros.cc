#include "util/zeros.h"

#include <cstring>

namespace hugeblob {

bool IsAllZero(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  // Word-at-a-time OR; the compiler vectorises the inner loop.
  while (n >= 64) {
    uint64_t acc = 0;
    for (int i = 0; i < 8; ++i) {
      uint64_t w;
      std::memcpy(&w, p + 8 * i, 8);
      acc |= w;
    }
    if (acc != 0) return false;
    p += 64;
    n -= 64;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

}  // namespace hugeblob
