// LocalStore behaviour beyond the conformance suite: the on-disk layout,
// crash safety, and recovery of abandoned uploads.
#include "store/local_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "testing/temp_dir.h"
#include "util/fs.h"

namespace hugeblob {
namespace {

Buffer Buf(std::string_view s) { return Buffer::Copy(s); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Names of the entries of a directory (empty if it does not exist).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/store";
    auto s = LocalStore::Open(root_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = *s;
  }

  TempDir dir_;
  std::string root_;
  std::shared_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, ObjectsAreFilesUnderRoot) {
  ASSERT_TRUE(store_->Put("packs/ab/abcd", Buf("pack bytes")));
  auto content = ReadFileToString(root_ + "/packs/ab/abcd");
  ASSERT_TRUE(content) << content.error().message();
  EXPECT_EQ(*content, "pack bytes");
  EXPECT_EQ(store_->url(), "file://" + root_);
  EXPECT_EQ(store_->root(), root_);
  // Nothing is left in tmp/ after a Put.
  EXPECT_EQ(Entries(root_ + "/tmp"), std::vector<std::string>{});
}

TEST_F(LocalStoreTest, RelativeRootIsMadeAbsolute) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir_.path().c_str()), 0);
  auto s = LocalStore::Open("rel/./store/");
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->root(), dir_.path() + "/rel/store");
  EXPECT_EQ((*s)->url(), "file://" + dir_.path() + "/rel/store");
}

TEST_F(LocalStoreTest, OpenOnAFileFails) {
  ASSERT_TRUE(WriteFileAtomic(dir_.path() + "/file", "x"));
  auto s = LocalStore::Open(dir_.path() + "/file");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find(dir_.path() + "/file"), std::string::npos)
      << s.error().message();
}

TEST_F(LocalStoreTest, TmpPrefixIsReserved) {
  auto put = store_->Put("tmp/x", Buf("x"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->Put("tmp", Buf("x")));
  // A key merely starting with the letters is fine.
  EXPECT_TRUE(store_->Put("tmpfile", Buf("x")));
}

TEST_F(LocalStoreTest, DeleteRemovesEmptiedDirectoriesButNotRoot) {
  ASSERT_TRUE(store_->Put("a/b/c/d", Buf("1")));
  ASSERT_TRUE(store_->Put("a/x", Buf("2")));
  ASSERT_TRUE(store_->Delete("a/b/c/d"));
  EXPECT_FALSE(Exists(root_ + "/a/b"));
  EXPECT_TRUE(Exists(root_ + "/a/x"));
  ASSERT_TRUE(store_->Delete("a/x"));
  EXPECT_FALSE(Exists(root_ + "/a"));
  EXPECT_TRUE(Exists(root_));
  ASSERT_TRUE(store_->Put("top", Buf("3")));
  ASSERT_TRUE(store_->Delete("top"));
  EXPECT_TRUE(Exists(root_));
}

TEST_F(LocalStoreTest, ErrorsNameTheFullPath) {
  auto get = store_->Get("no/such");
  ASSERT_FALSE(get);
  EXPECT_NE(get.error().message().find(root_ + "/no/such"), std::string::npos)
      << get.error().message();
  // A key below an existing object: the file system says ENOTDIR; the store
  // says the object does not exist.
  ASSERT_TRUE(store_->Put("obj", Buf("x")));
  auto below = store_->Head("obj/child");
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Delete("obj/child"));
  auto put_below = store_->Put("obj/child", Buf("y"));
  ASSERT_FALSE(put_below);
  EXPECT_NE(put_below.error().message().find(root_ + "/obj"), std::string::npos)
      << put_below.error().message();
}

TEST_F(LocalStoreTest, ManyPiecesAreWrittenInBatches) {
  // More pieces than IOV_MAX (1024) in one chain.
  BufferChain chain;
  std::string expect;
  for (int i = 0; i < 3000; ++i) {
    std::string piece = std::to_string(i) + ",";
    expect += piece;
    chain.Append(Buf(piece));
  }
  ASSERT_TRUE(store_->Put("many", chain));
  auto got = store_->Get("many");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->view(), expect);
}

TEST_F(LocalStoreTest, ListSkipsTmpAndOtherFileTypes) {
  ASSERT_TRUE(store_->Put("k", Buf("v")));
  auto id = store_->CreateMultipart("m", 1024);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_FALSE(Entries(root_ + "/tmp").empty());
  ASSERT_EQ(::symlink("k", (root_ + "/link").c_str()), 0);
  for (const char* tmp_prefix : {"tmp/", "tmp/mpu", "tmp"}) {
    auto in_tmp = store_->List(tmp_prefix);
    ASSERT_TRUE(in_tmp) << in_tmp.error().message();
    EXPECT_TRUE(in_tmp->empty()) << tmp_prefix;
  }
  auto list = store_->List("");
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].key, "k");
  EXPECT_GT((*list)[0].mtime_unix, 0);
}

TEST_F(LocalStoreTest, MultipartPartSizeRules) {
  auto id = store_->CreateMultipart("mp", 100);
  ASSERT_TRUE(id) << id.error().message();
  // Larger than the part size: would overwrite the next part.
  auto big = store_->UploadPart("mp", *id, 1, BufferChain(Buf(std::string(101, 'x'))));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::kInvalidArgument);
  auto p1 = store_->UploadPart("mp", *id, 1, BufferChain(Buf(std::string(100, 'a'))));
  auto p2 = store_->UploadPart("mp", *id, 2, BufferChain(Buf(std::string(50, 'b'))));
  auto p3 = store_->UploadPart("mp", *id, 3, BufferChain(Buf(std::string(100, 'c'))));
  ASSERT_TRUE(p1 && p2 && p3);
  // Short part 2 followed by part 3.
  auto short_mid = store_->CompleteMultipart("mp", *id, {*p1, *p2, *p3});
  ASSERT_FALSE(short_mid);
  EXPECT_EQ(short_mid.error().code(), ErrorCode::kInvalidArgument);
  // A gap (part 2 missing).
  auto gap = store_->CompleteMultipart("mp", *id, {*p1, *p3});
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().code(), ErrorCode::kInvalidArgument);
  // A part never uploaded.
  auto p4 = CompletedPart{4, "64-0000000000000000"};
  p2 = store_->UploadPart("mp", *id, 2, BufferChain(Buf(std::string(100, 'B'))));
  ASSERT_TRUE(p2);
  auto never = store_->CompleteMultipart("mp", *id, {*p1, *p2, *p3, p4});
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code(), ErrorCode::kInvalidArgument);
  // A stale etag (part 2 was uploaded again).
  auto stale = store_->CompleteMultipart("mp", *id, {*p1, CompletedPart{2, "32-0"}, *p3});
  ASSERT_FALSE(stale);
  // Bad part numbers.
  EXPECT_FALSE(store_->UploadPart("mp", *id, 0, BufferChain(Buf("x"))));
  EXPECT_FALSE(store_->UploadPart("mp", *id, 10001, BufferChain(Buf("x"))));
  // Only the first two parts: part 3, written already, is cut off.
  ASSERT_TRUE(store_->CompleteMultipart("mp", *id, {*p2, *p1}));
  auto got = store_->Get("mp");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->view(), std::string(100, 'a') + std::string(100, 'B'));
  EXPECT_EQ(Entries(root_ + "/tmp"), std::vector<std::string>{});
}

TEST_F(LocalStoreTest, MultipartIdsAreChecked) {
  auto id = store_->CreateMultipart("mp", 100);
  ASSERT_TRUE(id) << id.error().message();
  for (const std::string& bad :
       {std::string("../../etc"), std::string(), std::string("ZZ"), std::string(32, 'g')}) {
    auto r = store_->UploadPart("mp", bad, 1, BufferChain(Buf("x")));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
  auto unknown = store_->AbortMultipart("mp", std::string(32, 'a'));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  // The id belongs to another key.
  auto other = store_->UploadPart("other", *id, 1, BufferChain(Buf("x")));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(store_->AbortMultipart("mp", *id));
  EXPECT_EQ(Entries(root_ + "/tmp"), std::vector<std::string>{});
}

TEST_F(LocalStoreTest, AbandonedMultipartSurvivesReopen) {
  auto id = store_->CreateMultipart("packs/ab/abandoned", 1 << 20);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(store_->UploadPart("packs/ab/abandoned", *id, 1, BufferChain(Buf("part one"))));
  int64_t started = static_cast<int64_t>(std::time(nullptr));
  store_.reset();  // the process "crashes": nothing completes or aborts

  auto reopened = LocalStore::Open(root_);
  ASSERT_TRUE(reopened) << reopened.error().message();
  auto uploads = (*reopened)->ListMultipart("packs/");
  ASSERT_TRUE(uploads) << uploads.error().message();
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].key, "packs/ab/abandoned");
  EXPECT_EQ((*uploads)[0].upload_id, *id);
  EXPECT_LE(std::llabs((*uploads)[0].initiated_unix - started), 5);
  // gc can abort it from the new process.
  ASSERT_TRUE((*reopened)->AbortMultipart("packs/ab/abandoned", *id));
  auto after = (*reopened)->ListMultipart("");
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(Entries(root_ + "/tmp"), std::vector<std::string>{});
}

// What a writer killed mid-Put leaves in tmp/: a put temp file, and the data
// file of a multipart upload whose sidecar was never written.
TEST_F(LocalStoreTest, CleanTemporariesRemovesOldLeftoversOnly) {
  ASSERT_TRUE(store_->Put("packs/ab/live", Buf("kept")));  // creates tmp/
  const std::string tmp = root_ + "/tmp";
  auto age_by = [](const std::string& path, int64_t age) {
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - age;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  };
  auto write = [&](const std::string& path, std::string_view bytes, int64_t age) {
    ASSERT_TRUE(WriteFileAtomic(path, bytes));
    age_by(path, age);
  };
  write(tmp + "/put.123.abc.tmp", "old put", 7200);
  write(tmp + "/put.124.abd.tmp", "young put", 10);
  write(tmp + "/mpu-0123456789abcdef", "orphan multipart data", 7200);
  // A real upload (with a sidecar) is ListMultipart's business, not this.
  auto id = store_->CreateMultipart("packs/ab/big", 1 << 20);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(store_->UploadPart("packs/ab/big", *id, 1, BufferChain(Buf("part"))));
  for (const std::string& name : Entries(tmp)) {
    if (name.find(*id) != std::string::npos) age_by(tmp + "/" + name, 7200);
  }
  const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - 3600;

  auto dry = store_->CleanTemporaries(cutoff, /*dry_run=*/true);
  ASSERT_TRUE(dry) << dry.error().message();
  EXPECT_EQ(dry->files, 2u);
  EXPECT_EQ(dry->bytes,
            std::string_view("old put").size() + std::string_view("orphan multipart data").size());
  EXPECT_TRUE(Exists(tmp + "/put.123.abc.tmp"));

  auto done = store_->CleanTemporaries(cutoff, /*dry_run=*/false);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->files, 2u);
  EXPECT_FALSE(Exists(tmp + "/put.123.abc.tmp"));
  EXPECT_FALSE(Exists(tmp + "/mpu-0123456789abcdef"));
  EXPECT_TRUE(Exists(tmp + "/put.124.abd.tmp"));
  auto uploads = store_->ListMultipart("");
  ASSERT_TRUE(uploads);
  EXPECT_EQ(uploads->size(), 1u);  // the upload with a sidecar is untouched
  EXPECT_TRUE(store_->Get("packs/ab/live"));
}

// A hostile store: links planted in it never let a read, a write, a delete
// or a temp-file cleanup reach a file outside the store.
TEST_F(LocalStoreTest, SymlinksAreNeverFollowedOutOfTheStore) {
  const std::string outside = dir_.path() + "/outside";
  ASSERT_TRUE(MakeDirs(outside));
  ASSERT_TRUE(WriteFileAtomic(outside + "/victim", "not yours"));
  ASSERT_TRUE(WriteFileAtomic(outside + "/put.1.abc.tmp", "looks like a temp file"));
  const auto old = static_cast<int64_t>(std::time(nullptr)) + 3600;  // everything is "old"

  // refs/ is a link to the outside folder.
  ASSERT_EQ(::symlink(outside.c_str(), (root_ + "/refs").c_str()), 0);
  auto got = store_->Get("refs/victim");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorruption) << got.error().message();
  EXPECT_NE(got.error().message().find("symbolic link"), std::string::npos);
  EXPECT_FALSE(store_->Head("refs/victim"));
  auto deleted = store_->Delete("refs/victim");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code(), ErrorCode::kCorruption) << deleted.error().message();
  EXPECT_TRUE(Exists(outside + "/victim"));
  EXPECT_FALSE(store_->Put("refs/planted", Buf("x")));
  EXPECT_FALSE(Exists(outside + "/planted"));
  auto listed = store_->List("refs/");
  EXPECT_TRUE(!listed || listed->empty());

  // An object that is a link to an outside file.
  ASSERT_TRUE(MakeDirs(root_ + "/packs/ab"));
  ASSERT_EQ(::symlink((outside + "/victim").c_str(), (root_ + "/packs/ab/link").c_str()), 0);
  EXPECT_FALSE(store_->Get("packs/ab/link"));
  auto all = store_->List("");
  ASSERT_TRUE(all) << all.error().message();
  for (const ObjectInfo& o : *all) EXPECT_NE(o.key, "packs/ab/link");

  // tmp/ is a link: its files are not our temporaries.
  ASSERT_TRUE(RemoveTree(root_ + "/tmp"));
  ASSERT_EQ(::symlink(outside.c_str(), (root_ + "/tmp").c_str()), 0);
  EXPECT_FALSE(store_->CleanTemporaries(old, /*dry_run=*/false));
  EXPECT_TRUE(Exists(outside + "/put.1.abc.tmp"));
  EXPECT_FALSE(store_->Put("packs/ab/new", Buf("x")));
  EXPECT_EQ(Entries(outside), (std::vector<std::string>{"put.1.abc.tmp", "victim"}));
}

// A FIFO (or device) where an object should be is damage, reported at once:
// opening it must not wait for a writer that never comes.
TEST_F(LocalStoreTest, FifoObjectIsRefusedWithoutBlocking) {
  ASSERT_TRUE(MakeDirs(root_ + "/packs/ab"));
  ASSERT_EQ(::mkfifo((root_ + "/packs/ab/fifo").c_str(), 0600), 0);
  auto got = store_->GetRange("packs/ab/fifo", 0, 100);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorruption) << got.error().message();
  EXPECT_NE(got.error().message().find("FIFO"), std::string::npos) << got.error().message();
  EXPECT_FALSE(store_->Head("packs/ab/fifo"));
}

TEST_F(LocalStoreTest, KeysWithNewlinesSurviveTheSidecar) {
  const std::string key = "odd/line\nbreak";
  auto id = store_->CreateMultipart(key, 10);
  ASSERT_TRUE(id) << id.error().message();
  auto uploads = store_->ListMultipart("odd/");
  ASSERT_TRUE(uploads) << uploads.error().message();
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].key, key);
  auto part = store_->UploadPart(key, *id, 1, BufferChain(Buf("x")));
  ASSERT_TRUE(part) << part.error().message();
  ASSERT_TRUE(store_->CompleteMultipart(key, *id, {*part}));
}

// A file system that fills up: a Put that fails midway must leave neither
// a partial object under its key nor a temporary file, and must keep the
// previous version of the object intact.
class LocalStoreFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    mnt_ = dir_.path() + "/mnt";
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  TempDir dir_;
  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(LocalStoreFullDiskTest, FailedPutLeavesNothingBehind) {
  auto s = LocalStore::Open(mnt_ + "/store");
  ASSERT_TRUE(s) << s.error().message();
  auto& store = **s;
  ASSERT_TRUE(store.Put("packs/old", Buf("previous version")));

  std::string big(2 << 20, 'x');  // twice the file system
  auto put = store.Put("packs/new", Buf(big));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kNoSpace) << put.error().message();
  EXPECT_NE(put.error().message().find(mnt_ + "/store/packs/new"), std::string::npos)
      << put.error().message();
  auto head = store.Head("packs/new");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Entries(mnt_ + "/store/tmp"), std::vector<std::string>{});

  // An overwrite that runs out of space keeps the old object.
  auto over = store.Put("packs/old", Buf(big));
  ASSERT_FALSE(over);
  auto old = store.Get("packs/old");
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->view(), "previous version");
  EXPECT_EQ(Entries(mnt_ + "/store/tmp"), std::vector<std::string>{});

  // The space is really free again: a Put that fits succeeds.
  EXPECT_TRUE(store.Put("packs/small", Buf(std::string(100000, 'y'))));

  // A multipart upload that runs out of space fails its part and can be
  // aborted without residue.
  auto id = store.CreateMultipart("packs/mp", 1 << 20);
  ASSERT_TRUE(id) << id.error().message();
  auto p1 = store.UploadPart("packs/mp", *id, 1, BufferChain(Buf(std::string(1 << 20, 'm'))));
  auto p2 = store.UploadPart("packs/mp", *id, 2, BufferChain(Buf(std::string(1 << 20, 'n'))));
  EXPECT_FALSE(p1 && p2);
  const Error& e = p1 ? p2.error() : p1.error();
  EXPECT_EQ(e.code(), ErrorCode::kNoSpace) << e.message();
  ASSERT_TRUE(store.AbortMultipart("packs/mp", *id));
  EXPECT_EQ(Entries(mnt_ + "/store/tmp"), std::vector<std::string>{});
}

TEST(FsTest, FreeSpaceOfMissingPathUsesAncestor) {
  TempDir dir;
  auto here = FreeSpace(dir.path());
  ASSERT_TRUE(here) << here.error().message();
  auto below = FreeSpace(dir.path() + "/not/yet/there");
  ASSERT_TRUE(below) << below.error().message();
  EXPECT_GT(*below, 0u);
}

TEST(FsTest, TempNamesAreUnique) {
  std::set<std::string> names;
  for (int i = 0; i < 1000; ++i) {
    auto n = MakeTempName("/d", "stem");
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->starts_with("/d/stem." + std::to_string(::getpid()) + "."));
    EXPECT_TRUE(n->ends_with(".tmp"));
    names.insert(*n);
  }
  EXPECT_EQ(names.size(), 1000u);
}

TEST(FsTest, MakeDirsWriteAtomicRemoveTree) {
  TempDir dir;
  std::string deep = dir.path() + "/a/b/c";
  ASSERT_TRUE(MakeDirs(deep, true));
  ASSERT_TRUE(MakeDirs(deep));  // again: fine
  ASSERT_TRUE(WriteFileAtomic(deep + "/f", "one"));
  ASSERT_TRUE(WriteFileAtomic(deep + "/f", "two"));
  EXPECT_EQ(*ReadFileToString(deep + "/f"), "two");
  EXPECT_EQ(Entries(deep), std::vector<std::string>{"f"});  // no temp left
  auto not_dir = MakeDirs(deep + "/f/g");
  ASSERT_FALSE(not_dir);
  EXPECT_NE(not_dir.error().message().find(deep + "/f"), std::string::npos);
  ASSERT_TRUE(FsyncDir(deep));
  ASSERT_TRUE(RemoveTree(dir.path() + "/a"));
  EXPECT_FALSE(Exists(dir.path() + "/a"));
  EXPECT_TRUE(RemoveTree(dir.path() + "/a"));  // missing: fine
  EXPECT_EQ(Dirname("a/b/c"), "a/b");
  EXPECT_EQ(Dirname("c"), ".");
  EXPECT_EQ(Dirname("/c"), "/");
  EXPECT_EQ(Dirname("/a/b/"), "/a");
}

}  // namespace
}  // namespace hugeblob
