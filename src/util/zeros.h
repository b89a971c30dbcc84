// Zero detection: runs of zeros are holes in a manifest (never stored, never
// fetched) and are cut without hashing by the chunker.
#pragma once

#include <cstdint>
#include <span>

namespace hugeblob {

// True if every byte is zero. Returns at the first 64-byte block that holds
// a non-zero byte, so a test on data that is not zero costs almost nothing.
bool IsAllZero(std::span<const uint8_t> data);

}  // namespace hugeblob
