// S3-compatible object store backend (see docs/s3.md).
#pragma once

#include <memory>
#include <string_view>

#include "hugeblob/error.h"
#include "hugeblob/store.h"

namespace hugeblob {

// Opens "s3://bucket/prefix" with endpoint, region and credentials taken the
// way the AWS CLI takes them (environment, ~/.aws/credentials, ~/.aws/config).
Result<std::shared_ptr<ObjectStore>> OpenS3Store(std::string_view url);

}  // namespace hugeblob
