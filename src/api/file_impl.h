// The public hugeblob::File (include/hugeblob/reader.h) on the library's
// BlobReader.
#pragma once

#include <memory>
#include <string>

#include "format/manifest.h"
#include "hugeblob/reader.h"
#include "reader/blob_reader.h"

namespace hugeblob {

// `reader` reads the manifest that `ref` of `name` names.
std::unique_ptr<File> MakeFile(std::unique_ptr<BlobReader> reader, const std::string& name,
                               const Ref& ref);

}  // namespace hugeblob
