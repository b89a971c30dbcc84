#include "reader/segmented_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "reader/readahead.h"
#include "repo/manifests.h"

namespace hugeblob {
namespace {

// Leaves kept per open file: about 80 KiB of frame table each.
constexpr size_t kLeavesKept = 8;

struct Leaf {
  SegmentRef ref;
  uint64_t first_frame = 0;  // global index of its first frame
  std::unique_ptr<BlobReader> reader;
};
using LeafPtr = std::shared_ptr<const Leaf>;

class SegmentedReader final : public BlobReader {
 public:
  SegmentedReader(std::shared_ptr<ContextImpl> ctx, std::shared_ptr<ObjectStore> store,
                  std::shared_ptr<const Manifest> top, std::string label)
      : ctx_(std::move(ctx)),
        store_(std::move(store)),
        top_(std::move(top)),
        label_(std::move(label)),
        stream_(Readahead::For(*ctx_, *top_)) {
    frames_ = top_->frame_count();
  }

  uint64_t size() const override { return top_->size; }
  const Manifest& manifest() const override { return *top_; }
  uint64_t frame_count() const override { return frames_; }
  uint64_t data_bytes() const override {
    uint64_t n = 0;
    for (const SegmentRef& c : top_->children) n += c.data_bytes;
    return n;
  }
  Result<FrameRef> Frame(size_t frame_index) const override {
    if (frame_index >= frames_) {
      return Fail(ErrorCode::kInvalidArgument,
                  label_ + ": frame " + std::to_string(frame_index) + " out of range");
    }
    HB_ASSIGN_OR_RETURN(LeafPtr leaf, LeafOfFrame(frame_index));
    HB_ASSIGN_OR_RETURN(FrameRef f, leaf->reader->Frame(frame_index - leaf->first_frame));
    f.offset += leaf->ref.offset;
    return f;
  }
  Result<size_t> FrameAt(uint64_t offset) const override {
    if (offset >= top_->size) {
      return Fail(ErrorCode::kInvalidArgument,
                  label_ + ": offset " + std::to_string(offset) + " is past the end");
    }
    HB_ASSIGN_OR_RETURN(LeafPtr leaf, LeafAt(offset));
    HB_ASSIGN_OR_RETURN(size_t i, leaf->reader->FrameAt(offset - leaf->ref.offset));
    return leaf->first_frame + i;
  }

  Result<size_t> pread(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= top_->size || out.empty()) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), top_->size - offset));
    const uint64_t window = stream_.Observe(offset, n);
    size_t done = 0;
    LeafPtr leaf;
    while (done < n) {
      HB_ASSIGN_OR_RETURN(leaf, LeafAt(offset + done));
      const uint64_t in = offset + done - leaf->ref.offset;
      Entering(*leaf, in, n);
      const size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, leaf->ref.length - in));
      HB_ASSIGN_OR_RETURN(size_t got, leaf->reader->pread(in, out.subspan(done, want)));
      if (got != want) {
        return Fail(ErrorCode::kCorruption,
                    label_ + ": a segment ended early at offset " + std::to_string(offset + done));
      }
      done += got;
    }
    AfterRead(*leaf, offset + n, window);
    return n;
  }

  Result<BufferChain> ReadRange(uint64_t offset, uint64_t length) override {
    BufferChain out;
    if (offset >= top_->size || length == 0) return out;
    const uint64_t end = offset + std::min<uint64_t>(length, top_->size - offset);
    const uint64_t window = stream_.Observe(offset, end - offset);
    uint64_t pos = offset;
    LeafPtr leaf;
    while (pos < end) {
      HB_ASSIGN_OR_RETURN(leaf, LeafAt(pos));
      const uint64_t in = pos - leaf->ref.offset;
      Entering(*leaf, in, end - offset);
      const uint64_t want = std::min(end - pos, leaf->ref.length - in);
      HB_ASSIGN_OR_RETURN(BufferChain part, leaf->reader->ReadRange(in, want));
      if (part.size() != want) {
        return Fail(ErrorCode::kCorruption,
                    label_ + ": a segment ended early at offset " + std::to_string(pos));
      }
      for (const Buffer& b : part.pieces()) out.Append(b);
      pos += want;
    }
    AfterRead(*leaf, end, window);
    return out;
  }

  Result<Buffer> ReadFrame(size_t frame_index) override {
    if (frame_index >= frames_) {
      return Fail(ErrorCode::kInvalidArgument, label_ + ": frame " + std::to_string(frame_index) +
                                                   " out of range (" + std::to_string(frames_) +
                                                   " frames)");
    }
    HB_ASSIGN_OR_RETURN(LeafPtr leaf, LeafOfFrame(frame_index));
    return leaf->reader->ReadFrame(frame_index - leaf->first_frame);
  }

  void Prefetch(size_t first, size_t last) override {
    last = std::min<size_t>(last, frames_);
    while (first < last) {
      auto leaf = LeafOfFrame(first);
      if (!leaf) return;  // a hint: the read itself reports the error
      const size_t leaf_end = (*leaf)->first_frame + (*leaf)->ref.frame_count;
      (*leaf)->reader->Prefetch(first - (*leaf)->first_frame,
                                std::min(last, leaf_end) - (*leaf)->first_frame);
      first = leaf_end;
    }
  }

  Result<uint64_t> SeekData(uint64_t offset, bool hole) const override {
    if (offset < top_->size) {
      auto pos = Seek(top_->children, top_->levels - 1, offset, hole);
      if (!pos) return Fail(pos.error());
      if (*pos) return **pos;
      if (hole) return top_->size;  // the end of the file counts as a hole
    }
    return Fail(ErrorCode::kNotFound, label_ + ": no " + (hole ? "hole" : "data") +
                                          " at or after offset " + std::to_string(offset));
  }

 private:
  // The first position >= offset in data (or a hole) within `children`
  // (segments of `level`), skipping whole segments by their data bytes.
  Result<std::optional<uint64_t>> Seek(const std::vector<SegmentRef>& children, int level,
                                       uint64_t offset, bool hole) const {
    auto it = std::upper_bound(children.begin(), children.end(), offset,
                               [](uint64_t o, const SegmentRef& c) { return o < c.offset; });
    if (it != children.begin()) --it;
    for (; it != children.end(); ++it) {
      const SegmentRef& c = *it;
      if (c.offset + c.length <= offset) continue;
      const uint64_t from = std::max(offset, c.offset);
      const bool all_hole = c.data_bytes == 0, all_data = c.data_bytes == c.length;
      if (hole ? all_data : all_hole) continue;
      if (hole ? all_hole : all_data) return std::optional<uint64_t>(from);
      if (level > 0) {
        HB_ASSIGN_OR_RETURN(auto seg, Inner(c, static_cast<uint8_t>(level)));
        HB_ASSIGN_OR_RETURN(auto pos, Seek(seg->children, level - 1, from, hole));
        if (pos) return pos;
        continue;
      }
      HB_ASSIGN_OR_RETURN(LeafPtr leaf, LoadLeaf(c, std::nullopt));
      auto pos = leaf->reader->SeekData(from - c.offset, hole);
      if (pos && (!hole || *pos < c.length)) return std::optional<uint64_t>(c.offset + *pos);
      if (!pos && pos.error().code() != ErrorCode::kNotFound) return Fail(pos.error());
    }
    return std::optional<uint64_t>();
  }

  // An inner segment (level >= 1) by its entry, cached for the reader's life:
  // a 1 TiB file has a handful.
  Result<std::shared_ptr<const Segment>> Inner(const SegmentRef& ref, uint8_t level) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inner_.find({level, ref.offset});
      if (it != inner_.end()) return it->second;
    }
    uint64_t bytes = 0;
    auto seg = LoadSegment(*store_, *top_, ref, level, &bytes);
    if (!seg) return Fail(seg.error().Wrap(label_));
    Count(bytes);
    auto p = std::make_shared<const Segment>(std::move(*seg));
    std::lock_guard<std::mutex> lock(mu_);
    return inner_.emplace(std::make_pair(level, ref.offset), std::move(p)).first->second;
  }

  // The leaf entry holding byte `offset` (or, by_frame, frame `offset`) and
  // the global index of its first frame.
  Result<std::pair<SegmentRef, uint64_t>> Descend(uint64_t key, bool by_frame) const {
    const std::vector<SegmentRef>* children = &top_->children;
    uint64_t first_frame = 0;
    std::shared_ptr<const Segment> hold;
    for (int level = top_->levels - 1;; --level) {
      const SegmentRef* pick = nullptr;
      for (const SegmentRef& c : *children) {
        if (by_frame ? key < first_frame + c.frame_count : key < c.offset + c.length) {
          pick = &c;
          break;
        }
        first_frame += c.frame_count;
      }
      if (pick == nullptr) {
        return Fail(ErrorCode::kCorruption, label_ + ": no segment holds " +
                                                (by_frame ? "frame " : "offset ") +
                                                std::to_string(key));
      }
      if (level == 0) return std::make_pair(*pick, first_frame);
      HB_ASSIGN_OR_RETURN(hold, Inner(*pick, static_cast<uint8_t>(level)));
      children = &hold->children;
    }
  }

  // A kept leaf that `match` accepts, made the most recently used; null if
  // none.
  template <typename Match>
  LeafPtr Kept(Match&& match) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = leaves_.begin(); it != leaves_.end(); ++it) {
      if (match(**it)) {
        leaves_.splice(leaves_.begin(), leaves_, it);
        return leaves_.front();
      }
    }
    return nullptr;
  }

  Result<LeafPtr> LeafAt(uint64_t offset) const {
    if (LeafPtr kept = Kept([&](const Leaf& l) {
          return offset >= l.ref.offset && offset - l.ref.offset < l.ref.length;
        })) {
      return kept;
    }
    HB_ASSIGN_OR_RETURN(auto found, Descend(offset, false));
    return LoadLeaf(found.first, found.second);
  }

  Result<LeafPtr> LeafOfFrame(size_t frame) const {
    if (LeafPtr kept = Kept([&](const Leaf& l) {
          return frame >= l.first_frame && frame - l.first_frame < l.ref.frame_count;
        })) {
      return kept;
    }
    HB_ASSIGN_OR_RETURN(auto found, Descend(frame, true));
    return LoadLeaf(found.first, found.second);
  }

  // Loads (or finds) the leaf of entry `ref`; `first_frame` if known (SeekData
  // does not need it and looks it up only when it loads the leaf).
  Result<LeafPtr> LoadLeaf(const SegmentRef& ref, std::optional<uint64_t> first_frame) const {
    if (LeafPtr kept = Kept([&](const Leaf& l) { return l.ref.offset == ref.offset; })) {
      return kept;
    }
    if (!first_frame) {
      HB_ASSIGN_OR_RETURN(auto found, Descend(ref.offset, false));
      first_frame = found.second;
    }
    uint64_t bytes = 0;
    auto seg = LoadSegment(*store_, *top_, ref, 0, &bytes);
    if (!seg) return Fail(seg.error().Wrap(label_));
    Count(bytes);
    // The leaf as a file of its own: frames from 0, no digest (the leaf was
    // checked against its id, which the manifest's id covers).
    auto sub = std::make_shared<Manifest>();
    sub->size = ref.length;
    sub->chunk_hash = top_->chunk_hash;
    sub->chunker = top_->chunker;
    sub->created_unix = top_->created_unix;
    sub->packs = std::move(seg->packs);
    sub->frames = std::move(seg->frames);
    for (FrameRef& f : sub->frames) f.offset -= ref.offset;
    auto reader = BlobReader::Open(ctx_, store_, std::shared_ptr<const Manifest>(std::move(sub)),
                                   label_ + " (bytes " + std::to_string(ref.offset) + "+)");
    if (!reader) return Fail(reader.error());
    auto leaf = std::make_shared<Leaf>();
    leaf->ref = ref;
    leaf->first_frame = *first_frame;
    leaf->reader = std::move(*reader);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = leaves_.begin(); it != leaves_.end(); ++it) {
      if ((*it)->ref.offset == ref.offset) return *it;  // another thread won
    }
    leaves_.push_front(std::move(leaf));
    if (leaves_.size() > kLeavesKept) leaves_.pop_back();
    return leaves_.front();
  }

  // The stream reaches a leaf at its byte `in` with a read of `length`
  // bytes: if the read goes on a sequential stream, the leaf's read-ahead
  // goes on with it (its own streak would start from nothing: small windows
  // at the start of every leaf). Nothing if it was told already.
  void Entering(const Leaf& leaf, uint64_t in, uint64_t length) {
    if (in < Readahead::SlackFor(length) && stream_.streaming()) {
      leaf.reader->ContinueStream(stream_.streak_bytes(), 0);
    }
  }

  // After a sequential read that ended at byte `end` with a read-ahead
  // window of `window` bytes (the stream's, across leaves): when the window
  // reaches past the end of the leaf, the next leaf is loaded and the part
  // of the window that falls into it starts fetching through that leaf's
  // read-ahead (claimed there, so nothing is fetched twice), which then
  // goes on with the stream's window.
  void AfterRead(const Leaf& leaf, uint64_t end, uint64_t window) {
    window = stream_.Cap(*ctx_, window);
    const uint64_t leaf_end = leaf.ref.offset + leaf.ref.length;
    if (window == 0 || end >= top_->size || end > leaf_end) return;
    const uint64_t before = leaf_end - end;
    if (before >= window) return;
    auto next = LeafAt(leaf_end);
    if (!next) return;  // a hint: the read itself reports the error
    (*next)->reader->ContinueStream(stream_.streak_bytes(), window - before);
  }

  void Count(uint64_t bytes) const {
    spdlog::info("{}: read a segment of its frame table ({} bytes)", label_, bytes);
    ctx_->counters().segment_requests.fetch_add(1, std::memory_order_relaxed);
    ctx_->counters().segment_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }

  const std::shared_ptr<ContextImpl> ctx_;
  const std::shared_ptr<ObjectStore> store_;
  const std::shared_ptr<const Manifest> top_;
  const std::string label_;
  uint64_t frames_ = 0;
  mutable std::mutex mu_;
  // By level and offset (the first segment of each level starts at 0).
  mutable std::map<std::pair<uint8_t, uint64_t>, std::shared_ptr<const Segment>> inner_;
  mutable std::list<LeafPtr> leaves_;  // most recently used first
  // Follows the sequential stream across leaves (only Observe is used: the
  // leaves' own read-ahead fetches).
  Readahead stream_;
};

}  // namespace

std::unique_ptr<BlobReader> MakeSegmentedReader(std::shared_ptr<ContextImpl> ctx,
                                                std::shared_ptr<ObjectStore> store,
                                                std::shared_ptr<const Manifest> top,
                                                std::string label) {
  return std::make_unique<SegmentedReader>(std::move(ctx), std::move(store), std::move(top),
                                           std::move(label));
}

}  // namespace hugeblob
