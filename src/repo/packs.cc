#include "repo/packs.h"

#include <cstring>
#include <string>

#include "format/pack_codec.h"

namespace hugeblob {

Result<PackFooter> ReadPackFooter(ObjectStore& store, const ObjectInfo& info, Buffer* raw) {
  if (info.size < kPackFooterSize) {
    return Fail(ErrorCode::kCorruption,
                info.key + ": truncated pack (" + std::to_string(info.size) + " bytes)");
  }
  HB_ASSIGN_OR_RETURN(Buffer bytes,
                      store.GetRange(info.key, info.size - kPackFooterSize, kPackFooterSize));
  if (bytes.size() != kPackFooterSize) {
    return Fail(ErrorCode::kCorruption, info.key + ": footer read returned " +
                                            std::to_string(bytes.size()) + " bytes of " +
                                            std::to_string(kPackFooterSize));
  }
  auto footer = DecodePackFooter(bytes.span(), info.size);
  if (!footer) return Fail(footer.error().Wrap(info.key));
  if (raw != nullptr) *raw = std::move(bytes);
  return footer;
}

Result<std::vector<PackEntry>> ReadPackTrailer(ObjectStore& store, const ObjectInfo& info,
                                               const Hash256& id) {
  HB_ASSIGN_OR_RETURN(PackFooter footer, ReadPackFooter(store, info));
  HB_ASSIGN_OR_RETURN(Buffer trailer, store.GetRange(info.key, info.size - footer.trailer_length,
                                                     footer.trailer_length));
  if (Sha256Of(trailer.span()) != id) {
    return Fail(ErrorCode::kCorruption, info.key + ": trailer does not match the pack id");
  }
  auto entries = DecodePackTrailer(trailer.span(), info.size);
  if (!entries) return Fail(entries.error().Wrap(info.key));
  return entries;
}

namespace {
constexpr uint64_t kTrailerPiece = kPackEntrySize * 21400;  // ~1 MiB of whole entries
}  // namespace

PackTrailerStream::PackTrailerStream(ObjectStore& store, ObjectInfo info, const PackFooter& footer,
                                     Buffer raw_footer)
    : store_(store),
      info_(std::move(info)),
      raw_footer_(std::move(raw_footer)),
      frames_end_(info_.size - footer.trailer_length),
      entries_bytes_(footer.trailer_length - kPackFooterSize),
      bytes_read_(raw_footer_.size()) {}

Result<std::span<const uint8_t>> PackTrailerStream::ReadPiece() {
  const uint64_t n = std::min(kTrailerPiece, entries_bytes_ - pos_);
  HB_ASSIGN_OR_RETURN(piece_, store_.GetRange(info_.key, frames_end_ + pos_, n));
  bytes_read_ += piece_.size();
  if (piece_.size() != n) {
    truncated_ = true;
    return Fail(ErrorCode::kCorruption,
                info_.key + ": trailer is truncated (object changed while read?)");
  }
  id_hash_.Update(piece_.span());
  sum_hash_.Update(piece_.span());
  pos_ += n;
  return piece_.span();
}

Result<std::span<const PackEntry>> PackTrailerStream::Next() {
  batch_.clear();
  if (!entries_ok_ || pos_ >= entries_bytes_) return std::span<const PackEntry>();
  const uint64_t start = pos_;
  HB_ASSIGN_OR_RETURN(std::span<const uint8_t> piece, ReadPiece());
  batch_.reserve(piece.size() / kPackEntrySize);
  for (uint64_t at = 0; at < piece.size(); at += kPackEntrySize) {
    const auto index = static_cast<uint32_t>((start + at) / kPackEntrySize);
    auto e = DecodePackEntry(piece.subspan(at, kPackEntrySize), index, frames_end_, &prev_end_);
    if (!e) {
      entries_ok_ = false;
      return Fail(ErrorCode::kCorruption, info_.key + ": " + e.error().message());
    }
    batch_.push_back(*e);
  }
  return std::span<const PackEntry>(batch_);
}

Status PackTrailerStream::Finish(const Hash256& id) {
  while (pos_ < entries_bytes_) {
    HB_TRY(ReadPiece());
  }
  id_hash_.Update(raw_footer_.span());
  sum_hash_.Update(raw_footer_.span().subspan(0, 16));
  const Hash256 sum = sum_hash_.Finish();
  if (std::memcmp(sum.bytes.data(), raw_footer_.data() + 16, 8) != 0) {
    return Fail(ErrorCode::kCorruption, info_.key + ": pack trailer: checksum mismatch");
  }
  if (id_hash_.Finish() != id) {
    return Fail(ErrorCode::kCorruption, info_.key + ": trailer does not match the pack id");
  }
  return OkStatus();
}

}  // namespace hugeblob
