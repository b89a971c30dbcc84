#include "format/layout.h"

#include <cstdio>

namespace hugeblob {
namespace {

inline constexpr size_t kMaxNameLength = 1024;

// For messages: a name may hold control bytes we must not print raw.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

Result<Hash256> ParseId(std::string_view hex, std::string_view key) {
  auto id = Hash256::FromHex(hex);
  if (!id) {
    return Fail(ErrorCode::kInvalidArgument,
                "'" + Printable(key) + "' is not a key of a pack, index or manifest");
  }
  return *id;
}

}  // namespace

std::string PackKey(const Hash256& pack_id) {
  std::string hex = pack_id.Hex();
  std::string key(kPacksPrefix);
  key += hex.substr(0, 2);
  key += '/';
  key += hex;
  return key;
}

std::string IndexKey(const Hash256& index_id) { return std::string(kIndexPrefix) + index_id.Hex(); }

std::string ManifestKey(const Hash256& manifest_id) {
  return std::string(kManifestsPrefix) + manifest_id.Hex();
}

std::string SegmentKey(const Hash256& segment_id) {
  return std::string(kSegmentsPrefix) + segment_id.Hex();
}

std::string RefKey(std::string_view name) {
  std::string key(kRefsPrefix);
  key += name;
  return key;
}

Result<Hash256> IdFromKey(std::string_view key) {
  if (key.starts_with(kPacksPrefix)) {
    std::string_view rest = key.substr(kPacksPrefix.size());
    // "<h2>/<hex64>", and the directory must match the id (a pack filed under
    // the wrong directory is not one we wrote).
    if (rest.size() != 3 + 64 || rest[2] != '/' || rest.substr(0, 2) != rest.substr(3, 2)) {
      return Fail(ErrorCode::kInvalidArgument, "'" + Printable(key) + "' is not a pack key");
    }
    return ParseId(rest.substr(3), key);
  }
  if (key.starts_with(kIndexPrefix)) return ParseId(key.substr(kIndexPrefix.size()), key);
  if (key.starts_with(kManifestsPrefix)) return ParseId(key.substr(kManifestsPrefix.size()), key);
  if (key.starts_with(kSegmentsPrefix)) return ParseId(key.substr(kSegmentsPrefix.size()), key);
  return Fail(ErrorCode::kInvalidArgument,
              "'" + Printable(key) + "' is not a key of a pack, index or manifest");
}

std::string_view NameFromRefKey(std::string_view key) {
  if (!key.starts_with(kRefsPrefix)) return {};
  return key.substr(kRefsPrefix.size());
}

Status ValidateName(std::string_view name) {
  auto reject = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid name '" + Printable(name) + "': " + std::string(why));
  };
  if (name.empty()) return reject("empty");
  if (name.size() > kMaxNameLength) return reject("longer than 1024 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return reject("only printable ASCII is allowed");
    // A backslash is a separator on Windows and in some S3 tools.
    if (c == '\\') return reject("backslash is not allowed");
  }
  // Every component: non-empty (no leading, trailing or doubled '/'), and not
  // starting with '.', which covers "." and ".." and keeps hidden and
  // temporary files of the local store and the mount out of the namespace.
  size_t start = 0;
  while (true) {
    size_t end = name.find('/', start);
    std::string_view comp =
        name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (comp.empty()) {
      if (start == 0) return reject("must not start with '/'");
      if (end == std::string_view::npos) return reject("must not end with '/'");
      return reject("empty path component");
    }
    if (comp == "." || comp == "..") return reject("'.' and '..' components are not allowed");
    if (comp[0] == '.') return reject("a component must not start with '.'");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return OkStatus();
}

Result<HashAlgo> ChunkHashOfConfig(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    constexpr std::string_view kKey = "chunk-hash ";
    if (line.starts_with(kKey)) return ParseHashAlgo(line.substr(kKey.size()));
  }
  return HashAlgo::kSha256;
}

}  // namespace hugeblob
