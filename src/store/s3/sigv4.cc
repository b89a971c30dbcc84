#include "store/s3/sigv4.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "hash/sha256.h"

namespace hugeblob::s3 {
namespace {

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trim and collapse inner runs of spaces to one, as SigV4 asks for header values.
std::string NormalizeValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::array<uint8_t, 32> Hmac(std::span<const uint8_t> key, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

}  // namespace

std::string HexOf(const uint8_t* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

std::string UriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const KeyValues& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string CanonicalHeaders(const KeyValues& headers, std::string* signed_headers) {
  // Stable sort keeps duplicates in the order given, which is the order
  // their values are joined in.
  std::vector<std::pair<std::string, std::string>> norm;
  norm.reserve(headers.size());
  for (const auto& [k, v] : headers) norm.emplace_back(Lower(NormalizeValue(k)), NormalizeValue(v));
  std::stable_sort(norm.begin(), norm.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  signed_headers->clear();
  for (size_t i = 0; i < norm.size();) {
    const std::string& name = norm[i].first;
    std::string value = norm[i].second;
    size_t j = i + 1;
    for (; j < norm.size() && norm[j].first == name; ++j) {
      value.push_back(',');
      value += norm[j].second;
    }
    out += name;
    out.push_back(':');
    out += value;
    out.push_back('\n');
    if (!signed_headers->empty()) signed_headers->push_back(';');
    *signed_headers += name;
    i = j;
  }
  return out;
}

std::string CanonicalRequest(const SigningInput& in, std::string* signed_headers) {
  std::string out = in.method;
  out.push_back('\n');
  out += in.canonical_uri.empty() ? "/" : in.canonical_uri;
  out.push_back('\n');
  out += CanonicalQueryString(in.query);
  out.push_back('\n');
  out += CanonicalHeaders(in.headers, signed_headers);
  out.push_back('\n');
  out += *signed_headers;
  out.push_back('\n');
  out += in.payload_hash;
  return out;
}

std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service) {
  std::string out(amz_date.substr(0, 8));
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += "/aws4_request";
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += Sha256Of(canonical_request).Hex();
  return out;
}

std::array<uint8_t, 32> SigningKey(std::string_view secret, std::string_view date8,
                                   std::string_view region, std::string_view service) {
  std::string k0 = "AWS4";
  k0 += secret;
  auto k_date = Hmac({reinterpret_cast<const uint8_t*>(k0.data()), k0.size()}, date8);
  // Scrub the copy of the secret; the derived keys are scoped to a day/region.
  std::fill(k0.begin(), k0.end(), '\0');
  auto k_region = Hmac(k_date, region);
  auto k_service = Hmac(k_region, service);
  return Hmac(k_service, "aws4_request");
}

Signature Sign(const SigningInput& in, const Credentials& creds) {
  Signature s;
  s.canonical_request = CanonicalRequest(in, &s.signed_headers);
  const std::string scope = CredentialScope(in.amz_date, in.region, in.service);
  s.string_to_sign = StringToSign(in.amz_date, scope, s.canonical_request);
  const auto key =
      SigningKey(creds.secret_access_key, in.amz_date.substr(0, 8), in.region, in.service);
  const auto sig = Hmac(key, s.string_to_sign);
  s.signature = HexOf(sig.data(), sig.size());
  s.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                    ", SignedHeaders=" + s.signed_headers + ", Signature=" + s.signature;
  return s;
}

std::string AmzDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace hugeblob::s3
