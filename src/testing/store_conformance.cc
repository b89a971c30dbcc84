#include "testing/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <set>
#include <thread>
#include <vector>

namespace hugeblob {

std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void StoreConformanceTest::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr) << "factory " << GetParam().name << " returned no store";
}

void StoreConformanceTest::TearDown() { store_.reset(); }

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
// S3's minimum size of every part but the last.
constexpr uint64_t kPartSize = 5 * kMiB;

// Deterministic bytes that differ with `seed` and with position, so a
// misplaced range or part shows up as a mismatch.
std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

Buffer Buf(std::string_view s) { return Buffer::Copy(s); }

std::vector<std::string> Keys(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const ObjectInfo& i : infos) keys.push_back(i.key);
  return keys;
}

// The object as a string, or "<error>: message" so a comparison prints why.
std::string GetOr(ObjectStore& store, std::string_view key, std::string_view fallback = "<error>") {
  auto r = store.Get(key);
  if (!r) return std::string(fallback) + ": " + r.error().message();
  return std::string(r->view());
}

TEST_P(StoreConformanceTest, PutGetRoundTrip) {
  ASSERT_TRUE(store().Put("a", Buf("hello")));
  ASSERT_TRUE(store().Put("dir/sub/key.bin", Buf(Pattern(100000, 1))));
  EXPECT_EQ(GetOr(store(), "a"), "hello");
  EXPECT_EQ(GetOr(store(), "dir/sub/key.bin"), Pattern(100000, 1));
  EXPECT_FALSE(store().url().empty());
}

TEST_P(StoreConformanceTest, EmptyObject) {
  ASSERT_TRUE(store().Put("empty", BufferChain()));
  auto got = store().Get("empty");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size(), 0u);
  auto head = store().Head("empty");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->size, 0u);
  auto range = store().GetRange("empty", 0, 10);
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_EQ(range->size(), 0u);
}

TEST_P(StoreConformanceTest, MultiPieceBufferChain) {
  std::string big = Pattern(300000, 2);
  BufferChain chain;
  chain.Append(Buf("head:"));
  chain.Append(Buffer());  // an empty piece changes nothing
  chain.Append(Buf(big).Slice(1000, 200000));
  chain.Append(Buf(":tail"));
  ASSERT_TRUE(store().Put("chain", chain));
  std::string expect = "head:" + big.substr(1000, 200000) + ":tail";
  EXPECT_EQ(GetOr(store(), "chain"), expect);
  auto head = store().Head("chain");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->size, expect.size());
}

TEST_P(StoreConformanceTest, PutBufferOverloadAndReuseOfCallerBuffer) {
  std::string data = Pattern(5000, 3);
  Buffer b = Buffer::Allocate(data.size());
  std::copy(data.begin(), data.end(), b.mutable_data());
  ASSERT_TRUE(store().Put("buf", b));
  // The store keeps no reference: the caller's block is its own again.
  EXPECT_EQ(b.use_count(), 1);
  std::fill(b.mutable_data(), b.mutable_data() + b.size(), 0);
  EXPECT_EQ(GetOr(store(), "buf"), data);
}

TEST_P(StoreConformanceTest, RangedReads) {
  std::string data = Pattern(10000, 4);
  ASSERT_TRUE(store().Put("r", Buf(data)));
  struct Case {
    uint64_t offset, length;
    std::string expect;
  };
  std::vector<Case> cases = {
      {0, 10, data.substr(0, 10)},
      {1234, 4321, data.substr(1234, 4321)},
      {9990, 100, data.substr(9990)},  // past the end: cut
      {0, ObjectStore::kToEnd, data},  // to the end
      {5000, ObjectStore::kToEnd, data.substr(5000)},
      {9999, 1, data.substr(9999)},
      {10000, 10, ""},  // offset at the end
      {20000, 10, ""},  // offset past the end
      {100, 0, ""},     // zero length
  };
  for (const Case& c : cases) {
    auto got = store().GetRange("r", c.offset, c.length);
    ASSERT_TRUE(got) << "offset " << c.offset << ": " << got.error().message();
    EXPECT_EQ(got->view(), c.expect) << "offset " << c.offset << " length " << c.length;
  }
}

TEST_P(StoreConformanceTest, HeadSizes) {
  ASSERT_TRUE(store().Put("h/one", Buf("x")));
  ASSERT_TRUE(store().Put("h/big", Buf(Pattern(123457, 5))));
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (auto [key, size] : {std::pair<const char*, uint64_t>{"h/one", 1}, {"h/big", 123457}}) {
    auto head = store().Head(key);
    ASSERT_TRUE(head) << head.error().message();
    EXPECT_EQ(head->key, key);
    EXPECT_EQ(head->size, size);
    // mtime is optional (0), but if given it must be plausible.
    if (head->mtime_unix != 0) {
      EXPECT_LT(std::llabs(head->mtime_unix - now), 86400);
    }
  }
}

TEST_P(StoreConformanceTest, ListWithPrefixes) {
  std::vector<std::string> keys = {"packs/ab/1", "packs/ab/2", "packs/ac/3", "packs/b",
                                   "packsfoo",   "refs/vm/x",  "refs/vm2",   "z"};
  // Put in an order unlike the sorted one.
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    ASSERT_TRUE(store().Put(*it, Buf(*it)));
  }
  auto list = [&](std::string_view prefix) {
    auto r = store().List(prefix);
    EXPECT_TRUE(r) << "prefix '" << prefix << "': " << r.error().message();
    return r ? Keys(*r) : std::vector<std::string>{"<error>"};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list("packs/a"), (V{"packs/ab/1", "packs/ab/2", "packs/ac/3"}));
  EXPECT_EQ(list("packs/ab"), (V{"packs/ab/1", "packs/ab/2"}));
  EXPECT_EQ(list("packs/ab/"), (V{"packs/ab/1", "packs/ab/2"}));
  EXPECT_EQ(list("packs/ab/1"), (V{"packs/ab/1"}));
  EXPECT_EQ(list("packs/"), (V{"packs/ab/1", "packs/ab/2", "packs/ac/3", "packs/b"}));
  EXPECT_EQ(list("packs"), (V{"packs/ab/1", "packs/ab/2", "packs/ac/3", "packs/b", "packsfoo"}));
  EXPECT_EQ(list("refs/vm"), (V{"refs/vm/x", "refs/vm2"}));
  EXPECT_EQ(list("nothing/"), V{});
  EXPECT_EQ(list("packs/zz"), V{});
  EXPECT_EQ(list("z"), V{"z"});

  // Everything, sorted; the suite's factory gives an empty store, but allow
  // a backend's own marker objects as long as ours are all there.
  auto all = store().List("");
  ASSERT_TRUE(all) << all.error().message();
  V all_keys = Keys(*all);
  EXPECT_TRUE(std::is_sorted(all_keys.begin(), all_keys.end()));
  for (const std::string& k : keys) {
    EXPECT_EQ(std::count(all_keys.begin(), all_keys.end(), k), 1) << k;
  }
  for (const ObjectInfo& info : *all) {
    if (std::find(keys.begin(), keys.end(), info.key) != keys.end()) {
      EXPECT_EQ(info.size, info.key.size()) << info.key;
    }
  }
}

TEST_P(StoreConformanceTest, ListShowsNoTemporaryFiles) {
  ASSERT_TRUE(store().Put("t/a", Buf("a")));
  // An open multipart upload holds data somewhere; it is not an object yet.
  auto id = store().CreateMultipart("t/pending", kPartSize);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(store().UploadPart("t/pending", *id, 1, BufferChain(Buf("partial"))));
  auto all = store().List("");
  ASSERT_TRUE(all) << all.error().message();
  for (const ObjectInfo& info : *all) {
    EXPECT_NE(info.key, "t/pending");
    EXPECT_EQ(info.key.find("tmp"), std::string::npos) << info.key;
    EXPECT_EQ(info.key.find("mpu"), std::string::npos) << info.key;
  }
  auto t = store().List("t/");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(Keys(*t), std::vector<std::string>{"t/a"});
  EXPECT_TRUE(store().AbortMultipart("t/pending", *id));
}

TEST_P(StoreConformanceTest, Delete) {
  ASSERT_TRUE(store().Put("d/x/1", Buf("1")));
  ASSERT_TRUE(store().Put("d/x/2", Buf("2")));
  ASSERT_TRUE(store().Delete("d/x/1"));
  auto head = store().Head("d/x/1");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(GetOr(store(), "d/x/2"), "2");
  ASSERT_TRUE(store().Delete("d/x/2"));
  auto list = store().List("d/");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_TRUE(list->empty());
  // Deleting what is not there succeeds, as does deleting twice.
  EXPECT_TRUE(store().Delete("d/x/2"));
  EXPECT_TRUE(store().Delete("never/was/here"));
  // The emptied "directory" can be used again.
  ASSERT_TRUE(store().Put("d/x/3", Buf("3")));
  EXPECT_EQ(GetOr(store(), "d/x/3"), "3");
}

TEST_P(StoreConformanceTest, Overwrite) {
  ASSERT_TRUE(store().Put("o", Buf(Pattern(50000, 6))));
  ASSERT_TRUE(store().Put("o", Buf("short")));
  EXPECT_EQ(GetOr(store(), "o"), "short");
  auto head = store().Head("o");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->size, 5u);
  ASSERT_TRUE(store().Put("o", Buf(Pattern(70000, 7))));
  EXPECT_EQ(GetOr(store(), "o"), Pattern(70000, 7));
}

TEST_P(StoreConformanceTest, InvalidKeysRejected) {
  std::vector<std::string> bad = {"",   "/abs", "a//b", "a/./b", "../x",   "a/..",
                                  "a/", ".",    "..",   "./a",   "a/../b", std::string("a\0b", 3)};
  for (const std::string& key : bad) {
    SCOPED_TRACE("key '" + key + "'");
    auto expect_invalid = [&](const char* op, const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << op << ": " << e.message();
    };
    auto put = store().Put(key, Buf("x"));
    ASSERT_FALSE(put);
    expect_invalid("put", put.error());
    auto get = store().Get(key);
    ASSERT_FALSE(get);
    expect_invalid("get", get.error());
    auto head = store().Head(key);
    ASSERT_FALSE(head);
    expect_invalid("head", head.error());
    auto del = store().Delete(key);
    ASSERT_FALSE(del);
    expect_invalid("delete", del.error());
    auto mpu = store().CreateMultipart(key, kPartSize);
    ASSERT_FALSE(mpu);
    expect_invalid("create multipart", mpu.error());
  }
  for (const char* prefix : {"/abs", "../", "a/../", "a//"}) {
    auto list = store().List(prefix);
    ASSERT_FALSE(list) << prefix;
    EXPECT_EQ(list.error().code(), ErrorCode::kInvalidArgument) << prefix;
  }
}

TEST_P(StoreConformanceTest, MissingKeyIsNotFoundNamingTheKey) {
  const std::string key = "missing/object-7f3a";
  auto get = store().Get(key);
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(get.error().message().find(key), std::string::npos) << get.error().message();
  EXPECT_FALSE(get.error().retryable());
  auto range = store().GetRange(key, 10, 10);
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(range.error().message().find(key), std::string::npos) << range.error().message();
  auto head = store().Head(key);
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(head.error().message().find(key), std::string::npos) << head.error().message();
  // A "directory" holding objects is not an object itself.
  ASSERT_TRUE(store().Put("missing/dir/child", Buf("c")));
  auto dir = store().Head("missing/dir");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code(), ErrorCode::kNotFound);
  auto dir_get = store().Get("missing/dir");
  ASSERT_FALSE(dir_get);
  EXPECT_EQ(dir_get.error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, MultipartConcurrentOutOfOrder) {
  const std::string key = "mp/big.pack";
  const int kParts = 4;
  const uint64_t last_size = 123457;
  std::string data = Pattern((kParts - 1) * kPartSize + last_size, 8);
  auto id = store().CreateMultipart(key, kPartSize);
  ASSERT_TRUE(id) << id.error().message();

  auto open = store().ListMultipart("mp/");
  ASSERT_TRUE(open) << open.error().message();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].key, key);
  EXPECT_EQ((*open)[0].upload_id, *id);

  // Every part from its own thread, started last part first.
  std::vector<CompletedPart> parts(kParts);
  std::vector<std::string> errors(kParts);
  std::vector<std::thread> threads;
  for (int n = kParts; n >= 1; --n) {
    threads.emplace_back([&, n] {
      uint64_t off = (n - 1) * kPartSize;
      uint64_t len = std::min<uint64_t>(kPartSize, data.size() - off);
      // Two pieces per part: the chain is written as a gather.
      Buffer whole = Buf(std::string_view(data).substr(off, len));
      BufferChain chain;
      chain.Append(whole.Slice(0, len / 3));
      chain.Append(whole.Slice(len / 3, len));
      auto r = store().UploadPart(key, *id, n, chain);
      if (r) {
        parts[n - 1] = *r;
      } else {
        errors[n - 1] = r.error().message();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n = 1; n <= kParts; ++n) {
    ASSERT_TRUE(errors[n - 1].empty()) << "part " << n << ": " << errors[n - 1];
    EXPECT_EQ(parts[n - 1].part_number, n);
  }
  // Not visible before completion.
  auto before = store().Head(key);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code(), ErrorCode::kNotFound);

  auto done = store().CompleteMultipart(key, *id, parts);
  ASSERT_TRUE(done) << done.error().message();
  auto head = store().Head(key);
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->size, data.size());
  auto got = store().Get(key);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->view() == data) << "content differs";
  auto range = store().GetRange(key, kPartSize - 10, 20);
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_EQ(range->view(), data.substr(kPartSize - 10, 20));

  auto after = store().ListMultipart("mp/");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_TRUE(after->empty());
}

TEST_P(StoreConformanceTest, MultipartSingleShortPart) {
  auto id = store().CreateMultipart("mp/small", kPartSize);
  ASSERT_TRUE(id) << id.error().message();
  auto part = store().UploadPart("mp/small", *id, 1, BufferChain(Buf("only part")));
  ASSERT_TRUE(part) << part.error().message();
  ASSERT_TRUE(store().CompleteMultipart("mp/small", *id, {*part}));
  EXPECT_EQ(GetOr(store(), "mp/small"), "only part");
}

TEST_P(StoreConformanceTest, MultipartReplacesExistingObject) {
  ASSERT_TRUE(store().Put("mp/over", Buf(Pattern(20000, 9))));
  auto id = store().CreateMultipart("mp/over", kPartSize);
  ASSERT_TRUE(id) << id.error().message();
  auto part = store().UploadPart("mp/over", *id, 1, BufferChain(Buf("new")));
  ASSERT_TRUE(part) << part.error().message();
  // The old object stays readable until completion.
  EXPECT_EQ(GetOr(store(), "mp/over"), Pattern(20000, 9));
  ASSERT_TRUE(store().CompleteMultipart("mp/over", *id, {*part}));
  EXPECT_EQ(GetOr(store(), "mp/over"), "new");
}

TEST_P(StoreConformanceTest, MultipartShortNonLastPartRejected) {
  auto id = store().CreateMultipart("mp/bad", kPartSize);
  ASSERT_TRUE(id) << id.error().message();
  auto p1 = store().UploadPart("mp/bad", *id, 1, BufferChain(Buf(Pattern(1024, 10))));
  auto p2 = store().UploadPart("mp/bad", *id, 2, BufferChain(Buf(Pattern(1024, 11))));
  // A backend may refuse at upload or at completion; it must refuse.
  if (p1 && p2) {
    auto done = store().CompleteMultipart("mp/bad", *id, {*p1, *p2});
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code(), ErrorCode::kInvalidArgument) << done.error().message();
  } else {
    const Error& e = p1 ? p2.error() : p1.error();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.message();
  }
  auto head = store().Head("mp/bad");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store().AbortMultipart("mp/bad", *id));
}

TEST_P(StoreConformanceTest, MultipartAbort) {
  auto id = store().CreateMultipart("mp/aborted", kPartSize);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(store().UploadPart("mp/aborted", *id, 1, BufferChain(Buf("data"))));
  auto open = store().ListMultipart("");
  ASSERT_TRUE(open) << open.error().message();
  ASSERT_EQ(open->size(), 1u);
  ASSERT_TRUE(store().AbortMultipart("mp/aborted", *id));
  auto after = store().ListMultipart("");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_TRUE(after->empty());
  auto head = store().Head("mp/aborted");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), ErrorCode::kNotFound);
  // An aborted upload is gone for good.
  auto part = store().UploadPart("mp/aborted", *id, 2, BufferChain(Buf("late")));
  EXPECT_FALSE(part);
  auto list = store().List("mp/");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_TRUE(list->empty());
}

TEST_P(StoreConformanceTest, ListMultipartFiltersByPrefix) {
  auto a = store().CreateMultipart("packs/aa/1", kPartSize);
  auto b = store().CreateMultipart("packs/ab/2", kPartSize);
  auto c = store().CreateMultipart("refs/x", kPartSize);
  ASSERT_TRUE(a && b && c);
  auto list = [&](std::string_view prefix) {
    std::vector<std::string> keys;
    auto r = store().ListMultipart(prefix);
    EXPECT_TRUE(r) << r.error().message();
    if (r) {
      for (const MultipartUpload& u : *r) keys.push_back(u.key);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list("packs/a"), (V{"packs/aa/1", "packs/ab/2"}));
  EXPECT_EQ(list("packs/ab"), (V{"packs/ab/2"}));
  EXPECT_EQ(list("refs/"), (V{"refs/x"}));
  EXPECT_EQ(list(""), (V{"packs/aa/1", "packs/ab/2", "refs/x"}));
  EXPECT_TRUE(store().AbortMultipart("packs/aa/1", *a));
  EXPECT_TRUE(store().AbortMultipart("packs/ab/2", *b));
  EXPECT_TRUE(store().AbortMultipart("refs/x", *c));
  EXPECT_EQ(list(""), V{});
}

TEST_P(StoreConformanceTest, LargeObject20MiB) {
  const size_t kSize = 20 * kMiB;
  std::string data = Pattern(kSize, 12);
  Buffer whole = Buf(data);
  BufferChain chain;
  for (size_t off = 0; off < kSize; off += 4 * kMiB + 1) {
    chain.Append(whole.Slice(off, 4 * kMiB + 1));
  }
  ASSERT_EQ(chain.size(), kSize);
  ASSERT_TRUE(store().Put("large/20m", chain));
  auto got = store().Get("large/20m");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size(), kSize);
  EXPECT_TRUE(got->view() == data) << "content differs";
  auto range = store().GetRange("large/20m", 4 * kMiB - 7, 3 * kMiB);
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_TRUE(range->view() == std::string_view(data).substr(4 * kMiB - 7, 3 * kMiB));
}

TEST_P(StoreConformanceTest, ConcurrentPutsAndGets) {
  const int kThreads = 8;
  const int kIterations = 20;
  // Size and fill byte are tied, so a reader can tell a whole value from a
  // torn one without knowing which writer won.
  auto shared_value = [](int v) { return std::string(1000 + 37 * v, static_cast<char>('a' + v)); };
  ASSERT_TRUE(store().Put("c/shared", Buf(shared_value(0))));
  std::atomic<int> failures{0};
  std::vector<std::string> first_error(kThreads);
  auto fail = [&](int t, std::string msg) {
    failures.fetch_add(1);
    if (first_error[t].empty()) first_error[t] = std::move(msg);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        std::string key = "c/t" + std::to_string(t) + "/" + std::to_string(i % 5);
        std::string value = Pattern(1000 + 131 * i, t * 100 + i);
        if (auto st = store().Put(key, Buf(value)); !st) fail(t, st.error().message());
        auto got = store().Get(key);
        if (!got) {
          fail(t, got.error().message());
        } else if (got->view() != value) {
          fail(t, "wrong content for " + key);
        }
        if (auto st = store().Put("c/shared", Buf(shared_value((t + i) % 8))); !st) {
          fail(t, st.error().message());
        }
        auto shared = store().Get("c/shared");
        if (!shared) {
          fail(t, "shared: " + shared.error().message());
        } else {
          int v = shared->empty() ? -1 : shared->view()[0] - 'a';
          if (v < 0 || v > 7 || shared->view() != shared_value(v)) {
            fail(t, "torn read of c/shared (" + std::to_string(shared->size()) + " bytes)");
          }
        }
        if (i % 7 == 6) {
          if (auto st = store().Delete(key); !st) fail(t, st.error().message());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(first_error[t].empty()) << "thread " << t << ": " << first_error[t];
  }
  EXPECT_EQ(failures.load(), 0);
  auto list = store().List("c/");
  ASSERT_TRUE(list) << list.error().message();
  std::vector<std::string> keys = Keys(*list);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
}

}  // namespace
}  // namespace hugeblob
