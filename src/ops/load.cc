#include "ops/load.h"

#include "format/layout.h"

namespace hugeblob {

Result<Ref> LoadRef(ObjectStore& store, const std::string& name) {
  HB_TRY(ValidateName(name));
  auto bytes = store.Get(RefKey(name));
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound, "no file named '" + name + "' in " + store.url());
    }
    return Fail(bytes.error());
  }
  return DecodeRef(bytes->span(), RefKey(name));
}

Result<Manifest> LoadManifest(ObjectStore& store, const Hash256& id, uint64_t* encoded_size) {
  std::string key = ManifestKey(id);
  auto bytes = store.Get(key);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kCorruption, key + ": manifest is missing");
    }
    return Fail(bytes.error());
  }
  if (Sha256Of(bytes->span()) != id) {
    return Fail(ErrorCode::kCorruption, key + ": content does not match its id");
  }
  if (encoded_size != nullptr) *encoded_size = bytes->size();
  return DecodeManifest(bytes->span(), key);
}

Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name) {
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*store, name));
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(*store, ref.manifest));
  return BlobReader::Open(std::move(context), std::move(store),
                          std::make_shared<const Manifest>(std::move(m)), "'" + name + "'");
}

}  // namespace hugeblob
