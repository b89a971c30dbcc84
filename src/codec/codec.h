// Frame codecs. Each chunk becomes one independently decodable frame: a
// standard zstd frame (decodable by `zstd -d`), an LZ4 block, or the raw
// bytes when compression would not save at least 1/32 of the size.
// Compression and decompression contexts are cached per thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

class MemoryBudget;

enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };
constexpr int kCodecCount = 3;

std::string_view CodecName(Codec codec);
Result<Codec> ParseCodec(std::string_view name);
bool IsValidCodec(uint8_t value);
// Default level per codec (zstd: 3, lz4: 0 = fast default, none: 0).
int DefaultLevel(Codec codec);

struct Frame {
  Codec codec = Codec::kNone;  // what the bytes are actually encoded with
  Buffer bytes;
};

// Encodes `chunk` with `codec` at `level`. If that does not pay, returns the
// chunk itself (shared, not copied) with Codec::kNone. The output buffer's
// memory is accounted to `budget` when one is given.
Result<Frame> EncodeFrame(Codec codec, int level, const Buffer& chunk,
                          MemoryBudget* budget = nullptr);

// Bytes EncodeFrameInto may need for a chunk of `size` bytes.
size_t FrameBound(Codec codec, size_t size);

struct EncodedFrame {
  Codec codec = Codec::kNone;  // kNone: not worth compressing; nothing was written
  size_t size = 0;             // bytes written to dst (0 with kNone)
};
// Compresses `chunk` straight into `dst` (at least FrameBound bytes): no
// allocation, the per-thread context reused. Returns kNone, with dst's
// contents unspecified, when compression would not pay; the caller then
// stores the chunk raw.
Result<EncodedFrame> EncodeFrameInto(Codec codec, int level, std::span<const uint8_t> chunk,
                                     std::span<uint8_t> dst);

// Decodes a frame into `out`, whose size must be exactly the uncompressed
// length recorded for it. kCorruption if the frame is malformed or its
// decoded size differs.
Status DecodeFrame(Codec codec, std::span<const uint8_t> frame, std::span<uint8_t> out);

// Whole-buffer zstd for metadata objects (manifests, indexes).
Result<Buffer> ZstdCompress(std::span<const uint8_t> data, int level);
// Refuses output larger than max_size (guards against decompression bombs).
Result<Buffer> ZstdDecompress(std::span<const uint8_t> data, uint64_t max_size);

}  // namespace hugeblob
