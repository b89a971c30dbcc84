#include "store/s3/s3_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hash/sha256.h"
#include "store/key.h"
#include "util/cancel.h"

namespace hugeblob {

namespace s3 {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMaxParts = 10000;            // S3's limit per upload
constexpr uint64_t kMaxPartSize = 5ull << 30;    // 5 GiB
constexpr uint64_t kMaxObjectSize = 5ull << 40;  // 5 TiB
constexpr size_t kMaxKeyBytes = 1024;            // S3's key length limit
// A Complete whose size we do not know (parts sent by another process)
// gets this long; servers that copy the object need it for large ones.
constexpr int kUnknownCompleteTimeoutS = 3600;

struct S3ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
};

S3ErrorBody ParseErrorBody(const HttpResponse& resp) {
  S3ErrorBody e;
  e.request_id = resp.Header("x-amz-request-id");
  if (resp.body.empty()) return e;
  auto doc = ParseXml(resp.body.view());
  if (!doc || doc->name != "Error") return e;
  e.code = doc->ChildText("Code");
  e.message = doc->ChildText("Message");
  if (std::string id = doc->ChildText("RequestId"); !id.empty()) e.request_id = id;
  return e;
}

bool IsExpiredCredentials(const std::string& code) {
  return code == "ExpiredToken" || code == "ExpiredTokenException" ||
         code == "TokenRefreshRequired" || code == "InvalidToken" || code == "RequestExpired";
}

bool In(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// The shared key rules, plus what S3 needs on top: its 1024-byte key limit,
// and no control characters, which XML 1.0 listings cannot carry.
Status CheckKey(std::string_view key) {
  HB_TRY(ValidateKey(key));
  if (key.size() > kMaxKeyBytes) {
    return Fail(ErrorCode::kInvalidArgument,
                "key '" + std::string(key.substr(0, 64)) + "...': longer than S3's 1024 bytes");
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return Fail(ErrorCode::kInvalidArgument,
                  "key: control characters cannot be stored in S3 listings");
    }
  }
  return OkStatus();
}

Status CheckPrefix(std::string_view prefix) {
  HB_TRY(ValidatePrefix(prefix));
  for (unsigned char c : prefix) {
    if (c < 0x20 || c == 0x7f) {
      return Fail(ErrorCode::kInvalidArgument, "list prefix: control character");
    }
  }
  return OkStatus();
}

// "Wed, 21 Oct 2015 07:28:00 GMT" -> seconds since the epoch (0 if unparsable).
int64_t ParseHttpDate(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// "2015-10-21T07:28:00.000Z" -> seconds since the epoch (0 if unparsable).
int64_t ParseIsoDate(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

Result<uint64_t> ParseU64(const std::string& s, const std::string& what) {
  if (s.empty()) return Fail(ErrorCode::kCorruption, what + ": missing number");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
      return Fail(ErrorCode::kCorruption, what + ": bad number '" + s + "'");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool TraceEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("HB_S3_TRACE");
    return v != nullptr && *v != '\0' && std::string_view(v) != "0";
  }();
  return on;
}

// HB_S3_TRACE lines go straight to stderr, whatever log level the program
// chose: they are asked for explicitly. One write per line, so lines from
// several threads do not interleave.
void Trace(const std::string& line) {
  std::string out = "hugeblob: s3: " + line + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace

Result<uint64_t> PartSizeFor(uint64_t size, uint64_t min_part) {
  if (size > kMaxObjectSize) {
    return Fail(ErrorCode::kInvalidArgument,
                "object of " + std::to_string(size) + " bytes is larger than S3's 5 TiB limit");
  }
  uint64_t part = std::max<uint64_t>(min_part, (size + kMaxParts - 1) / kMaxParts);
  part = (part + kMiB - 1) / kMiB * kMiB;
  if (part > kMaxPartSize) {
    return Fail(ErrorCode::kInvalidArgument, "part size above S3's 5 GiB limit");
  }
  return part;
}

struct S3Store::Request {
  std::string method;
  std::string full_key;  // empty: the bucket itself
  KeyValues query;
  KeyValues headers;  // signed, besides host and x-amz-*
  const BufferChain* body = nullptr;
  std::span<uint8_t> into;  // HttpRequest::into
  std::string payload_hash;
  int stall_timeout_s = -1;  // -1: the configured one
  int total_timeout_s = 0;
  // Some answers are 200 with an <Error> document (CompleteMultipartUpload).
  bool error_in_body = false;
  std::string what;         // "GET s3://bucket/key bytes=0-99"
  int* attempts = nullptr;  // if set, receives how many attempts were made
  std::function<bool(const HttpResponse&)> stop_after_headers;
  // Cleanup (AbortMultipartUpload): not stopped by Ctrl-C, all attempts
  // bounded by cleanup_timeout_s instead.
  bool cleanup = false;
  // A transfer in flight when Ctrl-C comes may go on this long (see
  // HttpRequest::cancel_grace_s); retries stop at once.
  int cancel_grace_s = 0;
};

S3Store::S3Store(S3Config config, std::shared_ptr<CredentialsProvider> credentials)
    : config_(std::move(config)),
      credentials_(std::move(credentials)),
      retry_(config_.max_attempts, config_.retry_base_ms, config_.retry_max_ms) {
  size_t sep = config_.endpoint.find("://");
  scheme_ = config_.endpoint.substr(0, sep);
  authority_ = config_.endpoint.substr(sep + 3);
  // Drop a default port: curl would not send it in Host, and the signed
  // host must be exactly what is sent.
  if (scheme_ == "http" && authority_.size() > 3 && authority_.ends_with(":80")) {
    authority_.resize(authority_.size() - 3);
  } else if (scheme_ == "https" && authority_.size() > 4 && authority_.ends_with(":443")) {
    authority_.resize(authority_.size() - 4);
  }
}

Result<std::shared_ptr<S3Store>> S3Store::Open(S3Config config,
                                               std::shared_ptr<CredentialsProvider> credentials) {
  if (!credentials) credentials = std::make_shared<CredentialsProvider>(config);
  // Fail at open, with the places we looked, rather than at the first request.
  HB_TRY(credentials->Get());
  return std::shared_ptr<S3Store>(new S3Store(std::move(config), std::move(credentials)));
}

std::string S3Store::url() const {
  std::string u = "s3://" + config_.bucket;
  if (!config_.prefix.empty()) u += "/" + config_.prefix;
  if (!config_.url_query.empty()) u += "?" + config_.url_query;
  return u;
}

std::string S3Store::FullKey(std::string_view key) const {
  if (config_.prefix.empty()) return std::string(key);
  return config_.prefix + "/" + std::string(key);
}

std::string S3Store::Describe(std::string_view full_key) const {
  return "s3://" + config_.bucket + "/" + std::string(full_key);
}

std::string S3Store::PayloadHash(const BufferChain* body) const {
  if (body == nullptr || body->empty()) return std::string(kEmptyPayloadSha256);
  if (!config_.sign_payload()) return std::string(kUnsignedPayload);
  Sha256 h;
  for (const Buffer& p : body->pieces()) h.Update(p.span());
  return h.Finish().Hex();
}

void S3Store::AddEncryptionHeaders(Request& req) const {
  if (config_.sse.empty()) return;
  req.headers.emplace_back("x-amz-server-side-encryption", config_.sse);
  if (!config_.sse_kms_key_id.empty()) {
    req.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", config_.sse_kms_key_id);
  }
}

Result<HttpResponse> S3Store::SendOnce(const Request& req, const Credentials& creds,
                                       std::chrono::steady_clock::time_point deadline) {
  const bool path_style = config_.use_path_style();
  std::string host = path_style ? authority_ : config_.bucket + "." + authority_;
  std::string path = "/";
  if (path_style) {
    path += UriEncode(config_.bucket, true);
    if (!req.full_key.empty()) path += "/" + UriEncode(req.full_key, false);
  } else {
    path += UriEncode(req.full_key, false);
  }

  SigningInput in;
  in.method = req.method;
  in.canonical_uri = path;
  in.query = req.query;
  in.payload_hash = req.payload_hash.empty() ? std::string(kEmptyPayloadSha256) : req.payload_hash;
  in.amz_date = AmzDate(std::time(nullptr));
  in.region = config_.region;
  in.service = "s3";
  in.headers = {
      {"host", host}, {"x-amz-date", in.amz_date}, {"x-amz-content-sha256", in.payload_hash}};
  if (!creds.session_token.empty())
    in.headers.emplace_back("x-amz-security-token", creds.session_token);
  for (const auto& h : req.headers) in.headers.push_back(h);
  Signature sig = Sign(in, creds);

  HttpRequest hr;
  hr.method = req.method;
  hr.url = scheme_ + "://" + host + path;
  if (!req.query.empty()) hr.url += "?" + CanonicalQueryString(req.query);
  for (const auto& [k, v] : in.headers) hr.headers.push_back(k + ": " + v);
  hr.headers.push_back("Authorization: " + sig.authorization);
  hr.body = req.body;
  hr.into = req.into;
  hr.stall_timeout_s = req.stall_timeout_s >= 0 ? req.stall_timeout_s : config_.stall_timeout_s;
  hr.total_timeout_s = req.total_timeout_s;
  hr.connect_timeout_s = config_.connect_timeout_s;
  if (!server_answered_.load(std::memory_order_relaxed)) {
    // Nothing has ever come back from this server: do not wait the full
    // stall time for a first answer that is probably never coming.
    if (hr.stall_timeout_s == 0 || hr.stall_timeout_s > config_.first_answer_timeout_s) {
      hr.stall_timeout_s = config_.first_answer_timeout_s;
    }
  }
  if (req.cleanup) {
    // Runs through Ctrl-C, so every wait inside it ends by the deadline.
    hr.cancellable = false;
    auto left = std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now())
                    .count();
    int left_s = static_cast<int>(std::max<int64_t>(1, left));
    if (hr.total_timeout_s == 0 || hr.total_timeout_s > left_s) hr.total_timeout_s = left_s;
    hr.connect_timeout_s = std::min(hr.connect_timeout_s, left_s);
  }
  hr.cancel_grace_s = req.cancel_grace_s;
  hr.what = req.what;
  hr.stop_after_headers = req.stop_after_headers;
  requests_.fetch_add(1, std::memory_order_relaxed);
  auto start = std::chrono::steady_clock::now();
  auto r = http_.Perform(hr);
  if (r) server_answered_.store(true, std::memory_order_relaxed);
  if (TraceEnabled()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    if (r) {
      Trace(fmt::format("{} -> {} ({} ms)", req.what, r->status, ms));
    } else {
      Trace(fmt::format("{} -> {} ({} ms)", req.what, r.error().message(), ms));
    }
  }
  return r;
}

Error S3Store::ErrorFromResponse(const Request& req, const HttpResponse& resp) const {
  S3ErrorBody e = ParseErrorBody(resp);
  const long st = resp.status;
  std::string msg = req.what + ": HTTP " + std::to_string(st);
  if (!e.code.empty()) msg += " " + e.code;
  if (!e.message.empty()) msg += ": " + e.message;
  if (!e.request_id.empty()) msg += " (request id " + e.request_id + ")";
  const std::string& c = e.code;

  if (c == "NoSuchBucket") {
    return Error(ErrorCode::kInvalidArgument, req.what + ": bucket '" + config_.bucket +
                                                  "' does not exist at " + config_.endpoint +
                                                  " (NoSuchBucket)");
  }
  if (c == "NoSuchKey" || c == "NoSuchUpload" || (st == 404 && c.empty())) {
    return Error(ErrorCode::kNotFound, msg.empty() ? req.what + ": not found" : msg);
  }
  if (c == "InvalidAccessKeyId") {
    return Error(ErrorCode::kPermission, msg + " [the access key from " + credentials_->source() +
                                             " is not known to the server]");
  }
  if (c == "SignatureDoesNotMatch") {
    return Error(ErrorCode::kPermission,
                 msg + " [check the secret key and the region '" + config_.region + "']");
  }
  if (c == "RequestTimeTooSkewed") {
    return Error(ErrorCode::kPermission, msg + " [the system clock is off: fix it (NTP)]");
  }
  if (IsExpiredCredentials(c) ||
      In(c, {"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidSecurity",
             "MissingSecurityHeader"}) ||
      st == 403 || st == 401) {
    return Error(ErrorCode::kPermission, msg);
  }
  if (In(c, {"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed",
             "IllegalLocationConstraintException"}) ||
      (st >= 300 && st < 400)) {
    std::string region = resp.Header("x-amz-bucket-region");
    return Error(
        ErrorCode::kInvalidArgument,
        msg + (region.empty() ? std::string(" [wrong endpoint or region for this bucket]")
                              : " [the bucket is in region '" + region + "': set AWS_REGION]"));
  }
  if (In(c, {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
             "TooManyRequests", "RequestThrottled", "ServiceUnavailable"}) ||
      st == 429 || st == 503) {
    return Error(ErrorCode::kThrottled, msg, true);
  }
  if (c == "RequestTimeout") return Error(ErrorCode::kTimeout, msg, true);
  if (c == "InternalError" || st >= 500) {
    if (st == 501 || c == "NotImplemented") return Error(ErrorCode::kUnsupported, msg);
    return Error(ErrorCode::kServer, msg, true);
  }
  if (st == 405 || c == "MethodNotAllowed") return Error(ErrorCode::kUnsupported, msg);
  if (c == "BadDigest" || c == "IncompleteBody" || c == "InvalidDigest") {
    // The body arrived damaged; sending it again from our buffer may work.
    return Error(ErrorCode::kNetwork, msg, true);
  }
  if (c == "EntityTooLarge" || c == "EntityTooSmall" || c == "InvalidPart" ||
      c == "InvalidPartOrder" || c == "InvalidArgument" || c == "InvalidRange" || st >= 400) {
    return Error(ErrorCode::kInvalidArgument, msg);
  }
  return Error(ErrorCode::kServer, msg + " (unexpected status)", false);
}

Result<HttpResponse> S3Store::Call(const Request& req, std::initializer_list<long> accept) {
  int refreshes = 0;
  const auto deadline = req.cleanup ? std::chrono::steady_clock::now() +
                                          std::chrono::seconds(config_.cleanup_timeout_s)
                                    : std::chrono::steady_clock::time_point::max();
  for (int attempt = 1;; ++attempt) {
    if (req.attempts) *req.attempts = attempt;
    HB_ASSIGN_OR_RETURN(std::shared_ptr<const Credentials> creds, credentials_->Get());
    auto r = SendOnce(req, *creds, deadline);
    std::optional<Error> err;
    if (r) {
      const long st = r->status;
      bool ok =
          (st >= 200 && st < 300) || std::find(accept.begin(), accept.end(), st) != accept.end();
      if (ok && req.error_in_body && st == 200 && !r->body.empty()) {
        // A 200 whose document is an <Error> failed after the headers went out.
        auto doc = ParseXml(r->body.view());
        if (doc && doc->name == "Error") ok = false;
      }
      if (ok) return std::move(*r);
      S3ErrorBody body = ParseErrorBody(*r);
      if (IsExpiredCredentials(body.code) && refreshes < 2) {
        // The token ran out (e.g. mid-upload): re-read the sources; if they
        // hold something new, try again with it without spending an attempt.
        ++refreshes;
        auto changed = credentials_->Refresh(*creds);
        if (changed && *changed) {
          spdlog::info("s3: credentials expired during {}; re-read them from {}", req.what,
                       credentials_->source());
          --attempt;
          continue;
        }
      }
      err = ErrorFromResponse(req, *r);
    } else {
      err = r.error();
    }
    if (err->code() == ErrorCode::kCancelled) return Fail(*err);
    // A server that has never answered gets fewer tries for silence and
    // refused connections: it is more likely the wrong address than busy.
    const bool unproven = !r && !server_answered_.load(std::memory_order_relaxed) &&
                          attempt >= config_.unproven_attempts;
    if (unproven && err->retryable()) {
      return Fail(Error(err->code(),
                        err->message() + " (gave up after " + std::to_string(attempt) +
                            " attempts: the server at " + config_.endpoint +
                            " has not answered any request)",
                        true));
    }
    if (!retry_.ShouldRetry(*err, attempt)) {
      if (attempt > 1 && err->retryable()) {
        return Fail(Error(
            err->code(),
            err->message() + " (gave up after " + std::to_string(attempt) + " attempts)", true));
      }
      return Fail(*err);
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    if (TraceEnabled()) Trace("retrying after: " + err->message());
    if (!retry_.Wait(*err, attempt, !req.cleanup, deadline)) {
      if (!req.cleanup) return Fail(CancelledError(req.what.c_str()));
      return Fail(Error(err->code(),
                        err->message() + " (cleanup deadline of " +
                            std::to_string(config_.cleanup_timeout_s) + " s reached after " +
                            std::to_string(attempt) + " attempts)",
                        err->retryable()));
    }
  }
}

Status S3Store::Put(std::string_view key, const BufferChain& data) {
  HB_TRY(CheckKey(key));
  std::string full = FullKey(key);
  if (data.size() >= config_.multipart_threshold) return PutMultipart(full, data);
  Request req;
  req.method = "PUT";
  req.full_key = full;
  req.body = &data;
  req.payload_hash = PayloadHash(&data);
  AddEncryptionHeaders(req);
  req.what = "PUT " + Describe(full);
  HB_TRY(Call(req));
  return OkStatus();
}

Result<Buffer> S3Store::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  return RangedGet(key, offset, length, {}, nullptr);
}

Status S3Store::GetRangeInto(std::string_view key, uint64_t offset, std::span<uint8_t> dst) {
  // Straight into dst: no buffer per response (and no page faults on a
  // fresh one for every large read), no copy. A server that answers with
  // anything but the range asked for goes the GetRange way.
  bool into_used = false;
  HB_ASSIGN_OR_RETURN(Buffer got, RangedGet(key, offset, dst.size(), dst, &into_used));
  if (into_used) return OkStatus();
  if (got.size() != dst.size()) {
    return Fail(ErrorCode::kCorruption, Describe(FullKey(key)) + ": " + std::to_string(dst.size()) +
                                            " bytes at offset " + std::to_string(offset) +
                                            " asked for, " + std::to_string(got.size()) + " there");
  }
  if (!dst.empty()) std::memcpy(dst.data(), got.data(), dst.size());
  return OkStatus();
}

Result<Buffer> S3Store::RangedGet(std::string_view key, uint64_t offset, uint64_t length,
                                  std::span<uint8_t> into, bool* into_used) {
  HB_TRY(CheckKey(key));
  if (length == 0) {
    // Nothing to read, but a missing object must still say so.
    HB_TRY(Head(key));
    return Buffer();
  }
  std::string full = FullKey(key);
  Request req;
  req.method = "GET";
  req.full_key = full;
  const bool to_end = length == kToEnd || offset + length < offset;
  uint64_t want = to_end ? UINT64_MAX : length;
  // Explicit first-last ranges only, never suffix ranges (bytes=-N). A
  // one-byte range asks for two bytes and is cut here: some servers
  // (s3rver) mistake "bytes=0-0" for no range at all.
  std::string range;
  if (to_end) {
    if (offset > 0) range = "bytes=" + std::to_string(offset) + "-";
  } else {
    uint64_t last = offset + length - 1;
    if (last == offset) ++last;
    range = "bytes=" + std::to_string(offset) + "-" + std::to_string(last);
  }
  if (!range.empty()) req.headers.emplace_back("range", range);
  req.what = "GET " + Describe(full) + (range.empty() ? "" : " " + range);
  // Only a real range of at least two bytes (see above) is read in place.
  if (!to_end && length >= 2 && into.size() == length) req.into = into;
  // s3rver answers a range of an empty object with "206, Content-Range:
  // bytes 0-0/0, Content-Length: 1" and never sends that byte; the total of
  // 0 in the headers says all there is to know.
  req.stop_after_headers = [](const HttpResponse& r) {
    std::string cr = r.Header("content-range");
    return r.status == 206 && cr.size() > 2 && cr.ends_with("/0");
  };
  HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req, {416}));
  if (resp.status == 416) return Buffer();  // the range starts at or past the end
  if (resp.stopped_after_headers) return Buffer();
  Buffer body = std::move(resp.body);
  if (resp.status == 206) {
    // Check the server sent the range we asked for, not another one.
    std::string cr = resp.Header("content-range");
    uint64_t first = 0;
    if (cr.rfind("bytes ", 0) == 0) {
      size_t dash = cr.find('-', 6);
      auto f = ParseU64(cr.substr(6, dash - 6), req.what + ": Content-Range");
      if (!f) return Fail(f.error());
      first = *f;
    } else {
      return Fail(ErrorCode::kCorruption, req.what + ": 206 without a Content-Range header");
    }
    if (first != offset) {
      return Fail(ErrorCode::kCorruption,
                  req.what + ": server sent a range starting at " + std::to_string(first));
    }
    if (resp.into_used) {
      if (resp.into_filled != want) {
        return Fail(ErrorCode::kCorruption, req.what + ": server sent " +
                                                std::to_string(resp.into_filled) +
                                                " bytes (object shorter than the range?)");
      }
      if (into_used != nullptr) *into_used = true;
      return Buffer();
    }
    if (body.size() > want) body = body.Slice(0, want);
    return body;
  }
  // 200 to a ranged request: the server ignored the range; cut it out here.
  if (!range.empty()) {
    if (offset >= body.size()) return Buffer();
    return body.Slice(offset, std::min<uint64_t>(want, body.size() - offset));
  }
  return body;
}

Result<ObjectInfo> S3Store::Head(std::string_view key) {
  HB_TRY(CheckKey(key));
  std::string full = FullKey(key);
  Request req;
  req.method = "HEAD";
  req.full_key = full;
  req.what = "HEAD " + Describe(full);
  HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req));
  ObjectInfo info;
  info.key = std::string(key);
  HB_ASSIGN_OR_RETURN(info.size,
                      ParseU64(resp.Header("content-length"), req.what + ": Content-Length"));
  info.mtime_unix = ParseHttpDate(resp.Header("last-modified"));
  return info;
}

Result<std::vector<ObjectInfo>> S3Store::List(std::string_view prefix) {
  HB_TRY(CheckPrefix(prefix));
  const std::string store_prefix = config_.prefix.empty() ? "" : config_.prefix + "/";
  const std::string full_prefix = store_prefix + std::string(prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  for (int page = 0;; ++page) {
    Request req;
    req.method = "GET";
    req.query = {{"list-type", "2"},
                 {"prefix", full_prefix},
                 {"max-keys", std::to_string(config_.list_page_size)}};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    req.what = "LIST " + Describe(full_prefix) +
               (page > 0 ? " (page " + std::to_string(page + 1) + ")" : "");
    HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req));
    auto doc = ParseXml(resp.body.view());
    if (!doc) return Fail(doc.error().Wrap(req.what));
    if (doc->name != "ListBucketResult") {
      return Fail(ErrorCode::kCorruption, req.what + ": unexpected <" + doc->name + "> document");
    }
    for (const XmlNode* c : doc->ChildrenNamed("Contents")) {
      std::string k = c->ChildText("Key");
      if (k.compare(0, store_prefix.size(), store_prefix) != 0) continue;
      ObjectInfo info;
      info.key = k.substr(store_prefix.size());
      HB_ASSIGN_OR_RETURN(info.size, ParseU64(c->ChildText("Size"), req.what + ": Size of " + k));
      info.mtime_unix = ParseIsoDate(c->ChildText("LastModified"));
      out.push_back(std::move(info));
    }
    if (doc->ChildText("IsTruncated") != "true") break;
    std::string next = doc->ChildText("NextContinuationToken");
    // A truncated page without a new token would make us loop for ever.
    if (next.empty() || next == token) {
      return Fail(ErrorCode::kCorruption,
                  req.what + ": truncated listing without a new continuation token");
    }
    token = std::move(next);
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status S3Store::Delete(std::string_view key) {
  HB_TRY(CheckKey(key));
  std::string full = FullKey(key);
  Request req;
  req.method = "DELETE";
  req.full_key = full;
  req.what = "DELETE " + Describe(full);
  HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req, {404}));
  if (resp.status == 404 && ParseErrorBody(resp).code == "NoSuchBucket") {
    return Fail(ErrorFromResponse(req, resp));
  }
  return OkStatus();
}

Result<std::string> S3Store::CreateMultipartFull(const std::string& full_key) {
  Request req;
  req.method = "POST";
  req.full_key = full_key;
  req.query = {{"uploads", ""}};
  // The upload's parts are encrypted as the Create asked; parts carry no
  // encryption headers (only SSE-C would need them).
  AddEncryptionHeaders(req);
  req.what = "CreateMultipartUpload " + Describe(full_key);
  // A Ctrl-C while this is in flight lets it finish (for up to the cleanup
  // time): an upload the server created but whose id we never read could not
  // be aborted. The caller checks for Ctrl-C right after and aborts.
  req.cancel_grace_s = config_.cleanup_timeout_s;
  HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req));
  auto doc = ParseXml(resp.body.view());
  if (!doc) return Fail(doc.error().Wrap(req.what));
  std::string id = doc->ChildText("UploadId");
  if (doc->name != "InitiateMultipartUploadResult" || id.empty()) {
    return Fail(ErrorCode::kCorruption, req.what + ": no UploadId in the answer");
  }
  return id;
}

Result<CompletedPart> S3Store::UploadPartFull(const std::string& full_key,
                                              std::string_view upload_id, int part_number,
                                              const BufferChain& data) {
  if (part_number < 1 || part_number > static_cast<int>(kMaxParts)) {
    return Fail(ErrorCode::kInvalidArgument,
                "part number " + std::to_string(part_number) + " out of range 1-10000");
  }
  Request req;
  req.method = "PUT";
  req.full_key = full_key;
  req.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}};
  req.body = &data;
  // Hashed once, reused by every retry of this part.
  req.payload_hash = PayloadHash(&data);
  req.what = "UploadPart " + Describe(full_key) + " part " + std::to_string(part_number);
  HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req));
  CompletedPart part;
  part.part_number = part_number;
  part.etag = resp.Header("etag");
  if (part.etag.empty()) return Fail(ErrorCode::kCorruption, req.what + ": no ETag in the answer");
  return part;
}

Status S3Store::CompleteMultipartFull(const std::string& full_key, std::string_view upload_id,
                                      const std::vector<CompletedPart>& parts,
                                      uint64_t expected_size) {
  if (parts.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "complete " + Describe(full_key) + ": no parts");
  }
  std::vector<CompletedPart> sorted = parts;
  std::sort(sorted.begin(), sorted.end(), [](const CompletedPart& a, const CompletedPart& b) {
    return a.part_number < b.part_number;
  });
  std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const CompletedPart& p : sorted) {
    xml += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><ETag>" +
           XmlEscape(p.etag) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  BufferChain body(Buffer::Copy(xml));

  Request req;
  req.method = "POST";
  req.full_key = full_key;
  req.query = {{"uploadId", std::string(upload_id)}};
  req.headers = {{"content-type", "application/xml"}};
  req.body = &body;
  req.payload_hash = Sha256Of(xml).Hex();  // tiny; always signed
  // The server may take long before it answers (s3rver copies the whole
  // object; S3 trickles whitespace): no stall cut, a deadline that grows with
  // the size instead.
  req.stall_timeout_s = 0;
  req.total_timeout_s = expected_size == UINT64_MAX
                            ? kUnknownCompleteTimeoutS
                            : config_.complete_base_timeout_s +
                                  static_cast<int>(expected_size / config_.complete_min_rate);
  req.error_in_body = true;
  req.what = "CompleteMultipartUpload " + Describe(full_key) + " (" + std::to_string(parts.size()) +
             " parts)";
  int attempts = 0;
  req.attempts = &attempts;
  auto r = Call(req, {404});
  if (!r) return Fail(r.error());
  if (r->status == 404) {
    Error e = ErrorFromResponse(req, *r);
    // An earlier attempt may have completed the upload and lost only the
    // answer: then the upload is gone and the object is there.
    if (attempts > 1 && ParseErrorBody(*r).code == "NoSuchUpload") {
      std::string key =
          config_.prefix.empty() ? full_key : full_key.substr(config_.prefix.size() + 1);
      auto info = Head(key);
      if (info && (expected_size == UINT64_MAX || info->size == expected_size)) return OkStatus();
    }
    return Fail(e);
  }
  return OkStatus();
}

Status S3Store::AbortMultipartFull(const std::string& full_key, std::string_view upload_id) {
  Request req;
  req.method = "DELETE";
  req.full_key = full_key;
  req.query = {{"uploadId", std::string(upload_id)}};
  req.what = "AbortMultipartUpload " + Describe(full_key);
  // Usually sent because of Ctrl-C or a failure: it must not be cancelled by
  // the same Ctrl-C, and it must not hang the exit either.
  req.cleanup = true;
  auto r = Call(req, {404});  // NoSuchUpload: already gone
  if (!r) {
    const Error& e = r.error();
    const bool refused = e.code() == ErrorCode::kUnsupported || e.code() == ErrorCode::kPermission;
    if (!refused) {
      spdlog::warn(
          "s3: could not abort multipart upload {} of {} ({}); it is left for `hugeblob gc`",
          upload_id, Describe(full_key), e.message());
    } else if (!abort_refused_logged_.exchange(true)) {
      spdlog::warn(
          "s3: the server refused to abort a multipart upload ({}); such uploads are left "
          "for `hugeblob gc` (logged once)",
          e.message());
    }
    return Fail(e);
  }
  return OkStatus();
}

Status S3Store::PutMultipart(const std::string& full_key, const BufferChain& data) {
  const uint64_t size = data.size();
  HB_ASSIGN_OR_RETURN(uint64_t part_size, PartSizeFor(size, config_.min_part_size));
  const int n_parts = static_cast<int>((size + part_size - 1) / part_size);
  HB_ASSIGN_OR_RETURN(std::string upload_id, CreateMultipartFull(full_key));

  std::vector<CompletedPart> done(static_cast<size_t>(n_parts));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  std::optional<Error> first_error;  // guarded by err_mu
  auto worker = [&] {
    for (;;) {
      if (failed.load() || ProcessCancelToken().cancelled()) return;
      int i = next.fetch_add(1);
      if (i >= n_parts) return;
      uint64_t off = static_cast<uint64_t>(i) * part_size;
      // A view of the caller's bytes; no copy. It lives until this part's
      // last request (retries included) has returned.
      BufferChain slice = data.Sub(off, std::min(part_size, size - off));
      auto r = UploadPartFull(full_key, upload_id, i + 1, slice);
      if (!r) {
        std::lock_guard lock(err_mu);
        if (!first_error) first_error = r.error();
        failed.store(true);
        return;
      }
      done[static_cast<size_t>(i)] = std::move(*r);
    }
  };
  const int threads = std::min(config_.parts_in_flight, n_parts);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (...) {
      break;  // fewer parts in flight; the calling thread still works
    }
  }
  worker();
  // Join before anything else: after this no request reads `data`.
  for (std::thread& t : pool) t.join();

  if (!failed.load() && ProcessCancelToken().cancelled()) {
    first_error = CancelledError(("PUT " + Describe(full_key)).c_str());
    failed.store(true);
  }
  if (failed.load()) {
    (void)AbortMultipartFull(full_key, upload_id);
    return Fail(first_error->Wrap("multipart PUT " + Describe(full_key)));
  }
  Status st = CompleteMultipartFull(full_key, upload_id, done, size);
  if (!st) {
    (void)AbortMultipartFull(full_key, upload_id);
    return st;
  }
  return OkStatus();
}

Result<std::string> S3Store::CreateMultipart(std::string_view key, uint64_t part_size) {
  HB_TRY(CheckKey(key));
  if (part_size > kMaxPartSize) {
    return Fail(ErrorCode::kInvalidArgument, "part size above S3's 5 GiB limit");
  }
  return CreateMultipartFull(FullKey(key));
}

Result<CompletedPart> S3Store::UploadPart(std::string_view key, std::string_view upload_id,
                                          int part_number, const BufferChain& data) {
  HB_TRY(CheckKey(key));
  return UploadPartFull(FullKey(key), upload_id, part_number, data);
}

Status S3Store::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                  const std::vector<CompletedPart>& parts) {
  HB_TRY(CheckKey(key));
  return CompleteMultipartFull(FullKey(key), upload_id, parts, UINT64_MAX);
}

Status S3Store::AbortMultipart(std::string_view key, std::string_view upload_id) {
  HB_TRY(CheckKey(key));
  return AbortMultipartFull(FullKey(key), upload_id);
}

Result<std::vector<MultipartUpload>> S3Store::ListMultipart(std::string_view prefix) {
  HB_TRY(CheckPrefix(prefix));
  const std::string store_prefix = config_.prefix.empty() ? "" : config_.prefix + "/";
  const std::string full_prefix = store_prefix + std::string(prefix);
  std::vector<MultipartUpload> out;
  std::string key_marker, id_marker;
  for (int page = 0;; ++page) {
    Request req;
    req.method = "GET";
    req.query = {{"uploads", ""}, {"prefix", full_prefix}};
    if (!key_marker.empty()) req.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) req.query.emplace_back("upload-id-marker", id_marker);
    req.what = "ListMultipartUploads " + Describe(full_prefix);
    HB_ASSIGN_OR_RETURN(HttpResponse resp, Call(req));
    auto doc = ParseXml(resp.body.view());
    if (!doc) return Fail(doc.error().Wrap(req.what));
    if (doc->name != "ListMultipartUploadsResult") {
      return Fail(
          ErrorCode::kUnsupported,
          req.what + ": the server does not list multipart uploads (answered <" + doc->name + ">)");
    }
    for (const XmlNode* u : doc->ChildrenNamed("Upload")) {
      std::string k = u->ChildText("Key");
      if (k.compare(0, store_prefix.size(), store_prefix) != 0) continue;
      MultipartUpload m;
      m.key = k.substr(store_prefix.size());
      m.upload_id = u->ChildText("UploadId");
      m.initiated_unix = ParseIsoDate(u->ChildText("Initiated"));
      out.push_back(std::move(m));
    }
    if (doc->ChildText("IsTruncated") != "true") break;
    std::string nk = doc->ChildText("NextKeyMarker"), ni = doc->ChildText("NextUploadIdMarker");
    if ((nk.empty() && ni.empty()) || (nk == key_marker && ni == id_marker)) {
      return Fail(ErrorCode::kCorruption, req.what + ": truncated listing without a new marker");
    }
    key_marker = std::move(nk);
    id_marker = std::move(ni);
  }
  return out;
}

}  // namespace s3

Result<std::shared_ptr<ObjectStore>> OpenS3Store(std::string_view url) {
  HB_ASSIGN_OR_RETURN(s3::S3Config config, s3::LoadS3Config(url));
  HB_ASSIGN_OR_RETURN(std::shared_ptr<s3::S3Store> store, s3::S3Store::Open(std::move(config)));
  return std::shared_ptr<ObjectStore>(std::move(store));
}

}  // namespace hugeblob
