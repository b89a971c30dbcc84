#include "repo/frames.h"

#include <gtest/gtest.h>

#include <random>

#include "format/layout.h"
#include "store/memory_store.h"
#include "testing/wrapper_store.h"

namespace hugeblob {
namespace {

StoredFrame S(uint32_t pack, uint64_t offset, uint32_t length) {
  StoredFrame f;
  f.pack = pack;
  f.offset = offset;
  f.stored_length = length;
  f.length = length;
  return f;
}

std::vector<size_t> Sorted(const std::vector<StoredFrame>& frames) {
  std::vector<size_t> order(frames.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  SortForReading(frames, &order);
  return order;
}

// ---- the plan ----

TEST(PlanReadsTest, MergesNeighboursOfOnePackInAnyOrder) {
  std::vector<StoredFrame> frames = {S(0, 300, 100), S(0, 0, 100),   S(1, 0, 100),
                                     S(0, 100, 100), S(0, 200, 100), S(1, 100, 100)};
  auto order = Sorted(frames);
  EXPECT_EQ(order, (std::vector<size_t>{1, 3, 4, 0, 2, 5}));
  auto reads = PlanReads(frames, order, 1 << 20, 0);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].pack, 0u);
  EXPECT_EQ(reads[0].begin, 0u);
  EXPECT_EQ(reads[0].end, 400u);
  EXPECT_EQ(reads[0].first, 0u);
  EXPECT_EQ(reads[0].last, 4u);
  EXPECT_EQ(reads[1].pack, 1u);
  EXPECT_EQ(reads[1].bytes(), 200u);
  EXPECT_TRUE(PlanReads(frames, {}, 1 << 20, 0).empty());
}

TEST(PlanReadsTest, GapsJoinUpToMaxGapAndNeverAcrossPacks) {
  std::vector<StoredFrame> frames = {S(1, 0, 100), S(1, 200, 100), S(1, 1000, 100),
                                     S(2, 1100, 100)};
  auto order = Sorted(frames);
  EXPECT_EQ(PlanReads(frames, order, 1 << 20, 0).size(), 4u);
  EXPECT_EQ(PlanReads(frames, order, 1 << 20, 99).size(), 4u);
  EXPECT_EQ(PlanReads(frames, order, 1 << 20, 100).size(), 3u);  // {0,1} {2} {3}
  auto wide = PlanReads(frames, order, 1 << 20, 1000);
  ASSERT_EQ(wide.size(), 2u);  // {0,1,2} {3}: the gaps are read and dropped
  EXPECT_EQ(wide[0].bytes(), 1100u);
  // A frame over the cap is a read of its own, whatever the gap.
  EXPECT_EQ(PlanReads(frames, order, 1, 1000).size(), 4u);
}

TEST(PlanReadsTest, LongStretchesSplitIntoEqualParts) {
  // 33 back-to-back frames of 512 KiB: 16.5 MiB, three reads of 5.5 MiB
  // under an 8 MiB cap (not 8 + 8 + 0.5), and one read under a 17 MiB cap.
  std::vector<StoredFrame> frames;
  for (uint32_t i = 0; i < 33; ++i) frames.push_back(S(3, uint64_t{i} << 19, 1 << 19));
  auto order = Sorted(frames);
  auto reads = PlanReads(frames, order, 8 << 20, 0);
  ASSERT_EQ(reads.size(), 3u);
  for (const PlannedRead& r : reads) EXPECT_EQ(r.last - r.first, 11u);
  EXPECT_EQ(reads[2].end, 33ull << 19);
  EXPECT_EQ(PlanReads(frames, order, 17 << 20, 0).size(), 1u);
  // Every frame is in exactly one read, and every read within the cap.
  size_t covered = 0;
  for (const PlannedRead& r : PlanReads(frames, order, 3 << 20, 0)) {
    EXPECT_LE(r.bytes(), 3u << 20);
    EXPECT_EQ(r.first, covered);
    covered = r.last;
  }
  EXPECT_EQ(covered, frames.size());
}

TEST(PlanReadsTest, AFrameListedTwiceIsReadOnce) {
  // A file that repeats a chunk lists its frame twice; both positions come
  // out of the same read.
  std::vector<StoredFrame> frames = {S(0, 0, 100), S(0, 100, 100), S(0, 0, 100)};
  auto order = Sorted(frames);
  auto reads = PlanReads(frames, order, 1 << 20, 0);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].bytes(), 200u);
  EXPECT_EQ(reads[0].last - reads[0].first, 3u);
}

// ---- what requests cost, and the shape of reads ----

TEST(RequestCostTest, FitsLatencyAndBandwidth) {
  RequestCost cost;
  EXPECT_EQ(cost.BreakEvenBytes(), 0u);  // nothing measured
  EXPECT_EQ(cost.min_seconds(), 0.0);
  // 30 ms + bytes at 100 MB/s, sizes from 128 KiB to 8 MiB.
  for (int i = 0; i < 32; ++i) {
    const uint64_t bytes = (128ull << 10) << (i % 7);
    cost.Record(bytes, 0.030 + static_cast<double>(bytes) / 100e6);
  }
  EXPECT_NEAR(cost.latency_seconds(), 0.030, 0.001);
  EXPECT_NEAR(cost.bytes_per_second(), 100e6, 1e6);
  EXPECT_NEAR(static_cast<double>(cost.BreakEvenBytes()), 3e6, 0.1e6);
  EXPECT_NEAR(cost.min_seconds(), 0.030 + (128 << 10) / 100e6, 1e-6);
  // Behind a 20 ms wait with a fast link: size makes no measurable
  // difference, so the break-even size is as large as a planner allows.
  RequestCost waiting;
  for (int i = 0; i < 32; ++i) {
    waiting.Record((64ull << 10) << (i % 5), 0.020 + 0.002 * ((i * 7) % 3));
  }
  EXPECT_NEAR(waiting.latency_seconds(), 0.021, 0.002);
  EXPECT_GE(waiting.BreakEvenBytes(), 64ull << 20);
  // A local disk: 50 us + 2 GB/s. Break-even ~100 KB.
  RequestCost disk;
  for (int i = 0; i < 32; ++i) {
    const uint64_t bytes = (64ull << 10) << (i % 5);
    disk.Record(bytes, 50e-6 + static_cast<double>(bytes) / 2e9);
  }
  EXPECT_LT(disk.BreakEvenBytes(), 1u << 20);
  // Sizes all alike say nothing: no estimate rather than a wrong one.
  RequestCost same;
  for (int i = 0; i < 32; ++i) same.Record(1 << 20, 0.030 + 0.001 * (i % 3));
  EXPECT_EQ(same.BreakEvenBytes(), 0u);
}

TEST(ShapeReadsTest, WholePacksAndAWindowOfTheBandwidthDelayProduct) {
  constexpr uint64_t kMiB = 1 << 20;
  // Nothing measured yet: whole packs (16 MiB) when the budget holds two,
  // min_window in flight, a small gap.
  ReadShape cold = ShapeReads(nullptr, 0, 16 * kMiB, 64 * kMiB, 2, 16);
  EXPECT_EQ(cold.max_request, 17 * kMiB);
  EXPECT_EQ(cold.window, 2u);
  EXPECT_EQ(cold.max_gap, 64u << 10);
  // A small budget: smaller requests, never fewer than min_window of them.
  ReadShape tight = ShapeReads(nullptr, 0, 16 * kMiB, 8 * kMiB, 2, 16);
  EXPECT_EQ(tight.max_request, 4 * kMiB);
  // A small read spreads over min_window requests.
  EXPECT_EQ(ShapeReads(nullptr, 6 * kMiB, 16 * kMiB, 64 * kMiB, 2, 16).max_request, 3 * kMiB);

  // 30 ms, 400 MB/s a connection: 12 MB in flight hides the latency.
  RequestCost s3;
  for (int i = 0; i < 32; ++i) {
    const uint64_t bytes = (1ull << 20) << (i % 5);
    s3.Record(bytes, 0.030 + static_cast<double>(bytes) / 400e6);
  }
  ReadShape warm = ShapeReads(&s3, 0, 4 * kMiB, 256 * kMiB, 2, 16);
  EXPECT_EQ(warm.max_request, 4 * kMiB + kMiB / 4);
  // ceil(12e6 / 4.25 MiB) + 1 = 4 in flight.
  EXPECT_EQ(warm.window, 4u);
  EXPECT_EQ(warm.max_gap, warm.max_request / 8);  // half the BDP is more: capped
  // The same store with a budget for two requests: two, not four.
  EXPECT_EQ(ShapeReads(&s3, 0, 4 * kMiB, 9 * kMiB, 2, 16).window, 2u);
  // ...and never past max_window.
  EXPECT_EQ(ShapeReads(&s3, 0, kMiB, 256 * kMiB, 2, 3).window, 3u);

  // A local disk: the latency is nothing, min_window is enough.
  RequestCost disk;
  for (int i = 0; i < 32; ++i) {
    const uint64_t bytes = (64ull << 10) << (i % 5);
    disk.Record(bytes, 50e-6 + static_cast<double>(bytes) / 2e9);
  }
  ReadShape local = ShapeReads(&disk, 0, 16 * kMiB, 64 * kMiB, 2, 16);
  EXPECT_EQ(local.window, 2u);
  EXPECT_LT(local.max_gap, 64u << 10);
}

// ---- decoding, reading ranges, fetching in order ----

std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::span<const uint8_t> U(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// `n` frames of 256 KiB in one pack of `store`, stored raw; one pack key.
FrameList StoreFrames(MemoryStore& store, int n) {
  FrameList list;
  std::string pack;
  Hash256 pack_id;
  pack_id.bytes[0] = 7;
  for (int i = 0; i < n; ++i) {
    std::string chunk = Bytes(256 << 10, 100 + i);
    FrameRef f;
    f.stored_offset = pack.size();
    f.stored_length = static_cast<uint32_t>(chunk.size());
    f.length = f.stored_length;
    f.codec = Codec::kNone;
    f.hash = HashAlgo::kBlake3;
    f.chunk = ChunkHash(HashAlgo::kBlake3, U(chunk));
    pack += chunk;
    list.Add(pack_id, f);
  }
  EXPECT_TRUE(static_cast<ObjectStore&>(store).Put(PackKey(pack_id), Buffer::Copy(U(pack))));
  return list;
}

TEST(DecodeVerifiedTest, ChecksTheIdAndNamesTheFrame) {
  std::string plain;
  for (int i = 0; plain.size() < 10000; ++i) plain += "line " + std::to_string(i % 97) + "\n";
  auto frame = EncodeFrame(Codec::kZstd, 3, Buffer::Copy(U(plain)));
  ASSERT_TRUE(frame);
  ASSERT_EQ(frame->codec, Codec::kZstd);
  std::vector<uint8_t> packed(frame->bytes.span().begin(), frame->bytes.span().end());
  StoredFrame f = S(0, 4096, static_cast<uint32_t>(packed.size()));
  f.length = static_cast<uint32_t>(plain.size());
  f.codec = Codec::kZstd;
  f.chunk = ChunkHash(HashAlgo::kBlake3, U(plain));
  std::vector<uint8_t> scratch;
  auto view = DecodeVerifiedView(f, packed, &scratch, "packs/ab/cd");
  ASSERT_TRUE(view) << view.error().message();
  EXPECT_TRUE(std::equal(view->begin(), view->end(), U(plain).begin()));
  auto owned = DecodeVerified(f, packed, "packs/ab/cd", nullptr);
  ASSERT_TRUE(owned);
  EXPECT_EQ(owned->size(), plain.size());
  // Named by a SHA-256 instead: refused, unless the caller allows the other hash.
  StoredFrame g = f;
  g.chunk = ChunkHash(HashAlgo::kSha256, U(plain));
  auto wrong = DecodeVerifiedView(g, packed, &scratch, "packs/ab/cd");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(wrong.error().message().find("packs/ab/cd offset 4096"), std::string::npos);
  const HashAlgo other = HashAlgo::kSha256;
  EXPECT_TRUE(DecodeVerifiedView(g, packed, &scratch, "packs/ab/cd", &other));
  // A flipped byte: the codec or the id check says so, never wrong bytes.
  packed[packed.size() / 2] ^= 1;
  auto flipped = DecodeVerified(f, packed, "packs/ab/cd", nullptr);
  ASSERT_FALSE(flipped);
  EXPECT_EQ(flipped.error().code(), ErrorCode::kCorruption);
  // A raw frame of the wrong length.
  StoredFrame raw = S(0, 0, 10);
  raw.length = 11;
  auto short_raw = DecodeVerifiedView(raw, U(plain).first(10), &scratch, "packs/ab/cd");
  ASSERT_FALSE(short_raw);
  EXPECT_NE(short_raw.error().message().find("raw frame of 10 bytes"), std::string::npos);
}

// A store that answers a ranged GET with more or fewer bytes than asked: a
// server that ignores the Range header, or an object cut short.
class LyingStore : public ForwardingStore {
 public:
  LyingStore(std::shared_ptr<ObjectStore> base, int64_t skew)
      : ForwardingStore(std::move(base)), skew_(skew) {}
  Result<Buffer> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    HB_ASSIGN_OR_RETURN(Buffer b, ForwardingStore::GetRange(key, offset, length));
    if (skew_ < 0) return b.Slice(0, b.size() - static_cast<size_t>(-skew_));
    return ForwardingStore::GetRange(key, 0, length + static_cast<uint64_t>(skew_));
  }

 private:
  int64_t skew_;
};

TEST(ReadRangeTest, ATruncatedOrOverlongResponseIsNamed) {
  auto mem = std::make_shared<MemoryStore>();
  FrameList list = StoreFrames(*mem, 4);
  PlannedRead r{0, 1000, 5000, 0, 0};
  RequestCost cost;
  auto ok = ReadRange(*mem, list.pack_keys[0], r, &cost);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 4000u);
  EXPECT_GT(cost.min_seconds(), 0.0);
  for (int64_t skew : {-1, 7}) {
    LyingStore liar(mem, skew);
    auto bad = ReadRange(liar, list.pack_keys[0], r, nullptr);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), ErrorCode::kCorruption);
    const std::string& msg = bad.error().message();
    EXPECT_NE(msg.find(list.pack_keys[0] + " bytes 1000..5000"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(4000 + skew) + " bytes"), std::string::npos) << msg;
    // The same read into the caller's memory: refused, named, and never
    // written past the buffer.
    Buffer owner = Buffer::Allocate(4000);
    Status in_place = ReadRangeInto(liar, list.pack_keys[0], r, owner,
                                    {owner.mutable_data(), owner.size()}, nullptr);
    ASSERT_FALSE(in_place);
    EXPECT_EQ(in_place.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(in_place.error().message().find(list.pack_keys[0] + " bytes 1000..5000"),
              std::string::npos)
        << in_place.error().message();
    EXPECT_NE(in_place.error().message().find(std::to_string(4000 + skew) + " bytes returned"),
              std::string::npos)
        << in_place.error().message();
  }
  // A pack that is not there: damage, named.
  auto gone = ReadRange(*mem, "packs/00/missing", r, nullptr);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(gone.error().message().find("packs/00/missing: pack is missing"), std::string::npos);
}

TEST(FetchFramesTest, WindowDoublesWhileTheSinkWaitsAndStaysInTheBound) {
  auto mem = std::make_shared<MemoryStore>();
  FrameList list = StoreFrames(*mem, 64);  // 16 MiB
  auto slow = std::make_shared<FaultInjectingStore>(mem);
  FaultRule delay;
  delay.op = StoreOp::kGetRange;
  delay.times = -1;
  delay.action = FaultRule::Action::kDelay;
  delay.delay_ms = 20;  // a remote store's round trip
  slow->AddRule(delay);
  WindowOptions o;
  o.threads = 1;
  o.min_window = 2;
  o.max_window = 8;
  o.private_copies = false;
  ReadShape shape;
  shape.max_request = 512 << 10;  // 32 requests
  WindowStats stats;
  size_t seen = 0;
  ASSERT_TRUE(FetchFrames(
      *slow, list, shape, o,
      [&](const StoredFrame& f, const Buffer& b) -> Status {
        EXPECT_EQ(f.offset, list.frames[seen].offset);
        EXPECT_EQ(b.size(), f.stored_length);
        ++seen;
        return OkStatus();
      },
      &stats));
  EXPECT_EQ(seen, list.frames.size());
  EXPECT_EQ(stats.requests, 32u);
  EXPECT_EQ(stats.bytes, 16u << 20);
  // The sink always finds the store slower than itself: 2, 4, 8 and no more.
  EXPECT_EQ(stats.max_window_used, 8u);
  EXPECT_GE(stats.stalls, 3u);
}

TEST(FetchFramesTest, SlicesCopiesAndDecodedBytesAgreeAndCorruptionIsNamed) {
  auto mem = std::make_shared<MemoryStore>();
  FrameList list = StoreFrames(*mem, 8);
  for (int mode = 0; mode < 3; ++mode) {
    WindowOptions o;
    o.private_copies = mode != 1;
    o.stored_bytes = mode != 2;
    std::vector<Buffer> kept;  // kept past the call: every form owns its bytes
    ASSERT_TRUE(FetchFrames(*mem, list, ReadShape{}, o, [&](const StoredFrame&, const Buffer& b) {
      kept.push_back(b);
      return OkStatus();
    }));
    ASSERT_EQ(kept.size(), list.frames.size());
    for (size_t i = 0; i < kept.size(); ++i) {
      EXPECT_EQ(ChunkHash(HashAlgo::kBlake3, kept[i].span()), list.frames[i].chunk);
    }
  }
  auto bad = std::make_shared<FaultInjectingStore>(mem);
  FaultRule corrupt;
  corrupt.action = FaultRule::Action::kCorrupt;
  bad->AddRule(corrupt);
  Status st = FetchFrames(*bad, list, ReadShape{}, WindowOptions{},
                          [](const StoredFrame&, const Buffer&) { return OkStatus(); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(st.error().message().find(list.pack_keys[0]), std::string::npos);
  // A sink error stops the fetch and is what the caller sees.
  Status stopped = FetchFrames(*mem, list, ReadShape{}, WindowOptions{},
                               [](const StoredFrame&, const Buffer&) -> Status {
                                 return Fail(ErrorCode::kNoSpace, "disk full");
                               });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().message(), "disk full");
}

}  // namespace
}  // namespace hugeblob
