#include "ops/load.h"

#include "format/envelope.h"
#include "format/layout.h"
#include "repo/refs.h"

namespace hugeblob {
namespace {

// An envelope: header, at most kMaxMetadataBodySize of body, checksum.
constexpr uint64_t kMaxManifestBytes = format_internal::kEnvelopeHeaderSize +
                                       format_internal::kMaxMetadataBodySize +
                                       format_internal::kEnvelopeChecksumSize;

}  // namespace

Result<Ref> LoadRef(ObjectStore& store, const std::string& name) {
  HB_ASSIGN_OR_RETURN(Resolved r, ResolveVersion(store, name));
  return r.ref;
}

Result<Manifest> LoadManifest(ObjectStore& store, const Hash256& id, uint64_t* encoded_size) {
  std::string key = ManifestKey(id);
  auto bytes = store.GetRange(key, 0, kMaxManifestBytes + 1);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kCorruption, key + ": manifest is missing");
    }
    return Fail(bytes.error());
  }
  if (bytes->size() > kMaxManifestBytes) {
    return Fail(ErrorCode::kCorruption, key + ": larger than a manifest can be");
  }
  if (Sha256Of(bytes->span()) != id) {
    return Fail(ErrorCode::kCorruption, key + ": content does not match its id");
  }
  if (encoded_size != nullptr) *encoded_size = bytes->size();
  return DecodeManifest(bytes->span(), key);
}

Result<Manifest> LoadManifestOfRef(ObjectStore& store, const std::string& name, const Ref& ref,
                                   uint64_t* encoded_size) {
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(store, ref.manifest, encoded_size));
  if (m.size != ref.size) {
    return Fail(ErrorCode::kCorruption, "'" + name + "': the ref says " + std::to_string(ref.size) +
                                            " bytes, its manifest " + ref.manifest.Short() + " " +
                                            std::to_string(m.size));
  }
  return m;
}

Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name) {
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*store, name));
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifestOfRef(*store, name, ref));
  return BlobReader::Open(std::move(context), std::move(store),
                          std::make_shared<const Manifest>(std::move(m)), "'" + name + "'");
}

}  // namespace hugeblob
