// Helpers shared by the format layer's unit tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hash/sha256.h"

namespace hugeblob::format_test {

inline std::string ToHex(std::span<const uint8_t> b) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

// Hex with spaces and newlines ignored, so golden layouts can be written
// field by field.
inline std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline Hash256 Filled(uint8_t b) {
  Hash256 h;
  h.bytes.fill(b);
  return h;
}

inline std::string Repeat(std::string_view byte_hex, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += byte_hex;
  return s;
}

}  // namespace hugeblob::format_test
