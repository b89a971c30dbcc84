// Seeded and in-place restores through Get, and diff, on real files and a
// real (in-memory) store.
#include "ops/seed.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "hash/blake3.h"
#include "ops/diff.h"
#include "ops/file_record.h"
#include "ops/gc_test_util.h"
#include "ops/load.h"
#include "reader/disk_cache.h"
#include "store/memory_store.h"

namespace hugeblob {
namespace {

using namespace testing_gc;

// Records of restored files (ops/file_record.h) go to this process's own
// directory, not the user's cache.
GetOptions Quiet() {
  static const TempDir records;
  GetOptions o;
  o.force = true;
  o.reader.disk_cache = false;
  o.reader.disk_cache_dir = records.path();
  return o;
}

// v6 from v5: scattered overwrites, an insertion (the rest shifts right), a
// deletion (shifts left) and a zeroed megabyte.
std::string NextVersion(const std::string& v5) {
  std::string v6 = v5;
  for (size_t at : {300000u, 1700000u, 2900000u}) v6.replace(at, 100, MakeData(100, at));
  v6.insert(1 << 20, MakeData(70000, 7));
  v6.erase(5 << 20, 30000);
  v6.replace(6 << 20, 1 << 20, std::string(1 << 20, '\0'));
  return v6;
}

struct Versions {
  TempDir dir;
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::string v5 = MakeData(8 << 20, 5);
  std::string v6 = NextVersion(v5);

  explicit Versions(const std::string& chunker = "cdc") {
    EXPECT_TRUE(Put(store, WriteFile(dir, "v5", v5), SmallPut("v5", chunker)));
    EXPECT_TRUE(Put(store, WriteFile(dir, "v6", v6), SmallPut("v6", chunker)));
  }
  Manifest Load(const std::string& name) {
    auto ref = LoadRef(*store, name);
    EXPECT_TRUE(ref);
    auto m = LoadManifestOfRef(*store, name, *ref);
    EXPECT_TRUE(m);
    return *m;
  }
};

// Options of a one-thread get seeded from dir/name (holding `bytes`) that
// rewrite the seed with other bytes (MakeData with `other`) at the first
// progress report, that is after the first bytes taken from it;
// *clobbered tells that it happened.
GetOptions ClobberingSeed(const TempDir& dir, const std::string& name, const std::string& bytes,
                          uint32_t other, bool* clobbered) {
  GetOptions o = Quiet();
  o.threads = 1;
  o.seeds = {WriteFile(dir, name, bytes)};
  *clobbered = false;
  o.progress = [&dir, name, size = bytes.size(), other, clobbered](const Progress&) {
    if (*clobbered) return;
    *clobbered = true;
    WriteFile(dir, name, MakeData(size, other));
  };
  return o;
}

TEST(SeedTest, SeedThatChangesDuringTheGetCostsAFetchNotAWrongByte) {
  Versions v;
  bool clobbered = false;
  GetOptions o = ClobberingSeed(v.dir, "seed", v.v5, 99, &clobbered);
  auto r = Get(v.store, "v6", v.dir.path() + "/out", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(clobbered);
  EXPECT_EQ(ReadFile(v.dir.path() + "/out"), v.v6);
  EXPECT_GT(r->seeded_bytes, 0u);
  // The cut reads the seed 4 MiB at a time and writes what it finds from
  // those bytes; the rest of the seed is rewritten by then and fetched
  // (without the rewrite, v6's new chunks are under 0.5 MiB).
  EXPECT_GT(r->fetched_bytes, 2u << 20);

  // Chunks found by the scan and taken afterwards (those a cut did not
  // write at once) are checked again when taken: a seed rewritten between
  // the two gives no bytes.
  const std::string seed = WriteFile(v.dir, "seed2", v.v5);
  const Manifest m = v.Load("v6");
  auto index = SeedIndex::Build(m, {seed}, nullptr, SeedScanOptions{});
  ASSERT_TRUE(index) << index.error().message();
  WriteFile(v.dir, "seed2", MakeData(v.v5.size(), 98));
  ScopedFd out(
      ::open((v.dir.path() + "/out2").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(out.valid());
  size_t found = 0;
  std::vector<uint8_t> buf, scratch;
  for (const FrameRef& f : m.frames) {
    const SeedIndex::Source* src = f.zero ? nullptr : (*index)->Find(f.chunk);
    if (src == nullptr) continue;
    ++found;
    buf.resize(f.length);
    EXPECT_FALSE((*index)->Read(*src, buf, m.chunk_hash, f.chunk));
    auto copied = (*index)->CopyTo(*src, f.length, m.chunk_hash, f.chunk, out.get(), f.offset,
                                   "out2", scratch);
    ASSERT_TRUE(copied) << copied.error().message();
    EXPECT_EQ(*copied, SeedIndex::Copied::kNo);
  }
  EXPECT_GT(found, 10u);
}

TEST(SeedTest, InPlaceWritesOnlyWhatDiffersAndMovesShiftedChunksInOrder) {
  Versions v;
  const std::string target = WriteFile(v.dir, "target", v.v5);
  GetOptions o = Quiet();
  o.in_place = true;
  o.force = false;  // in place needs no --force
  auto r = Get(v.store, "v6", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v.v6);
  // Before the insertion, most chunks stay where they are.
  EXPECT_GT(r->in_place_bytes, 512u << 10);
  // The insertion shifts chunks right over their old places, the deletion
  // left: each shifted region is moved chunk by chunk in an order that
  // reads every chunk before it is overwritten (from its end back, or from
  // its start on), so nothing needs holding in memory.
  EXPECT_EQ(r->held_bytes, 0u);
  EXPECT_GT(r->seeded_bytes, 4u << 20);
  // Only the new chunks are fetched.
  EXPECT_LT(r->fetched_bytes, 2u << 20);
  // Again, reading the target all the same (it is unchanged since the get
  // wrote it, so by default its record would say what it holds): nothing
  // left to write. Progress moves during the check of the target (most of
  // an update's time), not only once the plan is made: its first report is
  // one batch of the check, and the reports only grow.
  std::vector<uint64_t> reports;
  o.progress = [&](const Progress& p) { reports.push_back(p.done); };
  o.verify_target = true;
  auto again = Get(v.store, "v6", target, o);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->fetched_bytes, 0u);
  EXPECT_EQ(again->seeded_bytes, 0u);
  EXPECT_EQ(again->recorded_bytes, 0u);
  EXPECT_GT(again->seed_aligned_bytes, v.v6.size() - (2u << 20));  // all but the zeroed MiB
  EXPECT_EQ(ReadFile(target), v.v6);
  ASSERT_GE(reports.size(), 2u);
  EXPECT_LE(reports.front(), 1u << 20);
  EXPECT_TRUE(std::is_sorted(reports.begin(), reports.end()));
  EXPECT_EQ(reports.back(), v.v6.size());
}

// Two blocks of the target swapped: the moves form cycles that no order
// resolves, so a chunk of each is read first and held (one block's worth in
// all); everything else is moved. A target shifted whole (an insertion at its start) is one long
// chain of moves: nothing held, nothing but the insertion fetched.
TEST(SeedTest, InPlaceHoldsWhatACycleOfMovesNeedsAndMovesLongShifts) {
  Versions v;
  std::string swapped = v.v5;
  swapped.replace(1 << 20, 1 << 20, v.v5.substr(5 << 20, 1 << 20));
  swapped.replace(5 << 20, 1 << 20, v.v5.substr(1 << 20, 1 << 20));
  ASSERT_TRUE(Put(v.store, WriteFile(v.dir, "swapped", swapped), SmallPut("swapped", "cdc")));
  const std::string target = WriteFile(v.dir, "target", v.v5);
  GetOptions o = Quiet();
  o.in_place = true;
  auto r = Get(v.store, "swapped", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), swapped);
  // Swapping two blocks in place needs one of them in memory, not both:
  // each chunk held breaks the cycles through it (less the chunks across
  // the blocks' edges, which are new).
  EXPECT_GT(r->held_bytes, 512u << 10);
  EXPECT_LE(r->held_bytes, 1u << 20);
  EXPECT_GT(r->seeded_bytes, 1u << 20);
  // (What is fetched depends on timing: the scan reports the chunks of the
  // first block missing before the cut of the second finds them, and their
  // early reads may be under way by then.)

  const std::string shifted = MakeData(5000, 3) + v.v5;
  ASSERT_TRUE(Put(v.store, WriteFile(v.dir, "shifted", shifted), SmallPut("shifted", "cdc")));
  WriteFile(v.dir, "target", v.v5);
  o.memory_budget = 256 << 10;  // moves in windows of 256 KiB: their order counts
  r = Get(v.store, "shifted", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), shifted);
  EXPECT_EQ(r->held_bytes, 0u);
  EXPECT_GT(r->seeded_bytes, 7u << 20);
  EXPECT_LT(r->fetched_bytes, 512u << 10);
}

TEST(SeedTest, InPlaceShrinksGrowsAndRefusesAStream) {
  Versions v;
  ASSERT_TRUE(Put(v.store, WriteFile(v.dir, "small", v.v6.substr(0, 3 << 20)), SmallPut("small")));
  const std::string target = WriteFile(v.dir, "target", v.v5);
  GetOptions o = Quiet();
  o.in_place = true;
  auto r = Get(v.store, "small", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v.v6.substr(0, 3 << 20));
  r = Get(v.store, "v6", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v.v6);
  auto bad = Get(v.store, "v6", "-", o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

// Writes `bytes` to dir/name with a modification time an hour back (as a
// file put a while ago has), so that a restore of it is recorded (a record
// needs the restored modification time to differ from the change time).
std::string OldFile(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = WriteFile(dir, name, bytes);
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  ::clock_gettime(CLOCK_REALTIME, &times[1]);
  times[1].tv_sec -= 3600;
  EXPECT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  return path;
}

// A file a get wrote and nothing changed since is known by its record: an
// in-place update does not read the chunks it holds where the new version
// wants them (but for a sample). A write, even one that puts the
// modification time back, moves the change time: the file is read again.
TEST(SeedTest, UnchangedTargetIsKnownByItsRecordAndAChangedOneIsReadAgain) {
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  const std::string v5 = MakeData(8 << 20, 5), v6 = NextVersion(v5);
  ASSERT_TRUE(Put(store, OldFile(dir, "v5", v5), SmallPut("v5", "cdc")));
  ASSERT_TRUE(Put(store, OldFile(dir, "v6", v6), SmallPut("v6", "cdc")));
  GetOptions o = Quiet();
  const std::string records = FileRecordDir(o.reader.disk_cache_dir);
  const std::string target = dir.path() + "/target";
  ASSERT_TRUE(Get(store, "v5", target, o));
  struct stat st;
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  auto record = ReadFileRecord(records, st);
  ASSERT_TRUE(record.has_value());
  auto m5 = LoadManifestOfRef(*store, "v5", *LoadRef(*store, "v5"));
  ASSERT_TRUE(m5);
  ASSERT_EQ(record->size(), m5->frames.size());
  for (size_t i = 0; i < record->size(); ++i) {
    EXPECT_EQ((*record)[i].offset, m5->frames[i].offset);
    EXPECT_EQ((*record)[i].zero, m5->frames[i].zero);
    if (!m5->frames[i].zero) {
      EXPECT_EQ((*record)[i].chunk, m5->frames[i].chunk);
    }
  }

  // In place, from the record: the chunks in place are not read, the moved
  // ones are (and checked), only the new ones are fetched.
  o.in_place = true;
  auto r = Get(store, "v6", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v6);
  EXPECT_EQ(r->seed_recorded_files, 1u);
  EXPECT_GT(r->recorded_bytes, 512u << 10);
  // (but for a sample of them, one chunk in 64 and at least one: read and
  // checked; a scan would read all 8 MiB)
  EXPECT_GT(r->seed_scanned_bytes, 0u);
  EXPECT_LT(r->seed_scanned_bytes, v6.size() / 8);
  EXPECT_EQ(r->recorded_bytes, r->in_place_bytes);
  EXPECT_GT(r->seeded_bytes, 4u << 20);
  EXPECT_LT(r->fetched_bytes, 2u << 20);
  // The record now says v6.
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  record = ReadFileRecord(records, st);
  ASSERT_TRUE(record.has_value());
  auto m6 = LoadManifestOfRef(*store, "v6", *LoadRef(*store, "v6"));
  ASSERT_TRUE(m6);
  EXPECT_EQ(ContentDigestOf(*record), ContentDigestOf(m6->frames));

  // A byte changed and the modification time put back: same size, same
  // modification time, but the change time moved. The target is read,
  // and the byte restored.
  {
    ScopedFd fd(::open(target.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    const uint8_t bad = static_cast<uint8_t>(v6[3 << 20] ^ 0xff);
    ASSERT_EQ(::pwrite(fd.get(), &bad, 1, 3 << 20), 1);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::futimens(fd.get(), times), 0);
  }
  struct stat changed;
  ASSERT_EQ(::stat(target.c_str(), &changed), 0);
  EXPECT_EQ(changed.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
  EXPECT_EQ(changed.st_size, st.st_size);
  EXPECT_FALSE(ReadFileRecord(records, changed).has_value());
  r = Get(store, "v6", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v6);
  EXPECT_EQ(r->recorded_bytes, 0u);
  EXPECT_EQ(r->seed_recorded_files, 0u);
  EXPECT_GT(r->seed_scanned_bytes, 4u << 20);
  EXPECT_GT(r->fetched_bytes, 0u);  // the chunk with the changed byte

  // verify_target: read all the same, though the record matches again.
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  ASSERT_TRUE(ReadFileRecord(records, st).has_value());
  o.verify_target = true;
  r = Get(store, "v6", target, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->recorded_bytes, 0u);
  EXPECT_GT(r->seed_scanned_bytes, 4u << 20);
  EXPECT_EQ(r->fetched_bytes, 0u);

  // A record that lies (it says v6; the file holds other bytes of v6's
  // size): the sample read in place finds out, and the file is scanned.
  {
    const std::string liar = OldFile(dir, "liar", MakeData(v6.size(), 77));
    ScopedFd fd(::open(liar.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(WriteFileRecord(records, fd.get(), *m6));
    GetOptions l = Quiet();
    l.in_place = true;
    r = Get(store, "v6", liar, l);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(ReadFile(liar), v6);
    EXPECT_EQ(r->recorded_bytes, 0u);
    EXPECT_EQ(r->seed_recorded_files, 0u);
  }
}

// A seed not cut like the file (here: v5 behind a short insertion, so no
// chunk is at its own offset) is cut in segments, in parallel: each
// segment's cut starts a little early and falls in step with the file's cut
// points before its segment begins, so it finds every chunk one cut finds.
TEST(SeedTest, ShiftedSeedIsCutInParallelSegmentsAndFindsWhatOneCutFinds) {
  Versions v;
  const std::string path = WriteFile(v.dir, "shifted", MakeData(3333, 42) + v.v5);
  const Manifest m = v.Load("v5");
  SeedScanOptions one;
  one.threads = 1;
  SeedScanOptions many;
  many.threads = 4;
  many.segment_bytes = 1 << 20;  // 9 segments
  auto a = SeedIndex::Build(m, {path}, nullptr, one);
  ASSERT_TRUE(a) << a.error().message();
  auto b = SeedIndex::Build(m, {path}, nullptr, many);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ((*a)->aligned_bytes(), 0u);
  EXPECT_EQ((*b)->aligned_bytes(), 0u);
  // Each segment's lead is cut twice: the parallel cut ran.
  EXPECT_GT((*b)->scanned_bytes(), (*a)->scanned_bytes());
  size_t frames = 0, by_one = 0, by_many = 0;
  std::vector<uint8_t> buf;
  for (const FrameRef& f : m.frames) {
    if (f.zero) continue;
    ++frames;
    if ((*a)->Find(f.chunk) != nullptr) ++by_one;
    const SeedIndex::Source* src = (*b)->Find(f.chunk);
    if (src == nullptr) continue;
    ++by_many;
    buf.resize(f.length);
    EXPECT_TRUE((*b)->Read(*src, buf, m.chunk_hash, f.chunk)) << "frame at " << f.offset;
  }
  EXPECT_GE(by_one, frames - 1);  // all but the first, which the insertion cut short
  EXPECT_EQ(by_many, by_one);

  // Restoring a new file, each chunk found is written by the cut at once,
  // from the bytes it hashed (once, however many cuts found it): in one cut
  // and in segments.
  for (unsigned threads : {1u, 4u}) {
    SCOPED_TRACE(threads);
    const std::string out = v.dir.path() + "/out" + std::to_string(threads);
    ScopedFd fd(::open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(v.v5.size())), 0);
    std::vector<uint8_t> done(m.frames.size(), 0);
    std::atomic<uint64_t> written{0};
    SeedScanOptions w = threads == 1 ? one : many;
    w.write_fd = fd.get();
    w.write_name = out;
    w.done = &done;
    w.on_written = [&](uint64_t n) { written += n; };
    auto c = SeedIndex::Build(m, {path}, nullptr, w);
    ASSERT_TRUE(c) << c.error().message();
    const std::string bytes = ReadFile(out);
    uint64_t done_bytes = 0;
    size_t done_frames = 0;
    for (size_t i = 0; i < m.frames.size(); ++i) {
      if (!done[i]) continue;
      const FrameRef& f = m.frames[i];
      ++done_frames;
      done_bytes += f.length;
      EXPECT_EQ(bytes.compare(f.offset, f.length, v.v5, f.offset, f.length), 0)
          << "frame at " << f.offset;
    }
    EXPECT_EQ(done_frames, by_one);
    EXPECT_EQ(written.load(), done_bytes);
  }
}

TEST(SeedTest, SeedDirFindsTheOldVersionAndSkipsTheRest) {
  Versions v;
  TempDir seeds;
  WriteFile(seeds, "tiny", "x");  // shorter than a chunk: not a candidate
  WriteFile(seeds, "junk", MakeData(1 << 20, 77));
  ASSERT_EQ(::mkdir((seeds.path() + "/sub").c_str(), 0755), 0);
  const std::string old = seeds.path() + "/sub/v5.img";
  std::rename(WriteFile(seeds, "v5.tmpname", v.v5).c_str(), old.c_str());
  auto list = ListSeedDir(seeds.path(), v.v6.size(), v.Load("v6").chunker, {});
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], old);  // closest in size first
  GetOptions o = Quiet();
  o.seed_dirs = {seeds.path()};
  auto r = Get(v.store, "v6", v.dir.path() + "/out", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(v.dir.path() + "/out"), v.v6);
  EXPECT_GT(r->seeded_bytes, 5u << 20);
  auto missing = ListSeedDir(seeds.path() + "/nope", 1, v.Load("v6").chunker, {});
  ASSERT_FALSE(missing);
}

TEST(DiffTest, RangesMergeAndTheFetchEstimateCountsNewChunksOnce) {
  Versions v;
  const Manifest a = v.Load("v5");
  const Manifest b = v.Load("v6");
  DiffReport same = DiffManifests(a, a);
  EXPECT_TRUE(same.ranges.empty());
  EXPECT_EQ(same.fetch_chunks, 0u);
  DiffReport d = DiffManifests(a, b);
  EXPECT_TRUE(d.same_chunker);
  ASSERT_FALSE(d.ranges.empty());
  uint64_t sum = 0;
  for (size_t i = 0; i < d.ranges.size(); ++i) {
    if (i > 0) {  // ordered and merged: a gap between any two
      EXPECT_GT(d.ranges[i].offset, d.ranges[i - 1].offset + d.ranges[i - 1].length);
    }
    sum += d.ranges[i].length;
  }
  EXPECT_EQ(sum, d.differing_bytes);
  EXPECT_LT(d.fetch_plain_bytes, 2u << 20);
  EXPECT_GT(d.seeded_bytes, 4u << 20);
  // The first edit is at 300000: the range before it is equal.
  EXPECT_GT(d.ranges.front().offset, 0u);
  EXPECT_LE(d.ranges.front().offset, 300000u);
  // What a seeded get really fetches is what diff said (no gaps read: a
  // local store's runs are exact).
  GetOptions o = Quiet();
  o.seeds = {WriteFile(v.dir, "seed", v.v5)};
  auto r = Get(v.store, "v6", v.dir.path() + "/out", o);
  ASSERT_TRUE(r);
  EXPECT_GE(r->fetched_bytes, d.fetch_bytes);
  EXPECT_LE(r->fetched_bytes, d.fetch_bytes + (512u << 10));
}

TEST(DiskCacheClaimTest, OneFetcherPerChunkAcrossOpenCaches) {
  TempDir dir;
  auto a = DiskCache::Open(dir.path(), 64 << 20);
  auto b = DiskCache::Open(dir.path(), 64 << 20);  // stands for another process
  ASSERT_TRUE(a->enabled());
  const std::string data = "chunk";
  const ChunkId id = Blake3Of({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  DiskCache::Claim ca, cb;
  ASSERT_EQ(a->TryClaim(id, &ca), DiskCache::ClaimState::kClaimed);
  EXPECT_EQ(b->TryClaim(id, &cb), DiskCache::ClaimState::kBusy);
  EXPECT_FALSE(b->WaitUnclaimed(id, 20));  // still held: times out
  a->Put(id, Buffer::Copy(std::string_view("chunk")));
  ca.Release();
  EXPECT_TRUE(b->WaitUnclaimed(id, 1000));
  Buffer got;
  EXPECT_TRUE(b->Get(id, 5, &got));
  EXPECT_EQ(got.view(), "chunk");
  // Released means free again, and no claim file is left behind.
  ASSERT_EQ(b->TryClaim(id, &cb), DiskCache::ClaimState::kClaimed);
  cb.Release();
  struct stat st {};
  EXPECT_NE(::stat(b->ClaimPathFor(id).c_str(), &st), 0);
}

}  // namespace
}  // namespace hugeblob

namespace hugeblob {
namespace {

using namespace testing_gc;

// A seed where nothing moved (overwrites only) is checked at the file's own
// offsets, in parallel, and read once; only the edited chunks are fetched.
TEST(SeedTest, AlignedSeedIsReadOnceAndOnlyEditsAreFetched) {
  TempDir dir;
  auto store = std::make_shared<MemoryStore>();
  const std::string v5 = MakeData(8 << 20, 15);
  std::string v6 = v5;
  for (size_t at : {100000u, 2500000u, 4000000u, 7000000u}) v6.replace(at, 50, MakeData(50, at));
  ASSERT_TRUE(Put(store, WriteFile(dir, "v6", v6), SmallPut("v6", "cdc")));
  GetOptions o;
  o.reader.disk_cache = false;
  o.seeds = {WriteFile(dir, "v5", v5)};
  auto r = Get(store, "v6", dir.path() + "/out", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(dir.path() + "/out"), v6);
  EXPECT_GT(r->seeded_bytes, 6u << 20);
  EXPECT_LT(r->seed_scanned_bytes, v5.size() + (v5.size() / 8));  // about once
  EXPECT_GT(r->seed_aligned_bytes, 6u << 20);                     // most not cut at all
  EXPECT_LT(r->fetched_bytes, 1u << 20);
  // In place: the same, and nothing but the edits is written.
  const std::string target = WriteFile(dir, "target", v5);
  GetOptions p = o;
  p.seeds.clear();
  p.in_place = true;
  r = Get(store, "v6", target, p);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v6);
  EXPECT_GT(r->in_place_bytes, 6u << 20);
  EXPECT_EQ(r->held_bytes, 0u);
}

// The store's reads start while the seed is scanned: the frames the seed
// lacks are fetched early, and still only those (a chunk that only moved is
// found by the cut of its gap and not fetched). A seed rewritten during the
// scan only costs fetches: the output is v6 exactly.
TEST(SeedTest, FetchOverlapsTheScanAndStaysExact) {
  Versions v;
  // v7: v5 with four 400 KB stretches rewritten and 70000 bytes inserted
  // at 3 MiB (the rest shifts).
  std::string v7 = v.v5;
  for (size_t at : {500000u, 2000000u, 4500000u, 7000000u})
    v7.replace(at, 400000, MakeData(400000, at));
  v7.insert(3 << 20, MakeData(70000, 77));
  ASSERT_TRUE(Put(v.store, WriteFile(v.dir, "v7", v7), SmallPut("v7", "cdc")));
  const DiffReport d = DiffManifests(v.Load("v5"), v.Load("v7"));
  GetOptions o = Quiet();
  o.seeds = {WriteFile(v.dir, "seed", v.v5)};
  auto r = Get(v.store, "v7", v.dir.path() + "/out", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(v.dir.path() + "/out"), v7);
  EXPECT_GT(r->early_fetched_bytes, 0u);
  EXPECT_LE(r->early_fetched_bytes, r->fetched_bytes);
  // What diff predicts, plus at most 64 KiB of gap per read.
  EXPECT_GE(r->fetched_bytes, d.fetch_bytes);
  EXPECT_LE(r->fetched_bytes, d.fetch_bytes + r->store_requests * (64u << 10));
  // In place, the same.
  const std::string target = WriteFile(v.dir, "target", v.v5);
  GetOptions p = Quiet();
  p.in_place = true;
  r = Get(v.store, "v7", target, p);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(ReadFile(target), v7);
  EXPECT_GT(r->early_fetched_bytes, 0u);
  EXPECT_GE(r->fetched_bytes, d.fetch_bytes);
  EXPECT_LE(r->fetched_bytes, d.fetch_bytes + r->store_requests * (64u << 10));

  // A seed where nothing moved, rewritten after the first batch of the
  // aligned pass: the rest of the pass and the cut find nothing, and what
  // the seed lost is fetched, most of it while the scan still runs.
  const std::string a5 = MakeData(8 << 20, 15);
  std::string a6 = a5;
  for (size_t at : {100000u, 2500000u, 4000000u, 7000000u}) a6.replace(at, 50, MakeData(50, at));
  ASSERT_TRUE(Put(v.store, WriteFile(v.dir, "a6", a6), SmallPut("a6", "cdc")));
  bool clobbered = false;
  GetOptions c = ClobberingSeed(v.dir, "seed2", a5, 98, &clobbered);
  r = Get(v.store, "a6", v.dir.path() + "/out2", c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(clobbered);
  EXPECT_EQ(ReadFile(v.dir.path() + "/out2"), a6);
  EXPECT_GT(r->early_fetched_bytes, 4u << 20);
  EXPECT_LT(r->seeded_bytes, 4u << 20);
}

}  // namespace
}  // namespace hugeblob
