// Where objects live in a store, and which names are allowed.
//
//   config                     store marker and format version (text)
//   packs/<h2>/<hex64>         pack: frames + trailing index; id = SHA-256 of the trailer
//   index/<hex64>              index object; id = SHA-256 of its bytes
//   manifests/<hex64>          manifest;     id = SHA-256 of its bytes
//   segments/<hex64>           part of a large manifest's frame table; id = SHA-256 of its bytes
//   refs/<name>                ref: points at a manifest (text); written last
//
// <h2> is the first two hex digits of the id, to keep directories small.
#pragma once

#include <string>
#include <string_view>

#include "hash/blake3.h"
#include "hash/sha256.h"
#include "hugeblob/error.h"

namespace hugeblob {

inline constexpr std::string_view kPacksPrefix = "packs/";
inline constexpr std::string_view kIndexPrefix = "index/";
inline constexpr std::string_view kManifestsPrefix = "manifests/";
inline constexpr std::string_view kSegmentsPrefix = "segments/";
inline constexpr std::string_view kRefsPrefix = "refs/";
inline constexpr std::string_view kConfigKey = "config";

std::string PackKey(const Hash256& pack_id);
std::string IndexKey(const Hash256& index_id);
std::string ManifestKey(const Hash256& manifest_id);
std::string SegmentKey(const Hash256& segment_id);
std::string RefKey(std::string_view name);

// Parses the id out of "packs/ab/ab..." / "index/..." / "manifests/..." /
// "segments/...".
Result<Hash256> IdFromKey(std::string_view key);
// The ref name of "refs/<name>".
std::string_view NameFromRefKey(std::string_view key);

// The hash that names the chunks new puts write, from the store's config
// text: "chunk-hash blake3" in stores made since BLAKE3 ids, no such line
// (SHA-256) in stores made before. A store without a config (an in-memory
// test store) is new: BLAKE3. kUnsupported for a hash this build lacks.
Result<HashAlgo> ChunkHashOfConfig(std::string_view config_text);

// A name is 1..1024 bytes of printable ASCII other than '\\', made of
// '/'-separated components that are not empty, ".", "..", and that do not
// start with '.'. Names never escape the store or a mount.
Status ValidateName(std::string_view name);

}  // namespace hugeblob
