#include "ops/load.h"

#include "format/envelope.h"
#include "format/layout.h"

namespace hugeblob {
namespace {

// A ref is at most 4096 bytes (docs/format.md); reading one byte more tells
// an oversized one apart without loading it whole.
constexpr uint64_t kMaxRefBytes = 4096;

}  // namespace

Result<Ref> LoadRef(ObjectStore& store, const std::string& name) {
  HB_TRY(ValidateName(name));
  const std::string key = RefKey(name);
  auto bytes = store.GetRange(key, 0, kMaxRefBytes + 1);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound, "no file named '" + name + "' in " + store.url());
    }
    return Fail(bytes.error());
  }
  if (bytes->size() > kMaxRefBytes) {
    return Fail(ErrorCode::kCorruption,
                key + ": larger than a ref can be (" + std::to_string(kMaxRefBytes) + " bytes)");
  }
  return DecodeRef(bytes->span(), key);
}

Result<Manifest> LoadManifestOfRef(ObjectStore& store, const std::string& name, const Ref& ref,
                                   uint64_t* encoded_size, bool top_only) {
  HB_ASSIGN_OR_RETURN(Manifest m, top_only ? LoadManifestTop(store, ref.manifest, encoded_size)
                                           : LoadManifest(store, ref.manifest, encoded_size));
  if (m.size != ref.size) {
    return Fail(ErrorCode::kCorruption, RefKey(name) + ": the ref says " +
                                            std::to_string(ref.size) + " bytes, its manifest " +
                                            ref.manifest.Short() + " " + std::to_string(m.size));
  }
  return m;
}

Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name, bool whole_table) {
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*store, name));
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifestOfRef(*store, name, ref, nullptr, !whole_table));
  return BlobReader::Open(std::move(context), std::move(store),
                          std::make_shared<const Manifest>(std::move(m)), "'" + name + "'");
}

}  // namespace hugeblob
