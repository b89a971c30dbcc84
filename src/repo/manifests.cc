#include "repo/manifests.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "format/envelope.h"
#include "format/layout.h"
#include "format/manifest_codec.h"
#include "hash/sha256.h"

namespace hugeblob {
namespace {

// An envelope: header, at most kMaxMetadataBodySize of body, checksum.
constexpr uint64_t kMaxManifestBytes = format_internal::kEnvelopeHeaderSize +
                                       format_internal::kMaxMetadataBodySize +
                                       format_internal::kEnvelopeChecksumSize;
// A segment holds at most 65,536 entries of at most 62 bytes (the decoder's
// limit): its object, compressed, stays below this.
constexpr uint64_t kMaxSegmentBytes = 8u << 20;

// Reads an object of at most `limit` bytes and checks it against its id.
Result<Buffer> GetVerified(ObjectStore& store, const std::string& key, const Hash256& id,
                           uint64_t limit, const char* what) {
  auto bytes = store.GetRange(key, 0, limit + 1);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kCorruption, key + ": " + what + " is missing");
    }
    return Fail(bytes.error());
  }
  if (bytes->size() > limit) {
    return Fail(ErrorCode::kCorruption, key + ": larger than a " + std::string(what) + " can be");
  }
  if (Sha256Of(bytes->span()) != id) {
    return Fail(ErrorCode::kCorruption, key + ": content does not match its id");
  }
  return std::move(*bytes);
}

}  // namespace

ManifestWriter::ManifestWriter(ObjectStore& store, HashAlgo chunk_hash, ChunkerParams chunker,
                               ManifestShape shape)
    : store_(store), chunk_hash_(chunk_hash), chunker_(chunker), shape_(shape) {
  shape_.leaf_frames = std::max<uint32_t>(shape_.leaf_frames, 1);
  shape_.fanout = std::max<uint32_t>(shape_.fanout, 2);
}

Status ManifestWriter::Add(const FrameRef& frame, const Hash256& pack) {
  if (finished_) return Fail(ErrorCode::kInvalidArgument, "ManifestWriter: already finished");
  // A full leaf is written when the next frame comes, so that a file of
  // exactly leaf_frames frames stays inline.
  if (leaf_.frames.size() >= shape_.leaf_frames) HB_TRY(FlushLeaf());
  FrameRef f = frame;
  f.offset = size_;
  f.hash = chunk_hash_;
  if (f.zero) {
    f.pack = 0;
    f.chunk = ChunkId{};
    f.stored_offset = 0;
    f.stored_length = 0;
    f.codec = Codec::kNone;
  } else {
    auto [it, inserted] = leaf_packs_.emplace(pack, static_cast<uint32_t>(leaf_.packs.size()));
    if (inserted) leaf_.packs.push_back(pack);
    f.pack = it->second;
    data_bytes_ += f.length;
  }
  digest_.Add(f);
  size_ += f.length;
  ++frame_count_;
  leaf_.frames.push_back(f);
  return OkStatus();
}

Result<SegmentRef> ManifestWriter::WriteSegment(const Segment& s, uint64_t offset) {
  HB_ASSIGN_OR_RETURN(Buffer bytes, EncodeSegment(s, chunk_hash_));
  SegmentRef ref;
  ref.id = Sha256Of(bytes.span());
  ref.offset = offset;
  if (s.level == 0) {
    for (const FrameRef& f : s.frames) {
      ref.length += f.length;
      ref.data_bytes += f.zero ? 0 : f.length;
    }
    ref.frame_count = s.frames.size();
  } else {
    for (const SegmentRef& c : s.children) {
      ref.length += c.length;
      ref.data_bytes += c.data_bytes;
      ref.frame_count += c.frame_count;
    }
  }
  HB_TRY(store_.Put(SegmentKey(ref.id), BufferChain(bytes)));
  stored_bytes_ += bytes.size();
  return ref;
}

Status ManifestWriter::FlushLeaf() {
  if (leaf_.frames.empty()) return OkStatus();
  HB_ASSIGN_OR_RETURN(SegmentRef ref, WriteSegment(leaf_, leaf_offset_));
  leaf_offset_ = size_;
  leaf_ = Segment();
  leaf_packs_.clear();
  return AddChild(0, ref);
}

Status ManifestWriter::AddChild(size_t level, const SegmentRef& ref) {
  if (pending_.size() <= level) {
    pending_.resize(level + 1);
    written_.resize(level + 1, 0);
  }
  ++written_[level];
  pending_[level].push_back(ref);
  // As with leaves: a parent is written when one more child than it holds
  // arrives, so that exactly `fanout` children can become the top.
  if (pending_[level].size() > shape_.fanout) {
    std::vector<SegmentRef> first(pending_[level].begin(), pending_[level].begin() + shape_.fanout);
    pending_[level].erase(pending_[level].begin(), pending_[level].begin() + shape_.fanout);
    HB_TRY(WriteInner(level, std::move(first)));
  }
  return OkStatus();
}

Status ManifestWriter::WriteInner(size_t level, std::vector<SegmentRef> children) {
  if (level + 1 >= kMaxSegmentLevels) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot write manifest: its frame table would be more than " +
                    std::to_string(kMaxSegmentLevels) + " segments deep");
  }
  Segment s;
  s.level = static_cast<uint8_t>(level + 1);
  const uint64_t offset = children.front().offset;
  s.children = std::move(children);
  HB_ASSIGN_OR_RETURN(SegmentRef ref, WriteSegment(s, offset));
  return AddChild(level + 1, ref);
}

Result<Hash256> ManifestWriter::Finish(const Manifest& header) {
  if (finished_) return Fail(ErrorCode::kInvalidArgument, "ManifestWriter: already finished");
  finished_ = true;
  if (header.size != size_) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot write manifest: its size " + std::to_string(header.size) +
                    " differs from its frames' " + std::to_string(size_));
  }
  Manifest m;
  m.size = size_;
  m.chunk_hash = chunk_hash_;
  m.sha256 = header.sha256;
  m.mode = header.mode;
  m.mtime_ns = header.mtime_ns;
  m.owner = header.owner;
  m.xattrs = header.xattrs;
  m.chunker = chunker_;
  m.created_unix = header.created_unix;
  digest_value_ = digest_.Finish();
  m.digest = digest_value_;
  if (pending_.empty()) {
    // Never cut: the frames stay inline.
    m.packs = std::move(leaf_.packs);
    m.frames = std::move(leaf_.frames);
  } else {
    HB_TRY(FlushLeaf());
    for (size_t level = 0;; ++level) {
      // No reference into pending_ across WriteInner: it may grow pending_.
      const bool has_parent = written_[level] > pending_[level].size();
      if (!has_parent && pending_[level].size() <= shape_.fanout) {
        m.levels = static_cast<uint8_t>(level + 1);
        m.children = std::move(pending_[level]);
        break;
      }
      std::vector<SegmentRef> p = std::move(pending_[level]);
      pending_[level].clear();
      if (!p.empty()) HB_TRY(WriteInner(level, std::move(p)));
    }
  }
  HB_ASSIGN_OR_RETURN(Buffer bytes, EncodeManifest(m));
  const Hash256 id = Sha256Of(bytes.span());
  HB_TRY(store_.Put(ManifestKey(id), BufferChain(bytes)));
  stored_bytes_ += bytes.size();
  return id;
}

Result<Hash256> StoreManifest(ObjectStore& store, const Manifest& full, uint64_t* stored_bytes,
                              ManifestShape shape) {
  if (full.segmented()) {
    return Fail(ErrorCode::kInvalidArgument, "StoreManifest: the frame table is not in memory");
  }
  HB_TRY(full.Validate());
  ManifestWriter w(store, full.chunk_hash, full.chunker, shape);
  for (const FrameRef& f : full.frames) {
    HB_TRY(w.Add(f, f.zero ? Hash256{} : full.packs[f.pack]));
  }
  HB_ASSIGN_OR_RETURN(Hash256 id, w.Finish(full));
  if (full.digest && *full.digest != w.digest()) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot write manifest: its content digest does not match its frames");
  }
  if (stored_bytes != nullptr) *stored_bytes = w.stored_bytes();
  return id;
}

Result<Manifest> LoadManifestTop(ObjectStore& store, const Hash256& id, uint64_t* encoded_size) {
  const std::string key = ManifestKey(id);
  HB_ASSIGN_OR_RETURN(Buffer bytes, GetVerified(store, key, id, kMaxManifestBytes, "manifest"));
  if (encoded_size != nullptr) *encoded_size = bytes.size();
  spdlog::info("read {} ({} bytes)", key, bytes.size());
  return DecodeManifest(bytes.span(), key);
}

Result<Segment> LoadSegment(ObjectStore& store, const Manifest& top, const SegmentRef& ref,
                            uint8_t level, uint64_t* bytes) {
  const std::string key = SegmentKey(ref.id);
  HB_ASSIGN_OR_RETURN(Buffer raw, GetVerified(store, key, ref.id, kMaxSegmentBytes, "segment"));
  if (bytes != nullptr) *bytes = raw.size();
  SegmentExpectation expect;
  expect.level = level;
  expect.ref = ref;
  expect.chunk_hash = top.chunk_hash;
  expect.chunker = top.chunker;
  return DecodeSegment(raw.span(), expect, key);
}

Result<Manifest> FlattenManifest(ObjectStore& store, Manifest top, const std::string& label,
                                 uint64_t* encoded_size, unsigned threads) {
  if (!top.segmented()) return top;
  // Level by level: the entries of one level are fetched in parallel, in
  // order, and the next level's entries are their children in order.
  std::vector<SegmentRef> level_refs = top.children;
  std::vector<Segment> leaves;
  uint64_t bytes_read = 0;
  for (int level = top.levels - 1; level >= 0; --level) {
    std::vector<std::optional<Segment>> got(level_refs.size());
    std::vector<uint64_t> sizes(level_refs.size(), 0);
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::optional<Error> error;
    auto work = [&] {
      for (size_t i = next++; i < level_refs.size(); i = next++) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (error) return;
        }
        auto s = LoadSegment(store, top, level_refs[i], static_cast<uint8_t>(level), &sizes[i]);
        if (!s) {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = s.error();
          return;
        }
        got[i] = std::move(*s);
      }
    };
    const size_t n = std::min<size_t>(std::max(threads, 1u), level_refs.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    if (error) return Fail(error->Wrap(label));
    for (const SegmentRef& r : level_refs) top.segments.push_back(r.id);
    for (uint64_t s : sizes) bytes_read += s;
    spdlog::info("read {} segments of level {} of {} ({} bytes so far)", level_refs.size(), level,
                 label, bytes_read);
    if (level == 0) {
      leaves.reserve(got.size());
      for (auto& s : got) leaves.push_back(std::move(*s));
    } else {
      std::vector<SegmentRef> below;
      for (auto& s : got) below.insert(below.end(), s->children.begin(), s->children.end());
      level_refs = std::move(below);
    }
  }
  std::unordered_map<Hash256, uint32_t, Hash256Hasher> pack_index;
  uint64_t frames = 0;
  for (const Segment& s : leaves) frames += s.frames.size();
  top.frames.reserve(frames);
  for (Segment& s : leaves) {
    std::vector<uint32_t> remap(s.packs.size());
    for (size_t i = 0; i < s.packs.size(); ++i) {
      auto [it, inserted] = pack_index.emplace(s.packs[i], static_cast<uint32_t>(top.packs.size()));
      if (inserted) top.packs.push_back(s.packs[i]);
      remap[i] = it->second;
    }
    for (FrameRef& f : s.frames) {
      if (!f.zero) f.pack = remap[f.pack];
      top.frames.push_back(f);
    }
    s = Segment();
  }
  top.levels = 0;
  top.children.clear();
  // Checks the offsets, the sizes and the content digest over the whole table.
  if (auto st = top.Validate(); !st) return Fail(st.error().Wrap(label));
  if (encoded_size != nullptr) *encoded_size += bytes_read;
  return top;
}

Result<Manifest> LoadManifest(ObjectStore& store, const Hash256& id, uint64_t* encoded_size,
                              unsigned threads) {
  HB_ASSIGN_OR_RETURN(Manifest top, LoadManifestTop(store, id, encoded_size));
  return FlattenManifest(store, std::move(top), ManifestKey(id), encoded_size, threads);
}

}  // namespace hugeblob
