#include "util/deadline.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "util/fs.h"

namespace hugeblob {
namespace {

using std::chrono::milliseconds;

// A read(2) that really blocks in the kernel: the read end of a pipe that
// nobody writes to yet. The fds are shared with the call (an abandoned
// call must not read a closed, reused descriptor).
struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    r = ScopedFd(fds[0]);
    w = ScopedFd(fds[1]);
  }
  ScopedFd r, w;
};

auto BlockingRead(const std::shared_ptr<Pipe>& p) {
  return [p]() -> Result<int> {
    char c;
    ssize_t n = ::read(p->r.get(), &c, 1);
    if (n != 1) return Fail(ErrorCode::kIOError, "pipe read");
    return static_cast<int>(c);
  };
}

TEST(DeadlineTest, ReturnsTheResultOfAQuickCall) {
  DeadlineOptions o;
  o.timeout = milliseconds(5000);
  auto r = CallWithDeadline([] { return Result<int>(42); }, o, "quick");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 42);
  Status st = CallWithDeadline([]() -> Status { return Fail(ErrorCode::kNotFound, "x"); }, o, "e");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);  // the call's own error, not a timeout
}

TEST(DeadlineTest, ABlockedReadIsAbandonedAtTheDeadlineAndEndsLater) {
  auto p = std::make_shared<Pipe>();
  DeadlineOptions o;
  o.timeout = milliseconds(200);
  const int before = AbandonedCallsInFlight();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = CallWithDeadline(BlockingRead(p), o, "read the pipe");
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.error().message().find("read the pipe: no answer after 0.2 s"), std::string::npos)
      << r.error().message();
  EXPECT_GE(took, milliseconds(200));
  EXPECT_LT(took, milliseconds(5000));
  EXPECT_EQ(AbandonedCallsInFlight(), before + 1);
  // The kernel lets the read go: the abandoned call ends on its own thread.
  ASSERT_EQ(::write(p->w.get(), "x", 1), 1);
  for (int i = 0; i < 500 && AbandonedCallsInFlight() != before; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(AbandonedCallsInFlight(), before);
}

TEST(DeadlineTest, CancellationEndsAWaitWithoutDeadline) {
  auto p = std::make_shared<Pipe>();
  CancelToken token;
  DeadlineOptions o;  // no deadline
  o.cancel = &token;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    token.Cancel();
  });
  auto r = CallWithDeadline(BlockingRead(p), o, "read the pipe");
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  // Once cancelled, nothing new is started.
  bool ran = false;
  auto again = CallWithDeadline(
      [&ran] {
        ran = true;
        return Result<int>(1);
      },
      o, "later");
  EXPECT_FALSE(again);
  EXPECT_FALSE(ran);
  ASSERT_EQ(::write(p->w.get(), "x", 1), 1);  // let the stuck read end
}

// A process that forks after a call (the mount daemonizes after opening
// its store) gets working helpers in the child: the parent's idle helper
// threads do not exist there.
TEST(DeadlineTest, CallsWorkInAForkedChild) {
  DeadlineOptions o;
  o.timeout = milliseconds(5000);
  ASSERT_TRUE(CallWithDeadline([] { return Result<int>(1); }, o, "before fork"));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = CallWithDeadline([] { return Result<int>(2); }, o, "in the child");
    ::_exit(r && *r == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace hugeblob
