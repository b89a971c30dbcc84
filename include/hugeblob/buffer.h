// Reference-counted byte buffers.
//
// A Buffer is an immutable view (data, size) of a heap block shared by every
// copy and slice of it; the block is freed, and its bytes returned to the
// MemoryBudget it was reserved from, when the last view goes away. Anything
// queued, cached or handed to another thread is a Buffer; a borrowed
// std::span lives for one call only.
//
// Thread safety: copying, slicing and destroying Buffers is safe from any
// thread. The bytes may be written (mutable_data) only by the producer that
// allocated the block, before it hands the first copy to anyone else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hugeblob {

class MemoryBudget;

// Bytes reserved from a MemoryBudget; returned when destroyed. Move-only.
// (The library's memory accounting: a program allocating Buffers passes
// none, and has no MemoryBudget to make one from.)
class Reservation {
 public:
  Reservation() = default;
  Reservation(std::shared_ptr<MemoryBudget> budget, uint64_t bytes)
      : budget_(std::move(budget)), bytes_(bytes) {}
  Reservation(Reservation&& other) noexcept { *this = std::move(other); }
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() { Release(); }

  uint64_t bytes() const { return bytes_; }
  // Give back everything above `bytes` (no-op if already smaller).
  void ShrinkTo(uint64_t bytes);
  void Release();

 private:
  std::shared_ptr<MemoryBudget> budget_;
  uint64_t bytes_ = 0;
};

class Buffer {
 public:
  Buffer() = default;

  // Uninitialised storage of `size` bytes. The optional reservation is held
  // until the block is freed.
  static Buffer Allocate(size_t size, Reservation reservation = {});
  // Like Allocate, for large short-lived buffers allocated and freed at a
  // high rate and in varying sizes (the read path's decoded chunks and
  // ranged reads). A freed block goes to a small process-wide pool of idle
  // blocks (at most kReusePoolBytes, the oldest dropped first) and a later
  // AllocateReusable of a similar size takes it, instead of the allocator
  // mapping fresh pages (a page fault and a page clear per 4 KiB) and
  // unmapping them again. The block may be up to 1/4 larger than `size`;
  // the reservation covers `size`.
  static Buffer AllocateReusable(size_t size, Reservation reservation = {});
  static constexpr uint64_t kReusePoolBytes = 24ull << 20;
  // Bytes of idle blocks in that pool now.
  static uint64_t ReusePoolIdleBytes();
  static Buffer Copy(std::span<const uint8_t> bytes);
  static Buffer Copy(std::string_view bytes);
  static Buffer Zeros(size_t size);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // Writable access for the producer; see the class comment.
  uint8_t* mutable_data() const { return const_cast<uint8_t*>(data_); }

  // A view of [offset, offset + length) sharing ownership of the block.
  Buffer Slice(size_t offset, size_t length) const;

  // Shrink the visible size to `size`. If this is the only view of the block
  // and it would waste a lot, the block is reallocated to fit and the excess
  // reservation returned (used after compressing into a worst-case buffer).
  void Truncate(size_t size);

  long use_count() const { return block_.use_count(); }

 private:
  struct Block;
  std::shared_ptr<Block> block_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// An ordered list of Buffers treated as one byte string, for gather writes
// (a pack is its frames followed by its trailer, never copied together).
class BufferChain {
 public:
  BufferChain() = default;
  explicit BufferChain(Buffer b) { Append(std::move(b)); }

  void Append(Buffer b);
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::vector<Buffer>& pieces() const { return pieces_; }

  // A chain of views of [offset, offset + length), sharing the blocks.
  BufferChain Sub(uint64_t offset, uint64_t length) const;
  // Copies bytes starting at `offset` into dst; returns how many were copied.
  size_t CopyOut(uint64_t offset, std::span<uint8_t> dst) const;
  // One contiguous Buffer (no copy when the chain has a single piece).
  Buffer Flatten() const;

 private:
  std::vector<Buffer> pieces_;
  uint64_t size_ = 0;
};

}  // namespace hugeblob
