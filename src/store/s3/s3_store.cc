// Placeholder until the S3 backend lands (being written now); replaced by the real one.
#include "store/s3/s3_store.h"

namespace hugeblob {
Result<std::shared_ptr<ObjectStore>> OpenS3Store(std::string_view url) {
  return Fail(ErrorCode::kUnsupported, "s3 store not built yet: " + std::string(url));
}
}  // namespace hugeblob
