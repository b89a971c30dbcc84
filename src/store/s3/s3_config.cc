#include "store/s3/s3_config.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "store/s3/aws_util.h"
#include "util/units.h"

namespace hugeblob::s3 {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Fail(ErrorCode::kInvalidArgument, "bad %-escape in s3 URL");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<uint64_t> EnvSize(const char* name, uint64_t def) {
  std::string v = Env(name);
  if (v.empty()) return def;
  auto r = ParseSize(v);
  if (!r) return Fail(ErrorCode::kInvalidArgument, std::string(name) + "=" + v + ": not a size");
  return *r;
}

Result<int> EnvInt(const char* name, int def, int min, int max) {
  std::string v = Env(name);
  if (v.empty()) return def;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < min || n > max) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(name) + "=" + v + ": expected an integer in [" + std::to_string(min) +
                    ", " + std::to_string(max) + "]");
  }
  return static_cast<int>(n);
}

Result<Addressing> ParseAddressing(std::string_view v, std::string_view where) {
  if (v.empty() || v == "auto") return Addressing::kAuto;
  if (v == "path") return Addressing::kPath;
  if (v == "virtual") return Addressing::kVirtual;
  return Fail(ErrorCode::kInvalidArgument,
              std::string(where) + ": addressing style must be auto, path or virtual, not '" +
                  std::string(v) + "'");
}

// "http(s)://host[:port]" with no path; returns it without a trailing slash.
Result<std::string> NormalizeEndpoint(std::string e, std::string_view where) {
  if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(where) + ": endpoint '" + e + "' must start with http:// or https://");
  }
  while (!e.empty() && e.back() == '/') e.pop_back();
  size_t host_start = e.find("://") + 3;
  if (e.find('/', host_start) != std::string::npos ||
      e.find('?', host_start) != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(where) + ": endpoint '" + e + "' must not have a path");
  }
  if (e.find('@', host_start) != std::string::npos) {
    // user:password@ in an endpoint would end up in messages.
    return Fail(ErrorCode::kInvalidArgument,
                std::string(where) + ": endpoint must not carry user information");
  }
  if (e.size() == host_start)
    return Fail(ErrorCode::kInvalidArgument, std::string(where) + ": empty endpoint host");
  return e;
}

bool ValidBucketName(std::string_view b) {
  if (b.size() < 3 || b.size() > 255) return false;
  for (char c : b) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  }
  return true;
}

const std::map<std::string, std::string>* Section(const IniFile& ini, const std::string& name) {
  auto it = ini.find(name);
  return it == ini.end() ? nullptr : &it->second;
}

std::string Lookup(const std::map<std::string, std::string>* sec, const std::string& key) {
  if (!sec) return "";
  auto it = sec->find(key);
  return it == sec->end() ? "" : it->second;
}

std::string ConfigSectionName(const std::string& profile) {
  return profile == "default" ? "default" : "profile " + profile;
}

}  // namespace

bool S3Config::use_path_style() const {
  switch (addressing) {
    case Addressing::kPath:
      return true;
    case Addressing::kVirtual:
      return false;
    case Addressing::kAuto:
      break;
  }
  // A custom endpoint is usually an IP or a host without wildcard DNS
  // (MinIO, s3rver, Ceph); a bucket name that is not a DNS label (or has dots,
  // which break TLS wildcard certificates) cannot go into the host name.
  if (custom_endpoint) return true;
  for (char c : bucket) {
    if (c == '.' || c == '_' || std::isupper(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

bool S3Config::sign_payload() const {
  switch (payload_signing) {
    case PayloadSigning::kSha256:
      return true;
    case PayloadSigning::kUnsigned:
      return false;
    case PayloadSigning::kAuto:
      break;
  }
  return plain_http();
}

IniFile ParseIni(std::string_view text) {
  IniFile ini;
  std::string section;
  std::string nested;  // the key of an "s3 =" block whose indented lines follow
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      if (nl == text.size()) break;
      continue;
    }
    bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(std::string_view(line).substr(1, line.size() - 2));
      nested.clear();
      ini[section];
    } else if (size_t eq = line.find('='); eq != std::string::npos && !section.empty()) {
      std::string key = Trim(std::string_view(line).substr(0, eq));
      std::string value = Trim(std::string_view(line).substr(eq + 1));
      if (indented && !nested.empty()) {
        ini[section][nested + "." + key] = value;
      } else {
        nested = value.empty() ? key : "";
        ini[section][key] = value;
      }
    }
    if (nl == text.size()) break;
  }
  return ini;
}

Result<S3Config> LoadS3Config(std::string_view url) {
  S3Config c;
  constexpr std::string_view kScheme = "s3://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Fail(ErrorCode::kInvalidArgument, "not an s3:// URL: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  c.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view p = rest.substr(slash + 1);
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    c.prefix = std::string(p);
  }
  if (!ValidBucketName(c.bucket)) {
    return Fail(ErrorCode::kInvalidArgument,
                "s3 URL " + std::string(url) + ": '" + c.bucket + "' is not a valid bucket name");
  }
  for (std::string_view comp : {std::string_view(c.prefix)}) {
    // Reject "." and ".." components: keys under the prefix must stay under it.
    size_t start = 0;
    while (start <= comp.size() && !comp.empty()) {
      size_t end = comp.find('/', start);
      if (end == std::string_view::npos) end = comp.size();
      std::string_view part = comp.substr(start, end - start);
      if (part.empty() || part == "." || part == "..") {
        return Fail(
            ErrorCode::kInvalidArgument,
            "s3 URL " + std::string(url) + ": bad prefix component '" + std::string(part) + "'");
      }
      start = end + 1;
      if (end == comp.size()) break;
    }
  }
  c.url_query = std::string(query);

  std::map<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    HB_ASSIGN_OR_RETURN(std::string k, PercentDecode(kv.substr(0, eq)));
    std::string v;
    if (eq != std::string_view::npos) {
      HB_ASSIGN_OR_RETURN(v, PercentDecode(kv.substr(eq + 1)));
    }
    if (k == "sse_kms_key_id") k = "sse-kms-key-id";
    if (k != "endpoint" && k != "region" && k != "profile" && k != "addressing" && k != "sse" &&
        k != "sse-kms-key-id") {
      return Fail(ErrorCode::kInvalidArgument,
                  "s3 URL: unknown option '" + k +
                      "' (known: endpoint, region, profile, addressing, sse, sse-kms-key-id)");
    }
    params[k] = v;
  }

  // Profile and files.
  c.profile = params.count("profile") ? params["profile"] : Env("AWS_PROFILE");
  if (c.profile.empty()) c.profile = Env("AWS_DEFAULT_PROFILE");
  if (c.profile.empty()) c.profile = "default";
  c.credentials_file = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (c.credentials_file.empty()) c.credentials_file = "~/.aws/credentials";
  c.credentials_file = ExpandHome(c.credentials_file);
  c.config_file = Env("AWS_CONFIG_FILE");
  if (c.config_file.empty()) c.config_file = "~/.aws/config";
  c.config_file = ExpandHome(c.config_file);
  IniFile config = ParseIni(ReadFileOrEmpty(c.config_file));
  const auto* prof = Section(config, ConfigSectionName(c.profile));

  // Region.
  c.region = params["region"];
  if (c.region.empty()) c.region = Env("AWS_REGION");
  if (c.region.empty()) c.region = Env("AWS_DEFAULT_REGION");
  if (c.region.empty()) c.region = Lookup(prof, "region");
  if (c.region.empty()) c.region = "us-east-1";

  // Endpoint.
  std::string endpoint = params["endpoint"];
  std::string where = "s3 URL";
  for (auto [name, source] : {std::pair{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_S3"},
                              std::pair{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"}}) {
    if (!endpoint.empty()) break;
    endpoint = Env(name);
    where = source;
  }
  if (endpoint.empty()) {
    endpoint = Lookup(prof, "s3.endpoint_url");
    if (endpoint.empty()) endpoint = Lookup(prof, "endpoint_url");
    where = c.config_file;
  }
  if (!endpoint.empty()) {
    HB_ASSIGN_OR_RETURN(c.endpoint, NormalizeEndpoint(endpoint, where));
    c.custom_endpoint = true;
  } else {
    c.endpoint = "https://s3." + c.region + ".amazonaws.com";
  }

  // Addressing.
  std::string addressing = params["addressing"];
  if (addressing.empty()) addressing = Env("HB_S3_ADDRESSING");
  if (addressing.empty()) addressing = Lookup(prof, "s3.addressing_style");
  HB_ASSIGN_OR_RETURN(c.addressing, ParseAddressing(addressing, "s3 addressing"));

  // Server-side encryption: the URL's options, else the environment.
  c.sse = params.count("sse") ? params["sse"] : Env("HB_S3_SSE");
  c.sse_kms_key_id =
      params.count("sse-kms-key-id") ? params["sse-kms-key-id"] : Env("HB_S3_SSE_KMS_KEY_ID");
  if (c.sse == "aes256") c.sse = "AES256";
  if (!c.sse.empty() && c.sse != "AES256" && c.sse != "aws:kms" && c.sse != "aws:kms:dsse") {
    return Fail(ErrorCode::kInvalidArgument,
                "server-side encryption (sse) must be AES256, "
                "aws:kms or aws:kms:dsse, not '" +
                    c.sse + "'");
  }
  if (!c.sse_kms_key_id.empty() && c.sse.rfind("aws:kms", 0) != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "a KMS key id (sse-kms-key-id) needs sse=aws:kms or aws:kms:dsse");
  }

  std::string signing = Env("HB_S3_PAYLOAD_SIGNING");
  if (signing == "unsigned") {
    c.payload_signing = PayloadSigning::kUnsigned;
  } else if (signing == "sha256") {
    c.payload_signing = PayloadSigning::kSha256;
  } else if (!signing.empty() && signing != "auto") {
    return Fail(ErrorCode::kInvalidArgument,
                "HB_S3_PAYLOAD_SIGNING must be auto, unsigned or sha256, not '" + signing + "'");
  }

  // Tuning.
  HB_ASSIGN_OR_RETURN(c.multipart_threshold,
                      EnvSize("HB_S3_MULTIPART_THRESHOLD", c.multipart_threshold));
  HB_ASSIGN_OR_RETURN(c.min_part_size, EnvSize("HB_S3_PART_SIZE", c.min_part_size));
  if (c.min_part_size < (5ull << 20) || c.min_part_size > (5ull << 30)) {
    return Fail(ErrorCode::kInvalidArgument, "HB_S3_PART_SIZE must be between 5 MiB and 5 GiB");
  }
  if (c.multipart_threshold < c.min_part_size) c.multipart_threshold = c.min_part_size;
  HB_ASSIGN_OR_RETURN(c.parts_in_flight, EnvInt("HB_S3_PARTS_IN_FLIGHT", c.parts_in_flight, 1, 64));
  int max_attempts_default = c.max_attempts;
  std::string cfg_attempts = Lookup(prof, "max_attempts");
  if (!cfg_attempts.empty()) max_attempts_default = std::atoi(cfg_attempts.c_str());
  if (max_attempts_default < 1) max_attempts_default = 1;
  HB_ASSIGN_OR_RETURN(c.max_attempts, EnvInt("AWS_MAX_ATTEMPTS", max_attempts_default, 1, 100));
  HB_ASSIGN_OR_RETURN(c.max_attempts, EnvInt("HB_S3_MAX_ATTEMPTS", c.max_attempts, 1, 100));
  HB_ASSIGN_OR_RETURN(c.retry_base_ms, EnvInt("HB_S3_RETRY_BASE_MS", c.retry_base_ms, 1, 60000));
  HB_ASSIGN_OR_RETURN(c.connect_timeout_s,
                      EnvInt("HB_S3_CONNECT_TIMEOUT", c.connect_timeout_s, 1, 600));
  HB_ASSIGN_OR_RETURN(c.stall_timeout_s, EnvInt("HB_S3_STALL_TIMEOUT", c.stall_timeout_s, 1, 3600));
  HB_ASSIGN_OR_RETURN(c.first_answer_timeout_s,
                      EnvInt("HB_S3_FIRST_ANSWER_TIMEOUT", c.first_answer_timeout_s, 1, 3600));
  HB_ASSIGN_OR_RETURN(c.list_page_size, EnvInt("HB_S3_LIST_PAGE_SIZE", c.list_page_size, 1, 1000));
  HB_ASSIGN_OR_RETURN(c.cleanup_timeout_s,
                      EnvInt("HB_S3_CLEANUP_TIMEOUT", c.cleanup_timeout_s, 1, 600));
  return c;
}

}  // namespace hugeblob::s3
