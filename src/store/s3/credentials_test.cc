// The credential chain without a network: parsing (ISO 8601, JSON), the
// refresh schedule, the provider's reload rules under concurrency, and the
// order and errors of the sources that need no server (environment, profile
// files, credential_process, refused endpoints). The sources that talk to a
// server (STS, container, IMDS) are tested against fakes by
// tests/s3_credentials.sh.
#include "store/s3/credentials.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "store/s3/aws_util.h"

namespace hugeblob::s3 {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Every variable the chain reads, cleared for the test's duration, so the
// machine's own settings (or another test's) cannot leak in.
struct CleanChainEnv {
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  CleanChainEnv() {
    for (const char* v :
         {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
          "AWS_CREDENTIAL_EXPIRATION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
          "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
          "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "AWS_PROFILE"}) {
      vars.push_back(std::make_unique<ScopedEnv>(v, nullptr));
    }
    // Never reach for 169.254.169.254 from a test.
    vars.push_back(std::make_unique<ScopedEnv>("AWS_EC2_METADATA_DISABLED", "true"));
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    path = ::testing::TempDir() + "/hbcred" + std::to_string(getpid()) + "-" +
           std::to_string(counter++);
    std::system(("rm -rf " + path + " && mkdir -p " + path).c_str());
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  static inline int counter = 0;
};

ChainConfig ConfigIn(const TempDir& d, const char* profile = "default") {
  ChainConfig c;
  c.profile = profile;
  c.credentials_file = d.path + "/credentials";
  c.config_file = d.path + "/config";
  c.region = "us-east-1";
  return c;
}

TEST(AwsUtil, ParsesIso8601) {
  auto base = ParseIso8601("2024-05-01T12:00:00Z");
  ASSERT_TRUE(base);
  EXPECT_EQ(Clock::to_time_t(*base), 1714564800);
  EXPECT_EQ(*ParseIso8601("2024-05-01T12:00:00.5Z") - *base, 500ms);
  EXPECT_EQ(*ParseIso8601("2024-05-01T12:00:00.123456Z") - *base, 123ms);
  EXPECT_EQ(*ParseIso8601("2024-05-01T14:00:00+02:00"), *base);
  EXPECT_EQ(*ParseIso8601("2024-05-01T11:30:00-00:30"), *base);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00:00+1:2",
                          "2024-05-01T12:00:00Zjunk", "tomorrow"}) {
    EXPECT_FALSE(ParseIso8601(bad)) << bad;
  }
}

TEST(AwsUtil, ParsesFlatJsonObjects) {
  auto doc = ParseJsonObject(
      R"( {"Version": 1, "AccessKeyId":"AK\u00e9\"x", "Nested": {"a": [1, {"b": null}]},
          "Ok": true, "Neg": -1.5e3, "Empty": ""} )");
  ASSERT_TRUE(doc) << doc.error().message();
  EXPECT_EQ((*doc)["Version"], "1");
  EXPECT_EQ((*doc)["AccessKeyId"], "AK\xc3\xa9\"x");
  EXPECT_EQ(doc->count("Nested"), 0u);
  EXPECT_EQ((*doc)["Ok"], "true");
  EXPECT_EQ((*doc)["Neg"], "-1.5e3");
  for (const char* bad : {"", "[]", "{", R"({"a":})", R"({"a":1,})", R"({"a":"x)", "{} {}",
                          R"({"a":"\q"})", R"({"a":nope})"}) {
    EXPECT_FALSE(ParseJsonObject(bad)) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(ParseJsonObject("{\"a\":" + deep + "}"));
}

TEST(CredentialsProvider, RefreshScheduleScalesWithLifetime) {
  auto t0 = Clock::now();
  auto hour = RefreshScheduleFor(t0, t0 + 1h);
  EXPECT_EQ(t0 + 1h - hour.advisory, 5min);
  EXPECT_EQ(t0 + 1h - hour.mandatory, 1min);
  auto short_lived = RefreshScheduleFor(t0, t0 + 9s);
  EXPECT_EQ(t0 + 9s - short_lived.advisory, 3s);
  EXPECT_EQ(t0 + 9s - short_lived.mandatory, 900ms);
}

// A loader that hands out numbered credentials living `life`.
struct CountingLoader {
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  Clock::duration life = 1500ms;
  std::chrono::milliseconds delay{0};

  CredentialsProvider::Loader Fn() {
    return [this]() -> Result<TimedCredentials> {
      int n = ++calls;
      std::this_thread::sleep_for(delay);
      if (fail) return Fail(ErrorCode::kNetwork, "loader down", true);
      TimedCredentials t;
      t.credentials = {"AK" + std::to_string(n), "SK", "TOKEN" + std::to_string(n)};
      t.expiration = Clock::now() + life;
      t.source = "test loader";
      return t;
    };
  }
};

TEST(CredentialsProvider, ReloadsBeforeExpiryOnceForAllThreads) {
  CountingLoader loader;
  loader.delay = 50ms;  // so that threads pile up on the reload
  CredentialsProvider p(loader.Fn());
  auto first = p.Get();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)->session_token, "TOKEN1");
  EXPECT_EQ((*p.Get())->session_token, "TOKEN1");  // cached
  EXPECT_EQ(loader.calls, 1);
  // Past the advisory point (1 s of 1.5 s): 8 threads ask at once; one of
  // them reloads, the others go on with TOKEN1 without waiting.
  std::this_thread::sleep_for(1100ms);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto c = p.Get();
      if (!c || ((*c)->session_token != "TOKEN1" && (*c)->session_token != "TOKEN2")) ++errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(loader.calls, 2);
  EXPECT_EQ((*p.Get())->session_token, "TOKEN2");
  EXPECT_EQ(p.loads(), 2u);
}

TEST(CredentialsProvider, AdvisoryFailureKeepsValidCredentialsMandatoryFailureIsAnError) {
  CountingLoader loader;
  loader.life = 2000ms;  // advisory after ~1.33 s, mandatory after 1.8 s
  CredentialsProvider p(loader.Fn());
  ASSERT_TRUE(p.Get());
  loader.fail = true;
  std::this_thread::sleep_for(1450ms);
  auto c = p.Get();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)->session_token, "TOKEN1");
  EXPECT_EQ(loader.calls, 2);
  // Tried again only after a pause, not on every request.
  ASSERT_TRUE(p.Get());
  EXPECT_EQ(loader.calls, 2);
  std::this_thread::sleep_for(450ms);  // now past the mandatory point
  auto late = p.Get();
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message().find("loader down"), std::string::npos);
  loader.fail = false;
  auto back = p.Get();
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_NE((*back)->session_token, "TOKEN1");
}

TEST(CredentialsProvider, RefreshAfterExpiredTokenReloadsOnce) {
  CountingLoader loader;
  loader.life = 1h;
  CredentialsProvider p(loader.Fn());
  auto c = p.Get();
  ASSERT_TRUE(c);
  auto changed = p.Refresh(**c);
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(loader.calls, 2);
  // A second caller holding the old credentials does not reload again.
  changed = p.Refresh(**c);
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(loader.calls, 2);
  CredentialsProvider fixed(Credentials{"A", "B", ""});
  EXPECT_FALSE(*fixed.Refresh(Credentials{"A", "B", ""}));
  EXPECT_EQ(fixed.source(), "fixed credentials");
}

TEST(CredentialsProvider, CredentialsExpiredOnArrivalAreRefused) {
  CredentialsProvider p([]() -> Result<TimedCredentials> {
    TimedCredentials t;
    t.credentials = {"AK", "SK", "T"};
    t.expiration = Clock::now() - 1s;
    t.source = "a stale source";
    return t;
  });
  auto c = p.Get();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("clock"), std::string::npos);
}

TEST(CredentialChain, EnvironmentComesFirstThenProfile) {
  CleanChainEnv clean;
  TempDir d;
  std::ofstream(d.path + "/credentials") << "[default]\naws_access_key_id = FILEKEY\n"
                                            "aws_secret_access_key = FILESECRET\n";
  HttpClient http;
  auto c = ResolveCredentialChain(ConfigIn(d), http);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->credentials.access_key_id, "FILEKEY");
  EXPECT_FALSE(c->expiration);
  EXPECT_EQ(c->source.find("FILESECRET"), std::string::npos);
  {
    ScopedEnv a("AWS_ACCESS_KEY_ID", "ENVKEY");
    ScopedEnv b("AWS_SECRET_ACCESS_KEY", "ENVSECRET");
    ScopedEnv e("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z");
    auto env = ResolveCredentialChain(ConfigIn(d), http);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->credentials.access_key_id, "ENVKEY");
    EXPECT_TRUE(env->expiration);
    EXPECT_EQ(env->source, "environment (AWS_ACCESS_KEY_ID)");
  }
}

TEST(CredentialChain, HalfAKeyPairIsAnError) {
  CleanChainEnv clean;
  TempDir d;
  HttpClient http;
  {
    ScopedEnv a("AWS_ACCESS_KEY_ID", "ENVKEY");
    auto c = ResolveCredentialChain(ConfigIn(d), http);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("without AWS_SECRET_ACCESS_KEY"), std::string::npos);
  }
  std::ofstream(d.path + "/credentials") << "[default]\naws_secret_access_key = S\n";
  auto c = ResolveCredentialChain(ConfigIn(d), http);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("without aws_access_key_id"), std::string::npos);
}

TEST(CredentialChain, ConfigFileProfileAndCredentialsFileOverlay) {
  CleanChainEnv clean;
  TempDir d;
  std::ofstream(d.path + "/config") << "[profile p]\nregion = eu-west-1\n"
                                       "aws_access_key_id = CFGKEY\naws_secret_access_key = S\n";
  auto cfg = ConfigIn(d, "p");
  HttpClient http;
  auto c = ResolveCredentialChain(cfg, http);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->credentials.access_key_id, "CFGKEY");
  // The credentials file wins for the same key.
  std::ofstream(d.path + "/credentials") << "[p]\naws_access_key_id = CREDKEY\n";
  c = ResolveCredentialChain(cfg, http);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->credentials.access_key_id, "CREDKEY");
}

TEST(CredentialChain, CredentialProcess) {
  CleanChainEnv clean;
  TempDir d;
  std::ofstream(d.path + "/out.json")
      << R"({"Version": 1, "AccessKeyId": "PROCKEY", "SecretAccessKey": "PROCSECRET",
            "SessionToken": "PROCTOKEN", "Expiration": "2099-01-01T00:00:00Z"})";
  std::ofstream(d.path + "/config")
      << "[profile proc]\ncredential_process = cat '" << d.path << "/out.json'\n"
      << "[profile broken]\ncredential_process = sh -c 'echo SECRETISH; exit 3'\n"
      << "[profile v2]\ncredential_process = echo '{\"Version\": 2}'\n"
      << "[profile keys_win]\naws_access_key_id = K\naws_secret_access_key = S\n"
      << "credential_process = false\n";
  HttpClient http;
  auto c = ResolveCredentialChain(ConfigIn(d, "proc"), http);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->credentials.access_key_id, "PROCKEY");
  EXPECT_EQ(c->credentials.session_token, "PROCTOKEN");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(Clock::to_time_t(*c->expiration), 4070908800);

  auto broken = ResolveCredentialChain(ConfigIn(d, "broken"), http);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("exit status 3"), std::string::npos)
      << broken.error().message();
  EXPECT_EQ(broken.error().message().find("SECRETISH"), std::string::npos);
  auto v2 = ResolveCredentialChain(ConfigIn(d, "v2"), http);
  ASSERT_FALSE(v2);
  EXPECT_EQ(v2.error().code(), ErrorCode::kUnsupported);
  auto keys = ResolveCredentialChain(ConfigIn(d, "keys_win"), http);
  ASSERT_TRUE(keys) << keys.error().message();
  EXPECT_EQ(keys->credentials.access_key_id, "K");
}

TEST(CredentialChain, RoleProfilesThatCannotWorkSayWhy) {
  CleanChainEnv clean;
  TempDir d;
  std::ofstream(d.path + "/config")
      << "[profile nosource]\nrole_arn = arn:aws:iam::1:role/r\n"
         "[profile loop_a]\nrole_arn = arn:a\nsource_profile = loop_b\n"
         "[profile loop_b]\nrole_arn = arn:b\nsource_profile = loop_a\n"
         "[profile mfa]\nrole_arn = arn:m\nsource_profile = loop_a\n"
         "mfa_serial = arn:aws:iam::1:mfa/u\n"
         "[profile badsrc]\nrole_arn = arn:x\n"
         "credential_source = Somewhere\n"
         "[profile empty_source]\nrole_arn = arn:e\n"
         "source_profile = nothing_here\n";
  HttpClient http;
  auto expect = [&](const char* profile, const char* text, ErrorCode code) {
    auto c = ResolveCredentialChain(ConfigIn(d, profile), http);
    ASSERT_FALSE(c) << profile;
    EXPECT_EQ(c.error().code(), code) << c.error().message();
    EXPECT_NE(c.error().message().find(text), std::string::npos) << c.error().message();
  };
  expect("nosource", "needs source_profile", ErrorCode::kInvalidArgument);
  expect("loop_a", "circular", ErrorCode::kInvalidArgument);
  expect("mfa", "mfa_serial", ErrorCode::kUnsupported);
  expect("badsrc", "credential_source must be", ErrorCode::kInvalidArgument);
  expect("empty_source", "'nothing_here' has no credentials", ErrorCode::kPermission);
}

TEST(CredentialChain, ContainerFullUriOverPlainHttpOnlyToLoopback) {
  CleanChainEnv clean;
  HttpClient http;
  {
    ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
    auto c = FromContainer(http);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("use https"), std::string::npos) << c.error().message();
  }
  {
    ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1.evil.com/creds");
    EXPECT_FALSE(FromContainer(http));
  }
  {
    ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://user@127.0.0.1/creds");
    EXPECT_FALSE(FromContainer(http));
  }
  {
    // Loopback is allowed; nothing listens on port 9 (discard), so it fails
    // with a network error, after the host check.
    ScopedEnv full("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds");
    ScopedEnv tok("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\ntoken");
    auto c = FromContainer(http);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("line break"), std::string::npos);
  }
}

TEST(CredentialChain, NothingFoundNamesEveryPlace) {
  CleanChainEnv clean;
  TempDir d;
  HttpClient http;
  auto c = ResolveCredentialChain(ConfigIn(d), http);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kPermission);
  for (const char* part : {"AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "credentials",
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "disabled"}) {
    EXPECT_NE(c.error().message().find(part), std::string::npos) << c.error().message();
  }
}

}  // namespace
}  // namespace hugeblob::s3
