#include "store/memory_store.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "store/key.h"

namespace hugeblob {

namespace {

// The store keeps no reference to the caller's buffers (store.h), and the
// caller's blocks may carry a budget reservation: copy into a fresh block.
Buffer CopyChain(const BufferChain& data) {
  Buffer b = Buffer::Allocate(data.size());
  data.CopyOut(0, {b.mutable_data(), b.size()});
  return b;
}

std::string Where(std::string_view key) { return "mem://" + std::string(key); }

Error NoUpload(std::string_view key, std::string_view id) {
  return Error(ErrorCode::kNotFound,
               "multipart upload " + std::string(id) + " of " + Where(key) + " not found");
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

Status MemoryStore::Put(std::string_view key, const BufferChain& data) {
  HB_TRY(ValidateKey(key));
  Buffer copy = CopyChain(data);  // outside the lock: copying may be slow
  std::lock_guard lock(mu_);
  objects_.insert_or_assign(std::string(key), Object{std::move(copy), Now()});
  return OkStatus();
}

Result<Buffer> MemoryStore::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  HB_TRY(ValidateKey(key));
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorCode::kNotFound, "object not found: " + Where(key));
  const Buffer& b = it->second.data;
  if (offset >= b.size() || length == 0) return Buffer();
  // Stored blocks are never written after Put, so a slice is safe to share.
  return b.Slice(offset, std::min<uint64_t>(length, b.size() - offset));
}

Result<ObjectInfo> MemoryStore::Head(std::string_view key) {
  HB_TRY(ValidateKey(key));
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorCode::kNotFound, "object not found: " + Where(key));
  return ObjectInfo{std::string(key), it->second.data.size(), it->second.mtime_unix};
}

Result<std::vector<ObjectInfo>> MemoryStore::List(std::string_view prefix) {
  HB_TRY(ValidatePrefix(prefix));
  std::vector<ObjectInfo> out;
  std::lock_guard lock(mu_);
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (!std::string_view(it->first).starts_with(prefix)) break;
    out.push_back({it->first, it->second.data.size(), it->second.mtime_unix});
  }
  return out;
}

Status MemoryStore::Delete(std::string_view key) {
  HB_TRY(ValidateKey(key));
  Buffer dropped;  // freed after the lock is released
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    dropped = std::move(it->second.data);
    objects_.erase(it);
  }
  return OkStatus();
}

Result<std::string> MemoryStore::CreateMultipart(std::string_view key, uint64_t part_size) {
  HB_TRY(ValidateKey(key));
  if (part_size == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "multipart upload of " + Where(key) + ": part size must be positive");
  }
  std::lock_guard lock(mu_);
  std::string id = "mpu-" + std::to_string(next_upload_++);
  uploads_.emplace(id, Upload{std::string(key), part_size, Now(), {}});
  return id;
}

Result<CompletedPart> MemoryStore::UploadPart(std::string_view key, std::string_view upload_id,
                                              int part_number, const BufferChain& data) {
  HB_TRY(ValidateKey(key));
  std::string what = "upload part " + std::to_string(part_number) + " of " + Where(key);
  if (part_number < 1 || part_number > 10000) {
    return Fail(ErrorCode::kInvalidArgument, what + ": part number must be in 1..10000");
  }
  Buffer copy = CopyChain(data);
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return Fail(NoUpload(key, upload_id));
  if (copy.size() > it->second.part_size) {
    return Fail(ErrorCode::kInvalidArgument, what + ": " + std::to_string(copy.size()) +
                                                 " bytes, more than the part size " +
                                                 std::to_string(it->second.part_size));
  }
  std::string etag = "mem-" + std::to_string(next_etag_++);
  it->second.parts.insert_or_assign(part_number, Part{std::move(copy), etag});
  return CompletedPart{part_number, etag};
}

Status MemoryStore::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                      const std::vector<CompletedPart>& parts) {
  HB_TRY(ValidateKey(key));
  std::string what = "complete multipart upload " + std::string(upload_id) + " of " + Where(key);
  std::vector<CompletedPart> sorted = parts;
  std::sort(sorted.begin(), sorted.end(), [](const CompletedPart& a, const CompletedPart& b) {
    return a.part_number < b.part_number;
  });
  std::unique_lock lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return Fail(NoUpload(key, upload_id));
  const Upload& up = it->second;
  if (sorted.empty()) return Fail(ErrorCode::kInvalidArgument, what + ": no parts");
  // Same rules as the local store, so tests catch what a directory would.
  uint64_t total = 0;
  std::vector<Buffer> pieces;
  for (size_t i = 0; i < sorted.size(); ++i) {
    std::string part = what + ": part " + std::to_string(i + 1);
    if (sorted[i].part_number != static_cast<int>(i + 1)) {
      return Fail(ErrorCode::kInvalidArgument, what + ": parts must be numbered 1.." +
                                                   std::to_string(sorted.size()) +
                                                   " without gaps or duplicates");
    }
    auto p = up.parts.find(sorted[i].part_number);
    if (p == up.parts.end()) return Fail(ErrorCode::kInvalidArgument, part + " was never uploaded");
    if (p->second.etag != sorted[i].etag) {
      return Fail(ErrorCode::kInvalidArgument,
                  part + ": etag '" + sorted[i].etag + "' does not match the last upload of it");
    }
    if (i + 1 < sorted.size() && p->second.data.size() != up.part_size) {
      return Fail(ErrorCode::kInvalidArgument,
                  part + " is " + std::to_string(p->second.data.size()) +
                      " bytes; every part but the last must be the part size " +
                      std::to_string(up.part_size));
    }
    total += p->second.data.size();
    pieces.push_back(p->second.data);
  }
  uploads_.erase(it);  // the parts live on in `pieces`
  lock.unlock();
  // Concatenate outside the lock; publish under it, like Put.
  Buffer whole = Buffer::Allocate(total);
  size_t pos = 0;
  for (const Buffer& p : pieces) {
    if (!p.empty()) std::memcpy(whole.mutable_data() + pos, p.data(), p.size());
    pos += p.size();
  }
  lock.lock();
  objects_.insert_or_assign(std::string(key), Object{std::move(whole), Now()});
  return OkStatus();
}

Status MemoryStore::AbortMultipart(std::string_view key, std::string_view upload_id) {
  HB_TRY(ValidateKey(key));
  Upload dropped;
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return Fail(NoUpload(key, upload_id));
  dropped = std::move(it->second);
  uploads_.erase(it);
  return OkStatus();
}

Result<std::vector<MultipartUpload>> MemoryStore::ListMultipart(std::string_view prefix) {
  HB_TRY(ValidatePrefix(prefix));
  std::vector<MultipartUpload> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, up] : uploads_) {
      if (std::string_view(up.key).starts_with(prefix)) {
        out.push_back({up.key, id, up.initiated_unix});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const MultipartUpload& a, const MultipartUpload& b) {
    return a.key != b.key ? a.key < b.key : a.upload_id < b.upload_id;
  });
  return out;
}

void MemoryStore::Overwrite(std::string_view key, const Buffer& bytes) {
  std::lock_guard lock(mu_);
  // A new block, not a write into the old one: readers holding slices of the
  // old object keep seeing the bytes they were given.
  objects_.insert_or_assign(std::string(key), Object{Buffer::Copy(bytes.span()), Now()});
}

}  // namespace hugeblob
