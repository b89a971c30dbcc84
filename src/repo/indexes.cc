#include "repo/indexes.h"

#include <string>

#include "format/envelope.h"
#include "format/index_codec.h"
#include "format/layout.h"

namespace hugeblob {

uint64_t MaxIndexObjectBytes() {
  return format_internal::kEnvelopeHeaderSize + format_internal::kMaxMetadataBodySize +
         format_internal::kEnvelopeChecksumSize;
}

Result<std::vector<IndexEntry>> ReadIndexObject(ObjectStore& store, std::string_view key,
                                                uint64_t* bytes_read) {
  const uint64_t max = MaxIndexObjectBytes();
  HB_ASSIGN_OR_RETURN(Buffer bytes, store.GetRange(key, 0, max + 1));
  if (bytes_read != nullptr) *bytes_read = bytes.size();
  if (bytes.size() > max) {
    return Fail(ErrorCode::kCorruption, std::string(key) + ": larger than an index object can be");
  }
  auto id = IdFromKey(key);
  if (!id || Sha256Of(bytes.span()) != *id) {
    return Fail(ErrorCode::kCorruption, std::string(key) + ": content does not match its id");
  }
  return DecodeIndex(bytes.span(), key);
}

Result<StoredIndexObject> WriteIndexObject(ObjectStore& store, std::vector<IndexEntry> entries) {
  HB_ASSIGN_OR_RETURN(Buffer bytes, EncodeIndex(std::move(entries)));
  StoredIndexObject out{Sha256Of(bytes.span()), bytes.size()};
  HB_TRY(store.Put(IndexKey(out.id), bytes));
  return out;
}

}  // namespace hugeblob
