// Reading a local file through a shared, read-only mapping: without the copy
// out of the page cache that pread makes, and without the SIGBUS that kills
// a process when the file shrinks under the mapping.
//
// What it is for: checking bytes that are not kept (an in-place update
// hashes the chunks its target already holds at their own offsets). Bytes
// that will be used (written elsewhere, decoded) must be copied first and
// checked in the copy: another process may change a mapped file at any
// time, so what was hashed in a mapping is not what a later read of it
// sees. Profiled on the 4 GiB series (get --in-place v5 -> v6), the copy out
// of the page cache was 30% of the CPU time and the update is CPU-bound.
//
// Thread-safety: a FileMapping may be used from any thread; CatchSigbus
// guards the calling thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace hugeblob {

class FileMapping {
 public:
  // Maps the first `size` bytes of `fd` (opened for reading; it must stay
  // open while the mapping is used), or null when the kernel refuses (the
  // caller reads with pread instead).
  static std::unique_ptr<FileMapping> Map(int fd, uint64_t size);
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  // The bytes [offset, offset + length) (empty when outside the mapping or
  // empty). Read them only inside CatchSigbus: the file may shrink under
  // the mapping at any time. The first read of a page maps it and the
  // cached pages around it (fault-around: 16 pages per fault by default).
  // That is cheaper than filling the page tables up front with
  // MADV_POPULATE_READ, which walks and marks every page: on the 4 GiB
  // series, hashing 2.6 GB of a cached file on 2 threads took 0.10-0.14 s
  // of system time against 0.15-0.22 s, for the same number of faults.
  std::span<const uint8_t> View(uint64_t offset, uint64_t length) const;
  // Drops the pages of [offset, offset + length) from this process (they
  // stay in the page cache), so that the resident size stays bounded.
  void Release(uint64_t offset, uint64_t length) const;
  // Whether the page cache holds the byte at `offset` (a read of it that
  // must not wait: preadv2 with RWF_NOWAIT). A range that is not cached is
  // better read with pread: filling the mapping's page tables waits for
  // each missing page in turn, where pread starts the kernel's read-ahead
  // (a cold in-place update of the 4 GiB series took 3.0 s through the
  // mapping against 2.6 s with pread). True where the file system cannot
  // tell.
  bool Cached(uint64_t offset) const;

 private:
  FileMapping(int fd, uint8_t* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  int fd_;
  uint8_t* base_;
  uint64_t size_;
};

namespace internal {
bool CatchSigbusImpl(const void* begin, size_t length, void (*fn)(void*), void* arg);
}

// Runs fn(), which reads mapped bytes within `range`; returns false instead
// of dying when such a read raises SIGBUS (the mapped file shrank), and
// also without running fn when 256 threads are in such calls already (the
// caller then reads the bytes another way). fn must
// not own objects with destructors or take locks: on SIGBUS it is left
// midway with a non-local jump. The first call installs a SIGBUS handler
// for the process that passes every other SIGBUS on to the handler that was
// there before (or to the default action, which ends the process).
template <class F>
bool CatchSigbus(std::span<const uint8_t> range, F& fn) {
  return internal::CatchSigbusImpl(
      range.data(), range.size(), [](void* f) { (*static_cast<F*>(f))(); }, &fn);
}

}  // namespace hugeblob
