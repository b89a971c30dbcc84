#include "format/envelope.h"

#include <cstdio>
#include <cstring>

#include "codec/codec.h"
#include "format/bytes.h"
#include "hash/sha256.h"

namespace hugeblob::format_internal {

std::string ObjectLabel(std::string_view kind, std::string_view name) {
  // Keys already say what they are: "index/ab12..." reads better than
  // "index index/ab12...".
  if ((kind == "index" && name.starts_with("index/")) ||
      (kind == "manifest" && name.starts_with("manifests/"))) {
    return std::string(name);
  }
  std::string label(kind);
  label += ' ';
  label += name;
  return label;
}

Result<Buffer> SealEnvelope(std::string_view magic, const EnvelopeHeader& header,
                            std::span<const uint8_t> body) {
  HB_ASSIGN_OR_RETURN(Buffer compressed, ZstdCompress(body, kMetadataZstdLevel));
  ByteWriter w;
  w.Reserve(kEnvelopeHeaderSize + compressed.size() + kEnvelopeChecksumSize);
  w.Bytes(magic.substr(0, 4));
  w.U32(header.version);
  w.U32(header.flags);
  w.U32(header.pack_count);
  w.U64(header.entry_count);
  w.Bytes(compressed.span());
  Hash256 sum = Sha256Of(std::span<const uint8_t>(w.bytes()));
  w.Bytes(std::span<const uint8_t>(sum.bytes.data(), kEnvelopeChecksumSize));
  return Buffer::Copy(std::span<const uint8_t>(w.bytes()));
}

Result<OpenedEnvelope> OpenEnvelope(std::span<const uint8_t> bytes, std::string_view magic,
                                    uint32_t min_version, uint32_t max_version,
                                    std::string_view kind, const std::string& label) {
  // Magic and version first, before anything whose layout might differ in
  // another version (including where the checksum is).
  if (bytes.size() < 8) {
    return Fail(ErrorCode::kCorruption, label + ": truncated (" + std::to_string(bytes.size()) +
                                            " bytes, too short for a " + std::string(kind) +
                                            " header)");
  }
  if (std::memcmp(bytes.data(), magic.data(), 4) != 0) {
    return Fail(ErrorCode::kCorruption,
                label + ": not a hugeblob " + std::string(kind) + " (bad magic)");
  }
  uint32_t version = LoadU32(bytes.data() + 4);
  if (version < min_version || version > max_version) {
    const std::string reads =
        min_version == max_version
            ? "version " + std::to_string(max_version)
            : "versions " + std::to_string(min_version) + " to " + std::to_string(max_version);
    return Fail(ErrorCode::kUnsupported, label + ": format version " + std::to_string(version) +
                                             " is not supported (this hugeblob reads " + reads +
                                             ")");
  }
  if (bytes.size() < kEnvelopeHeaderSize + kEnvelopeChecksumSize) {
    return Fail(ErrorCode::kCorruption,
                label + ": truncated (" + std::to_string(bytes.size()) + " bytes)");
  }
  size_t covered = bytes.size() - kEnvelopeChecksumSize;
  Hash256 sum = Sha256Of(bytes.subspan(0, covered));
  if (std::memcmp(sum.bytes.data(), bytes.data() + covered, kEnvelopeChecksumSize) != 0) {
    return Fail(ErrorCode::kCorruption, label + ": checksum mismatch");
  }
  OpenedEnvelope out;
  out.header.version = version;
  out.header.flags = LoadU32(bytes.data() + 8);
  out.header.pack_count = LoadU32(bytes.data() + 12);
  out.header.entry_count = LoadU64(bytes.data() + 16);
  if (out.header.flags != 0) {
    // A checksummed object with flags we do not know was written by a newer
    // hugeblob that uses a feature we cannot honour: refuse, never guess.
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", out.header.flags);
    return Fail(ErrorCode::kUnsupported,
                label + ": uses unknown feature flags " + hex + " (this hugeblob knows none)");
  }
  out.compressed_body = bytes.subspan(kEnvelopeHeaderSize, covered - kEnvelopeHeaderSize);
  return out;
}

Result<Buffer> InflateBody(std::span<const uint8_t> compressed, uint64_t min_size,
                           uint64_t max_size, const std::string& label) {
  if (max_size > kMaxMetadataBodySize) max_size = kMaxMetadataBodySize;
  if (min_size > max_size) {
    return Fail(ErrorCode::kCorruption,
                label + ": header claims tables of at least " + std::to_string(min_size) +
                    " bytes, more than the limit of " + std::to_string(max_size));
  }
  auto body = ZstdDecompress(compressed, max_size);
  if (!body) return Fail(body.error().Wrap(label + ": body"));
  if (body->size() < min_size) {
    return Fail(ErrorCode::kCorruption, label + ": body is " + std::to_string(body->size()) +
                                            " bytes, header needs at least " +
                                            std::to_string(min_size));
  }
  return body;
}

}  // namespace hugeblob::format_internal
