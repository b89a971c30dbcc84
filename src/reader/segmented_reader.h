// A BlobReader over a segmented manifest (format/manifest.h): it holds the
// manifest's top and loads the segments a read needs, keeping the inner
// segments and a few leaves, so opening a 1 TiB file and reading 4 KiB loads
// a few tens of KiB of manifest, and memory per open file stays bounded
// whatever its size. Each leaf is served by an ordinary BlobReader over the
// leaf's frames.
#pragma once

#include <memory>
#include <string>

#include "format/manifest.h"
#include "hugeblob/reader.h"
#include "reader/context.h"

namespace hugeblob {

std::unique_ptr<BlobReader> MakeSegmentedReader(std::shared_ptr<ContextImpl> ctx,
                                                std::shared_ptr<ObjectStore> store,
                                                std::shared_ptr<const Manifest> top,
                                                std::string label);

}  // namespace hugeblob
