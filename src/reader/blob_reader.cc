// BlobReader (reader/blob_reader.h): maps byte ranges to frames and
// serves them from the chunk loader.
//
// pread's warm path, the one the latency targets are about: one binary
// search over the frame table, one memory-cache lookup per chunk (a shard
// lock and a shared_ptr copy), memcpy. No allocation, no locks of its own;
// the read-ahead detector is two relaxed atomics.
//
// pread's miss path for a part of a chunk: before loading the whole chunk,
// ask the disk cache for just that range (DiskCache::ReadRange: one pread
// from an entry this process verified before). That is what a random 4 KiB
// reader over a file larger than the memory cache mostly does. Zero-copy
// ReadFrame and reads covering whole chunks load whole chunks as before.

#include "reader/blob_reader.h"

#include <algorithm>
#include <cstring>

#include "format/layout.h"
#include "format/manifest.h"
#include "reader/chunk_loader.h"
#include "reader/context.h"
#include "reader/object_cache.h"
#include "reader/readahead.h"
#include "reader/segmented_reader.h"
#include "repo/manifests.h"
#include "repo/refs.h"

namespace hugeblob {

namespace {

// The index of the frame holding `offset` (< size): the last frame whose
// offset is <= it. Frames are contiguous from 0 (Manifest::Validate).
size_t FrameIndexAt(const std::vector<FrameRef>& frames, uint64_t offset) {
  auto it = std::upper_bound(frames.begin(), frames.end(), offset,
                             [](uint64_t off, const FrameRef& f) { return off < f.offset; });
  return static_cast<size_t>(it - frames.begin()) - 1;
}

// A slow-path pread loads at most this many decoded bytes at once (and at
// least one chunk), so a huge pread holds a bounded number of chunks.
constexpr uint64_t kPreadBatchBytes = 8ull << 20;

class BlobReaderImpl final : public BlobReader {
 public:
  BlobReaderImpl(std::shared_ptr<ContextImpl> ctx, std::shared_ptr<const BlobSource> src)
      : ctx_(std::move(ctx)),
        src_(std::move(src)),
        m_(*src_->manifest),
        readahead_(Readahead::For(*ctx_, m_)) {
    uint32_t zero_len = 0;
    for (const FrameRef& f : m_.frames) {
      if (f.zero) zero_len = std::max(zero_len, f.length);
    }
    // calloc'd: large zero blocks are mapped lazily and read as the shared
    // zero page, so this costs address space, not memory.
    if (zero_len > 0) zeros_ = Buffer::Zeros(zero_len);
  }

  uint64_t size() const override { return m_.size; }
  const Manifest& manifest() const override { return m_; }
  uint64_t frame_count() const override { return m_.frames.size(); }
  uint64_t data_bytes() const override { return DataBytes(m_); }
  Result<FrameRef> Frame(size_t frame_index) const override {
    if (frame_index >= m_.frames.size()) {
      return Fail(ErrorCode::kInvalidArgument,
                  src_->label + ": frame " + std::to_string(frame_index) + " out of range");
    }
    return m_.frames[frame_index];
  }
  Result<size_t> FrameAt(uint64_t offset) const override {
    if (offset >= m_.size) {
      return Fail(ErrorCode::kInvalidArgument,
                  src_->label + ": offset " + std::to_string(offset) + " is past the end");
    }
    return m_.FindFrame(offset);
  }
  Result<uint64_t> SeekData(uint64_t offset, bool hole) const override {
    auto pos = m_.SeekData(offset, hole);
    if (!pos) {
      return Fail(ErrorCode::kNotFound, src_->label + ": no " + (hole ? "hole" : "data") +
                                            " at or after offset " + std::to_string(offset));
    }
    return *pos;
  }

  Result<size_t> pread(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= m_.size || out.empty()) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), m_.size - offset));
    const std::vector<FrameRef>& frames = m_.frames;
    size_t idx = FrameIndexAt(frames, offset);

    if (uint64_t ahead = readahead_.Observe(offset, n))
      readahead_.Start(*ctx_, src_, offset + n, ahead);

    size_t pos = 0;
    Buffer chunk;
    while (pos < n) {
      const FrameRef& f = frames[idx];
      const uint64_t in = offset + pos - f.offset;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(f.length - in, n - pos));
      if (f.zero) {
        std::memset(out.data() + pos, 0, take);
      } else if (ctx_->memory().Lookup(f.chunk, &chunk) && chunk.size() == f.length) {
        // (A size mismatch, possible only with a corrupt manifest, goes the
        // slow way, which reports it.)
        std::memcpy(out.data() + pos, chunk.data() + in, take);
      } else if (take < f.length && ReadFromDisk(f, in, out.subspan(pos, take))) {
        // A part of a chunk, from the disk cache.
      } else {
        Status s = ReadSlow(idx, offset + pos, out.subspan(pos, n - pos));
        if (!s) {
          return Fail(s.error().Wrap(src_->label + ": reading " + std::to_string(n) +
                                     " bytes at offset " + std::to_string(offset)));
        }
        return n;
      }
      pos += take;
      ++idx;
    }
    return n;
  }

  Result<Buffer> ReadFrame(size_t frame_index) override {
    if (frame_index >= m_.frames.size()) {
      return Fail(ErrorCode::kInvalidArgument, src_->label + ": frame " +
                                                   std::to_string(frame_index) + " out of range (" +
                                                   std::to_string(m_.frames.size()) + " frames)");
    }
    const FrameRef& f = m_.frames[frame_index];
    if (f.zero) return zeros_.Slice(0, f.length);
    Buffer chunk;
    if (ctx_->memory().Lookup(f.chunk, &chunk) && chunk.size() == f.length) return chunk;
    Status s = LoadFrames(*ctx_, *src_, {&frame_index, 1}, {&chunk, 1});
    if (!s) return Fail(s.error().Wrap(src_->label + ": frame " + std::to_string(frame_index)));
    return chunk;
  }

  Result<BufferChain> ReadRange(uint64_t offset, uint64_t length) override {
    BufferChain out;
    if (offset >= m_.size || length == 0) return out;
    const uint64_t end = offset + std::min<uint64_t>(length, m_.size - offset);
    if (uint64_t ahead = readahead_.Observe(offset, end - offset))
      readahead_.Start(*ctx_, src_, end, ahead);
    const std::vector<FrameRef>& frames = m_.frames;
    const size_t first = FrameIndexAt(frames, offset);
    size_t last = first;  // inclusive
    while (frames[last].offset + frames[last].length < end) ++last;
    std::vector<Buffer> chunks(last - first + 1);
    std::vector<size_t> need;
    for (size_t i = first; i <= last; ++i) {
      const FrameRef& f = frames[i];
      if (f.zero) continue;
      Buffer& c = chunks[i - first];
      if (ctx_->memory().Lookup(f.chunk, &c) && c.size() == f.length) continue;
      need.push_back(i);
    }
    if (!need.empty()) {
      std::vector<Buffer> loaded(need.size());
      Status s = LoadFrames(*ctx_, *src_, need, loaded);
      if (!s) {
        return Fail(s.error().Wrap(src_->label + ": reading " + std::to_string(end - offset) +
                                   " bytes at offset " + std::to_string(offset)));
      }
      for (size_t k = 0; k < need.size(); ++k) chunks[need[k] - first] = std::move(loaded[k]);
    }
    for (size_t i = first; i <= last; ++i) {
      const FrameRef& f = frames[i];
      const uint64_t in = std::max(offset, f.offset) - f.offset;
      const uint64_t take = std::min(f.offset + f.length, end) - f.offset - in;
      out.Append(f.zero ? zeros_.Slice(0, take) : chunks[i - first].Slice(in, take));
    }
    return out;
  }

  void Prefetch(size_t first, size_t last) override {
    PrefetchFrames(*ctx_, src_, first, std::min(last, m_.frames.size()));
  }

  void ContinueStream(uint64_t streak_bytes, uint64_t ahead) override {
    readahead_.Continue(*ctx_, src_, streak_bytes, ahead);
  }

 private:
  // Bytes [in, in + out.size()) of frame `f` from the disk cache, if it
  // holds the chunk and this process verified that entry before.
  bool ReadFromDisk(const FrameRef& f, uint64_t in, std::span<uint8_t> out) {
    DiskCache* disk = ctx_->disk();
    return disk != nullptr && disk->ReadRange(f.chunk, f.length, in, out);
  }

  // From frame `idx` (holding `offset`) on, fills `out` (which ends within
  // the file) in batches of kPreadBatchBytes, fetching what is missing.
  Status ReadSlow(size_t idx, uint64_t offset, std::span<uint8_t> out) {
    const std::vector<FrameRef>& frames = m_.frames;
    std::vector<size_t> batch;
    std::vector<Buffer> chunks;
    size_t pos = 0;
    while (pos < out.size()) {
      // Collect the frames of the next batch; holes need no fetch.
      batch.clear();
      uint64_t batch_bytes = 0;
      size_t end = idx;
      uint64_t covered = frames[idx].offset;
      while (end < frames.size() && covered < offset + out.size() &&
             (batch_bytes == 0 || batch_bytes + frames[end].length <= kPreadBatchBytes)) {
        if (!frames[end].zero) {
          batch.push_back(end);
          batch_bytes += frames[end].length;
        }
        covered += frames[end].length;
        ++end;
      }
      chunks.assign(batch.size(), Buffer());
      HB_TRY(LoadFrames(*ctx_, *src_, batch, chunks));
      size_t b = 0;
      for (; idx < end; ++idx) {
        const FrameRef& f = frames[idx];
        const uint64_t in = offset + pos - f.offset;
        const size_t take =
            static_cast<size_t>(std::min<uint64_t>(f.length - in, out.size() - pos));
        if (f.zero) {
          std::memset(out.data() + pos, 0, take);
        } else {
          std::memcpy(out.data() + pos, chunks[b++].data() + in, take);
        }
        pos += take;
      }
    }
    return OkStatus();
  }

  const std::shared_ptr<ContextImpl> ctx_;
  const std::shared_ptr<const BlobSource> src_;
  const Manifest& m_;  // *src_->manifest
  Readahead readahead_;
  Buffer zeros_;  // shared by every hole chunk of this file
};

Result<std::shared_ptr<ContextImpl>> ImplOf(std::shared_ptr<ReaderContext> context) {
  auto impl = std::dynamic_pointer_cast<ContextImpl>(std::move(context));
  if (impl == nullptr) {
    return Fail(ErrorCode::kInvalidArgument,
                "BlobReader: context not made by ReaderContext::Create");
  }
  return impl;
}

}  // namespace

Result<std::unique_ptr<BlobReader>> BlobReader::Open(std::shared_ptr<ReaderContext> context,
                                                     std::shared_ptr<ObjectStore> store,
                                                     std::shared_ptr<const Manifest> manifest,
                                                     std::string label) {
  if (store == nullptr || manifest == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "BlobReader: no store or manifest for " + label);
  }
  // Segments through the disk cache, when there is one.
  store = WithObjectCache(std::move(store), context);
  HB_ASSIGN_OR_RETURN(auto ctx, ImplOf(std::move(context)));
  Status valid = manifest->Validate();
  if (!valid) return Fail(valid.error().Wrap(label));
  if (manifest->segmented()) {
    return MakeSegmentedReader(std::move(ctx), std::move(store), std::move(manifest),
                               std::move(label));
  }
  auto src = std::make_shared<BlobSource>();
  src->store = std::move(store);
  src->pack_keys.reserve(manifest->packs.size());
  for (const Hash256& p : manifest->packs) src->pack_keys.push_back(PackKey(p));
  src->manifest = std::move(manifest);
  src->label = std::move(label);
  return std::unique_ptr<BlobReader>(new BlobReaderImpl(std::move(ctx), std::move(src)));
}

Result<std::unique_ptr<BlobReader>> BlobReader::Open(std::shared_ptr<ReaderContext> context,
                                                     std::shared_ptr<ObjectStore> store,
                                                     std::string_view name) {
  HB_TRY(ValidateName(name));
  if (store == nullptr) return Fail(ErrorCode::kInvalidArgument, "BlobReader: no store");
  store = WithObjectCache(std::move(store), context);
  // NAME (the newest version), NAME@N or NAME@ID, and refs of the previous
  // release: the one place that resolves them (repo/refs.h).
  HB_ASSIGN_OR_RETURN(Resolved resolved, ResolveVersion(*store, name));
  const Ref& ref = resolved.ref;
  const std::string& ref_key = resolved.version.key;
  const std::string manifest_key = ManifestKey(ref.manifest);
  HB_ASSIGN_OR_RETURN(Manifest manifest, LoadManifestTop(*store, ref.manifest));
  if (manifest.size != ref.size) {
    return Fail(ErrorCode::kCorruption, ref_key + " says " + std::to_string(ref.size) +
                                            " bytes but " + manifest_key + " has " +
                                            std::to_string(manifest.size));
  }
  return Open(std::move(context), std::move(store),
              std::make_shared<const Manifest>(std::move(manifest)), std::string(name));
}

}  // namespace hugeblob
