// Pure tests of the S3 store's building blocks: SigV4 against the published
// AWS test-suite vectors and the S3 documentation examples, URI encoding,
// the XML reader, configuration parsing and the part-size rule. No network.
#include "store/s3/sigv4.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "hash/sha256.h"
#include "store/s3/s3_config.h"
#include "store/s3/s3_store.h"
#include "store/s3/xml.h"

namespace hugeblob::s3 {
namespace {

// The AWS SigV4 test suite: credentials, date, region and service.
const Credentials kSuiteCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kSuiteDate = "20150830T123600Z";

SigningInput SuiteRequest(std::string method, std::string uri, KeyValues query = {},
                          const KeyValues& extra_headers = {}) {
  SigningInput in;
  in.method = std::move(method);
  in.canonical_uri = std::move(uri);
  in.query = std::move(query);
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  for (auto& h : extra_headers) in.headers.push_back(h);
  in.payload_hash = std::string(kEmptyPayloadSha256);
  in.amz_date = kSuiteDate;
  in.region = "us-east-1";
  in.service = "service";
  return in;
}

TEST(SigV4Suite, GetVanilla) {
  Signature s = Sign(SuiteRequest("GET", "/"), kSuiteCreds);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Suite, QueryOrderKeyCase) {
  Signature s =
      Sign(SuiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteCreds);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign.substr(s.string_to_sign.rfind('\n') + 1),
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, QueryOrderValue) {
  Signature s =
      Sign(SuiteRequest("GET", "/", {{"Param1", "value2"}, {"Param1", "value1"}}), kSuiteCreds);
  EXPECT_NE(s.canonical_request.find("\nParam1=value1&Param1=value2\n"), std::string::npos);
  EXPECT_EQ(s.signature, "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694");
}

TEST(SigV4Suite, QueryUnreserved) {
  const std::string u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  Signature s = Sign(SuiteRequest("GET", "/", {{u, u}}), kSuiteCreds);
  EXPECT_EQ(s.signature, "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

TEST(SigV4Suite, Utf8Query) {
  Signature s = Sign(SuiteRequest("GET", "/", {{"\xE1\x88\xB4", "bar"}}), kSuiteCreds);
  EXPECT_EQ(s.signature, "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
}

TEST(SigV4Suite, QueryOrderEncoded) {
  Signature s =
      Sign(SuiteRequest("GET", "/",
                        {{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xE1\x88\xB4", "Value1"}}),
           kSuiteCreds);
  EXPECT_NE(s.canonical_request.find("\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"),
            std::string::npos);
  EXPECT_EQ(s.signature, "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
}

TEST(SigV4Suite, EmptyQueryKeyAndPaths) {
  EXPECT_EQ(Sign(SuiteRequest("GET", "/", {{"Param1", "value1"}}), kSuiteCreds).signature,
            "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
  const std::string u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(Sign(SuiteRequest("GET", "/" + UriEncode(u, false)), kSuiteCreds).signature,
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
  EXPECT_EQ(
      Sign(SuiteRequest("GET", "/" + UriEncode("\xE1\x88\xB4", false)), kSuiteCreds).signature,
      "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
  EXPECT_EQ(Sign(SuiteRequest("GET", UriEncode("/example space/", false)), kSuiteCreds).signature,
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
}

TEST(SigV4Suite, DuplicateHeaderKey) {
  Signature s = Sign(
      SuiteRequest("GET", "/", {},
                   {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
      kSuiteCreds);
  EXPECT_NE(s.canonical_request.find("my-header1:value2,value2,value1\n"), std::string::npos);
  EXPECT_EQ(s.signed_headers, "host;my-header1;x-amz-date");
  EXPECT_EQ(s.signature, "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
}

// The worked examples of the S3 documentation ("Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk").
const Credentials kS3DocCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                              ""};

SigningInput S3DocRequest(std::string method, std::string uri, KeyValues query,
                          const KeyValues& headers, std::string payload_hash) {
  SigningInput in;
  in.method = std::move(method);
  in.canonical_uri = std::move(uri);
  in.query = std::move(query);
  in.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-date", "20130524T000000Z"},
                {"x-amz-content-sha256", payload_hash}};
  for (auto& h : headers) in.headers.push_back(h);
  in.payload_hash = std::move(payload_hash);
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.service = "s3";
  return in;
}

TEST(SigV4S3Examples, GetObjectRange) {
  Signature s = Sign(S3DocRequest("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}},
                                  std::string(kEmptyPayloadSha256)),
                     kS3DocCreds);
  EXPECT_EQ(
      s.canonical_request,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3Examples, PutObject) {
  const std::string hash = Sha256Of(std::string_view("Welcome to Amazon S3.")).Hex();
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  Signature s = Sign(S3DocRequest("PUT", "/" + UriEncode("test$file.text", false), {},
                                  {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                                  hash),
                     kS3DocCreds);
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4S3Examples, BucketLifecycleAndListObjects) {
  EXPECT_EQ(
      Sign(S3DocRequest("GET", "/", {{"lifecycle", ""}}, {}, std::string(kEmptyPayloadSha256)),
           kS3DocCreds)
          .signature,
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(Sign(S3DocRequest("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {},
                              std::string(kEmptyPayloadSha256)),
                 kS3DocCreds)
                .signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, SigningKeyMatchesPublishedExample) {
  // The derived key of the SigV4 documentation example (iam, 20150830).
  auto key = SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
  EXPECT_EQ(HexOf(key.data(), key.size()),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c~d+e=f&g", true), "a%20b%2Fc~d%2Be%3Df%26g");
  EXPECT_EQ(UriEncode("packs/ab/x y", false), "packs/ab/x%20y");
  EXPECT_EQ(UriEncode("\xC3\xA9*!'()", true), "%C3%A9%2A%21%27%28%29");
  EXPECT_EQ(UriEncode("", true), "");
}

TEST(SigV4, HeaderValuesTrimmedAndCollapsed) {
  std::string signed_headers;
  std::string c =
      CanonicalHeaders({{"My-Header1", "  a   b   c  "}, {"Host", "h"}}, &signed_headers);
  EXPECT_EQ(c, "host:h\nmy-header1:a b c\n");
  EXPECT_EQ(signed_headers, "host;my-header1");
}

TEST(SigV4, AmzDate) { EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z"); }

TEST(S3Xml, ParsesListingWithEntitiesAndNamespaces) {
  auto doc = ParseXml(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><IsTruncated>true</IsTruncated>
  <Contents><Key>a&amp;b &lt;c&gt; &#233;&#x1F600;</Key><Size>12</Size></Contents>
  <Contents><Key><![CDATA[x<y]]></Key><Size>0</Size></Contents>
  <!-- comment --><Empty/>
  <NextContinuationToken>tok/+=</NextContinuationToken>
</ListBucketResult>)");
  ASSERT_TRUE(doc) << doc.error().message();
  EXPECT_EQ(doc->name, "ListBucketResult");
  auto contents = doc->ChildrenNamed("Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents[0]->ChildText("Key"), "a&b <c> \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(contents[1]->ChildText("Key"), "x<y");
  EXPECT_EQ(doc->ChildText("NextContinuationToken"), "tok/+=");
  EXPECT_EQ(doc->ChildText("IsTruncated"), "true");
  EXPECT_NE(doc->Child("Empty"), nullptr);
  EXPECT_EQ(doc->ChildText("Missing"), "");
}

TEST(S3Xml, RefusesMalformedInput) {
  for (std::string_view bad :
       {"", "text", "<a>", "<a></b>", "<a><b></a>", "<a>&bogus;</a>", "<a>&#xZZ;</a>",
        "<a x=1></a>", "<a></a><b></b>", "<a><![CDATA[x</a>", "<a>&#x110000;</a>", "<!-- x"}) {
    EXPECT_FALSE(ParseXml(bad)) << bad;
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  EXPECT_FALSE(ParseXml(deep));
}

TEST(S3Xml, Escape) { EXPECT_EQ(XmlEscape("\"a\"&<b>'"), "&quot;a&quot;&amp;&lt;b&gt;&apos;"); }

TEST(S3PartSize, NeverMoreThan10000PartsNorAbove5GiB) {
  const uint64_t MiB = 1 << 20;
  EXPECT_EQ(*PartSizeFor(100 * MiB, 16 * MiB), 16 * MiB);
  EXPECT_EQ(*PartSizeFor(0, 16 * MiB), 16 * MiB);
  for (uint64_t size :
       std::initializer_list<uint64_t>{160000 * MiB, 160001 * MiB, 1ull << 40, 5ull << 40}) {
    uint64_t part = *PartSizeFor(size, 16 * MiB);
    EXPECT_LE((size + part - 1) / part, 10000u) << size;
    EXPECT_LE(part, 5ull << 30);
    EXPECT_EQ(part % MiB, 0u);
  }
  EXPECT_FALSE(PartSizeFor((5ull << 40) + 1, 16 * MiB));
}

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

TEST(S3Config, IniFilesWithNestedS3Section) {
  IniFile ini = ParseIni(
      "# comment\n[default]\nregion = eu-west-1\ns3 =\n  addressing_style = path\n  endpoint_url = "
      "http://x:1\n[profile other]\naws_access_key_id=AK\n; c\naws_secret_access_key = SK \n");
  EXPECT_EQ(ini["default"]["region"], "eu-west-1");
  EXPECT_EQ(ini["default"]["s3.addressing_style"], "path");
  EXPECT_EQ(ini["default"]["s3.endpoint_url"], "http://x:1");
  EXPECT_EQ(ini["profile other"]["aws_access_key_id"], "AK");
  EXPECT_EQ(ini["profile other"]["aws_secret_access_key"], "SK");
}

TEST(S3Config, UrlEnvAndFiles) {
  std::string dir = ::testing::TempDir() + "/s3cfg" + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  std::ofstream(dir + "/config")
      << "[profile p]\nregion = ap-south-1\ns3 =\n  addressing_style = virtual\n";
  std::ofstream(dir + "/credentials")
      << "[p]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n"
      << "aws_session_token = TOK\n";
  ScopedEnv e1("AWS_CONFIG_FILE", (dir + "/config").c_str());
  ScopedEnv e2("AWS_SHARED_CREDENTIALS_FILE", (dir + "/credentials").c_str());
  ScopedEnv e3("AWS_PROFILE", "p");
  ScopedEnv e4("AWS_REGION", nullptr);
  ScopedEnv e5("AWS_DEFAULT_REGION", nullptr);
  ScopedEnv e6("AWS_ENDPOINT_URL", nullptr);
  ScopedEnv e6b("AWS_ENDPOINT_URL_S3", nullptr);
  ScopedEnv e7("AWS_ACCESS_KEY_ID", nullptr);
  ScopedEnv e8("AWS_SECRET_ACCESS_KEY", nullptr);
  ScopedEnv e9("HB_S3_ADDRESSING", nullptr);

  auto c = LoadS3Config("s3://my-bucket/a/b/");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->prefix, "a/b");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->endpoint, "https://s3.ap-south-1.amazonaws.com");
  EXPECT_FALSE(c->use_path_style());
  EXPECT_FALSE(c->sign_payload());  // TLS: UNSIGNED-PAYLOAD
  CredentialsProvider creds(*c);
  auto got = creds.Get();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ((*got)->access_key_id, "FILEKEY");
  EXPECT_EQ((*got)->session_token, "TOK");
  // The source is named, the secret is not.
  EXPECT_EQ(creds.source().find("FILESECRET"), std::string::npos);

  // A rotated file is picked up by Refresh.
  std::ofstream(dir + "/credentials")
      << "[p]\naws_access_key_id = NEWKEY\naws_secret_access_key = S2\n";
  auto changed = creds.Refresh(**got);
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ((*creds.Get())->access_key_id, "NEWKEY");
  EXPECT_EQ((*creds.Get())->session_token, "");

  {
    ScopedEnv env_ep("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/");
    ScopedEnv env_key("AWS_ACCESS_KEY_ID", "ENVKEY");
    ScopedEnv env_secret("AWS_SECRET_ACCESS_KEY", "ENVSECRET");
    ScopedEnv region("AWS_REGION", "us-west-2");
    auto c2 = LoadS3Config("s3://my-bucket");
    ASSERT_TRUE(c2) << c2.error().message();
    EXPECT_EQ(c2->endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(c2->region, "us-west-2");
    EXPECT_TRUE(c2->sign_payload());  // plain HTTP: the body is hashed
    EXPECT_EQ(c2->prefix, "");
    // The profile says virtual; that wins over the custom-endpoint default.
    EXPECT_FALSE(c2->use_path_style());
    EXPECT_EQ((*CredentialsProvider(*c2).Get())->access_key_id, "ENVKEY");
    auto c3 = LoadS3Config(
        "s3://my-bucket/p?endpoint=http%3A%2F%2Flocalhost%3A1234&region=r1&addressing=path");
    ASSERT_TRUE(c3) << c3.error().message();
    EXPECT_EQ(c3->endpoint, "http://localhost:1234");
    EXPECT_EQ(c3->region, "r1");
    EXPECT_TRUE(c3->use_path_style());
  }
  for (const char* bad : {"s3://", "s3://ab", "s3://bucket/../x", "s3://bucket/a//b",
                          "s3://b_k?nope=1", "http://bucket", "s3://bucket?endpoint=ftp://x"}) {
    EXPECT_FALSE(LoadS3Config(bad)) << bad;
  }
  std::system(("rm -rf " + dir).c_str());
}

TEST(S3Config, ServerSideEncryption) {
  ScopedEnv e1("HB_S3_SSE", nullptr);
  ScopedEnv e2("HB_S3_SSE_KMS_KEY_ID", nullptr);
  auto none = LoadS3Config("s3://bucket/p");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->sse, "");
  auto kms = LoadS3Config("s3://bucket/p?sse=aws%3Akms&sse-kms-key-id=alias%2Fhb");
  ASSERT_TRUE(kms) << kms.error().message();
  EXPECT_EQ(kms->sse, "aws:kms");
  EXPECT_EQ(kms->sse_kms_key_id, "alias/hb");
  EXPECT_EQ(kms->url_query, "sse=aws%3Akms&sse-kms-key-id=alias%2Fhb");  // reopens the same way
  auto aes = LoadS3Config("s3://bucket/p?sse=aes256");
  ASSERT_TRUE(aes);
  EXPECT_EQ(aes->sse, "AES256");
  {
    ScopedEnv env_sse("HB_S3_SSE", "aws:kms:dsse");
    ScopedEnv env_key("HB_S3_SSE_KMS_KEY_ID", "1234abcd-12ab-34cd-56ef-1234567890ab");
    auto env = LoadS3Config("s3://bucket/p");
    ASSERT_TRUE(env) << env.error().message();
    EXPECT_EQ(env->sse, "aws:kms:dsse");
    EXPECT_EQ(env->sse_kms_key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
    // The URL wins over the environment.
    auto url = LoadS3Config("s3://bucket/p?sse=AES256&sse-kms-key-id=");
    ASSERT_TRUE(url) << url.error().message();
    EXPECT_EQ(url->sse, "AES256");
  }
  for (const char* bad : {"s3://bucket/p?sse=kms", "s3://bucket/p?sse=AES256&sse-kms-key-id=k",
                          "s3://bucket/p?sse-kms-key-id=k"}) {
    auto r = LoadS3Config(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(S3Config, MissingCredentialsSayWhereWeLooked) {
  ScopedEnv e1("AWS_ACCESS_KEY_ID", nullptr);
  ScopedEnv e2("AWS_SECRET_ACCESS_KEY", nullptr);
  ScopedEnv e3("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
  ScopedEnv e4("AWS_CONFIG_FILE", "/nonexistent/config");
  ScopedEnv e5("AWS_PROFILE", nullptr);
  // The chain's last source would otherwise ask 169.254.169.254.
  ScopedEnv e6("AWS_EC2_METADATA_DISABLED", "true");
  ScopedEnv e7("AWS_WEB_IDENTITY_TOKEN_FILE", nullptr);
  ScopedEnv e8("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", nullptr);
  ScopedEnv e9("AWS_CONTAINER_CREDENTIALS_FULL_URI", nullptr);
  auto store = OpenS3Store("s3://bucket/p");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermission);
  EXPECT_NE(store.error().message().find("/nonexistent/credentials"), std::string::npos)
      << store.error().message();
}

}  // namespace
}  // namespace hugeblob::s3
