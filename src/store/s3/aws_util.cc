#include "store/s3/aws_util.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "store/s3/sigv4.h"

namespace hugeblob::s3 {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool EnvTrue(const char* name) {
  std::string v = Env(name);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true" || v == "1" || v == "yes";
}

std::string ReadFileOrEmpty(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ExpandHome(std::string path) {
  if (path.empty() || path[0] != '~') return path;
  std::string home = Env("HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  return home + path.substr(1);
}

std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view s) {
  std::string text(s);
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  int64_t millis = 0;
  if (*rest == '.') {  // fractional seconds: kept to the millisecond
    ++rest;
    int digits = 0;
    for (; std::isdigit(static_cast<unsigned char>(*rest)); ++rest, ++digits) {
      if (digits < 3) millis = millis * 10 + (*rest - '0');
    }
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int64_t offset_s = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (std::strlen(rest) != 6 || rest[3] != ':' || std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
      return std::nullopt;
    offset_s = sign * (hh * 3600 + mm * 60);
    rest += 6;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (*rest != '\0') return std::nullopt;
  const int64_t t = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(t)) +
         std::chrono::milliseconds(millis);
}

std::string FormEncode(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out.push_back('&');
    out += UriEncode(k, true);
    out.push_back('=');
    out += UriEncode(v, true);
  }
  return out;
}

namespace {

// A recursive-descent reader over a string_view; depth-limited so hostile
// input cannot exhaust the stack.
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  Result<std::map<std::string, std::string>> TopObject() {
    std::map<std::string, std::string> out;
    SkipSpace();
    if (!Eat('{')) return Bad("expected an object");
    SkipSpace();
    if (Eat('}')) return Finish(std::move(out));
    for (;;) {
      SkipSpace();
      HB_ASSIGN_OR_RETURN(std::string key, String());
      SkipSpace();
      if (!Eat(':')) return Bad("expected ':'");
      SkipSpace();
      HB_ASSIGN_OR_RETURN(std::optional<std::string> value, Value(0));
      if (value) out[key] = std::move(*value);
      SkipSpace();
      if (Eat(',')) continue;
      if (Eat('}')) return Finish(std::move(out));
      return Bad("expected ',' or '}'");
    }
  }

 private:
  static constexpr int kMaxDepth = 32;

  Result<std::map<std::string, std::string>> Finish(std::map<std::string, std::string> out) {
    SkipSpace();
    if (pos_ != s_.size()) return Bad("trailing characters");
    return out;
  }

  tl::unexpected<Error> Bad(const std::string& what) const {
    return Fail(ErrorCode::kCorruption,
                "malformed JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  Result<uint32_t> Hex4() {
    if (pos_ + 4 > s_.size()) return Bad("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (d < 0) return Bad("bad \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  Result<std::string> String() {
    if (!Eat('"')) return Bad("expected a string");
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Bad("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          HB_ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 1 < s_.size() && s_[pos_] == '\\' &&
              s_[pos_ + 1] == 'u') {
            pos_ += 2;
            HB_ASSIGN_OR_RETURN(uint32_t lo, Hex4());
            if (lo < 0xDC00 || lo > 0xDFFF) return Bad("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Bad("bad escape");
      }
    }
    return Bad("unterminated string");
  }

  // A value; nullopt for objects and arrays (skipped, not kept).
  Result<std::optional<std::string>> Value(int depth) {
    if (depth > kMaxDepth) return Bad("nested too deeply");
    if (pos_ >= s_.size()) return Bad("expected a value");
    char c = s_[pos_];
    if (c == '"') {
      HB_ASSIGN_OR_RETURN(std::string v, String());
      return std::optional<std::string>(std::move(v));
    }
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      SkipSpace();
      if (Eat(close)) return std::optional<std::string>();
      for (;;) {
        SkipSpace();
        if (close == '}') {
          HB_TRY(String());
          SkipSpace();
          if (!Eat(':')) return Bad("expected ':'");
          SkipSpace();
        }
        HB_TRY(Value(depth + 1));
        SkipSpace();
        if (Eat(',')) continue;
        if (Eat(close)) return std::optional<std::string>();
        return Bad("expected ',' or a closing bracket");
      }
    }
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '-' || s_[pos_] == '+' || s_[pos_] == '.'))
      ++pos_;
    std::string lit(s_.substr(start, pos_ - start));
    if (lit.empty()) return Bad("expected a value");
    if (lit != "true" && lit != "false" && lit != "null" &&
        !(std::isdigit(static_cast<unsigned char>(lit[0])) || lit[0] == '-')) {
      return Bad("bad literal");
    }
    return std::optional<std::string>(std::move(lit));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::map<std::string, std::string>> ParseJsonObject(std::string_view text) {
  return JsonReader(text).TopObject();
}

}  // namespace hugeblob::s3
