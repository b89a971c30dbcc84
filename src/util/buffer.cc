#include "hugeblob/buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "util/budget.h"

namespace hugeblob {

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::move(other.budget_);
    bytes_ = other.bytes_;
    other.bytes_ = 0;
  }
  return *this;
}

void Reservation::ShrinkTo(uint64_t bytes) {
  if (budget_ && bytes < bytes_) {
    budget_->Return(bytes_ - bytes);
    bytes_ = bytes;
  }
}

void Reservation::Release() {
  if (budget_) {
    if (bytes_ > 0) budget_->Return(bytes_);
    budget_.reset();
  }
  bytes_ = 0;
}

namespace {

// Blocks of 2 MiB and more (read blocks, pack buffers, slot arenas, ranged
// reads) are 2 MiB-aligned and marked for transparent huge pages, so the
// first touch of each 2 MiB is one page fault instead of 512. On this kind
// of VM a fault costs more than the copy it interrupts; with THP off (or
// "never") the advice is ignored and nothing else changes.
constexpr size_t kHugePage = 2u << 20;

uint8_t* AllocateBytes(size_t size) {
  if (size >= kHugePage) {
    const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    void* p = nullptr;
    if (::posix_memalign(&p, kHugePage, rounded) == 0) {
      (void)::madvise(p, rounded, MADV_HUGEPAGE);
      return static_cast<uint8_t*>(p);
    }
    return nullptr;
  }
  // malloc(0) may return nullptr; always allocate at least one byte.
  return static_cast<uint8_t*>(std::malloc(size == 0 ? 1 : size));
}

// The pool behind Buffer::AllocateReusable: idle blocks of any size from
// kMinBytes up, oldest first, at most Buffer::kReusePoolBytes in all. Take
// returns the smallest idle block that fits with at most 1/4 to spare.
class ReusePool {
 public:
  static constexpr size_t kMinBytes = 64 * 1024;

  // New blocks are rounded up to 1/16 of their size (a power of two), so
  // that blocks of nearby sizes are interchangeable.
  static size_t Capacity(size_t size) {
    if (size >= kHugePage) return (size + kHugePage - 1) / kHugePage * kHugePage;
    size_t grain = 4096;
    while (grain * 16 < size) grain *= 2;
    return (size + grain - 1) / grain * grain;
  }

  uint8_t* Take(size_t size, size_t* capacity) {
    std::lock_guard lock(mu_);
    size_t best = idle_.size();
    for (size_t i = 0; i < idle_.size(); ++i) {
      size_t c = idle_[i].first;
      // (A block of the capacity a new one would get always fits: 3 MiB
      // rounds up to 4 MiB, more than 1/4 to spare.)
      const bool fits = c >= size && (c - size <= size / 4 || c <= Capacity(size));
      if (fits && (best == idle_.size() || c < idle_[best].first)) {
        best = i;
      }
    }
    if (best == idle_.size()) return nullptr;
    *capacity = idle_[best].first;
    uint8_t* bytes = idle_[best].second;
    idle_bytes_ -= *capacity;
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(best));
    return bytes;
  }

  // Keeps `bytes` for reuse, dropping the oldest idle blocks beyond the
  // bound (freed outside the lock).
  void Give(uint8_t* bytes, size_t capacity) {
    std::vector<uint8_t*> dropped;
    {
      std::lock_guard lock(mu_);
      idle_.emplace_back(capacity, bytes);
      idle_bytes_ += capacity;
      size_t n = 0;
      while (idle_bytes_ > Buffer::kReusePoolBytes) {
        idle_bytes_ -= idle_[n].first;
        dropped.push_back(idle_[n].second);
        ++n;
      }
      idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    for (uint8_t* p : dropped) std::free(p);
  }

  uint64_t idle_bytes() {
    std::lock_guard lock(mu_);
    return idle_bytes_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<size_t, uint8_t*>> idle_;  // guarded by mu_; oldest first
  uint64_t idle_bytes_ = 0;                        // guarded by mu_
};

// Never destroyed: blocks may be freed by static destructors after main.
ReusePool& TheReusePool() {
  static ReusePool* pool = new ReusePool;
  return *pool;
}

}  // namespace

struct Buffer::Block {
  uint8_t* bytes = nullptr;
  size_t capacity = 0;
  Reservation reservation;
  // Set for blocks of AllocateReusable: the memory goes to the reuse pool.
  bool reusable = false;
  ~Block() {
    if (reusable && capacity >= ReusePool::kMinBytes) {
      TheReusePool().Give(bytes, capacity);
    } else {
      std::free(bytes);
    }
  }
};

Buffer Buffer::Allocate(size_t size, Reservation reservation) {
  Buffer b;
  b.block_ = std::make_shared<Block>();
  b.block_->bytes = AllocateBytes(size);
  if (b.block_->bytes == nullptr) throw std::bad_alloc();
  b.block_->capacity = size;
  b.block_->reservation = std::move(reservation);
  b.data_ = b.block_->bytes;
  b.size_ = size;
  return b;
}

Buffer Buffer::AllocateReusable(size_t size, Reservation reservation) {
  if (size < ReusePool::kMinBytes) return Allocate(size, std::move(reservation));
  size_t capacity = 0;
  uint8_t* bytes = TheReusePool().Take(size, &capacity);
  if (bytes == nullptr) {
    capacity = ReusePool::Capacity(size);
    bytes = AllocateBytes(capacity);
    if (bytes == nullptr) throw std::bad_alloc();
  }
  Buffer b;
  b.block_ = std::make_shared<Block>();
  b.block_->bytes = bytes;
  b.block_->capacity = capacity;
  b.block_->reservation = std::move(reservation);
  b.block_->reusable = true;
  b.data_ = bytes;
  b.size_ = size;
  return b;
}

uint64_t Buffer::ReusePoolIdleBytes() { return TheReusePool().idle_bytes(); }

Buffer Buffer::Copy(std::span<const uint8_t> bytes) {
  Buffer b = Allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(b.mutable_data(), bytes.data(), bytes.size());
  return b;
}

Buffer Buffer::Copy(std::string_view bytes) {
  return Copy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Buffer Buffer::Zeros(size_t size) {
  Buffer b;
  b.block_ = std::make_shared<Block>();
  b.block_->bytes = static_cast<uint8_t*>(std::calloc(size == 0 ? 1 : size, 1));
  if (b.block_->bytes == nullptr) throw std::bad_alloc();
  b.block_->capacity = size;
  b.data_ = b.block_->bytes;
  b.size_ = size;
  return b;
}

Buffer Buffer::Slice(size_t offset, size_t length) const {
  Buffer b;
  if (offset > size_) offset = size_;
  if (length > size_ - offset) length = size_ - offset;
  b.block_ = block_;
  b.data_ = data_ + offset;
  b.size_ = length;
  return b;
}

void Buffer::Truncate(size_t size) {
  if (size >= size_) return;
  size_ = size;
  // Only reallocate when we are the sole owner of a block we view from its
  // start, and more than a quarter would be wasted.
  if (block_ && block_.use_count() == 1 && data_ == block_->bytes &&
      block_->capacity - size > block_->capacity / 4) {
    void* p = std::realloc(block_->bytes, size == 0 ? 1 : size);
    if (p != nullptr) {
      block_->bytes = static_cast<uint8_t*>(p);
      block_->capacity = size;
      block_->reservation.ShrinkTo(size);
      data_ = block_->bytes;
    }
  }
}

void BufferChain::Append(Buffer b) {
  if (b.empty()) return;
  size_ += b.size();
  pieces_.push_back(std::move(b));
}

BufferChain BufferChain::Sub(uint64_t offset, uint64_t length) const {
  BufferChain out;
  uint64_t pos = 0;
  for (const Buffer& p : pieces_) {
    if (length == 0) break;
    uint64_t end = pos + p.size();
    if (end > offset) {
      uint64_t start_in = offset > pos ? offset - pos : 0;
      uint64_t take = std::min<uint64_t>(p.size() - start_in, length);
      out.Append(p.Slice(start_in, take));
      length -= take;
      offset += take;
    }
    pos = end;
  }
  return out;
}

size_t BufferChain::CopyOut(uint64_t offset, std::span<uint8_t> dst) const {
  size_t copied = 0;
  uint64_t pos = 0;
  for (const Buffer& p : pieces_) {
    if (copied == dst.size()) break;
    uint64_t end = pos + p.size();
    if (end > offset) {
      uint64_t start_in = offset > pos ? offset - pos : 0;
      size_t take = std::min<uint64_t>(p.size() - start_in, dst.size() - copied);
      std::memcpy(dst.data() + copied, p.data() + start_in, take);
      copied += take;
      offset += take;
    }
    pos = end;
  }
  return copied;
}

Buffer BufferChain::Flatten() const {
  if (pieces_.size() == 1) return pieces_[0];
  Buffer b = Buffer::Allocate(size_);
  size_t pos = 0;
  for (const Buffer& p : pieces_) {
    std::memcpy(b.mutable_data() + pos, p.data(), p.size());
    pos += p.size();
  }
  return b;
}

}  // namespace hugeblob
