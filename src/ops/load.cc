#include "ops/load.h"

#include "format/layout.h"
#include "reader/object_cache.h"
#include "repo/refs.h"

namespace hugeblob {

Result<Ref> LoadRef(ObjectStore& store, const std::string& name) {
  HB_ASSIGN_OR_RETURN(Resolved r, ResolveVersion(store, name));
  return r.ref;
}

Result<Manifest> LoadManifestOfRef(ObjectStore& store, const std::string& name, const Ref& ref,
                                   uint64_t* encoded_size, bool top_only) {
  HB_ASSIGN_OR_RETURN(Manifest m, top_only ? LoadManifestTop(store, ref.manifest, encoded_size)
                                           : LoadManifest(store, ref.manifest, encoded_size));
  if (m.size != ref.size) {
    return Fail(ErrorCode::kCorruption, "'" + name + "': the ref says " + std::to_string(ref.size) +
                                            " bytes, its manifest " + ref.manifest.Short() + " " +
                                            std::to_string(m.size));
  }
  return m;
}

Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name, bool whole_table) {
  // The manifest (and its segments) through the disk cache, when there is one.
  store = WithObjectCache(std::move(store), context);
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*store, name));
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifestOfRef(*store, name, ref, nullptr, !whole_table));
  return BlobReader::Open(std::move(context), std::move(store),
                          std::make_shared<const Manifest>(std::move(m)), "'" + name + "'");
}

}  // namespace hugeblob
