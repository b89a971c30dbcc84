// The S3 store against a real S3-compatible server (s3rver in CI, started by
// tests/s3_store.sh). Skipped unless HB_TEST_S3_ENDPOINT and
// HB_TEST_S3_BUCKET are set; credentials come from the usual AWS variables.
// Fault tests also need HB_TEST_S3_PROXY_ENDPOINT (tests/s3_fault_proxy.py
// in front of the same server), whose faults are chosen by the key name.
#include "store/s3/s3_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "hash/sha256.h"
#include "testing/store_conformance.h"

namespace hugeblob::s3 {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool HaveServer() {
  return !Env("HB_TEST_S3_ENDPOINT").empty() && !Env("HB_TEST_S3_BUCKET").empty();
}

#define REQUIRE_S3()                                                                     \
  if (!HaveServer())                                                                     \
  GTEST_SKIP() << "S3 integration tests need HB_TEST_S3_ENDPOINT and HB_TEST_S3_BUCKET " \
                  "(tests/s3_store.sh starts s3rver and sets them)"

#define REQUIRE_PROXY()                                                                           \
  REQUIRE_S3();                                                                                   \
  if (Env("HB_TEST_S3_PROXY_ENDPOINT").empty())                                                   \
  GTEST_SKIP() << "fault tests need HB_TEST_S3_PROXY_ENDPOINT (tests/s3_fault_proxy.py, started " \
                  "by tests/s3_store.sh)"

// A unique prefix per store, so tests and concurrent runs never collide.
std::string UniquePrefix(std::string_view tag) {
  static std::atomic<int> counter{0};
  return "hbtest-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::string(tag);
}

struct Options {
  std::string endpoint_env = "HB_TEST_S3_ENDPOINT";
  std::function<void(S3Config&)> tweak;
  std::shared_ptr<CredentialsProvider> credentials;
};

// Small parts and a low threshold, so multipart paths run on small objects;
// short backoff and stall timeouts, so fault tests finish quickly.
std::shared_ptr<S3Store> OpenTestStore(std::string_view tag, const Options& opt = {}) {
  std::string url = "s3://" + Env("HB_TEST_S3_BUCKET") + "/" + UniquePrefix(tag) +
                    "?endpoint=" + Env(opt.endpoint_env.c_str()) + "&addressing=path";
  auto config = LoadS3Config(url);
  EXPECT_TRUE(config) << config.error().message();
  if (!config) return nullptr;
  config->min_part_size = 5 * kMiB;
  config->multipart_threshold = 12 * kMiB;
  config->parts_in_flight = 3;
  config->retry_base_ms = 20;
  config->retry_max_ms = 500;
  config->max_attempts = 5;
  config->stall_timeout_s = 2;
  if (opt.tweak) opt.tweak(*config);
  auto store = S3Store::Open(*config, opt.credentials);
  EXPECT_TRUE(store) << store.error().message();
  return store ? *store : nullptr;
}

// Deletes everything under the store's prefix.
void Clean(ObjectStore& store) {
  auto list = store.List("");
  if (!list) return;
  for (const ObjectInfo& o : *list) (void)store.Delete(o.key);
}

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x >> 32);
  }
  return s;
}

// The shared conformance suite, on a fresh prefix per test.
std::vector<StoreFactory> S3Factories() {
  if (!HaveServer()) return {};
  return {StoreFactory{"s3", [] {
                         std::shared_ptr<S3Store> s = OpenTestStore("conformance");
                         if (!s) return std::shared_ptr<ObjectStore>();
                         return std::shared_ptr<ObjectStore>(s.get(),
                                                             [s](ObjectStore*) { Clean(*s); });
                       }}};
}
INSTANTIATE_TEST_SUITE_P(S3, StoreConformanceTest, ::testing::ValuesIn(S3Factories()),
                         StoreFactoryName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);

TEST(S3Store, SkippedWithoutServer) {
  REQUIRE_S3();
  SUCCEED() << "server at " << Env("HB_TEST_S3_ENDPOINT");
}

TEST(S3Store, MultipartPutFromCallerSlicesRoundTrips) {
  REQUIRE_S3();
  auto store = OpenTestStore("mpput");
  ASSERT_TRUE(store);
  // 38 MiB + 5 bytes in odd pieces: 8 parts of 5 MiB, 3 in flight, parts
  // spanning piece boundaries.
  std::string data = Pattern(38 * kMiB + 5, 1);
  Buffer whole = Buffer::Copy(data);
  BufferChain chain;
  for (size_t off = 0; off < data.size(); off += 3 * kMiB + 7)
    chain.Append(whole.Slice(off, 3 * kMiB + 7));
  uint64_t before = store->requests_sent();
  ASSERT_TRUE(store->Put("big/object", chain));
  // Create + 8 parts + complete, nothing else.
  EXPECT_EQ(store->requests_sent() - before, 10u);
  // No reference to the caller's block is left behind.
  chain = BufferChain();
  EXPECT_EQ(whole.use_count(), 1);
  auto head = store->Head("big/object");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->size, data.size());
  auto got = store->Get("big/object");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->view() == data);
  auto r = store->GetRange("big/object", 5 * kMiB - 3, 10);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->view(), data.substr(5 * kMiB - 3, 10));
  Clean(*store);
}

TEST(S3Store, OddKeysAndPaginatedListing) {
  REQUIRE_S3();
  Options opt;
  opt.tweak = [](S3Config& c) { c.list_page_size = 2; };
  auto store = OpenTestStore("odd", opt);
  ASSERT_TRUE(store);
  std::set<std::string> keys = {"a b/c+d=e&f",
                                "plus+/x",
                                "tilde~/-_.",
                                "pct%41/y",
                                "unicode/\xC3\xA9t\xC3\xA9",
                                "q?x#y/z",
                                "star*(paren)!'",
                                "colon:semi;/at@",
                                "comma,dollar$/brackets[]"};
  for (const std::string& k : keys) ASSERT_TRUE(store->Put(k, Buffer::Copy(k))) << k;
  auto list = store->List("");
  ASSERT_TRUE(list) << list.error().message();
  std::set<std::string> listed;
  for (const ObjectInfo& o : *list) {
    listed.insert(o.key);
    EXPECT_EQ(o.size, o.key.size());
    EXPECT_GT(o.mtime_unix, 1600000000);
  }
  EXPECT_EQ(listed, keys);
  for (const std::string& k : keys) {
    auto got = store->Get(k);
    ASSERT_TRUE(got) << k << ": " << got.error().message();
    EXPECT_EQ(got->view(), k);
  }
  auto sub = store->List("a b/");
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].key, "a b/c+d=e&f");
  Clean(*store);
}

TEST(S3Store, OneByteAndEmptyRanges) {
  REQUIRE_S3();
  auto store = OpenTestStore("ranges");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("ten", Buffer::Copy(std::string_view("0123456789"))));
  ASSERT_TRUE(store->Put("one", Buffer::Copy(std::string_view("x"))));
  ASSERT_TRUE(store->Put("empty", BufferChain()));
  struct Case {
    const char* key;
    uint64_t off, len;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{{"ten", 0, 1, "0"},
                                         {"ten", 5, 1, "5"},
                                         {"ten", 9, 1, "9"},
                                         {"ten", 9, 5, "9"},
                                         {"ten", 3, ObjectStore::kToEnd, "3456789"},
                                         {"ten", UINT64_MAX - 1, 5, ""},
                                         {"one", 0, 1, "x"},
                                         {"one", 0, 2, "x"},
                                         {"one", 1, 1, ""},
                                         {"empty", 0, ObjectStore::kToEnd, ""},
                                         {"empty", 0, 1, ""},
                                         {"empty", 3, ObjectStore::kToEnd, ""}}) {
    auto got = store->GetRange(c.key, c.off, c.len);
    ASSERT_TRUE(got) << c.key << " " << c.off << "+" << c.len << ": " << got.error().message();
    EXPECT_EQ(got->view(), c.want) << c.key << " " << c.off << "+" << c.len;
  }
  Clean(*store);
}

TEST(S3Store, PermanentErrorsAreClearAndNotRetried) {
  REQUIRE_S3();
  // s3rver knows one access key; any other is InvalidAccessKeyId.
  const std::string secret = "do-not-print-this-secret";
  Options bad_opt;
  bad_opt.credentials =
      std::make_shared<CredentialsProvider>(Credentials{"HBUNKNOWNKEY", secret, ""});
  auto bad = OpenTestStore("badkey", bad_opt);
  ASSERT_TRUE(bad);
  auto start = std::chrono::steady_clock::now();
  auto st = bad->Put("some/key", Buffer::Copy(std::string_view("x")));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kPermission) << st.error().message();
  EXPECT_FALSE(st.error().retryable());
  EXPECT_NE(st.error().message().find("InvalidAccessKeyId"), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("s3://" + Env("HB_TEST_S3_BUCKET") + "/"), std::string::npos);
  EXPECT_NE(st.error().message().find("some/key"), std::string::npos);
  EXPECT_EQ(st.error().message().find(secret), std::string::npos);
  EXPECT_EQ(bad->requests_sent(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  Options nb_opt;
  nb_opt.tweak = [](S3Config& c) { c.bucket = "hb-no-such-bucket"; };
  auto nobucket = OpenTestStore("nb", nb_opt);
  ASSERT_TRUE(nobucket);
  auto get = nobucket->Get("k");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code(), ErrorCode::kInvalidArgument) << get.error().message();
  EXPECT_NE(get.error().message().find("hb-no-such-bucket"), std::string::npos)
      << get.error().message();
  auto del = nobucket->Delete("k");
  ASSERT_FALSE(del) << "deleting from a missing bucket must not look like success";
}

TEST(S3Store, AbortRefusedByServerIsReported) {
  REQUIRE_S3();
  auto store = OpenTestStore("abort");
  ASSERT_TRUE(store);
  auto id = store->CreateMultipart("mp/x", 5 * kMiB);
  ASSERT_TRUE(id) << id.error().message();
  auto st = store->AbortMultipart("mp/x", *id);
  // Real S3 aborts; s3rver answers 405. Either way the answer is definite.
  if (!st) {
    EXPECT_EQ(st.error().code(), ErrorCode::kUnsupported) << st.error().message();
  }
}

TEST(S3Store, ConcurrentPutsAndGetsOnDistinctKeys) {
  REQUIRE_S3();
  auto store = OpenTestStore("conc");
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string key = "c/t" + std::to_string(t) + "/" + std::to_string(i);
        std::string value = Pattern(1000 + 4099 * i, t * 100 + i);
        if (!store->Put(key, Buffer::Copy(value))) failures++;
        auto got = store->Get(key);
        if (!got || got->view() != value) failures++;
        auto r = store->GetRange(key, 7, 100);
        if (!r || r->view() != value.substr(7, 100)) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto list = store->List("c/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 80u);
  Clean(*store);
}

// Leaves objects behind for tests/s3_boto3_check.py readback, which reads
// them with boto3 and compares with the sizes and hashes recorded here.
TEST(S3Interop, WriteObjectsForBoto3) {
  REQUIRE_S3();
  std::string dir = Env("HB_TEST_S3_INTEROP_DIR");
  if (dir.empty())
    GTEST_SKIP() << "set HB_TEST_S3_INTEROP_DIR to write objects for the boto3 readback";
  auto store = OpenTestStore("interop");
  ASSERT_TRUE(store);
  struct Obj {
    std::string key;
    std::string data;
  };
  std::vector<Obj> objs = {{"small", "hello from hugeblob"},
                           {"empty", ""},
                           {"odd keys/a+b=c&d e~f", Pattern(12345, 7)},
                           {"unicode/\xC3\xA9t\xC3\xA9.bin", Pattern(777, 8)},
                           {"packs/multipart.pack", Pattern(27 * kMiB + 321, 9)}};
  std::string json = "{\"bucket\": \"" + store->config().bucket + "\", \"prefix\": \"" +
                     store->config().prefix + "\", \"objects\": [";
  for (size_t i = 0; i < objs.size(); ++i) {
    ASSERT_TRUE(store->Put(objs[i].key, Buffer::Copy(objs[i].data))) << objs[i].key;
    // Keys here are plain ASCII or UTF-8 without quotes or backslashes.
    json += std::string(i ? ", " : "") + "{\"key\": \"" + objs[i].key +
            "\", \"size\": " + std::to_string(objs[i].data.size()) + ", \"sha256\": \"" +
            Sha256Of(objs[i].data).Hex() + "\"}";
  }
  json += "]}\n";
  std::ofstream(dir + "/expected.json") << json;
}

// ---- Fault injection through tests/s3_fault_proxy.py ----

std::shared_ptr<S3Store> OpenProxied(std::string_view tag) {
  Options opt;
  opt.endpoint_env = "HB_TEST_S3_PROXY_ENDPOINT";
  return OpenTestStore(tag, opt);
}

TEST(S3Faults, TransientErrorsOnPutGetHeadListAreRetried) {
  REQUIRE_PROXY();
  auto store = OpenProxied("transient");
  ASSERT_TRUE(store);
  std::string data = Pattern(300000, 2);
  // kind -> retries it must cause: n faults on each of PUT, HEAD, GET and
  // LIST; RequestTimeout only where a body is sent.
  for (auto [kind, min_retries] : std::vector<std::pair<std::string, uint64_t>>{
           {"http500_2", 8}, {"slowdown_2", 8}, {"throttle429_1", 4}, {"reqtimeout_1", 1}}) {
    SCOPED_TRACE(kind);
    std::string key = "f/__fault_" + kind + "/obj";
    uint64_t retries = store->retries();
    ASSERT_TRUE(store->Put(key, Buffer::Copy(data)));  // faults on the PUT
    auto head = store->Head(key);                      // and on the HEAD
    ASSERT_TRUE(head) << head.error().message();
    EXPECT_EQ(head->size, data.size());
    auto got = store->Get(key);  // and on the GET
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_TRUE(got->view() == data);
    auto list = store->List("f/__fault_" + kind + "/");  // and on the LIST
    ASSERT_TRUE(list) << list.error().message();
    EXPECT_EQ(list->size(), 1u);
    EXPECT_GE(store->retries() - retries, min_retries);
  }
  Clean(*store);
}

TEST(S3Faults, CutAndStalledDownloadsAreRetriedWithIdenticalBytes) {
  REQUIRE_PROXY();
  auto store = OpenProxied("cut");
  ASSERT_TRUE(store);
  std::string data = Pattern(3 * kMiB + 11, 3);
  for (std::string kind : {"cut_2", "stall_1"}) {
    SCOPED_TRACE(kind);
    std::string key = "g/__fault_" + kind + "/obj";
    ASSERT_TRUE(store->Put(key, Buffer::Copy(data)));
    uint64_t retries = store->retries();
    auto start = std::chrono::steady_clock::now();
    auto got = store->Get(key);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_TRUE(got->view() == data);
    auto range = store->GetRange(key, 1000, 2 * kMiB);
    ASSERT_TRUE(range) << range.error().message();
    EXPECT_TRUE(range->view() == std::string_view(data).substr(1000, 2 * kMiB));
    EXPECT_GE(store->retries() - retries, kind == "cut_2" ? 2u : 1u);
    // A stall is cut by the 2 s stall timeout, not by the proxy's 8 s silence.
    if (kind == "stall_1") {
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(7));
    }
  }
  Clean(*store);
}

TEST(S3Faults, MultipartPartsRetriedAfterErrorsAndCutUploads) {
  REQUIRE_PROXY();
  for (std::string kind : {"http500_1", "cutreq_1", "slowdown_2"}) {
    SCOPED_TRACE(kind);
    auto store = OpenProxied("mp");
    ASSERT_TRUE(store);
    std::string data = Pattern(17 * kMiB + 3, 4);  // 4 parts
    Buffer whole = Buffer::Copy(data);
    std::string key = "m/__fault_" + kind + "/pack";
    Status put = store->Put(key, BufferChain(whole));
    ASSERT_TRUE(put) << put.error().message();
    EXPECT_EQ(whole.use_count(), 1);
    // Every part failed once. curl resends a request whose reused connection
    // died before any answer by itself (rewinding the body through the seek
    // callback), so a cut upload is not always one of our retries.
    EXPECT_GE(store->retries(), kind == "cutreq_1" ? 1u : 4u);
    auto got = store->Get(key);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_TRUE(got->view() == data);
    Clean(*store);
  }
}

TEST(S3Faults, PermanentErrorStopsWithClearMessage) {
  REQUIRE_PROXY();
  auto store = OpenProxied("perm");
  ASSERT_TRUE(store);
  auto start = std::chrono::steady_clock::now();
  auto st = store->Put("p/__fault_denied_inf/obj", Buffer::Copy(std::string_view("x")));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kPermission);
  EXPECT_FALSE(st.error().retryable());
  EXPECT_NE(st.error().message().find("AccessDenied"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("p/__fault_denied_inf/obj"), std::string::npos);
  EXPECT_EQ(store->retries(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  // A multipart upload whose parts are refused stops, and is aborted.
  std::string data = Pattern(13 * kMiB, 5);
  auto mp = store->Put("p/__fault_denied_inf/big", Buffer::Copy(data));
  ASSERT_FALSE(mp);
  EXPECT_EQ(mp.error().code(), ErrorCode::kPermission) << mp.error().message();

  // Retryable errors that never stop: bounded attempts, then the last error.
  auto get = store->Get("p/__fault_http500_inf/obj");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code(), ErrorCode::kServer);
  EXPECT_TRUE(get.error().retryable());
  EXPECT_NE(get.error().message().find("gave up after 5 attempts"), std::string::npos)
      << get.error().message();
}

TEST(S3Faults, ExpiredTokenIsRefreshedFromTheCredentialsFile) {
  REQUIRE_PROXY();
  std::string dir = ::testing::TempDir() + "/hbcreds" + std::to_string(getpid());
  ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
  const std::string file = dir + "/credentials";
  const std::string key_id = Env("AWS_ACCESS_KEY_ID"), key_secret = Env("AWS_SECRET_ACCESS_KEY");
  auto write = [&](const char* token) {
    std::ofstream(file) << "[default]\naws_access_key_id = " << key_id
                        << "\naws_secret_access_key = " << key_secret
                        << "\naws_session_token = " << token << "\n";
  };
  write("old-token");
  S3Config base;
  base.profile = "default";
  base.credentials_file = file;
  base.config_file = dir + "/none";
  // Credentials from the file only: the environment would win otherwise.
  // Unset before any transfer starts and restored after the last one ends
  // (curl reads the environment during transfers).
  struct EnvGuard {
    std::string id = Env("AWS_ACCESS_KEY_ID"), secret = Env("AWS_SECRET_ACCESS_KEY");
    EnvGuard() {
      unsetenv("AWS_ACCESS_KEY_ID");
      unsetenv("AWS_SECRET_ACCESS_KEY");
    }
    ~EnvGuard() {
      setenv("AWS_ACCESS_KEY_ID", id.c_str(), 1);
      setenv("AWS_SECRET_ACCESS_KEY", secret.c_str(), 1);
    }
  } env_guard;
  auto creds = std::make_shared<CredentialsProvider>(base);
  Options opt;
  opt.endpoint_env = "HB_TEST_S3_PROXY_ENDPOINT";
  opt.credentials = creds;
  auto store = OpenTestStore("expire", opt);
  ASSERT_TRUE(store);
  // The proxy accepts "old-token" for 3 requests on each part, then says it
  // expired; meanwhile the token is rotated in the file.
  std::string data = Pattern(16 * kMiB, 6);
  std::string key = "e/__fault_expire_1/obj";
  ASSERT_TRUE(store->Put("e/__fault_expire_1/small", Buffer::Copy(std::string_view("s"))));
  write("new-token");
  ASSERT_TRUE(store->Put(key, Buffer::Copy(data)));
  EXPECT_EQ((*creds->Get())->session_token, "new-token");
  auto got = store->Get(key);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->view() == data);
  Clean(*store);
  std::system(("rm -rf " + dir).c_str());
}

// Set up by tests/s3_credentials.sh: the store's credentials come from the
// chain (a fake container, instance metadata or STS endpoint that issues
// credentials living a few seconds), and the proxy refuses any request signed
// with an expired session token. Requests for longer than several lifetimes
// must all succeed, without one ExpiredToken answer: the provider refreshes
// ahead of expiry, in the middle of the operation.
TEST(S3Credentials, RefreshedAheadOfExpiryDuringALongOperation) {
  REQUIRE_PROXY();
  const std::string lifetime_env = Env("HB_TEST_CREDENTIAL_LIFETIME_S");
  if (lifetime_env.empty()) {
    GTEST_SKIP() << "needs fake credential endpoints (tests/s3_credentials.sh)";
  }
  const double lifetime = std::stod(lifetime_env);
  auto config = LoadS3Config("s3://" + Env("HB_TEST_S3_BUCKET") + "/" + UniquePrefix("refresh") +
                             "?endpoint=" + Env("HB_TEST_S3_PROXY_ENDPOINT") + "&addressing=path");
  ASSERT_TRUE(config) << config.error().message();
  config->multipart_threshold = 12 * kMiB;
  config->min_part_size = 5 * kMiB;
  auto creds = std::make_shared<CredentialsProvider>(*config);
  auto opened = S3Store::Open(*config, creds);
  ASSERT_TRUE(opened) << opened.error().message();
  auto store = *opened;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(int(lifetime * 3500));
  const std::string big = Pattern(13 * kMiB, 9);  // multipart: parts span refreshes
  int rounds = 0;
  while (std::chrono::steady_clock::now() < until) {
    std::string key = "r/" + std::to_string(rounds++);
    const std::string& data = rounds % 4 == 0 ? big : Pattern(1000 + rounds, rounds);
    ASSERT_TRUE(store->Put(key, Buffer::Copy(data)));
    auto got = store->Get(key);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_TRUE(got->view() == data);
  }
  // One load at open, and at least one per lifetime since.
  EXPECT_GE(creds->loads(), 3u) << "rounds " << rounds;
  EXPECT_EQ(store->retries(), 0u) << "a request was retried: expired credentials were used";
  std::printf("%d rounds, %llu credential loads from %s\n", rounds,
              static_cast<unsigned long long>(creds->loads()), creds->source().c_str());
  Clean(*store);
}

}  // namespace
}  // namespace hugeblob::s3

namespace hugeblob::s3 {
namespace {

// The store alone, without the pipeline above it: one Put and one Get of
// HB_TEST_S3_BENCH_BYTES bytes with the default tuning (bench/s3_bench.sh
// measures the CLI). Prints MiB/s; checks the bytes.
TEST(S3StoreBench, PutGetThroughput) {
  REQUIRE_S3();
  std::string n = Env("HB_TEST_S3_BENCH_BYTES");
  if (n.empty()) GTEST_SKIP() << "set HB_TEST_S3_BENCH_BYTES to measure";
  const uint64_t size = std::stoull(n);
  Options opt;
  opt.tweak = [](S3Config& c) {
    S3Config defaults;
    c.min_part_size = defaults.min_part_size;
    c.multipart_threshold = defaults.multipart_threshold;
    c.parts_in_flight = defaults.parts_in_flight;
    c.stall_timeout_s = defaults.stall_timeout_s;
  };
  auto store = OpenTestStore("bench", opt);
  ASSERT_TRUE(store);
  Buffer data = Buffer::Allocate(size);
  for (uint64_t i = 0; i < size; i += 8) {
    uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(data.mutable_data() + i, &v, std::min<uint64_t>(8, size - i));
  }
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store->Put("bench/object", BufferChain(data)));
  auto t1 = std::chrono::steady_clock::now();
  auto got = store->Get("bench/object");
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->view() == data.view());
  auto mibps = [&](auto d) { return size / 1048576.0 / std::chrono::duration<double>(d).count(); };
  std::printf("S3 store alone, %llu bytes: put %.0f MiB/s (%llu requests), get %.0f MiB/s\n",
              static_cast<unsigned long long>(size), mibps(t1 - t0),
              static_cast<unsigned long long>(store->requests_sent()), mibps(t2 - t1));
  Clean(*store);
}

}  // namespace
}  // namespace hugeblob::s3
