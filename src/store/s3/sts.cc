// STS AssumeRole and AssumeRoleWithWebIdentity over the Query protocol: a
// form-encoded POST to the endpoint's root, answered with an XML document
// (<ActionResponse><ActionResult><Credentials>...). AssumeRole is signed with
// SigV4 (service "sts") by the source credentials; the web identity call is
// not signed, the token is the proof.
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "hash/sha256.h"
#include "store/s3/aws_util.h"
#include "store/s3/credential_sources.h"
#include "store/s3/xml.h"

namespace hugeblob::s3 {
namespace {

// A few quick tries: STS is a small request, and the whole chain runs while a
// command waits (or inside a retry of an S3 request).
constexpr int kAttempts = 3;
constexpr int kConnectTimeoutS = 5;
constexpr int kTotalTimeoutS = 15;

std::string Lookup(const ProfileSettings* p, const char* key) {
  if (p == nullptr) return "";
  auto it = p->find(key);
  return it == p->end() ? "" : it->second;
}

bool Retryable(const std::string& code, long status) {
  // IDPCommunicationError: STS could not reach the identity provider; the
  // SDKs retry it, as they retry throttling and 5xx.
  return status >= 500 || status == 429 || code == "Throttling" ||
         code == "IDPCommunicationError" || code == "ServiceUnavailable";
}

Result<TimedCredentials> CallSts(HttpClient& http, std::string endpoint, const std::string& action,
                                 const std::string& body, const Credentials* signer,
                                 const std::string& region, const std::string& what) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  size_t sep = endpoint.find("://");
  if ((endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) ||
      endpoint.find('/', sep + 3) != std::string::npos ||
      endpoint.find('@', sep + 3) != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                what + ": STS endpoint '" + endpoint + "' must be http(s)://host[:port]");
  }
  std::string scheme = endpoint.substr(0, sep), authority = endpoint.substr(sep + 3);
  // The signed host must be what curl sends, which omits a default port.
  if (scheme == "http" && authority.ends_with(":80")) authority.resize(authority.size() - 3);
  if (scheme == "https" && authority.ends_with(":443")) authority.resize(authority.size() - 4);
  const BufferChain chain(Buffer::Copy(body));
  const std::string payload_hash = Sha256Of(body).Hex();

  for (int attempt = 1;; ++attempt) {
    HttpRequest req;
    req.method = "POST";
    req.url = scheme + "://" + authority + "/";
    req.body = &chain;
    req.what = what;
    req.cancellable = false;
    req.stall_timeout_s = 0;
    req.connect_timeout_s = kConnectTimeoutS;
    req.total_timeout_s = kTotalTimeoutS;
    KeyValues headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
                         {"host", authority}};
    if (signer != nullptr) {
      SigningInput in;
      in.method = "POST";
      in.canonical_uri = "/";
      in.payload_hash = payload_hash;
      in.amz_date = AmzDate(std::time(nullptr));
      in.region = region;
      in.service = "sts";
      headers.emplace_back("x-amz-date", in.amz_date);
      if (!signer->session_token.empty())
        headers.emplace_back("x-amz-security-token", signer->session_token);
      in.headers = headers;
      headers.emplace_back("authorization", Sign(in, *signer).authorization);
    }
    for (const auto& [k, v] : headers) req.headers.push_back(k + ": " + v);

    auto r = http.Perform(req);
    std::optional<Error> err;
    if (!r) {
      err = r.error();
    } else if (r->status == 200) {
      auto doc = ParseXml(r->body.view());
      if (!doc) return Fail(doc.error().Wrap(what));
      const XmlNode* result = doc->Child(action + "Result");
      const XmlNode* creds = result ? result->Child("Credentials") : nullptr;
      if (doc->name != action + "Response" || creds == nullptr) {
        return Fail(ErrorCode::kCorruption, what + ": no <Credentials> in the answer");
      }
      TimedCredentials t;
      t.credentials = {creds->ChildText("AccessKeyId"), creds->ChildText("SecretAccessKey"),
                       creds->ChildText("SessionToken")};
      t.expiration = ParseIso8601(creds->ChildText("Expiration"));
      if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty() ||
          t.credentials.session_token.empty() || !t.expiration) {
        return Fail(ErrorCode::kCorruption,
                    what + ": the answer lacks a key, secret, session token or expiration");
      }
      return t;
    } else {
      std::string code, message;
      if (auto doc = ParseXml(r->body.view()); doc && doc->name == "ErrorResponse") {
        if (const XmlNode* e = doc->Child("Error")) {
          code = e->ChildText("Code");
          message = e->ChildText("Message");
        }
      }
      std::string msg = what + ": HTTP " + std::to_string(r->status);
      if (!code.empty()) msg += " " + code;
      if (!message.empty()) msg += ": " + message;
      ErrorCode ec = (r->status == 401 || r->status == 403 || code == "AccessDenied" ||
                      code == "InvalidIdentityToken" || code == "ExpiredTokenException" ||
                      code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch")
                         ? ErrorCode::kPermission
                     : r->status >= 500 ? ErrorCode::kServer
                                        : ErrorCode::kInvalidArgument;
      err = Error(ec, msg, Retryable(code, r->status));
    }
    if (!err->retryable() || attempt >= kAttempts) return Fail(*err);
    spdlog::debug("s3: {} failed ({}); retrying", what, err->message());
    std::this_thread::sleep_for(std::chrono::milliseconds(300 << (attempt - 1)));
  }
}

}  // namespace

std::string StsEndpoint(const ChainConfig& config, const ProfileSettings* profile) {
  for (const char* name : {"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"}) {
    if (std::string e = Env(name); !e.empty()) return e;
  }
  if (std::string e = Lookup(profile, "sts.endpoint_url"); !e.empty()) return e;
  if (std::string e = Lookup(profile, "endpoint_url"); !e.empty()) return e;
  std::string region = Lookup(profile, "region");
  if (region.empty()) region = config.region.empty() ? "us-east-1" : config.region;
  return "https://sts." + region + ".amazonaws.com";
}

Result<TimedCredentials> StsAssumeRole(HttpClient& http, const std::string& endpoint,
                                       const std::string& region, const Credentials& source,
                                       const AssumeRoleParams& params) {
  std::string duration = params.duration_s > 0 ? std::to_string(params.duration_s) : "";
  std::string body = FormEncode({{"Action", "AssumeRole"},
                                 {"Version", "2011-06-15"},
                                 {"RoleArn", params.role_arn},
                                 {"RoleSessionName", params.session_name}});
  if (!params.external_id.empty()) body += "&" + FormEncode({{"ExternalId", params.external_id}});
  if (!duration.empty()) body += "&" + FormEncode({{"DurationSeconds", duration}});
  return CallSts(http, endpoint, "AssumeRole", body, &source, region,
                 "STS AssumeRole " + params.role_arn);
}

Result<TimedCredentials> StsAssumeRoleWithWebIdentity(HttpClient& http, const std::string& endpoint,
                                                      const AssumeRoleParams& params,
                                                      const std::string& token) {
  std::string body = FormEncode({{"Action", "AssumeRoleWithWebIdentity"},
                                 {"Version", "2011-06-15"},
                                 {"RoleArn", params.role_arn},
                                 {"RoleSessionName", params.session_name},
                                 {"WebIdentityToken", token}});
  return CallSts(http, endpoint, "AssumeRoleWithWebIdentity", body, nullptr, "",
                 "STS AssumeRoleWithWebIdentity " + params.role_arn);
}

}  // namespace hugeblob::s3
