#include "codec/codec.h"

#include <lz4.h>
#include <lz4hc.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "util/budget.h"

namespace hugeblob {
namespace {

struct ZstdContexts {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  // Compression output of any codec for chunks up to kMaxScratch.
  std::vector<uint8_t> scratch;
  ~ZstdContexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

ZstdContexts& ThreadZstd() {
  thread_local ZstdContexts ctx;
  return ctx;
}

// Larger frames are compressed straight into their own buffer: the scratch
// buffer lives as long as its thread, outside any memory budget.
constexpr size_t kMaxScratch = 4u << 20;

// Compression must save at least 1/32 of the chunk to be worth a decode.
bool WorthIt(size_t compressed, size_t raw) { return compressed + raw / 32 < raw; }

// Data that is already compressed, encrypted or random is recognised from a
// sample before a compression is spent on it: a compressor would scan the
// whole chunk, emit it as raw blocks (a copy of every byte) and then lose to
// the raw frame anyway. The sample is 64 pieces of 64 bytes spread over the
// chunk; its byte entropy above 7.9 bits per byte means entropy coding could
// not save the 1/32 WorthIt asks for (that needs 7.75 or less), with room for
// sampling noise (4,096 random bytes measure 7.95 +- 0.01). Long repeats
// inside one chunk of otherwise random bytes would be missed; repeats of
// whole chunks are deduplicated instead.
constexpr size_t kSampleFrom = 16u << 10;  // smaller chunks are simply compressed
bool LooksIncompressible(std::span<const uint8_t> chunk) {
  if (chunk.size() < kSampleFrom) return false;
  constexpr size_t kPieces = 64;
  constexpr size_t kPiece = 64;
  uint32_t counts[256] = {};
  const size_t stride = (chunk.size() - kPiece) / (kPieces - 1);
  for (size_t k = 0; k < kPieces; ++k) {
    const uint8_t* piece = chunk.data() + k * stride;
    for (size_t i = 0; i < kPiece; ++i) ++counts[piece[i]];
  }
  constexpr double kTotal = kPieces * kPiece;
  double bits = 0;
  for (uint32_t c : counts) {
    if (c != 0) bits -= c * std::log2(c / kTotal);
  }
  return bits / kTotal > 7.9;
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

Result<Codec> ParseCodec(std::string_view name) {
  if (name == "none" || name == "raw") return Codec::kNone;
  if (name == "zstd") return Codec::kZstd;
  if (name == "lz4") return Codec::kLz4;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown codec '" + std::string(name) + "' (expected zstd, lz4 or none)");
}

bool IsValidCodec(uint8_t value) { return value < kCodecCount; }

int DefaultLevel(Codec codec) { return codec == Codec::kZstd ? 3 : 0; }

Result<Frame> EncodeFrame(Codec codec, int level, const Buffer& chunk, MemoryBudget* budget) {
  if (codec == Codec::kNone || chunk.size() < 64 || LooksIncompressible(chunk.span())) {
    return Frame{Codec::kNone, chunk};
  }
  size_t bound = 0;
  if (codec == Codec::kZstd) {
    bound = ZSTD_compressBound(chunk.size());
  } else {
    if (chunk.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return Frame{Codec::kNone, chunk};
    bound = static_cast<size_t>(LZ4_compressBound(static_cast<int>(chunk.size())));
  }
  // Compress into a per-thread scratch buffer, then copy the frame out at
  // its size: a fresh bound-sized buffer per chunk (a new mapping above
  // 128 KiB) cost a page fault per 4 KiB written and an munmap per frame,
  // about 1 s of system time per 4 GiB of new 256 KiB chunks.
  Buffer direct;
  uint8_t* dst_bytes = nullptr;
  if (bound <= kMaxScratch) {
    std::vector<uint8_t>& scratch = ThreadZstd().scratch;
    if (scratch.size() < bound) scratch.resize(bound);
    dst_bytes = scratch.data();
  } else {
    direct =
        Buffer::Allocate(bound, budget != nullptr ? budget->ForceReserve(bound) : Reservation{});
    dst_bytes = direct.mutable_data();
  }
  size_t n = 0;
  if (codec == Codec::kZstd) {
    n = ZSTD_compressCCtx(ThreadZstd().cctx, dst_bytes, bound, chunk.data(), chunk.size(), level);
    if (ZSTD_isError(n)) {
      return Fail(ErrorCode::kInternal,
                  std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    }
  } else {
    // Level 0-2: LZ4's fast block compressor; 3 and up: LZ4HC at that level.
    const char* src = reinterpret_cast<const char*>(chunk.data());
    char* dst = reinterpret_cast<char*>(dst_bytes);
    int r = level < 3 ? LZ4_compress_default(src, dst, static_cast<int>(chunk.size()),
                                             static_cast<int>(bound))
                      : LZ4_compress_HC(src, dst, static_cast<int>(chunk.size()),
                                        static_cast<int>(bound), level);
    if (r <= 0) return Fail(ErrorCode::kInternal, "lz4 compression failed");
    n = static_cast<size_t>(r);
  }
  if (!WorthIt(n, chunk.size())) return Frame{Codec::kNone, chunk};
  if (dst_bytes == direct.data()) {
    direct.Truncate(n);
    return Frame{codec, std::move(direct)};
  }
  Reservation res;
  if (budget != nullptr) res = budget->ForceReserve(n);
  Buffer out = Buffer::Allocate(n, std::move(res));
  std::memcpy(out.mutable_data(), dst_bytes, n);
  return Frame{codec, std::move(out)};
}

size_t FrameBound(Codec codec, size_t size) {
  if (codec == Codec::kZstd) return ZSTD_compressBound(size);
  if (codec == Codec::kLz4 && size <= static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return static_cast<size_t>(LZ4_compressBound(static_cast<int>(size)));
  }
  return 0;
}

Result<EncodedFrame> EncodeFrameInto(Codec codec, int level, std::span<const uint8_t> chunk,
                                     std::span<uint8_t> dst) {
  const size_t bound = FrameBound(codec, chunk.size());
  if (codec == Codec::kNone || chunk.size() < 64 || bound == 0) return EncodedFrame{};
  if (LooksIncompressible(chunk)) return EncodedFrame{};
  if (dst.size() < bound) {
    return Fail(ErrorCode::kInternal, "frame buffer of " + std::to_string(dst.size()) +
                                          " bytes is below the bound " + std::to_string(bound));
  }
  size_t n = 0;
  if (codec == Codec::kZstd) {
    n = ZSTD_compressCCtx(ThreadZstd().cctx, dst.data(), dst.size(), chunk.data(), chunk.size(),
                          level);
    if (ZSTD_isError(n)) {
      return Fail(ErrorCode::kInternal,
                  std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    }
  } else {
    // Level 0-2: LZ4's fast block compressor; 3 and up: LZ4HC at that level.
    const char* src = reinterpret_cast<const char*>(chunk.data());
    char* out = reinterpret_cast<char*>(dst.data());
    const int cap = static_cast<int>(std::min<size_t>(dst.size(), INT32_MAX));
    int r = level < 3 ? LZ4_compress_default(src, out, static_cast<int>(chunk.size()), cap)
                      : LZ4_compress_HC(src, out, static_cast<int>(chunk.size()), cap, level);
    if (r <= 0) return Fail(ErrorCode::kInternal, "lz4 compression failed");
    n = static_cast<size_t>(r);
  }
  if (!WorthIt(n, chunk.size())) return EncodedFrame{};
  return EncodedFrame{codec, n};
}

Status DecodeFrame(Codec codec, std::span<const uint8_t> frame, std::span<uint8_t> out) {
  switch (codec) {
    case Codec::kNone:
      if (frame.size() != out.size()) {
        return Fail(ErrorCode::kCorruption, "raw frame is " + std::to_string(frame.size()) +
                                                " bytes, expected " + std::to_string(out.size()));
      }
      if (!out.empty()) std::memcpy(out.data(), frame.data(), out.size());
      return OkStatus();
    case Codec::kZstd: {
      size_t n = ZSTD_decompressDCtx(ThreadZstd().dctx, out.data(), out.size(), frame.data(),
                                     frame.size());
      if (ZSTD_isError(n)) {
        return Fail(ErrorCode::kCorruption, std::string("zstd frame: ") + ZSTD_getErrorName(n));
      }
      if (n != out.size()) {
        return Fail(ErrorCode::kCorruption, "zstd frame decodes to " + std::to_string(n) +
                                                " bytes, expected " + std::to_string(out.size()));
      }
      return OkStatus();
    }
    case Codec::kLz4: {
      if (frame.size() > static_cast<size_t>(INT32_MAX) ||
          out.size() > static_cast<size_t>(INT32_MAX)) {
        return Fail(ErrorCode::kCorruption, "lz4 frame too large");
      }
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(frame.data()),
                                  reinterpret_cast<char*>(out.data()),
                                  static_cast<int>(frame.size()), static_cast<int>(out.size()));
      if (n < 0 || static_cast<size_t>(n) != out.size()) {
        return Fail(ErrorCode::kCorruption, "lz4 frame is malformed or of the wrong length");
      }
      return OkStatus();
    }
  }
  return Fail(ErrorCode::kCorruption, "unknown codec " + std::to_string(static_cast<int>(codec)));
}

Result<Buffer> ZstdCompress(std::span<const uint8_t> data, int level) {
  size_t bound = ZSTD_compressBound(data.size());
  Buffer out = Buffer::Allocate(bound);
  size_t n = ZSTD_compressCCtx(ThreadZstd().cctx, out.mutable_data(), bound, data.data(),
                               data.size(), level);
  if (ZSTD_isError(n)) {
    return Fail(ErrorCode::kInternal,
                std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.Truncate(n);
  return out;
}

Result<Buffer> ZstdDecompress(std::span<const uint8_t> data, uint64_t max_size) {
  unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Fail(ErrorCode::kCorruption, "not a zstd frame with a known size");
  }
  if (size > max_size) {
    return Fail(ErrorCode::kCorruption, "zstd frame claims " + std::to_string(size) +
                                            " bytes, more than the limit of " +
                                            std::to_string(max_size));
  }
  Buffer out = Buffer::Allocate(static_cast<size_t>(size));
  HB_TRY(DecodeFrame(Codec::kZstd, data, {out.mutable_data(), out.size()}));
  return out;
}

}  // namespace hugeblob
