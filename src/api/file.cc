// hugeblob::File: the public reader, forwarding to a BlobReader. The block
// layout a program sees is the manifest's frame table, without the format's
// fields (packs, stored offsets, codecs). The BlobReader may hold only the
// top of a segmented manifest (ops/load.h): the frame table comes from the
// reader (Frame, FrameAt), which loads segments as needed.

#include <algorithm>

#include "api/file_impl.h"

namespace hugeblob {
namespace {

class FileImpl final : public File {
 public:
  FileImpl(std::unique_ptr<BlobReader> reader, const std::string& name, const Ref& ref)
      : r_(std::move(reader)), m_(r_->manifest()) {
    info_.name = name;
    info_.size = m_.size;
    info_.data_bytes = r_->data_bytes();
    info_.manifest = ref.manifest.Hex();
    if (m_.digest) info_.digest = m_.digest->Hex();
    if (m_.sha256) info_.sha256 = m_.sha256->Hex();
    info_.chunk_hash = std::string(HashAlgoName(m_.chunk_hash));
    info_.mode = m_.mode;
    info_.mtime_ns = m_.mtime_ns;
    info_.created_unix = m_.created_unix;
    info_.blocks = r_->frame_count();
  }

  uint64_t size() const override { return m_.size; }
  const FileInfo& info() const override { return info_; }

  Result<size_t> pread(uint64_t offset, std::span<uint8_t> out) override {
    return r_->pread(offset, out);
  }

  Result<BlockInfo> Block(size_t index) override {
    HB_ASSIGN_OR_RETURN(FrameRef f, r_->Frame(index));
    return BlockInfo{index, f.offset, f.length, f.zero};
  }
  Result<BlockInfo> BlockAt(uint64_t offset) override {
    HB_ASSIGN_OR_RETURN(size_t index, r_->FrameAt(offset));  // kInvalidArgument past the end
    return Block(index);
  }

  Result<Buffer> ReadBlock(size_t index) override { return r_->ReadFrame(index); }
  Result<BufferChain> ReadRange(uint64_t offset, uint64_t length) override {
    return r_->ReadRange(offset, length);
  }
  Result<uint64_t> SeekData(uint64_t offset, bool hole) const override {
    return r_->SeekData(offset, hole);
  }

  void WillNeed(uint64_t offset, uint64_t length) override {
    if (offset >= m_.size || length == 0) return;
    const uint64_t end = offset + std::min(length, m_.size - offset);
    // A hint: if the blocks cannot be found now, the reads will say why.
    auto first = r_->FrameAt(offset);
    auto last = r_->FrameAt(end - 1);
    if (first && last) r_->Prefetch(*first, *last + 1);
  }

 private:
  const std::unique_ptr<BlobReader> r_;
  const Manifest& m_;  // the reader's, alive as long as it
  FileInfo info_;
};

}  // namespace

std::unique_ptr<File> MakeFile(std::unique_ptr<BlobReader> reader, const std::string& name,
                               const Ref& ref) {
  return std::make_unique<FileImpl>(std::move(reader), name, ref);
}

}  // namespace hugeblob
