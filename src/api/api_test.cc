// The public API (include/hugeblob/hugeblob.h, reader.h) on a real local
// store in a temporary directory: puts from a path, a descriptor, a socket
// and streams (including a failing and a cancelled one), and File reads
// checked against the bytes put.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "hugeblob/hugeblob.h"
#include "testing/temp_dir.h"

namespace hugeblob {
namespace {

constexpr size_t kMiB = 1 << 20;

std::string MakeBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rnd(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rnd();
    std::memcpy(&s[i], &v, 8);
  }
  // A run of zeros: a hole in the stored file.
  std::memset(&s[n / 3], 0, n / 2);
  return s;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    StoreOptions o;
    o.mode = StoreOpenMode::kCreate;
    auto s = Store::Open(dir_.path() + "/store", o);
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(*s);
    data_ = MakeBytes(8 * kMiB + 4321, 7);
    path_ = dir_.path() + "/in.bin";
    std::ofstream(path_, std::ios::binary).write(data_.data(), data_.size());
  }

  PutOptions Named(const std::string& name) {
    PutOptions o;
    o.name = name;
    return o;
  }

  // The whole stored file `name`, read through a fresh File.
  std::string ReadAll(const std::string& name) {
    auto f = store_->OpenFile(name);
    EXPECT_TRUE(f) << f.error().message();
    if (!f) return {};
    std::string out((*f)->size(), '\0');
    auto n = (*f)->pread(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    EXPECT_TRUE(n);
    return out;
  }

  // Walks the blocks of `f` with BlockAt: contiguous, numbered in order,
  // covering the file, read (zero copy) as the bytes put, a hole among them.
  void CheckBlocks(File& f) {
    uint64_t off = 0;
    uint64_t index = 0;
    bool saw_hole = false;
    while (off < f.size()) {
      auto b = f.BlockAt(off);
      ASSERT_TRUE(b) << b.error().message();
      ASSERT_EQ(b->index, index);
      ASSERT_EQ(b->offset, off);
      ASSERT_GT(b->length, 0u);
      auto again = f.BlockAt(b->offset + b->length - 1);
      ASSERT_TRUE(again);
      EXPECT_EQ(again->index, index);
      auto by_index = f.Block(index);
      ASSERT_TRUE(by_index) << by_index.error().message();
      EXPECT_EQ(by_index->offset, b->offset);
      EXPECT_EQ(by_index->length, b->length);
      EXPECT_EQ(by_index->hole, b->hole);
      auto buf = f.ReadBlock(index);
      ASSERT_TRUE(buf) << buf.error().message();
      ASSERT_EQ(buf->size(), b->length);
      EXPECT_EQ(buf->view(), std::string_view(data_).substr(b->offset, b->length));
      saw_hole |= b->hole;
      off += b->length;
      ++index;
    }
    EXPECT_EQ(off, data_.size());
    EXPECT_EQ(index, f.info().blocks);
    EXPECT_TRUE(saw_hole);
    auto past = f.Block(index);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().code(), ErrorCode::kInvalidArgument);
  }

  bool Listed(const std::string& name) {
    auto l = store_->List();
    if (!l) return false;
    for (const BlobInfo& b : *l) {
      if (b.name == name) return true;
    }
    return false;
  }

  TempDir dir_;
  std::optional<Store> store_;
  std::string data_;
  std::string path_;
};

TEST_F(ApiTest, PutFromPathAndReadBack) {
  auto r = store_->Put(path_, Named("a/b"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->size, data_.size());
  EXPECT_EQ(ReadAll("a/b"), data_);
  auto st = store_->Stat("a/b");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->digest, r->digest);
  auto v = store_->Verify();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->problems.empty());
  // A second put is a second version; NAME@1 still reads the first.
  std::istringstream two("two");
  ASSERT_TRUE(store_->PutStream(two, Named("a/b")));
  auto versions = store_->Versions("a/b");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].size, data_.size());
  EXPECT_EQ(ReadAll("a/b"), "two");
  EXPECT_EQ(ReadAll("a/b@1"), data_);
  auto listed = store_->List("a/");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].versions, 2u);
  auto removed = store_->Remove("a/b");
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(Listed("a/b"));
}

TEST_F(ApiTest, PutFdStoresTheWholeFileWhateverItsPosition) {
  int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 12345, SEEK_SET), 12345);
  auto r = store_->PutFd(fd, Named("fd"));
  ASSERT_TRUE(r) << r.error().message();
  // The descriptor is still the caller's, open.
  EXPECT_NE(::fcntl(fd, F_GETFD), -1);
  ::close(fd);
  EXPECT_EQ(ReadAll("fd"), data_);
  auto bad = store_->PutFd(-1, Named("bad"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ApiTest, PutFdFromASocketGoesThroughTheFeeder) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data_.size()) {
      ssize_t n = ::write(sv[1], data_.data() + off, std::min<size_t>(100000, data_.size() - off));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(sv[1]);
  });
  auto r = store_->PutFd(sv[0], Named("sock"));
  writer.join();
  ::close(sv[0]);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadAll("sock"), data_);
}

TEST_F(ApiTest, PutStreamFromIstreamAndReadFn) {
  std::istringstream in(data_);
  auto r = store_->PutStream(in, Named("istream"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadAll("istream"), data_);

  size_t pos = 0;
  ReadFn read = [&](std::span<uint8_t> dst) -> Result<size_t> {
    // Odd sizes, as a network stream gives them.
    const size_t n = std::min({dst.size(), data_.size() - pos, size_t{77777}});
    std::memcpy(dst.data(), data_.data() + pos, n);
    pos += n;
    return n;
  };
  auto r2 = store_->PutStream(read, Named("readfn"));
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(r2->digest, r->digest);
}

TEST_F(ApiTest, AFailingStreamFailsThePutAndWritesNoName) {
  size_t pos = 0;
  ReadFn read = [&](std::span<uint8_t> dst) -> Result<size_t> {
    if (pos >= 3 * kMiB) return Fail(ErrorCode::kIOError, "sensor unplugged");
    const size_t n = std::min(dst.size(), data_.size() - pos);
    std::memcpy(dst.data(), data_.data() + pos, n);
    pos += n;
    return n;
  };
  auto r = store_->PutStream(read, Named("broken"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIOError);
  EXPECT_NE(r.error().message().find("sensor unplugged"), std::string::npos) << r.error().message();
  EXPECT_FALSE(Listed("broken"));
  auto f = store_->OpenFile("broken");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
}

TEST_F(ApiTest, CancellingAStreamPutWritesNoName) {
  CancelToken cancel;
  std::atomic<size_t> pos{0};
  // An endless stream: only the cancellation ends the put.
  ReadFn read = [&](std::span<uint8_t> dst) -> Result<size_t> {
    std::memset(dst.data(), 0x5a, dst.size());
    if (pos.fetch_add(dst.size()) > 8 * kMiB) cancel.Cancel();
    return dst.size();
  };
  PutOptions o = Named("cancelled");
  o.cancel = &cancel;
  auto r = store_->PutStream(read, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  EXPECT_FALSE(Listed("cancelled"));
}

TEST_F(ApiTest, FileBlocksViewsAndHints) {
  ASSERT_TRUE(store_->Put(path_, Named("f")));
  auto opened = store_->OpenFile("f");
  ASSERT_TRUE(opened);
  std::unique_ptr<File> f = std::move(*opened);
  const FileInfo& info = f->info();
  EXPECT_EQ(info.name, "f");
  EXPECT_EQ(info.size, data_.size());
  EXPECT_EQ(info.manifest.size(), 64u);
  EXPECT_LT(info.data_bytes, info.size);  // the zeros are a hole
  ASSERT_GT(info.blocks, 2u);

  CheckBlocks(*f);
  auto past = f->BlockAt(data_.size());
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(f->ReadBlock(info.blocks));

  // A range across blocks, zero copy, and cut at the end of the file.
  auto chain = f->ReadRange(kMiB - 100, 3 * kMiB);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->Flatten().view(), std::string_view(data_).substr(kMiB - 100, 3 * kMiB));
  auto tail = f->ReadRange(data_.size() - 10, 1000);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), 10u);

  auto data_at = f->SeekData(data_.size() / 3 + 10, /*hole=*/false);
  ASSERT_TRUE(data_at);
  EXPECT_GT(*data_at, data_.size() / 3);
  EXPECT_LE(*data_at, data_.size() / 3 + data_.size() / 2);

  // WillNeed fetches in the background: a fresh Store's File, hinted, then
  // read, finds the blocks already loaded (no more requests than blocks).
  auto fresh = Store::Open(dir_.path() + "/store");
  ASSERT_TRUE(fresh);
  auto g = fresh->OpenFile("f");
  ASSERT_TRUE(g);
  (*g)->WillNeed(0, 2 * kMiB);
  std::string out(2 * kMiB, '\0');
  auto n = (*g)->pread(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
  ASSERT_TRUE(n);
  EXPECT_EQ(out, data_.substr(0, 2 * kMiB));
  EXPECT_GT(fresh->reader_stats().store_requests, 0u);
}

// More than a thousand or so blocks: the block table is stored in segments,
// and the File loads them as reads and BlockAt need them.
TEST_F(ApiTest, ASegmentedFileReadsAndWalksItsBlocks) {
  PutOptions o = Named("many");
  o.chunker = "fixed";
  o.chunk_size = 4096;
  auto r = store_->Put(path_, o);
  ASSERT_TRUE(r) << r.error().message();
  auto fresh = Store::Open(dir_.path() + "/store");
  ASSERT_TRUE(fresh);
  auto f = fresh->OpenFile("many");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_GT((*f)->info().blocks, 1024u);
  EXPECT_LT((*f)->info().data_bytes, data_.size());
  std::string tail(5000, '\0');
  auto n = (*f)->pread(data_.size() - 5000, {reinterpret_cast<uint8_t*>(tail.data()), tail.size()});
  ASSERT_TRUE(n);
  EXPECT_EQ(tail, data_.substr(data_.size() - 5000));
  EXPECT_GT(fresh->reader_stats().segment_requests, 0u);
  CheckBlocks(**f);
  (*f)->WillNeed(3 * kMiB, kMiB);
  EXPECT_EQ(ReadAll("many"), data_);
}

TEST_F(ApiTest, AFileOutlivesItsStoreAndThreadsShareIt) {
  ASSERT_TRUE(store_->Put(path_, Named("f")));
  std::unique_ptr<File> f;
  {
    auto s = Store::Open(dir_.path() + "/store");
    ASSERT_TRUE(s);
    auto opened = s->OpenFile("f");
    ASSERT_TRUE(opened);
    f = std::move(*opened);
  }
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rnd(t);
      std::string buf(70000, '\0');
      for (int i = 0; i < 200; ++i) {
        const uint64_t off = rnd() % data_.size();
        auto n = f->pread(off, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()});
        if (!n || std::string_view(buf).substr(0, *n) != std::string_view(data_).substr(off, *n)) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(ApiTest, OpenErrorsNameWhatIsWrong) {
  auto missing = Store::Open(dir_.path() + "/nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto f = store_->OpenFile("no/such/name");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(f.error().message().find("no/such/name"), std::string::npos);
  auto bad = store_->OpenFile("../x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Store::Wrap(nullptr));
}

}  // namespace
}  // namespace hugeblob
