// The framing shared by index and manifest objects (internal to src/format):
//
//   offset  size  field
//   0       4     magic ("HBIX" index, "HBMF" manifest)
//   4       4     version, u32 LE
//   8       4     flags, u32 LE (none defined in version 1: must be 0)
//   12      4     pack_count, u32 LE (rows of the pack table in the body)
//   16      8     entry_count, u64 LE (index entries / manifest frames)
//   24      n     body: one zstd frame with its content size set
//   24+n    16    checksum: first 16 bytes of SHA-256 of bytes [0, 24+n)
//
// Magic and version sit at fixed offsets forever, so any future reader can
// say which version an object has before it understands anything else. The
// table sizes are in the clear so that a reader can bound the decompressed
// size before it allocates, instead of trusting the zstd frame header. The
// checksum covers the header and the compressed body, so corruption is caught
// before a single byte is decompressed. Layout spec: docs/format.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob::format_internal {

inline constexpr size_t kEnvelopeHeaderSize = 24;
inline constexpr size_t kEnvelopeChecksumSize = 16;
// zstd level for metadata: bodies are small and written once, read often.
inline constexpr int kMetadataZstdLevel = 6;
// No index or manifest body may decompress to more than this. A manifest of
// a 1 TiB file with 64 KiB chunks is ~16M frames, ~700 MiB at worst; an index
// stays far below it. The cap keeps a forged header from making a reader
// allocate gigabytes.
inline constexpr uint64_t kMaxMetadataBodySize = uint64_t{1} << 30;

struct EnvelopeHeader {
  uint32_t version = 0;
  uint32_t flags = 0;
  uint32_t pack_count = 0;
  uint64_t entry_count = 0;
};

// "manifest vm/1" or, when `name` is already a key of that kind
// ("index/ab12..."), just the key.
std::string ObjectLabel(std::string_view kind, std::string_view name);

// Compresses `body` and frames it. Deterministic for a given zstd build.
Result<Buffer> SealEnvelope(std::string_view magic, const EnvelopeHeader& header,
                            std::span<const uint8_t> body);

// Header plus checksum-verified (still compressed) body.
struct OpenedEnvelope {
  EnvelopeHeader header;
  std::span<const uint8_t> compressed_body;
};

// Checks magic, version (kUnsupported outside [min_version, max_version]), checksum
// and flags. `label` prefixes every message. Exposed for the fuzzers, which
// need to build objects with valid checksums around arbitrary bodies.
Result<OpenedEnvelope> OpenEnvelope(std::span<const uint8_t> bytes, std::string_view magic,
                                    uint32_t min_version, uint32_t max_version,
                                    std::string_view kind, const std::string& label);

// Decompresses a body that must be between min_size and max_size bytes.
Result<Buffer> InflateBody(std::span<const uint8_t> compressed, uint64_t min_size,
                           uint64_t max_size, const std::string& label);

}  // namespace hugeblob::format_internal
