// Parsing and printing of byte sizes ("64M", "1.5G", "4096") and durations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hugeblob/error.h"

namespace hugeblob {

// Accepts an integer or decimal with an optional K/M/G/T suffix (binary
// multiples; "KiB", "MB" and lower case are accepted too).
Result<uint64_t> ParseSize(std::string_view text);
// "1.5 GiB", "512 B".
std::string FormatSize(uint64_t bytes);
// "30s", "15m", "2h", "7d", or a plain number of seconds.
Result<uint64_t> ParseDurationSeconds(std::string_view text);

}  // namespace hugeblob
