#include "util/mapped.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "util/fs.h"

namespace hugeblob {
namespace {

constexpr size_t kSize = 1 << 20;

// A file of kSize bytes (byte i is i % 251), open for reading and writing:
// a memfd, so that a death test's child (which runs the test again and dies)
// leaves no file behind.
ScopedFd MakeFile() {
  ScopedFd fd(::memfd_create("hb-mapped-test", MFD_CLOEXEC));
  std::vector<uint8_t> bytes(kSize);
  for (size_t i = 0; i < kSize; ++i) bytes[i] = static_cast<uint8_t>(i % 251);
  EXPECT_TRUE(PwriteAll(fd.get(), bytes, 0, "memfd"));
  return fd;
}

uint64_t Sum(std::span<const uint8_t> bytes) {
  uint64_t s = 0;
  for (uint8_t b : bytes) s += b;
  return s;
}

TEST(FileMappingTest, ViewHoldsTheFileBytes) {
  ScopedFd fd = MakeFile();
  auto map = FileMapping::Map(fd.get(), kSize);
  ASSERT_NE(map, nullptr);
  std::span<const uint8_t> view = map->View(5000, 70000);
  ASSERT_EQ(view.size(), 70000u);
  EXPECT_EQ(view[0], 5000 % 251);
  EXPECT_EQ(view[69999], (5000 + 69999) % 251);
  uint64_t sum = 0;
  auto read = [&] { sum = Sum(view); };
  EXPECT_TRUE(CatchSigbus(view, read));
  uint64_t want = 0;
  for (size_t i = 5000; i < 75000; ++i) want += i % 251;
  EXPECT_EQ(sum, want);
  // Released pages are read again from the page cache when touched.
  map->Release(5000, 70000);
  EXPECT_EQ(Sum(map->View(5000, 70000)), want);
  // Just written: in the page cache.
  EXPECT_TRUE(map->Cached(0));
  EXPECT_TRUE(map->Cached(kSize - 1));
  // Outside the mapping, or empty: nothing.
  EXPECT_TRUE(map->View(kSize - 10, 11).empty());
  EXPECT_TRUE(map->View(0, 0).empty());
  EXPECT_EQ(FileMapping::Map(fd.get(), 0), nullptr);
}

TEST(FileMappingTest, ShrunkFileIsAFailedCallNotADeadProcess) {
  ScopedFd fd = MakeFile();
  auto map = FileMapping::Map(fd.get(), kSize);
  ASSERT_NE(map, nullptr);
  std::span<const uint8_t> view = map->View(0, kSize);
  ASSERT_EQ(view.size(), kSize);
  ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);  // another process shrinks the file
  uint64_t sum = 0;
  bool finished = false;
  auto read = [&] {
    sum = Sum(view);  // faults past the new end of file
    finished = true;
  };
  EXPECT_FALSE(CatchSigbus(view, read));
  EXPECT_FALSE(finished);
  // What is still there reads as before, and the handler is ready again:
  // in this thread and in another one.
  std::span<const uint8_t> head = view.first(4096);
  auto read_head = [&] { sum = Sum(head); };
  EXPECT_TRUE(CatchSigbus(head, read_head));
  uint64_t want = 0;
  for (size_t i = 0; i < 4096; ++i) want += i % 251;
  EXPECT_EQ(sum, want);
  bool other = true;
  std::thread([&] { other = CatchSigbus(view, read); }).join();
  EXPECT_FALSE(other);
  // A view past the new end is still given (the mapping's size), and its
  // read is a caught fault too.
  std::span<const uint8_t> tail = map->View(8192, 4096);
  ASSERT_EQ(tail.size(), 4096u);
  auto read_tail = [&] { sum = Sum(tail); };
  EXPECT_FALSE(CatchSigbus(tail, read_tail));
}

TEST(FileMappingTest, GuardedCallsNest) {
  ScopedFd fd = MakeFile();
  auto map = FileMapping::Map(fd.get(), kSize);
  ASSERT_NE(map, nullptr);
  std::span<const uint8_t> view = map->View(0, kSize);
  ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);
  // The fault is in the outer call's range, not the inner one's: the outer
  // call fails, the inner one never returns.
  bool inner_returned = false;
  volatile uint64_t sink = 0;
  auto inner = [&] { sink = Sum(view.subspan(kSize / 2)); };
  auto outer = [&] {
    std::span<const uint8_t> head = view.first(4096);
    CatchSigbus(head, inner);
    inner_returned = true;
  };
  EXPECT_FALSE(CatchSigbus(view, outer));
  EXPECT_FALSE(inner_returned);
  EXPECT_EQ(sink, 0u);
}

// A SIGBUS outside every guarded range still does what it did without the
// handler: the default action ends the process; a handler installed before
// is called. (Death tests run in a fresh process, where the first guarded
// call installs the handler over the one set up just before it.)
// Run in a death test's child: maps the file, installs the handler with a
// guarded call, shrinks the file and reads past its end unguarded.
void UnguardedFault() {
  ScopedFd fd = MakeFile();
  auto map = FileMapping::Map(fd.get(), kSize);
  if (map == nullptr) _exit(4);
  auto nothing = [] {};
  std::span<const uint8_t> view = map->View(0, kSize);
  CatchSigbus(view.first(1), nothing);
  if (::ftruncate(fd.get(), 4096) != 0) _exit(3);
  volatile uint64_t sum = Sum(view);
  (void)sum;
  _exit(0);
}

TEST(FileMappingDeathTest, UnguardedFaultStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::signal(SIGBUS, SIG_DFL);  // not a sanitizer's report
        UnguardedFault();
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

TEST(FileMappingDeathTest, UnguardedFaultGoesToTheHandlerBefore) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction sa {};
        sa.sa_flags = SA_SIGINFO;
        sa.sa_sigaction = [](int, siginfo_t*, void*) { _exit(42); };
        ::sigaction(SIGBUS, &sa, nullptr);
        UnguardedFault();
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace hugeblob
