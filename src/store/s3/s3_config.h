// Where an S3 store lives and how to talk to it, taken the way the AWS CLI
// takes it (docs/s3.md has the full precedence):
//
//   s3://bucket/prefix[?endpoint=URL&region=R&profile=P&addressing=path|virtual
//                       &sse=AES256|aws:kms|aws:kms:dsse&sse-kms-key-id=KEY]
//   AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION,
//   AWS_PROFILE / AWS_DEFAULT_PROFILE, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
//   AWS_SESSION_TOKEN, AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials),
//   AWS_CONFIG_FILE (~/.aws/config), AWS_MAX_ATTEMPTS,
//   HB_S3_SSE / HB_S3_SSE_KMS_KEY_ID (server-side encryption),
//   and hugeblob's tuning knobs HB_S3_* (part size, parts in flight, ...).
//
// Secrets live only in Credentials; nothing here formats them into a message.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "hugeblob/error.h"
#include "store/s3/sigv4.h"

namespace hugeblob::s3 {

enum class Addressing { kAuto, kPath, kVirtual };
enum class PayloadSigning {
  kAuto,      // SHA-256 over plain HTTP, UNSIGNED-PAYLOAD over TLS (as botocore does)
  kUnsigned,  // UNSIGNED-PAYLOAD: TLS already protects the body
  kSha256,    // hash every body (one extra pass over the bytes)
};

struct S3Config {
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'; may be empty
  // The query of the s3:// URL as given, so url() can reopen the same store.
  std::string url_query;

  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  bool custom_endpoint = false;
  std::string region;
  Addressing addressing = Addressing::kAuto;
  PayloadSigning payload_signing = PayloadSigning::kAuto;

  // Server-side encryption asked for on every write (PUT and
  // CreateMultipartUpload; parts inherit it): "" leaves it to the bucket's
  // default, else "AES256" (SSE-S3), "aws:kms" or "aws:kms:dsse" (SSE-KMS).
  std::string sse;
  // With aws:kms: the KMS key (id, ARN or alias); empty: the account's
  // default key for S3.
  std::string sse_kms_key_id;

  // Where credentials come from when not in the environment.
  std::string profile;
  std::string credentials_file;
  std::string config_file;

  // Objects at least this large are uploaded in parts by Put.
  uint64_t multipart_threshold = 64ull << 20;
  // The smallest part Put uses; grown so that no object needs more than
  // 10,000 parts (S3's limit). S3 refuses parts below 5 MiB but the last.
  uint64_t min_part_size = 16ull << 20;
  // Parts of one Put uploaded at once; each holds a connection.
  int parts_in_flight = 4;

  // Attempts per request (first try included), and the backoff between them.
  int max_attempts = 8;
  int retry_base_ms = 200;
  int retry_max_ms = 20000;

  int connect_timeout_s = 10;
  // A transfer that moves less than 1 KiB/s for this long is cut and retried.
  int stall_timeout_s = 30;
  // Until the server has answered once, a request that gets no byte back for
  // this long is cut, and connection failures and silences get at most
  // `unproven_attempts` tries: a wrong port or a host that accepts and never
  // answers fails the command in about 3 x 10 s, not 8 x 30 s (docs/s3.md).
  int first_answer_timeout_s = 10;
  int unproven_attempts = 3;
  // CompleteMultipartUpload may take long with no byte on the wire (some
  // servers copy the whole object): its deadline is this plus size / rate.
  int complete_base_timeout_s = 120;
  uint64_t complete_min_rate = 16ull << 20;  // bytes per second
  int list_page_size = 1000;
  // Requests that clean up after an interruption or a failure
  // (AbortMultipartUpload), and CreateMultipartUpload whose upload must be
  // known to be aborted, are not stopped by Ctrl-C; all their attempts
  // together end within this many seconds instead.
  int cleanup_timeout_s = 15;

  // Derived: true when requests go to http:// (no TLS).
  bool plain_http() const { return endpoint.rfind("http://", 0) == 0; }
  bool use_path_style() const;
  bool sign_payload() const;
};

// Parses the s3:// URL and fills in everything else from the environment and
// the AWS config file. Does not read credentials (credentials.h does).
Result<S3Config> LoadS3Config(std::string_view url);

// A parsed AWS ini file: section name -> key -> value. Nested keys
// ("s3 =\n  addressing_style = path") appear as "s3.addressing_style".
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
IniFile ParseIni(std::string_view text);

}  // namespace hugeblob::s3
