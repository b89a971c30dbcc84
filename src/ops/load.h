// Loading a name: ref -> manifest, with the errors a user should see ("no
// file named 'x' in <store>", "<key>: manifest is missing"). Every read is
// bounded by the format's limit for that kind of object, so a hostile store
// cannot make a load allocate more than a valid object could need.
#pragma once

#include <memory>
#include <string>

#include "format/manifest.h"
#include "hugeblob/store.h"
#include "reader/blob_reader.h"
#include "repo/manifests.h"

namespace hugeblob {

// The ref `name` addresses (NAME, NAME@N, NAME@MANIFEST_PREFIX: see
// ops/versions.h): kNotFound if there is none, kCorruption if it does not
// decode (or is larger than a ref can be).
Result<Ref> LoadRef(ObjectStore& store, const std::string& name);
// The manifest a ref names, whole (repo/manifests.h LoadManifest), checked
// against the ref: a ref whose size disagrees with its manifest is
// kCorruption, the same for get, cat, stat, verify and copy (the mount
// applies the same rule). `top_only`: a segmented manifest's top alone, for
// readers that load segments as they need them.
Result<Manifest> LoadManifestOfRef(ObjectStore& store, const std::string& name, const Ref& ref,
                                   uint64_t* encoded_size = nullptr, bool top_only = false);
// A BlobReader on `name`, through LoadRef and LoadManifestOfRef: with the
// manifest's top only (the reader loads the segments it reads), or with the
// whole frame table (`whole_table`: get, which walks every frame).
Result<std::unique_ptr<BlobReader>> OpenBlobReader(std::shared_ptr<ReaderContext> context,
                                                   std::shared_ptr<ObjectStore> store,
                                                   const std::string& name,
                                                   bool whole_table = false);

}  // namespace hugeblob
