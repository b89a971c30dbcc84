// The encoders and decoders of manifests, segments and refs (the model:
// manifest.h; layout: docs/format.md). Only the format and the repository
// layer (src/repo/manifests.h loads and publishes them) include this:
// docs/layers.md.
#pragma once

#include <span>
#include <string_view>

#include "format/manifest.h"
#include "hugeblob/buffer.h"
#include "hugeblob/error.h"

namespace hugeblob {

// A segmented manifest must carry its digest (it cannot be computed from
// frames it does not hold); an inline one gets it computed when absent.
Result<Buffer> EncodeManifest(const Manifest& manifest);
// `name` is used in error messages.
Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes, std::string_view name);

// Segment objects. Encoding checks the segment is well-formed (a leaf's
// frames contiguous from ref.offset); decoding checks it is exactly what its
// parent said: level, bytes, frames, data bytes, and frame lengths within
// the manifest's chunker.
Result<Buffer> EncodeSegment(const Segment& segment, HashAlgo chunk_hash);
Result<Segment> DecodeSegment(std::span<const uint8_t> bytes, const SegmentExpectation& expect,
                              std::string_view name);

Buffer EncodeRef(const Ref& ref);
Result<Ref> DecodeRef(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace hugeblob
