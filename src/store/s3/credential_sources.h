// The sources of the AWS credential chain, one function each, in the order
// the AWS SDKs try them (docs/s3.md, "Credentials"):
//
//   1. environment      AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   2. web identity     AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> STS
//                       AssumeRoleWithWebIdentity (EKS service accounts)
//   3. shared files     the profile of ~/.aws/credentials and ~/.aws/config:
//                       role_arn -> STS AssumeRole; static keys; credential_process
//   4. container        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI (ECS, EKS Pod Identity)
//   5. instance         EC2 instance metadata, IMDSv2
//
// Each returns nullopt when it is not configured (the chain tries the next),
// credentials when it has them, and an error when it is configured but fails:
// the chain then stops, because falling through to another source would
// quietly run as another identity. Instance metadata is the exception: no
// answer from it means "not on EC2", not a failure.
//
// Every network call here is bounded by its own timeouts and is not stopped by
// Ctrl-C (an AbortMultipartUpload after Ctrl-C may need fresh credentials).
// Messages name the source and the file or variable, never a secret.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "hugeblob/error.h"
#include "store/s3/http.h"
#include "store/s3/sigv4.h"

namespace hugeblob::s3 {

// Credentials, when they stop working, and where they came from.
struct TimedCredentials {
  Credentials credentials;
  // Wall-clock expiry of temporary credentials; nullopt: they do not expire.
  std::optional<std::chrono::system_clock::time_point> expiration;
  // "environment", "profile 'p' in /home/u/.aws/credentials", "web identity
  // (role arn:...)", ...: for messages, never the values.
  std::string source;
};

// What the chain needs besides the environment (which it reads on each run).
struct ChainConfig {
  std::string profile = "default";
  std::string credentials_file;  // already expanded, e.g. /home/u/.aws/credentials
  std::string config_file;       // e.g. /home/u/.aws/config
  std::string region;            // for STS
};

using MaybeCredentials = Result<std::optional<TimedCredentials>>;

// One profile's settings: the config file's section ("profile NAME", or
// "default") with the credentials file's section NAME laid over it.
using ProfileSettings = std::map<std::string, std::string>;
// nullopt when neither file has the profile.
std::optional<ProfileSettings> LoadProfile(const ChainConfig& config, const std::string& name);

MaybeCredentials FromEnvironment();
MaybeCredentials FromWebIdentityEnvironment(const ChainConfig& config, HttpClient& http);
MaybeCredentials FromProfile(const ChainConfig& config, HttpClient& http);
MaybeCredentials FromContainer(HttpClient& http);
// `note` receives why nothing was found ("disabled", "no answer from ..."),
// for the chain's final message.
MaybeCredentials FromInstanceMetadata(const ChainConfig& config, HttpClient& http,
                                      std::string* note);

// Runs the sources in order. When none has credentials: kPermission naming
// every place it looked.
Result<TimedCredentials> ResolveCredentialChain(const ChainConfig& config, HttpClient& http);

// --- STS (sts.cc) ---

// AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the profile's sts.endpoint_url or
// endpoint_url, else https://sts.REGION.amazonaws.com.
std::string StsEndpoint(const ChainConfig& config, const ProfileSettings* profile);

struct AssumeRoleParams {
  std::string role_arn;
  std::string session_name;
  std::string external_id;  // optional
  int duration_s = 0;       // 0: the role's default (one hour)
};

// AssumeRole, SigV4-signed (service "sts") with `source`.
Result<TimedCredentials> StsAssumeRole(HttpClient& http, const std::string& endpoint,
                                       const std::string& region, const Credentials& source,
                                       const AssumeRoleParams& params);
// AssumeRoleWithWebIdentity: unsigned; the token is the proof.
Result<TimedCredentials> StsAssumeRoleWithWebIdentity(HttpClient& http, const std::string& endpoint,
                                                      const AssumeRoleParams& params,
                                                      const std::string& token);

// --- credential_process (credential_process.cc) ---

// Runs `command` with /bin/sh -c (stdin and stderr inherited, so it may
// prompt), reads its stdout (at most 64 KiB, at most 60 s) and parses the
// documented JSON ({"Version": 1, "AccessKeyId", "SecretAccessKey",
// "SessionToken", "Expiration"}). `where` names the profile for messages.
Result<TimedCredentials> RunCredentialProcess(const std::string& command, const std::string& where);

// Parses the JSON of a credential endpoint or process: `id`, `secret`,
// `token` and `expiration` name the members (they differ between sources).
Result<TimedCredentials> CredentialsFromJson(std::string_view json, const std::string& where,
                                             const char* id, const char* secret, const char* token,
                                             const char* expiration);

}  // namespace hugeblob::s3
