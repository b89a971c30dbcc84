#include "repo/packs.h"

#include <string>

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

}  // namespace hugeblob
