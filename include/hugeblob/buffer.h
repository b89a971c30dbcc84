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
class BlockPool;

// Bytes reserved from a MemoryBudget; returned when destroyed. Move-only.
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
  friend class BlockPool;
  struct Block;
  std::shared_ptr<Block> block_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// An ordered list of Buffers treated as one byte string, for gather writes
// (a pack is its frames followed by its trailer, never copied together).
// A free list of equal-sized blocks, so that a hot loop which allocates and
// frees large buffers (put's input blocks, decoded chunks) reuses memory
// instead of asking the allocator each time. Large allocations are mmap()ed
// by glibc, and a fresh mapping costs a page fault and a page clear per 4 KiB:
// up to a few seconds of system time per GiB moved.
//
// Buffers from Allocate() are ordinary Buffers; when the last view of one goes
// away its block returns to the pool (if the pool still exists and holds fewer
// than `max_free` blocks) instead of being freed. The pool never holds more
// than `max_free` idle blocks, so its memory beyond what callers have
// reserved is bounded by max_free * block_size. Thread-safe.
class BlockPool : public std::enable_shared_from_this<BlockPool> {
 public:
  static std::shared_ptr<BlockPool> Create(size_t block_size, size_t max_free);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A buffer of block_size() bytes (uninitialised), holding `reservation`.
  Buffer Allocate(Reservation reservation = {});
  size_t block_size() const { return block_size_; }
  // Idle blocks held now; blocks handed out that were reused / newly made.
  size_t free_blocks() const;
  uint64_t reused() const;
  uint64_t created() const;

 private:
  friend struct Buffer::Block;
  BlockPool(size_t block_size, size_t max_free);
  // Takes back a block's memory; frees it if the pool is full.
  void Recycle(uint8_t* bytes);

  const size_t block_size_;
  const size_t max_free_;
  struct State;
  std::unique_ptr<State> state_;
};

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
