#include "store/key.h"

#include <cstring>
#include <string>

#include "hugeblob/store.h"

namespace hugeblob {

namespace {

Status Invalid(std::string_view what, std::string_view key, std::string_view why) {
  std::string m(what);
  m += " '";
  // The key may hold control characters; show them escaped.
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      m += "\\x";
      m += kHex[(static_cast<unsigned char>(c) >> 4) & 15];
      m += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      m += c;
    }
  }
  m += "': ";
  m += why;
  return Fail(ErrorCode::kInvalidArgument, std::move(m));
}

// Checks each complete component of `s`; `allow_partial_last` lets the last
// one be empty (prefix "packs/") since a prefix may stop anywhere.
Status CheckComponents(std::string_view what, std::string_view s, bool allow_partial_last) {
  if (s.find('\0') != std::string_view::npos) return Invalid(what, s, "contains a NUL byte");
  if (!s.empty() && s.front() == '/') return Invalid(what, s, "must be relative (no leading '/')");
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string_view comp = s.substr(start, last ? std::string_view::npos : slash - start);
    if (comp.empty() && !(last && allow_partial_last)) {
      return Invalid(what, s, "has an empty path component");
    }
    // In a prefix, a last component "." or ".." could still grow into a
    // valid name ("..x"), so only complete components are refused there.
    if ((comp == "." || comp == "..") && !(last && allow_partial_last)) {
      return Invalid(what, s, "has a '.' or '..' component");
    }
    if (comp.size() > 255) return Invalid(what, s, "has a component longer than 255 bytes");
    if (last) break;
    start = slash + 1;
  }
  return OkStatus();
}

}  // namespace

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Invalid("key", key, "is empty");
  return CheckComponents("key", key, false);
}

Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return OkStatus();
  return CheckComponents("prefix", prefix, true);
}

}  // namespace hugeblob

namespace hugeblob {

Status ObjectStore::GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) {
  HB_ASSIGN_OR_RETURN(Buffer got, GetRange(key, offset, dst.size()));
  if (got.size() != dst.size()) {
    return Fail(ErrorCode::kCorruption,
                std::string(key) + ": " + std::to_string(got.size()) +
                    " bytes returned for a range of " + std::to_string(dst.size()) + " at offset " +
                    std::to_string(offset) +
                    (got.size() < dst.size() ? " (object truncated?)" : ""));
  }
  if (!dst.empty()) std::memcpy(dst.data(), got.data(), dst.size());
  return OkStatus();
}

}  // namespace hugeblob
