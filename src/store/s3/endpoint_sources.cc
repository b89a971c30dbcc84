// The two sources that ask an HTTP endpoint of the platform: container
// credentials (ECS task roles, EKS Pod Identity) and EC2 instance metadata
// (IMDSv2). Both answer with the same JSON shape.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "store/s3/aws_util.h"
#include "store/s3/credential_sources.h"

namespace hugeblob::s3 {
namespace {

// The link-local address ECS serves task credentials on.
constexpr const char* kEcsHost = "169.254.170.2";
// The container endpoint is a local agent: answers come at once or not at all.
constexpr int kContainerConnectS = 2;
constexpr int kContainerTotalS = 5;
constexpr int kContainerAttempts = 3;
// IMDSv2 session token lifetime asked for (the maximum, six hours); we ask for
// a new one at every refresh anyway.
constexpr const char* kImdsTokenTtl = "21600";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The host of "scheme://host[:port]/path", without port or brackets.
std::string HostOf(const std::string& url) {
  size_t start = url.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  if (authority.find('@') != std::string::npos) return "";  // user info: refused
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    return close == std::string::npos ? "" : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

// http:// is allowed only to hosts that cannot be someone else on the
// network: loopback, and the link-local addresses of the ECS and EKS agents
// (the SDKs' rule; anything else must be https).
bool AllowedPlainHttpHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == kEcsHost || host == "169.254.170.23" ||
      host == "fd00:ec2::23") {
    return true;
  }
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

int EnvIntOr(const char* name, int def, int lo, int hi) {
  std::string v = Env(name);
  if (v.empty()) return def;
  int n = std::atoi(v.c_str());
  return std::clamp(n, lo, hi);
}

}  // namespace

MaybeCredentials FromContainer(HttpClient& http) {
  const std::string relative = Env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const std::string full = Env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (relative.empty() && full.empty()) return std::nullopt;
  std::string url;
  if (!relative.empty()) {
    // The relative URI wins, as in the SDKs. HB_AWS_CONTAINER_CREDENTIALS_HOST
    // replaces the ECS address so tests can serve it on loopback.
    std::string host = Env("HB_AWS_CONTAINER_CREDENTIALS_HOST");
    if (host.empty()) host = kEcsHost;
    url = "http://" + host + (relative[0] == '/' ? "" : "/") + relative;
  } else {
    url = full;
    const bool https = url.rfind("https://", 0) == 0, http_ = url.rfind("http://", 0) == 0;
    std::string host = HostOf(url);
    if ((!https && !http_) || host.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http(s) URL with a host");
    }
    if (http_ && !AllowedPlainHttpHost(host)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a loopback "
                  "address or the ECS/EKS agent, not to '" +
                      host + "' (use https)");
    }
  }
  const std::string where = "container credentials from " + url;
  // The token file is re-read at every refresh (EKS Pod Identity rotates it).
  std::string token;
  if (std::string file = Env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    token = Trim(ReadFileOrEmpty(file));
    if (token.empty()) {
      return Fail(ErrorCode::kPermission, where + ": AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " +
                                              file + " is missing or empty");
    }
  } else {
    token = Env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                where + ": the authorization token contains a line break");
  }

  for (int attempt = 1;; ++attempt) {
    HttpRequest req;
    req.method = "GET";
    req.url = url;
    req.what = where;
    req.cancellable = false;
    req.stall_timeout_s = 0;
    req.connect_timeout_s = kContainerConnectS;
    req.total_timeout_s = kContainerTotalS;
    if (!token.empty()) req.headers.push_back("Authorization: " + token);
    auto r = http.Perform(req);
    std::optional<Error> err;
    if (!r) {
      err = r.error();
    } else if (r->status == 200) {
      return CredentialsFromJson(r->body.view(), where, "AccessKeyId", "SecretAccessKey", "Token",
                                 "Expiration");
    } else {
      std::string msg = where + ": HTTP " + std::to_string(r->status);
      if (auto doc = ParseJsonObject(r->body.view()); doc && doc->count("message")) {
        msg += ": " + (*doc)["message"];
      }
      bool retry = r->status >= 500 || r->status == 429;
      err =
          Error(r->status == 401 || r->status == 403 ? ErrorCode::kPermission : ErrorCode::kServer,
                msg, retry);
    }
    if (!err->retryable() || attempt >= kContainerAttempts) return Fail(*err);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << (attempt - 1)));
  }
}

MaybeCredentials FromInstanceMetadata(const ChainConfig& config, HttpClient& http,
                                      std::string* note) {
  if (EnvTrue("AWS_EC2_METADATA_DISABLED")) {
    *note = "disabled by AWS_EC2_METADATA_DISABLED";
    return std::nullopt;
  }
  std::optional<ProfileSettings> profile = LoadProfile(config, config.profile);
  auto from_profile = [&](const char* key) -> std::string {
    if (!profile) return "";
    auto it = profile->find(key);
    return it == profile->end() ? "" : it->second;
  };
  std::string endpoint = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) endpoint = from_profile("ec2_metadata_service_endpoint");
  if (endpoint.empty()) {
    std::string mode = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (mode.empty()) mode = from_profile("ec2_metadata_service_endpoint_mode");
    endpoint =
        (mode == "IPv6" || mode == "ipv6") ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  // One short try by default (the SDKs' AWS_METADATA_SERVICE_TIMEOUT=1 and
  // _NUM_ATTEMPTS=1): off EC2 nothing answers, and a laptop must not wait.
  const int timeout_s = EnvIntOr("AWS_METADATA_SERVICE_TIMEOUT", 1, 1, 60);
  const int attempts = EnvIntOr("AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1, 1, 10);
  const std::string where = "EC2 instance metadata at " + endpoint;

  auto call = [&](const std::string& method, const std::string& path,
                  const std::vector<std::string>& headers) -> Result<HttpResponse> {
    for (int attempt = 1;; ++attempt) {
      HttpRequest req;
      req.method = method;
      req.url = endpoint + path;
      req.headers = headers;
      req.what = where;
      req.cancellable = false;
      req.stall_timeout_s = 0;
      req.connect_timeout_s = timeout_s;
      req.total_timeout_s = timeout_s + 1;
      auto r = http.Perform(req);
      bool retry = !r || r->status >= 500;
      if (!retry || attempt >= attempts) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << (attempt - 1)));
    }
  };

  auto token_r = call("PUT", "/latest/api/token",
                      {std::string("X-aws-ec2-metadata-token-ttl-seconds: ") + kImdsTokenTtl});
  if (!token_r) {
    *note = "no answer from " + endpoint + " within " + std::to_string(timeout_s) + " s";
    return std::nullopt;
  }
  if (token_r->status != 200 || token_r->body.empty()) {
    // IMDSv1 only, or metadata turned off for the instance: IMDSv1 is not
    // used (it has no session token to stop request forgery).
    *note = endpoint + " answered HTTP " + std::to_string(token_r->status) +
            " to the IMDSv2 token request";
    return std::nullopt;
  }
  const std::string token_header = "X-aws-ec2-metadata-token: " + std::string(token_r->body.view());
  const std::string base = "/latest/meta-data/iam/security-credentials/";
  HB_ASSIGN_OR_RETURN(HttpResponse role_r, call("GET", base, {token_header}));
  if (role_r.status == 404) {
    *note = "the instance has no IAM role";
    return std::nullopt;
  }
  if (role_r.status != 200) {
    return Fail(ErrorCode::kPermission,
                where + ": HTTP " + std::to_string(role_r.status) + " listing the IAM role");
  }
  std::string role(role_r.body.view());
  role = Trim(role.substr(0, role.find('\n')));
  if (role.empty() || role.find('/') != std::string::npos) {
    return Fail(ErrorCode::kCorruption, where + ": no IAM role name in the answer");
  }
  HB_ASSIGN_OR_RETURN(HttpResponse creds_r, call("GET", base + role, {token_header}));
  if (creds_r.status != 200) {
    return Fail(ErrorCode::kPermission, where + ": HTTP " + std::to_string(creds_r.status) +
                                            " for the credentials of role " + role);
  }
  auto doc = ParseJsonObject(creds_r.body.view());
  if (doc && doc->count("Code") && (*doc)["Code"] != "Success") {
    return Fail(
        ErrorCode::kPermission,
        where + ": role " + role + " credentials not available (Code " + (*doc)["Code"] + ")");
  }
  HB_ASSIGN_OR_RETURN(TimedCredentials t,
                      CredentialsFromJson(creds_r.body.view(), where + " (role " + role + ")",
                                          "AccessKeyId", "SecretAccessKey", "Token", "Expiration"));
  return t;
}

}  // namespace hugeblob::s3
