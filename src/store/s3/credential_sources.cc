// The environment, web identity and profile sources, the credential JSON
// shared by the container, instance metadata and credential_process sources,
// and the chain itself. Container and instance metadata: endpoint_sources.cc;
// STS: sts.cc; credential_process: credential_process.cc.
#include "store/s3/credential_sources.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "store/s3/aws_util.h"
#include "store/s3/s3_config.h"

namespace hugeblob::s3 {
namespace {

// role_arn -> source_profile -> role_arn ...: the SDKs allow chains; this
// bounds them (and catches a cycle the visited check misses).
constexpr int kMaxRoleChain = 5;

std::string Get(const ProfileSettings& p, const char* key) {
  auto it = p.find(key);
  return it == p.end() ? "" : it->second;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\n' || s[b] == '\r')) ++b;
  return s.substr(b);
}

// A session name when none is configured: the SDKs use their name and a time.
std::string DefaultSessionName() { return "hugeblob-" + std::to_string(std::time(nullptr)); }

std::string ProfileWhere(const ChainConfig& c, const std::string& name) {
  return "profile '" + name + "' in " + c.credentials_file + " / " + c.config_file;
}

MaybeCredentials StaticFromProfile(const ProfileSettings& p, const std::string& where) {
  std::string id = Get(p, "aws_access_key_id"), secret = Get(p, "aws_secret_access_key");
  if (id.empty() != secret.empty()) {
    // Half a key pair is a mistake to point out, not a reason to look elsewhere.
    return Fail(ErrorCode::kPermission, where + ": has " +
                                            (id.empty() ? "aws_secret_access_key without "
                                                          "aws_access_key_id"
                                                        : "aws_access_key_id without "
                                                          "aws_secret_access_key"));
  }
  if (id.empty()) return std::nullopt;
  TimedCredentials t;
  t.credentials = {id, secret, Get(p, "aws_session_token")};
  t.source = where;
  return t;
}

Result<TimedCredentials> WebIdentity(const ChainConfig& c, HttpClient& http,
                                     const ProfileSettings* profile, const std::string& token_file,
                                     const std::string& role_arn, std::string session,
                                     const std::string& where) {
  // Re-read on every refresh: the orchestrator (EKS) rotates the file.
  std::string token = Trimmed(ReadFileOrEmpty(token_file));
  if (token.empty()) {
    return Fail(ErrorCode::kPermission,
                where + ": the web identity token file " + token_file + " is missing or empty");
  }
  AssumeRoleParams params;
  params.role_arn = role_arn;
  params.session_name = session.empty() ? DefaultSessionName() : std::move(session);
  HB_ASSIGN_OR_RETURN(TimedCredentials t,
                      StsAssumeRoleWithWebIdentity(http, StsEndpoint(c, profile), params, token));
  t.source = where + " (role " + role_arn + ")";
  return t;
}

MaybeCredentials ResolveProfile(const ChainConfig& c, HttpClient& http, const std::string& name,
                                int depth, bool as_source);

// The credentials a role_arn profile assumes the role with.
Result<TimedCredentials> RoleSource(const ChainConfig& c, HttpClient& http, const std::string& name,
                                    const ProfileSettings& p, int depth) {
  const std::string where = ProfileWhere(c, name);
  std::string source_profile = Get(p, "source_profile");
  std::string credential_source = Get(p, "credential_source");
  if (!source_profile.empty() && !credential_source.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                where + ": has both source_profile and credential_source; keep one");
  }
  if (!source_profile.empty()) {
    if (source_profile == name) {
      // A profile may name itself: its own keys assume its own role.
      HB_ASSIGN_OR_RETURN(auto own, StaticFromProfile(p, where));
      if (own) return *own;
      return Fail(ErrorCode::kPermission,
                  where + ": source_profile is the profile itself, which has no keys");
    }
    HB_ASSIGN_OR_RETURN(auto src, ResolveProfile(c, http, source_profile, depth + 1, true));
    if (src) return *src;
    return Fail(ErrorCode::kPermission,
                where + ": its source_profile '" + source_profile + "' has no credentials");
  }
  if (credential_source == "Environment") {
    HB_ASSIGN_OR_RETURN(auto env, FromEnvironment());
    if (env) return *env;
  } else if (credential_source == "Ec2InstanceMetadata") {
    std::string note;
    HB_ASSIGN_OR_RETURN(auto imds, FromInstanceMetadata(c, http, &note));
    if (imds) return *imds;
    return Fail(ErrorCode::kPermission,
                where + ": credential_source Ec2InstanceMetadata found nothing (" + note + ")");
  } else if (credential_source == "EcsContainer") {
    HB_ASSIGN_OR_RETURN(auto ecs, FromContainer(http));
    if (ecs) return *ecs;
  } else if (!credential_source.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                where +
                    ": credential_source must be Environment, Ec2InstanceMetadata or "
                    "EcsContainer, not '" +
                    credential_source + "'");
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                where +
                    ": role_arn needs source_profile, credential_source or "
                    "web_identity_token_file");
  }
  return Fail(ErrorCode::kPermission,
              where + ": credential_source " + credential_source + " has no credentials");
}

MaybeCredentials ResolveProfile(const ChainConfig& c, HttpClient& http, const std::string& name,
                                int depth, bool as_source) {
  std::optional<ProfileSettings> loaded = LoadProfile(c, name);
  if (!loaded) return std::nullopt;
  const ProfileSettings& p = *loaded;
  const std::string where = ProfileWhere(c, name);
  HB_ASSIGN_OR_RETURN(auto keys, StaticFromProfile(p, where));
  const std::string role_arn = Get(p, "role_arn");
  // A source profile with keys lends its keys, even if it has a role too
  // (what botocore does); otherwise its role is assumed in turn.
  if (!role_arn.empty() && !(as_source && keys)) {
    if (depth >= kMaxRoleChain) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + ": role_arn/source_profile chain longer than " +
                      std::to_string(kMaxRoleChain) + " (or circular)");
    }
    if (!Get(p, "mfa_serial").empty()) {
      return Fail(ErrorCode::kUnsupported,
                  where +
                      ": mfa_serial needs an interactive MFA prompt, which hugeblob does "
                      "not do; use credential_process or temporary keys");
    }
    std::string token_file = Get(p, "web_identity_token_file");
    if (!token_file.empty()) {
      return WebIdentity(c, http, &p, ExpandHome(token_file), role_arn, Get(p, "role_session_name"),
                         where);
    }
    HB_ASSIGN_OR_RETURN(TimedCredentials source, RoleSource(c, http, name, p, depth));
    AssumeRoleParams params;
    params.role_arn = role_arn;
    params.session_name = Get(p, "role_session_name");
    if (params.session_name.empty()) params.session_name = DefaultSessionName();
    params.external_id = Get(p, "external_id");
    if (std::string d = Get(p, "duration_seconds"); !d.empty()) {
      params.duration_s = std::atoi(d.c_str());
      if (params.duration_s < 900 || params.duration_s > 43200) {
        return Fail(ErrorCode::kInvalidArgument,
                    where + ": duration_seconds must be between 900 and 43200");
      }
    }
    std::string region = Get(p, "region");
    if (region.empty()) region = c.region;
    HB_ASSIGN_OR_RETURN(TimedCredentials t, StsAssumeRole(http, StsEndpoint(c, &p),
                                                          region.empty() ? "us-east-1" : region,
                                                          source.credentials, params));
    t.source = where + " (role " + role_arn + ", from " + source.source + ")";
    return t;
  }
  if (keys) return keys;
  if (std::string cmd = Get(p, "credential_process"); !cmd.empty()) {
    return RunCredentialProcess(cmd, where + " (credential_process)");
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProfileSettings> LoadProfile(const ChainConfig& c, const std::string& name) {
  IniFile config = ParseIni(ReadFileOrEmpty(c.config_file));
  IniFile creds = ParseIni(ReadFileOrEmpty(c.credentials_file));
  auto cs = config.find(name == "default" ? std::string("default") : "profile " + name);
  auto ks = creds.find(name);
  if (cs == config.end() && ks == creds.end()) return std::nullopt;
  ProfileSettings out;
  if (cs != config.end()) out = cs->second;
  if (ks != creds.end()) {
    for (const auto& [k, v] : ks->second) out[k] = v;
  }
  return out;
}

MaybeCredentials FromEnvironment() {
  std::string id = Env("AWS_ACCESS_KEY_ID"), secret = Env("AWS_SECRET_ACCESS_KEY");
  if (id.empty() != secret.empty()) {
    return Fail(ErrorCode::kPermission,
                std::string("the environment has ") +
                    (id.empty() ? "AWS_SECRET_ACCESS_KEY without AWS_ACCESS_KEY_ID"
                                : "AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY"));
  }
  if (id.empty()) return std::nullopt;
  TimedCredentials t;
  t.credentials = {id, secret, Env("AWS_SESSION_TOKEN")};
  t.source = "environment (AWS_ACCESS_KEY_ID)";
  // botocore reads an expiry for environment credentials from here; whatever
  // refreshes them must then restart the program, but the expiry is honoured.
  if (std::string exp = Env("AWS_CREDENTIAL_EXPIRATION"); !exp.empty()) {
    t.expiration = ParseIso8601(exp);
    if (!t.expiration) {
      return Fail(ErrorCode::kInvalidArgument,
                  "AWS_CREDENTIAL_EXPIRATION='" + exp + "' is not an ISO 8601 time");
    }
  }
  return t;
}

MaybeCredentials FromWebIdentityEnvironment(const ChainConfig& c, HttpClient& http) {
  std::string token_file = Env("AWS_WEB_IDENTITY_TOKEN_FILE"), role = Env("AWS_ROLE_ARN");
  // Both are needed, as in the SDKs; one alone is someone else's setting.
  if (token_file.empty() || role.empty()) return std::nullopt;
  std::optional<ProfileSettings> profile = LoadProfile(c, c.profile);
  return WebIdentity(c, http, profile ? &*profile : nullptr, token_file, role,
                     Env("AWS_ROLE_SESSION_NAME"), "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");
}

MaybeCredentials FromProfile(const ChainConfig& c, HttpClient& http) {
  return ResolveProfile(c, http, c.profile, 0, false);
}

Result<TimedCredentials> CredentialsFromJson(std::string_view json, const std::string& where,
                                             const char* id, const char* secret, const char* token,
                                             const char* expiration) {
  auto doc = ParseJsonObject(json);
  if (!doc) return Fail(doc.error().Wrap(where));
  TimedCredentials t;
  t.credentials.access_key_id = (*doc)[id];
  t.credentials.secret_access_key = (*doc)[secret];
  t.credentials.session_token = (*doc)[token];
  if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty()) {
    return Fail(ErrorCode::kPermission,
                where + ": the answer has no " + std::string(id) + " or " + secret);
  }
  if (std::string exp = (*doc)[expiration]; !exp.empty()) {
    t.expiration = ParseIso8601(exp);
    if (!t.expiration) {
      return Fail(ErrorCode::kCorruption,
                  where + ": " + expiration + " '" + exp + "' is not an ISO 8601 time");
    }
  }
  t.source = where;
  return t;
}

Result<TimedCredentials> ResolveCredentialChain(const ChainConfig& c, HttpClient& http) {
  HB_ASSIGN_OR_RETURN(auto env, FromEnvironment());
  if (env) return *env;
  HB_ASSIGN_OR_RETURN(auto web, FromWebIdentityEnvironment(c, http));
  if (web) return *web;
  HB_ASSIGN_OR_RETURN(auto profile, FromProfile(c, http));
  if (profile) return *profile;
  HB_ASSIGN_OR_RETURN(auto container, FromContainer(http));
  if (container) return *container;
  std::string imds_note;
  HB_ASSIGN_OR_RETURN(auto imds, FromInstanceMetadata(c, http, &imds_note));
  if (imds) return *imds;
  return Fail(ErrorCode::kPermission,
              "no S3 credentials: looked in the environment (AWS_ACCESS_KEY_ID and "
              "AWS_SECRET_ACCESS_KEY), web identity (AWS_WEB_IDENTITY_TOKEN_FILE and "
              "AWS_ROLE_ARN), profile '" +
                  c.profile + "' in " + c.credentials_file + " and " + c.config_file +
                  " (keys, role_arn, credential_process), container credentials "
                  "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI) and EC2 instance "
                  "metadata (" +
                  imds_note + ")");
}

}  // namespace hugeblob::s3
