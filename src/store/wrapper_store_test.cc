#include "testing/wrapper_store.h"

#include <gtest/gtest.h>

#include <chrono>

#include "store/memory_store.h"

namespace hugeblob {
namespace {

Buffer Buf(std::string_view s) { return Buffer::Copy(s); }

FaultRule Rule(StoreOp op, FaultRule::Action action) {
  FaultRule r;
  r.op = op;
  r.action = action;
  return r;
}

TEST(CountingStoreTest, CountsCallsAndBytes) {
  auto counting = std::make_shared<CountingStore>(std::make_shared<MemoryStore>());
  ObjectStore& s = *counting;
  ASSERT_TRUE(s.Put("a", Buf("hello")));
  ASSERT_TRUE(s.Put("b", Buf("world!")));
  ASSERT_TRUE(s.Get("a"));
  ASSERT_TRUE(s.GetRange("b", 2, 3));
  EXPECT_FALSE(s.Get("missing"));  // counted, no bytes
  ASSERT_TRUE(s.Head("a"));
  ASSERT_TRUE(s.List(""));
  ASSERT_TRUE(s.Delete("a"));
  auto id = s.CreateMultipart("m", 10);
  ASSERT_TRUE(id);
  auto part = s.UploadPart("m", *id, 1, BufferChain(Buf("0123")));
  ASSERT_TRUE(part);
  ASSERT_TRUE(s.ListMultipart(""));
  ASSERT_TRUE(s.CompleteMultipart("m", *id, {*part}));
  auto id2 = s.CreateMultipart("n", 10);
  ASSERT_TRUE(id2);
  ASSERT_TRUE(s.AbortMultipart("n", *id2));

  EXPECT_EQ(counting->calls(StoreOp::kPut), 2u);
  EXPECT_EQ(counting->calls(StoreOp::kGetRange), 3u);
  EXPECT_EQ(counting->calls(StoreOp::kHead), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kList), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kDelete), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kCreateMultipart), 2u);
  EXPECT_EQ(counting->calls(StoreOp::kUploadPart), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kCompleteMultipart), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kAbortMultipart), 1u);
  EXPECT_EQ(counting->calls(StoreOp::kListMultipart), 1u);
  EXPECT_EQ(counting->bytes_written(), 5u + 6u + 4u);
  EXPECT_EQ(counting->bytes_read(), 5u + 3u);
  counting->Reset();
  EXPECT_EQ(counting->calls(StoreOp::kPut), 0u);
  EXPECT_EQ(counting->bytes_read(), 0u);
  EXPECT_EQ(counting->bytes_written(), 0u);
}

class FaultInjectingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::make_shared<MemoryStore>();
    faults_ = std::make_shared<FaultInjectingStore>(base_);
    ASSERT_TRUE(base_->Put("packs/p1", Buf("0123456789")));
    ASSERT_TRUE(base_->Put("refs/r", Buf("ref")));
  }
  std::shared_ptr<MemoryStore> base_;
  std::shared_ptr<FaultInjectingStore> faults_;
};

TEST_F(FaultInjectingStoreTest, FailAfterAndTimes) {
  FaultRule rule;
  rule.op = StoreOp::kGetRange;
  rule.key_substring = "packs/";
  rule.after = 1;
  rule.times = 2;
  rule.code = ErrorCode::kThrottled;
  rule.retryable = true;
  faults_->AddRule(rule);
  ObjectStore& s = *faults_;
  EXPECT_TRUE(s.Get("packs/p1"));  // call 0: before `after`
  EXPECT_TRUE(s.Get("refs/r"));    // another key: not matched
  for (int i = 0; i < 2; ++i) {
    auto r = s.Get("packs/p1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kThrottled);
    EXPECT_TRUE(r.error().retryable());
    EXPECT_EQ(r.error().message(), "injected fault: get_range packs/p1");
  }
  EXPECT_TRUE(s.Get("packs/p1"));  // `times` used up
  EXPECT_EQ(faults_->faults_injected(), 2u);
  EXPECT_TRUE(s.Head("packs/p1"));  // other ops unaffected
}

TEST_F(FaultInjectingStoreTest, FailForeverUntilCleared) {
  FaultRule rule;
  rule.op = StoreOp::kPut;
  rule.times = -1;
  rule.code = ErrorCode::kNoSpace;
  rule.retryable = false;
  faults_->AddRule(rule);
  ObjectStore& s = *faults_;
  for (int i = 0; i < 5; ++i) {
    auto r = s.Put("k" + std::to_string(i), Buf("x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kNoSpace);
    EXPECT_FALSE(r.error().retryable());
  }
  EXPECT_FALSE(base_->Head("k0"));  // the base never saw the calls
  faults_->ClearRules();
  EXPECT_TRUE(s.Put("k0", Buf("x")));
  EXPECT_EQ(faults_->faults_injected(), 5u);
}

TEST_F(FaultInjectingStoreTest, CorruptCopiesAndFlipsTheMiddleByte) {
  faults_->AddRule(Rule(StoreOp::kGetRange, FaultRule::Action::kCorrupt));
  auto r = faults_->Get("packs/p1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 10u);
  std::string expect = "0123456789";
  expect[5] = static_cast<char>(expect[5] ^ 0xff);
  EXPECT_EQ(r->view(), expect);
  // The stored object (which the memory store shares by slicing) is intact.
  auto clean = base_->Get("packs/p1");
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->view(), "0123456789");
  EXPECT_EQ(faults_->Get("packs/p1")->view(), "0123456789");  // fired once
}

TEST_F(FaultInjectingStoreTest, TruncateReturnsTheFirstHalf) {
  faults_->AddRule(Rule(StoreOp::kGetRange, FaultRule::Action::kTruncate));
  auto r = faults_->GetRange("packs/p1", 2, 6);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->view(), "234");
}

TEST_F(FaultInjectingStoreTest, CorruptAndTruncateOnWrite) {
  FaultRule truncate = Rule(StoreOp::kPut, FaultRule::Action::kTruncate);
  truncate.times = 2;
  faults_->AddRule(truncate);
  ASSERT_TRUE(faults_->Put("w", Buf("abcdef")));
  EXPECT_EQ(base_->Get("w")->view(), "abc");
  faults_->ClearRules();
  faults_->AddRule(Rule(StoreOp::kPut, FaultRule::Action::kCorrupt));
  Buffer caller = Buf("abcdef");
  ASSERT_TRUE(faults_->Put("w", caller));
  EXPECT_EQ(caller.view(), "abcdef");  // the caller's bytes are untouched
  auto stored = base_->Get("w");
  ASSERT_TRUE(stored);
  EXPECT_NE(stored->view(), "abcdef");
  EXPECT_EQ(stored->size(), 6u);
}

TEST_F(FaultInjectingStoreTest, DelaySleepsThenForwards) {
  FaultRule delay = Rule(StoreOp::kHead, FaultRule::Action::kDelay);
  delay.delay_ms = 50;
  faults_->AddRule(delay);
  auto start = std::chrono::steady_clock::now();
  auto r = faults_->Head("refs/r");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size, 3u);
  EXPECT_GE(elapsed, std::chrono::milliseconds(50));
  EXPECT_EQ(faults_->faults_injected(), 1u);
}

TEST_F(FaultInjectingStoreTest, MultipartOpsCanFail) {
  FaultRule fail = Rule(StoreOp::kCompleteMultipart, FaultRule::Action::kFail);
  fail.code = ErrorCode::kServer;
  faults_->AddRule(fail);
  ObjectStore& s = *faults_;
  auto id = s.CreateMultipart("m", 10);
  ASSERT_TRUE(id);
  auto part = s.UploadPart("m", *id, 1, BufferChain(Buf("x")));
  ASSERT_TRUE(part);
  auto done = s.CompleteMultipart("m", *id, {*part});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code(), ErrorCode::kServer);
  EXPECT_EQ(done.error().message(), "injected fault: complete_multipart m");
  ASSERT_TRUE(s.CompleteMultipart("m", *id, {*part}));  // the retry succeeds
  EXPECT_EQ(base_->Get("m")->view(), "x");
}

}  // namespace
}  // namespace hugeblob
