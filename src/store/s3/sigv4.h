// AWS Signature Version 4, as pure functions over strings: no clock, no I/O,
// no global state, so every step can be checked against the published
// vectors and against botocore (see sigv4_test.cc and tests/s3_sigcheck.py).
//
// What we sign for S3 (docs/s3.md): method, the URI-encoded path exactly as
// sent, the sorted encoded query, and the headers the caller passes in
// (always host, x-amz-date and x-amz-content-sha256; range,
// x-amz-security-token and content-type when present). Headers that proxies
// may rewrite (user-agent, expect, accept) are sent but never signed.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hugeblob::s3 {

// The hex SHA-256 of the empty string, and the literal that tells S3 the
// payload is not part of the signature.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials

  friend bool operator==(const Credentials&, const Credentials&) = default;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes every byte except the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~), with upper-case hex, as SigV4 requires; '/' is kept
// when `encode_slash` is false (object keys in paths).
std::string UriEncode(std::string_view s, bool encode_slash);

struct SigningInput {
  std::string method;         // "GET", "PUT", ...
  std::string canonical_uri;  // the path as sent on the wire, already encoded
  KeyValues query;            // raw (not encoded) names and values
  KeyValues headers;          // names in any case, values as sent
  std::string payload_hash;   // hex SHA-256 of the body, or kUnsignedPayload
  std::string amz_date;       // "20150830T123600Z"; must equal the x-amz-date header
  std::string region;
  std::string service;  // "s3"
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // the whole Authorization header value
};

// "a=1&b=%2F" with names and values encoded and pairs sorted by name, then
// value. The same string is used on the wire, so what is signed is what is sent.
std::string CanonicalQueryString(const KeyValues& query);
// Lower-cased names, trimmed values with inner runs of spaces collapsed,
// duplicates joined with ',', sorted by name; fills `signed_headers`.
std::string CanonicalHeaders(const KeyValues& headers, std::string* signed_headers);
std::string CanonicalRequest(const SigningInput& in, std::string* signed_headers);
// "20150830/us-east-1/s3/aws4_request"
std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service);
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);
std::array<uint8_t, 32> SigningKey(std::string_view secret, std::string_view date8,
                                   std::string_view region, std::string_view service);

Signature Sign(const SigningInput& in, const Credentials& creds);

// "20150830T123600Z" for a UTC time.
std::string AmzDate(std::time_t t);
std::string HexOf(const uint8_t* p, size_t n);

}  // namespace hugeblob::s3
