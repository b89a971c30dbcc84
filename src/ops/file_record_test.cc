// Records of restored files (ops/file_record.h): what makes one match, and
// what a damaged or foreign one reads as.
#include "ops/file_record.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "testing/temp_dir.h"
#include "util/fs.h"

namespace hugeblob {
namespace {

// A manifest of `size` bytes: data frames of 1000 bytes with distinct ids,
// a zero frame of 5000 bytes in the middle.
Manifest Frames(uint64_t size) {
  Manifest m;
  m.size = size;
  for (uint64_t at = 0; at < size;) {
    FrameRef f;
    f.offset = at;
    f.length = static_cast<uint32_t>(std::min<uint64_t>(at == 4000 ? 5000 : 1000, size - at));
    f.zero = at == 4000;
    if (!f.zero) f.chunk.bytes[0] = static_cast<uint8_t>(m.frames.size() + 1);
    m.frames.push_back(f);
    at += f.length;
  }
  return m;
}

class FileRecordTest : public ::testing::Test {
 protected:
  // A 20000-byte file whose modification time is an hour back.
  void SetUp() override {
    path_ = dir_.path() + "/file";
    fd_ = ScopedFd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd_.valid());
    ASSERT_EQ(::ftruncate(fd_.get(), 20000), 0);
    struct timespec times[2];
    times[0].tv_nsec = UTIME_OMIT;
    ::clock_gettime(CLOCK_REALTIME, &times[1]);
    times[1].tv_sec -= 3600;
    ASSERT_EQ(::futimens(fd_.get(), times), 0);
  }
  struct stat Stat() {
    struct stat st;
    EXPECT_EQ(::fstat(fd_.get(), &st), 0);
    return st;
  }
  TempDir dir_;
  std::string path_;
  std::string records_ = dir_.path() + "/cache/files";
  ScopedFd fd_;
};

TEST_F(FileRecordTest, MatchesTheFileAsWrittenAndNothingElse) {
  const Manifest m = Frames(20000);
  ASSERT_TRUE(WriteFileRecord(records_, fd_.get(), m));
  auto frames = ReadFileRecord(records_, Stat());
  ASSERT_TRUE(frames.has_value());
  ASSERT_EQ(frames->size(), m.frames.size());
  for (size_t i = 0; i < m.frames.size(); ++i) {
    EXPECT_EQ((*frames)[i].offset, m.frames[i].offset);
    EXPECT_EQ((*frames)[i].length, m.frames[i].length);
    EXPECT_EQ((*frames)[i].zero, m.frames[i].zero);
    if (!m.frames[i].zero) {
      EXPECT_EQ((*frames)[i].chunk, m.frames[i].chunk);
    }
  }
  // Any other size, time or inode: no match.
  struct stat st = Stat();
  struct stat other = st;
  other.st_size += 1;
  EXPECT_FALSE(ReadFileRecord(records_, other).has_value());
  other = st;
  other.st_ctim.tv_nsec ^= 1;
  EXPECT_FALSE(ReadFileRecord(records_, other).has_value());
  other = st;
  other.st_mtim.tv_sec -= 1;
  EXPECT_FALSE(ReadFileRecord(records_, other).has_value());
  other = st;
  other.st_ino += 1;
  EXPECT_FALSE(ReadFileRecord(records_, other).has_value());
  // A write to the file moves its times.
  ASSERT_EQ(::pwrite(fd_.get(), "x", 1, 10), 1);
  EXPECT_FALSE(ReadFileRecord(records_, Stat()).has_value());
}

TEST_F(FileRecordTest, DamagedRecordIsNoRecord) {
  ASSERT_TRUE(WriteFileRecord(records_, fd_.get(), Frames(20000)));
  const struct stat st = Stat();
  const std::string name =
      records_ + "/" + std::to_string(st.st_dev) + "-" + std::to_string(st.st_ino);
  auto bytes = ReadFileToString(name);
  ASSERT_TRUE(bytes);
  std::string flipped = *bytes;
  flipped[flipped.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(name, flipped));
  EXPECT_FALSE(ReadFileRecord(records_, st).has_value());
  ASSERT_TRUE(WriteFileAtomic(name, bytes->substr(0, bytes->size() - 1)));
  EXPECT_FALSE(ReadFileRecord(records_, st).has_value());
  ASSERT_TRUE(WriteFileAtomic(name, ""));
  EXPECT_FALSE(ReadFileRecord(records_, st).has_value());
  ASSERT_TRUE(WriteFileAtomic(name, *bytes));
  EXPECT_TRUE(ReadFileRecord(records_, st).has_value());
  RemoveFileRecord(records_, st);
  EXPECT_FALSE(ReadFileRecord(records_, st).has_value());
}

TEST_F(FileRecordTest, NotWrittenWhenALaterWriteCouldLeaveTheTimesAsTheyAre) {
  // Modification time "now", as the change time: a write in the same clock
  // tick might move neither.
  ASSERT_EQ(::futimens(fd_.get(), nullptr), 0);
  struct stat st = Stat();
  ASSERT_EQ(st.st_mtim.tv_sec, st.st_ctim.tv_sec);
  ASSERT_EQ(st.st_mtim.tv_nsec, st.st_ctim.tv_nsec);
  EXPECT_FALSE(WriteFileRecord(records_, fd_.get(), Frames(20000)));
  EXPECT_FALSE(ReadFileRecord(records_, st).has_value());
  // A modification time ahead of this clock (put on a machine whose clock
  // runs ahead) differs from the change time too: recorded, and a write
  // right after moves the times.
  struct timespec times[2];
  times[0].tv_nsec = UTIME_OMIT;
  ::clock_gettime(CLOCK_REALTIME, &times[1]);
  times[1].tv_sec += 3600;
  ASSERT_EQ(::futimens(fd_.get(), times), 0);
  ASSERT_TRUE(WriteFileRecord(records_, fd_.get(), Frames(20000)));
  ASSERT_TRUE(ReadFileRecord(records_, Stat()).has_value());
  ASSERT_EQ(::pwrite(fd_.get(), "y", 1, 20), 1);
  EXPECT_FALSE(ReadFileRecord(records_, Stat()).has_value());
  // Nor for frames that are not the file's size.
  SetUp();
  EXPECT_FALSE(WriteFileRecord(records_, fd_.get(), Frames(19999)));
}

TEST_F(FileRecordTest, OldestRecordsArePrunedBeyondTheLimit) {
  ASSERT_TRUE(MakeDirs(records_));
  for (size_t k = 0; k < kMaxFileRecords + 10; ++k) {
    ASSERT_TRUE(WriteFileAtomic(records_ + "/0-" + std::to_string(k), "x"));
  }
  // A temporary file of a writer that died an hour ago goes too; a fresh
  // one (a writer at work) stays.
  const std::string stale = records_ + "/.0-1.hugeblob-old", fresh = records_ + "/.0-2.new";
  ASSERT_TRUE(WriteFileAtomic(stale, "x"));
  ASSERT_TRUE(WriteFileAtomic(fresh, "x"));
  struct timespec old[2];
  ::clock_gettime(CLOCK_REALTIME, &old[0]);
  old[0].tv_sec -= 7200;
  old[1] = old[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), old, 0), 0);
  ASSERT_TRUE(WriteFileRecord(records_, fd_.get(), Frames(20000)));
  EXPECT_NE(::access(stale.c_str(), F_OK), 0);
  EXPECT_EQ(::access(fresh.c_str(), F_OK), 0);
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(records_)) {
    if (e.path().filename().string()[0] != '.') ++n;
  }
  EXPECT_EQ(n, kMaxFileRecords);
  EXPECT_TRUE(ReadFileRecord(records_, Stat()).has_value());
}

}  // namespace
}  // namespace hugeblob
