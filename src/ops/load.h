// Loading a name: ref -> manifest, with the errors a user should see ("no
// file named 'x' in <store>", "<key>: manifest is missing").
#pragma once

#include <memory>
#include <string>

#include "format/manifest.h"
#include "hugeblob/reader.h"
#include "hugeblob/store.h"

namespace hugeblob {

Result<Ref> LoadRef(ObjectStore& store, const std::string& name);
// Reads and checks a manifest (content must match its id). `encoded_size`,
// when given, receives the size of the stored object.
Result<Manifest> LoadManifest(ObjectStore& store, const Hash256& id,
                              uint64_t* encoded_size = nullptr);
// A BlobReader on `name`, through LoadRef and LoadManifest.
Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name);

}  // namespace hugeblob
