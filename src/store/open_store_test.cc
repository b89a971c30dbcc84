// OpenStore: URL forms, the default store, and the config object.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "hugeblob/store.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace hugeblob {
namespace {

// Sets an environment variable for the scope, restoring the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(OpenStoreTest, NewDirectoryGetsAConfig) {
  TempDir dir;
  std::string path = dir.path() + "/new/store";
  auto store = OpenStore(path);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->url(), "file://" + path);
  auto config = ReadFileToString(path + "/config");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(*config, "hugeblob-store 2\nchunk-hash blake3\n");
  // Reopening, by path or by its URL, finds the config and accepts it.
  ASSERT_TRUE((*store)->Put("refs/x", Buffer::Copy(std::string_view("m"))));
  auto again = OpenStore((*store)->url());
  ASSERT_TRUE(again) << again.error().message();
  auto got = (*again)->Get("refs/x");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->view(), "m");
  EXPECT_TRUE(OpenStore("file://localhost" + path));
}

// Read-only commands open with kExisting: a missing or empty directory is
// "no store", and nothing is created on the way.
TEST(OpenStoreTest, ExistingModeNeverCreates) {
  TempDir dir;
  const std::string deep = dir.path() + "/no/such/store";
  auto missing = OpenStore(deep, StoreOpenMode::kExisting);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("no store at " + deep), std::string::npos)
      << missing.error().message();
  struct stat st;
  EXPECT_NE(::stat((dir.path() + "/no").c_str(), &st), 0) << "a directory was created";

  auto empty = OpenStore(dir.path(), StoreOpenMode::kExisting);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(::stat((dir.path() + "/config").c_str(), &st), 0) << "a config was written";

  ASSERT_TRUE(OpenStore(deep, StoreOpenMode::kInit));
  EXPECT_TRUE(OpenStore(deep, StoreOpenMode::kExisting));
  auto again = OpenStore(deep, StoreOpenMode::kInit);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
}

TEST(OpenStoreTest, EmptyExistingDirectoryIsClaimed) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ(*ReadFileToString(dir.path() + "/config"), "hugeblob-store 2\nchunk-hash blake3\n");
}

TEST(OpenStoreTest, OtherVersionIsUnsupported) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/config", "hugeblob-store 3\n"));
  auto store = OpenStore(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(store.error().message().find("version '3'"), std::string::npos)
      << store.error().message();
  EXPECT_NE(store.error().message().find(dir.path()), std::string::npos);
}

TEST(OpenStoreTest, PreviousFormatOpens) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/config", "hugeblob-store 1\n"));
  auto store = OpenStore(dir.path(), StoreOpenMode::kExisting);
  ASSERT_TRUE(store) << store.error().ToString();
  // Opening does not raise it: only a first version object does.
  EXPECT_EQ(*ReadFileToString(dir.path() + "/config"), "hugeblob-store 1\n");
}

TEST(OpenStoreTest, ForeignConfigIsRefused) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/config", "[core]\n"));
  auto store = OpenStore(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
}

TEST(OpenStoreTest, NonEmptyDirectoryWithoutConfigIsRefusedUntouched) {
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir.path() + "/photos"));
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/photos/cat.jpg", "meow"));
  auto store = OpenStore(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.error().message(),
            "not a hugeblob store: " + dir.path() + " (non-empty directory without a config file)");
  // Nothing was written into the user's directory.
  EXPECT_NE(::access((dir.path() + "/tmp").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir.path() + "/config").c_str(), F_OK), 0);
}

TEST(OpenStoreTest, PathToAFileIsRefused) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/file", "x"));
  auto store = OpenStore(dir.path() + "/file");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message().find(dir.path() + "/file"), std::string::npos);
}

TEST(OpenStoreTest, RelativePathIsMadeAbsolute) {
  TempDir dir;
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  auto store = OpenStore("blobs");
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->url(), "file://" + dir.path() + "/blobs");
}

TEST(OpenStoreTest, MemIsFreshEachTime) {
  auto a = OpenStore("mem://");
  auto b = OpenStore("mem://");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->Put("k", Buffer::Copy(std::string_view("v"))));
  EXPECT_TRUE((*a)->Head("k"));
  EXPECT_FALSE((*b)->Head("k"));
  // Same config rules as every backend.
  auto config = (*b)->Get("config");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->view(), "hugeblob-store 2\nchunk-hash blake3\n");
}

TEST(OpenStoreTest, UnknownSchemeIsNamed) {
  auto store = OpenStore("ftp://host/dir");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message().find("'ftp'"), std::string::npos) << store.error().message();
  auto rel = OpenStore("file://relative/path");
  ASSERT_FALSE(rel);
  EXPECT_EQ(rel.error().code(), ErrorCode::kInvalidArgument);
}

TEST(OpenStoreTest, DefaultStoreUrl) {
  {
    ScopedEnv s("HUGEBLOB_STORE", "s3://b/p");
    ScopedEnv x("XDG_DATA_HOME", "/xdg");
    EXPECT_EQ(DefaultStoreUrl(), "s3://b/p");
  }
  {
    ScopedEnv s("HUGEBLOB_STORE", nullptr);
    ScopedEnv x("XDG_DATA_HOME", "/xdg");
    EXPECT_EQ(DefaultStoreUrl(), "/xdg/hugeblob");
  }
  {
    ScopedEnv s("HUGEBLOB_STORE", "");
    ScopedEnv x("XDG_DATA_HOME", nullptr);
    ScopedEnv h("HOME", "/home/someone");
    EXPECT_EQ(DefaultStoreUrl(), "/home/someone/.local/share/hugeblob");
  }
}

TEST(OpenStoreTest, EmptyUrlOpensTheDefault) {
  TempDir dir;
  ScopedEnv s("HUGEBLOB_STORE", (dir.path() + "/default").c_str());
  auto store = OpenStore("");
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->url(), "file://" + dir.path() + "/default");
}

}  // namespace
}  // namespace hugeblob
