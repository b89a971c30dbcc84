#include "ops/seed.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>

#include "chunking/chunker.h"
#include "hash/blake3.h"
#include "hash/sha256.h"
#include "util/cancel.h"
#include "util/mapped.h"
#include "util/zeros.h"

namespace hugeblob {
namespace {

// Reads [pos, pos + limit) of `fd` block by block and cuts it with `chunker`
// (the island ends the last chunk), calling `chunk(offset, bytes)`; stops
// after the first chunk that ends at or past `stop_after`. `chunk` returns
// where the cut goes on: the chunk's end, or further when the callback took
// care of the bytes up to there itself (a chunk boundary: see on_chunk in
// SeedIndex::Build).
Status ScanIsland(int fd, const std::string& name, const Chunker& chunker, uint64_t pos,
                  uint64_t limit, std::vector<uint8_t>& block, const CancelToken* cancel,
                  const std::function<uint64_t(uint64_t, std::span<const uint8_t>)>& chunk,
                  uint64_t stop_after = UINT64_MAX) {
  size_t fill = 0;  // bytes of `block` holding data not cut yet, starting at `base`
  uint64_t base = pos;
  uint64_t left = limit;
  for (;;) {
    if (cancel != nullptr && cancel->cancelled()) return Fail(CancelledError("get"));
    const size_t want = static_cast<size_t>(std::min<uint64_t>(block.size() - fill, left));
    size_t got = 0;
    while (got < want) {
      ssize_t n =
          ::pread(fd, block.data() + fill + got, want - got, static_cast<off_t>(base + fill + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrnoError(errno, "read seed " + name));
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    fill += got;
    left -= got;
    const bool eof = got < want || left == 0;
    size_t at = 0;
    bool jumped = false;  // past what `block` holds
    while (at < fill) {
      size_t n = chunker.NextCut({block.data() + at, fill - at}, eof);
      if (n == 0) break;
      const uint64_t next = chunk(base + at, {block.data() + at, n});
      at += n;
      if (base + at >= stop_after) return OkStatus();
      if (next <= base + at) continue;
      if (next >= stop_after) return OkStatus();
      if (next <= base + fill) {
        at = static_cast<size_t>(next - base);
        continue;
      }
      const uint64_t skip = next - (base + fill);
      if (eof || skip >= left) return OkStatus();  // past the island's end
      left -= skip;
      base = next;
      fill = 0;
      at = 0;
      jumped = true;
      break;
    }
    if (jumped) continue;
    if (eof) return OkStatus();
    std::memmove(block.data(), block.data() + at, fill - at);
    base += at;
    fill -= at;
  }
}

}  // namespace

// A sample of the frames is probed at their own offsets first; the aligned
// pass runs when at least this share of them matched (a seed cut like the
// file: an older version, the target). Below it, the seed is simply cut.
// At most kProbes of them, one in kProbeEvery or fewer (the probe runs in
// one thread before the pass).
constexpr unsigned kProbeEvery = 16;
constexpr size_t kProbes = 256;
constexpr double kAlignedShare = 0.25;
// Bytes of consecutive frames one aligned-pass task reads at once: small
// enough that the bytes pread copies out of the page cache are still in the
// core's L2 cache (2 MiB here) when BLAKE3 reads them. Profiled on the
// 4 GiB series (get --in-place v5 -> v6): the copy out of the page cache
// (_copy_to_iter) took 34% of the samples, BLAKE3 40%; 1 MiB instead of
// 8 MiB batches cut the CPU time of the update by about 15% (alternating
// runs: 1.35-1.48 s against 1.66-1.79 s user + system).
constexpr uint64_t kAlignedBatch = 1 << 20;
// In place, chunks of a target known by its record that are read and
// checked all the same, spread over it (see Build).
constexpr size_t kRecordSamples = 16;

Result<std::unique_ptr<SeedIndex>> SeedIndex::Build(const Manifest& m,
                                                    const std::vector<std::string>& paths,
                                                    const CancelToken* cancel,
                                                    const SeedScanOptions& options) {
  auto index = std::make_unique<SeedIndex>();
  std::unordered_set<ChunkId, Hash256Hasher> needed;
  std::unordered_map<ChunkId, size_t, Hash256Hasher> frame_of;  // the first frame of each chunk
  std::vector<uint32_t> lengths;                                // of the file's chunks
  for (size_t i = 0; i < m.frames.size(); ++i) {
    const FrameRef& f = m.frames[i];
    if (f.zero) continue;
    needed.insert(f.chunk);
    frame_of.emplace(f.chunk, i);
    lengths.push_back(f.length);
  }
  // A piece of a seed can only be a chunk of the file if it has the length
  // of one: the cut's pieces of other lengths are never hashed. (A file's
  // chunks have a few thousand distinct lengths among the up to a million
  // the chunker can cut, so most pieces that match nothing are skipped:
  // on the 4 GiB series, hashing was a fifth of the cut's time.)
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  HB_TRY(ValidateChunkerParams(m.chunker));
  std::unique_ptr<Chunker> chunker = MakeChunker(m.chunker);
  const size_t block_size = std::max<size_t>(4u << 20, 2 * size_t{chunker->max_size()});
  std::vector<uint8_t> aligned(m.frames.size(), 0);  // frames found at their own offset
  uint64_t always_bytes = 0;                         // scanned in the first `always` paths
  for (size_t p = 0; p < paths.size(); ++p) {
    const std::string& path = paths[p];
    // Everything found already (an in-place update still scans its target:
    // it must know which chunks are in place).
    if (needed.size() == index->map_.size() && !(p == 0 && options.at_own_offset != nullptr)) {
      break;
    }
    if (p == options.always) always_bytes = index->scanned_;
    if (p >= options.always && options.max_scan_bytes != 0 &&
        index->scanned_ - always_bytes >= options.max_scan_bytes) {
      break;
    }
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;
      return Fail(ErrnoError(errno, "open seed " + path));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError(errno, "stat seed " + path));
    if (!S_ISREG(st.st_mode)) {
      return Fail(ErrorCode::kInvalidArgument, "seed " + path + " is not a regular file");
    }
    if (p == 0 && options.first_is &&
        (static_cast<uint64_t>(st.st_dev) != options.first_is->first ||
         static_cast<uint64_t>(st.st_ino) != options.first_is->second)) {
      return Fail(ErrorCode::kInvalidArgument, path + " was replaced while it was being updated");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const uint32_t file = static_cast<uint32_t>(index->files_.size());
    std::vector<uint8_t>* own = p == 0 ? options.at_own_offset : nullptr;
    // An in-place target hugeblob has a record of (and that did not change
    // since): its chunks are known without reading it (when the record
    // covers the file and names chunks as this manifest does; else it is
    // scanned). Only the target: a seed of a new file is read all the same
    // (every chunk taken is read to be copied), and the aligned pass below
    // reads it faster than copying chunk by chunk from where a record says
    // they are (2.7-3.2 s against 1.8-2.2 s, 4 GiB series, new file).
    if (own != nullptr && options.first_record != nullptr) {
      const std::vector<FrameRef>& held = *options.first_record;
      uint64_t end = 0;
      bool usable = true;
      for (const FrameRef& f : held) {
        usable = usable && f.offset == end && (f.zero || f.hash == m.chunk_hash);
        end += f.length;
      }
      usable = usable && end <= size;
      // In place, the frames the record lists at their own offsets: left
      // unread, but for a sample spread over them (a random phase; one in 64
      // of them, at least one, at most kRecordSamples), read and checked.
      // One that differs (a change below the file system, a record that
      // lies) sends the file to the scan.
      std::vector<size_t> in_place;
      if (usable) {
        size_t j = 0;  // the held frames, walked alongside the file's
        for (size_t i = 0; i < m.frames.size(); ++i) {
          const FrameRef& f = m.frames[i];
          while (j < held.size() && held[j].offset < f.offset) ++j;
          if (j == held.size()) break;
          const FrameRef& h = held[j];
          if (!f.zero && !h.zero && h.offset == f.offset && h.length == f.length &&
              h.chunk == f.chunk) {
            in_place.push_back(i);
          }
        }
        const size_t samples = std::min(kRecordSamples, in_place.size() / 64 + 1);
        const size_t step = std::max<size_t>(1, in_place.size() / samples);
        std::vector<uint8_t> buf;
        for (size_t k = std::random_device{}() % step; k < in_place.size(); k += step) {
          const FrameRef& f = m.frames[in_place[k]];
          buf.resize(f.length);
          if (!PreadAll(fd.get(), buf, f.offset, path) || ChunkHash(m.chunk_hash, buf) != f.chunk) {
            spdlog::warn(
                "{}: bytes at offset {} differ from hugeblob's record of the file; "
                "reading all of it",
                path, f.offset);
            usable = false;
            break;
          }
          index->scanned_ += f.length;
        }
      }
      if (usable) {
        // Own offsets first: a chunk also found elsewhere is read, for a
        // move, from where nothing overwrites it.
        uint64_t bytes = 0;
        for (size_t i : in_place) {
          const FrameRef& f = m.frames[i];
          (*own)[i] = 1;
          aligned[i] = 1;
          index->map_.emplace(f.chunk, Source{file, f.offset});
          bytes += f.length;
        }
        index->recorded_ += bytes;
        if (options.on_own_offset && bytes != 0) options.on_own_offset(bytes);
        for (const FrameRef& f : held) {
          if (!f.zero && needed.count(f.chunk) != 0) {
            index->map_.emplace(f.chunk, Source{file, f.offset});
          }
        }
        ++index->recorded_files_;
        index->names_.push_back(path);
        index->files_.push_back(std::move(fd));
        continue;
      }
    }
    // Frames still worth looking for at their own offset in this seed.
    auto wanted = [&](size_t i) {
      const FrameRef& f = m.frames[i];
      return !f.zero && !aligned[i] && f.offset + f.length <= size &&
             (own != nullptr || index->map_.count(f.chunk) == 0);
    };
    auto found_at_own = [&](size_t i) {
      const FrameRef& f = m.frames[i];
      aligned[i] = 1;
      index->map_.emplace(f.chunk, Source{file, f.offset});
      if (own != nullptr) (*own)[i] = 1;
    };

    // 1. A seed cut like the file needs no cutting where nothing moved: the
    // file's own chunks are checked at their own offsets, in parallel. A
    // sample is probed first; in place (nothing to write) its hits count
    // as checked and are not read again.
    std::vector<uint8_t> hit(m.frames.size(), 0);  // found at its own offset in this seed
    // Nothing is written from the bytes of an in-place check: they are
    // hashed in place in the page cache, not copied out first. (Bytes that
    // are written must be the bytes checked, so a copy is read then; and
    // SHA-256's OpenSSL context could not be left midway on SIGBUS.)
    std::unique_ptr<FileMapping> mapping;
    if (options.write_fd < 0 && m.chunk_hash == HashAlgo::kBlake3) {
      mapping = FileMapping::Map(fd.get(), size);
    }
    // Whether frames [first, last) of the file, which lie back to back, are
    // at their own offsets in this seed (a flag per frame in `matched`):
    // through the mapping, or else read into `buf`, which then holds their
    // bytes (always so when the caller writes them: there is no mapping).
    auto check_own = [&](size_t first, size_t last, std::vector<uint8_t>& buf,
                         std::vector<uint8_t>& matched) -> Status {
      const uint64_t begin = m.frames[first].offset;
      const uint64_t end = m.frames[last - 1].offset + m.frames[last - 1].length;
      matched.assign(last - first, 0);
      // Through the mapping where the page cache holds the range already
      // (its end, as a sample); else pread, whose read-ahead is faster.
      if (mapping != nullptr && mapping->Cached(end - 1)) {
        // If the seed shrank meanwhile, read again with pread below (that
        // read says so).
        const std::span<const uint8_t> view = mapping->View(begin, end - begin);
        if (!view.empty()) {
          auto hash_all = [&] {
            for (size_t i = first; i < last; ++i) {
              const FrameRef& f = m.frames[i];
              matched[i - first] =
                  ChunkHash(m.chunk_hash, view.subspan(f.offset - begin, f.length)) == f.chunk;
            }
          };
          const bool done = CatchSigbus(view, hash_all);
          mapping->Release(begin, end - begin);
          if (done) return OkStatus();
          matched.assign(last - first, 0);
        }
      }
      buf.resize(end - begin);
      HB_TRY(PreadAll(fd.get(), buf, begin, path));
      for (size_t i = first; i < last; ++i) {
        const FrameRef& f = m.frames[i];
        std::span<const uint8_t> bytes_of(buf.data() + (f.offset - begin), f.length);
        matched[i - first] = ChunkHash(m.chunk_hash, bytes_of) == f.chunk;
      }
      return OkStatus();
    };

    // The probe, spread over the threads of the pass (a seed that cannot be
    // read there counts as not matching: the pass or the cut says why).
    std::vector<size_t> probed;
    const size_t probe_every = std::max<size_t>(kProbeEvery, m.frames.size() / kProbes);
    for (size_t i = 0; i < m.frames.size(); i += probe_every) {
      if (wanted(i)) probed.push_back(i);
    }
    std::vector<uint8_t> probe_hit(probed.size(), 0);
    {
      std::atomic<size_t> next{0};
      auto probe = [&] {
        std::vector<uint8_t> buf, matched;
        for (size_t k = next.fetch_add(1); k < probed.size(); k = next.fetch_add(1)) {
          if (check_own(probed[k], probed[k] + 1, buf, matched)) probe_hit[k] = matched[0];
        }
      };
      std::vector<std::thread> pool;
      const size_t helpers =
          std::min<size_t>(std::max(1u, options.threads), probed.size() / 16 + 1);
      for (size_t t = 1; t < helpers; ++t) pool.emplace_back(probe);
      probe();
      for (auto& t : pool) t.join();
    }
    const size_t probes = probed.size();
    size_t hits = 0;
    for (size_t k = 0; k < probed.size(); ++k) {
      if (probe_hit[k] == 0) continue;
      ++hits;
      if (options.write_fd < 0) hit[probed[k]] = 1;
    }

    // 2. The rest is cut like put cuts a file, to find the chunks that
    // moved (island by island; a file system that cannot tell holes from
    // data is one island). Between two covered ranges, the cut starts where
    // one ends (a chunk boundary in both files) and runs until the first
    // chunk that reaches into the next. With the aligned pass, this runs in
    // its own thread behind it, gap by gap as the pass settles the frames
    // around each gap.
    // A chunk of the file found at `offset` of the seed is most likely
    // followed there by the file's next chunks (a region shifted by an
    // insertion or a deletion): those are checked where they would be, by
    // their ids, and the cut goes on after the last that matched (a chunk
    // boundary in both files, like the end of a covered range) instead of
    // cutting and hashing bytes whose cut is known already.
    // One cut's buffers and what it found: chunks of the file at offsets of
    // this seed, taken (in file order, so the first place a chunk was found
    // is the one kept) once the cut is over.
    struct Found {
      size_t frame;
      uint64_t offset;  // in the seed
      bool written;     // to options.write_fd by the cut
    };
    struct Cut {
      std::vector<uint8_t> block, follow;
      uint64_t island_end = 0;  // of the island being cut
      uint64_t scanned = 0;
      std::vector<Found> found;
      // Set: each frame found is written to options.write_fd at once, from
      // the bytes just hashed, by the cut that claims it first.
      std::atomic<uint8_t>* claims = nullptr;
      std::optional<Error> error;  // of such a write
    };
    auto take = [&](size_t i, uint64_t offset) {
      const ChunkId& id = m.frames[i].chunk;
      index->map_.emplace(id, Source{file, offset});
      if (own != nullptr) {  // the file has this chunk right here (maybe at another frame too)
        const size_t j = m.FindFrame(offset);
        if (j < m.frames.size() && m.frames[j].offset == offset &&
            m.frames[j].length == m.frames[i].length && !m.frames[j].zero &&
            m.frames[j].chunk == id) {
          (*own)[j] = 1;
        }
      }
    };
    auto take_found = [&](Cut& c) {
      for (const Found& f : c.found) {
        take(f.frame, f.offset);
        if (f.written) (*options.done)[f.frame] = 1;
      }
      index->scanned_ += c.scanned;
      c.found.clear();
      c.scanned = 0;
    };
    // Writes frame i of the file from `bytes` (hashed already) if `c` writes
    // and no other cut claimed it; whether it did.
    auto write_found = [&](Cut& c, size_t i, std::span<const uint8_t> bytes) {
      if (c.claims == nullptr || c.error) return false;
      uint8_t free_claim = 0;
      if (!c.claims[i].compare_exchange_strong(free_claim, 1)) return false;
      const FrameRef& f = m.frames[i];
      if (Status w = PwriteAll(options.write_fd, bytes, f.offset, options.write_name); !w) {
        c.error = w.error();
        return false;
      }
      // Its writeback starts now: the final fsync waits for less.
      (void)::sync_file_range(options.write_fd, static_cast<off_t>(f.offset),
                              static_cast<off_t>(f.length), SYNC_FILE_RANGE_WRITE);
      if (options.on_written) options.on_written(f.length);
      return true;
    };
    auto on_chunk = [&](Cut& c, uint64_t offset, std::span<const uint8_t> bytes) -> uint64_t {
      c.scanned += bytes.size();
      const uint64_t end = offset + bytes.size();
      if (!std::binary_search(lengths.begin(), lengths.end(), bytes.size())) return end;
      if (IsAllZero(bytes)) return end;  // holes are never fetched anyway
      ChunkId id = ChunkHash(m.chunk_hash, bytes);
      auto it = frame_of.find(id);
      if (it == frame_of.end()) return end;
      size_t i = it->second;
      if (m.frames[i].length != bytes.size()) return end;
      c.found.push_back({i, offset, write_found(c, i, bytes)});
      uint64_t at = end;
      for (++i; i < m.frames.size(); ++i) {
        const FrameRef& f = m.frames[i];
        if (f.zero || at + f.length > c.island_end) break;
        if (c.follow.size() < f.length) c.follow.resize(f.length);
        std::span<uint8_t> buf(c.follow.data(), f.length);
        if (!PreadAll(fd.get(), buf, at, path)) break;
        c.scanned += f.length;
        if (ChunkHash(m.chunk_hash, buf) != f.chunk) break;
        c.found.push_back({i, at, write_found(c, i, buf)});
        at += f.length;
      }
      return at;
    };
    // Cuts [gap, gap_end) with `c`; `more`: a covered range follows at gap_end.
    auto scan_gap = [&](Cut& c, uint64_t gap, uint64_t gap_end, bool more) -> Status {
      if (c.block.empty()) c.block.resize(block_size);
      auto chunk = [&](uint64_t offset, std::span<const uint8_t> bytes) {
        return on_chunk(c, offset, bytes);
      };
      uint64_t pos = gap;
      while (pos < gap_end) {
        uint64_t end = gap_end;
        if (auto extent = NextDataExtent(fd.get(), pos, gap_end, kMinSkippedHole)) {
          pos = extent->first;
          end = extent->second;
          if (pos >= gap_end) break;
        }
        // The last island of a gap runs into the covered range after it,
        // up to one chunk, so that the chunk across the boundary is whole.
        const bool last = end >= gap_end && more;
        const uint64_t limit = last ? std::min<uint64_t>(size, end + chunker->max_size()) : end;
        c.island_end = limit;
        HB_TRY(ScanIsland(fd.get(), path, *chunker, pos, limit - pos, c.block, cancel, chunk,
                          last ? gap_end : UINT64_MAX));
        if (c.error) return Fail(*c.error);
        pos = end;
      }
      return OkStatus();
    };
    Cut cut;  // the gaps of the aligned pass one after the other, or a small seed whole
    auto cut_gap = [&](uint64_t gap, uint64_t gap_end, bool more) -> Status {
      Status st = scan_gap(cut, gap, gap_end, more);
      take_found(cut);
      return st;
    };
    // The whole seed, in segments cut in parallel, like desync cuts a file
    // (a seed not cut like the file: another file, another chunker, an
    // insertion near the start). Each segment's cut starts a little before
    // it (two of the largest chunks) and runs to the first chunk that
    // reaches the next segment: a cut started at an arbitrary offset falls
    // in step with the file's cut points within a chunk or two, so the lead
    // is where it does, and only a chunk that a cut failed to fall in step
    // for is missed (a fetch too many, never a wrong byte). Writing a new
    // file, each chunk found is written at once from the bytes the cut
    // hashed (so the seed is read once, as in the aligned pass), by the cut
    // that finds it first.
    auto cut_all = [&]() -> Status {
      std::unique_ptr<std::atomic<uint8_t>[]> claims;
      if (options.write_fd >= 0 && options.done != nullptr) {
        claims = std::make_unique<std::atomic<uint8_t>[]>(m.frames.size());
        for (size_t i = 0; i < m.frames.size(); ++i) claims[i] = (*options.done)[i];
      }
      const uint64_t segment = std::max<uint64_t>(options.segment_bytes, 4 * chunker->max_size());
      const unsigned threads = std::max(1u, options.threads);
      if (threads == 1 || size < 2 * segment) {
        cut.claims = claims.get();
        return cut_gap(0, size, false);
      }
      const uint64_t lead = 2 * uint64_t{chunker->max_size()};
      const size_t segments = static_cast<size_t>((size + segment - 1) / segment);
      std::vector<Cut> results(segments);  // what each segment found (no buffers)
      std::atomic<size_t> next{0};
      std::atomic<bool> stop{false};
      std::mutex mu;
      std::optional<Error> error;  // guarded by mu
      auto work = [&] {
        Cut c;
        c.claims = claims.get();
        for (size_t k = next.fetch_add(1); k < segments && !stop.load(); k = next.fetch_add(1)) {
          const uint64_t from = k * segment;
          const uint64_t to = std::min<uint64_t>(size, from + segment);
          Status st = scan_gap(c, from < lead ? 0 : from - lead, to, to < size);
          results[k].found = std::move(c.found);
          results[k].scanned = c.scanned;
          c.found = {};
          c.scanned = 0;
          if (!st) {
            std::lock_guard lock(mu);
            if (!error) error = st.error();
            stop.store(true);
          }
        }
      };
      std::vector<std::thread> pool;
      for (unsigned t = 1; t < std::min<size_t>(threads, segments); ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
      for (Cut& r : results) take_found(r);
      if (error) return Fail(*error);
      return OkStatus();
    };
    // The frames of the file in [gap, gap_end) this seed lacks, for
    // on_missing (one seed only: another might hold them).
    const bool report = options.on_missing && paths.size() == 1;
    std::unordered_map<ChunkId, uint32_t, Hash256Hasher> uses;  // frames per chunk
    if (report) {
      for (const FrameRef& f : m.frames) {
        if (!f.zero) ++uses[f.chunk];
      }
    }
    auto report_missing = [&](uint64_t gap, uint64_t gap_end) {
      if (!report || gap >= gap_end) return;
      std::vector<size_t> missing;
      for (size_t i = m.FindFrame(gap); i < m.frames.size() && m.frames[i].offset < gap_end; ++i) {
        const FrameRef& f = m.frames[i];
        if (f.zero || hit[i] || aligned[i] || uses[f.chunk] != 1) continue;
        if (index->map_.count(f.chunk) == 0) missing.push_back(i);
      }
      if (!missing.empty()) options.on_missing(missing);
    };

    if (probes > 0 && hits >= kAlignedShare * static_cast<double>(probes)) {
      // Cloning needs the destination's block size; off once refused.
      uint64_t write_block = 0;
      struct stat wst;
      if (options.write_fd >= 0 && index->clone_ok_.load() &&
          ::fstat(options.write_fd, &wst) == 0 && wst.st_blksize > 0) {
        write_block = static_cast<uint64_t>(wst.st_blksize);
      }
      // Batches of consecutive wanted frames, each read with one pread.
      std::vector<std::pair<size_t, size_t>> batches;
      std::vector<uint32_t> batch_of(m.frames.size(), UINT32_MAX);
      uint64_t probed_bytes = 0;  // probe hits taken as they are
      for (size_t i = 0; i < m.frames.size();) {
        if (hit[i]) probed_bytes += m.frames[i].length;
        if (!wanted(i) || hit[i]) {
          ++i;
          continue;
        }
        size_t j = i + 1;
        while (j < m.frames.size() && wanted(j) && !hit[j] &&
               m.frames[j].offset + m.frames[j].length - m.frames[i].offset <= kAlignedBatch) {
          ++j;
        }
        for (size_t k = i; k < j; ++k) batch_of[k] = static_cast<uint32_t>(batches.size());
        batches.emplace_back(i, j);
        i = j;
      }
      std::atomic<size_t> next{0};
      std::atomic<bool> stop{false};
      std::mutex mu;
      std::condition_variable settled;                     // a batch is done, or stop
      std::vector<uint8_t> batch_done(batches.size(), 0);  // guarded by mu
      std::optional<Error> error;                          // guarded by mu
      uint64_t bytes = probed_bytes;                       // guarded by mu
      auto fail = [&](Error e) {
        {
          std::lock_guard lock(mu);
          if (!error) error = std::move(e);
        }
        stop.store(true);
        settled.notify_all();
      };
      auto worker = [&] {
        std::vector<uint8_t> buf, check, matched;
        std::vector<size_t> mine;
        uint64_t read = 0;
        for (;;) {
          if (stop.load()) break;
          const size_t b = next.fetch_add(1);
          if (b >= batches.size()) break;
          if (cancel != nullptr && cancel->cancelled()) {
            fail(CancelledError("get"));
            break;
          }
          const size_t first = batches[b].first;
          const size_t last = batches[b].second;
          const uint64_t begin = m.frames[first].offset;
          const uint64_t end = m.frames[last - 1].offset + m.frames[last - 1].length;
          mine.clear();
          if (Status rd = check_own(first, last, buf, matched); !rd) {
            fail(rd.error());
            break;
          }
          for (size_t i = first; i < last; ++i) {
            if (matched[i - first] != 0) mine.push_back(i);
          }
          read += end - begin;
          // Write what matched, run by run of adjacent chunks, from the bytes
          // just checked; the block-aligned middle of a run is cloned when
          // the file system shares extents.
          bool failed = false;
          for (size_t k = 0; options.write_fd >= 0 && k < mine.size() && !failed;) {
            size_t e = k + 1;
            while (e < mine.size() && mine[e] == mine[e - 1] + 1) ++e;
            const uint64_t rb = m.frames[mine[k]].offset;
            const uint64_t re = m.frames[mine[e - 1]].offset + m.frames[mine[e - 1]].length;
            auto put = [&](uint64_t from, uint64_t to) -> bool {
              if (from >= to) return true;
              Status w = PwriteAll(options.write_fd, {buf.data() + (from - begin), to - from}, from,
                                   options.write_name);
              if (!w) fail(w.error());
              return static_cast<bool>(w);
            };
            uint64_t a = rb, z = rb;  // the cloned part, [a, z)
            if (write_block != 0) {
              a = (rb + write_block - 1) / write_block * write_block;
              z = std::max(a, re / write_block * write_block);
              if (z > a && !index->CloneFromFd(fd.get(), a, {buf.data() + (a - begin), z - a},
                                               options.write_fd, options.write_name, check)) {
                a = z = rb;
              }
            }
            failed = !(put(rb, a) && put(z, re) && (z > a || put(a, z)));
            k = e;
          }
          // Start writing the batch back now, so that the fsync at the end
          // waits for the last batches only, not for the whole file.
          if (options.write_fd >= 0 && !mine.empty() && !failed) {
            (void)::sync_file_range(options.write_fd, static_cast<off_t>(begin),
                                    static_cast<off_t>(end - begin), SYNC_FILE_RANGE_WRITE);
          }
          // Frames the aligned writer already wrote stay written even if a
          // later frame failed: they are marked before the error is returned.
          for (size_t i : mine) hit[i] = 1;
          {
            std::lock_guard lock(mu);
            batch_done[b] = 1;
          }
          settled.notify_all();
          if (failed) break;
          const auto& report = options.write_fd >= 0
                                   ? options.on_written
                                   : (own != nullptr ? options.on_own_offset : nullptr);
          if (report && !mine.empty()) {
            uint64_t n = 0;
            for (size_t i : mine) n += m.frames[i].length;
            report(n);
          }
        }
        std::lock_guard lock(mu);
        bytes += read;
      };
      // The cut of the gaps, behind the pass: a gap is cut as soon as the
      // frame after it is known to be covered, so the two overlap.
      auto scanner = [&]() -> Status {
        uint64_t gap = 0;
        bool in_run = false;
        uint32_t settled_batch = UINT32_MAX;  // known done
        for (size_t i = 0; i < m.frames.size(); ++i) {
          const uint32_t b = batch_of[i];
          if (b != UINT32_MAX && b != settled_batch) {
            settled_batch = b;
            std::unique_lock lock(mu);
            settled.wait(lock, [&] { return batch_done[b] != 0 || stop.load(); });
            if (batch_done[b] == 0) return OkStatus();  // the pass failed: its error counts
          }
          if (hit[i] && !in_run) {
            HB_TRY(cut_gap(gap, m.frames[i].offset, true));
            report_missing(gap, m.frames[i].offset);
            in_run = true;
          } else if (!hit[i] && in_run) {
            gap = m.frames[i].offset;
            in_run = false;
          }
        }
        if (in_run) gap = m.size;
        HB_TRY(cut_gap(gap, size, false));
        report_missing(gap, std::max(size, m.size));
        return OkStatus();
      };
      std::vector<std::thread> pool;
      const unsigned threads = std::max(1u, options.threads);
      for (unsigned t = 0; t < std::min<size_t>(threads, batches.size()); ++t) {
        pool.emplace_back(worker);
      }
      Status cut = scanner();
      if (!cut) fail(cut.error());
      for (auto& t : pool) t.join();
      index->aligned_ += bytes;
      index->scanned_ += bytes;
      for (size_t i = 0; i < m.frames.size(); ++i) {
        if (!hit[i]) continue;
        found_at_own(i);
        if (options.done != nullptr && options.write_fd >= 0) (*options.done)[i] = 1;
      }
      if (error) return Fail(*error);
    } else {
      std::fill(hit.begin(), hit.end(), 0);
      HB_TRY(cut_all());
      report_missing(0, std::max(size, m.size));
    }
    index->names_.push_back(path);
    index->files_.push_back(std::move(fd));
  }
  return index;
}

const SeedIndex::Source* SeedIndex::Find(const ChunkId& id) const {
  auto it = map_.find(id);
  return it == map_.end() ? nullptr : &it->second;
}

bool SeedIndex::Read(const Source& src, std::span<uint8_t> dst, HashAlgo hash,
                     const ChunkId& id) const {
  if (!PreadAll(files_[src.file].get(), dst, src.offset, names_[src.file])) return false;
  return ChunkHash(hash, dst) == id;
}

bool SeedIndex::CloneChecked(uint32_t file, uint64_t offset, std::span<const uint8_t> expected,
                             int dst_fd, const std::string& dst_name,
                             std::vector<uint8_t>& scratch) const {
  return CloneFromFd(files_[file].get(), offset, expected, dst_fd, dst_name, scratch);
}

bool SeedIndex::CloneFromFd(int src_fd, uint64_t offset, std::span<const uint8_t> expected,
                            int dst_fd, const std::string& dst_name,
                            std::vector<uint8_t>& scratch) const {
  if (!clone_ok_.load(std::memory_order_relaxed)) return false;
  struct file_clone_range range;
  range.src_fd = src_fd;
  range.src_offset = offset;
  range.src_length = expected.size();
  range.dest_offset = offset;
  if (::ioctl(dst_fd, FICLONERANGE, &range) != 0) {
    // EOPNOTSUPP/ENOTTY (ext4, tmpfs), EXDEV (two file systems), EINVAL
    // (unaligned after all): never ask again.
    clone_ok_.store(false, std::memory_order_relaxed);
    return false;
  }
  // Shared extents, nothing written. The seed may have changed since its
  // bytes were checked: what the destination now holds is what counts.
  scratch.resize(expected.size());
  if (!PreadAll(dst_fd, scratch, offset, dst_name)) return false;
  if (std::memcmp(scratch.data(), expected.data(), expected.size()) != 0) return false;
  cloned_.fetch_add(expected.size(), std::memory_order_relaxed);
  return true;
}

Result<SeedIndex::Copied> SeedIndex::CopyTo(const Source& src, uint32_t length, HashAlgo hash,
                                            const ChunkId& id, int dst_fd, uint64_t dst_offset,
                                            const std::string& dst_name,
                                            std::vector<uint8_t>& scratch) const {
  if (scratch.size() < length) scratch.resize(length);
  std::span<uint8_t> buf(scratch.data(), length);
  if (clone_ok_.load(std::memory_order_relaxed)) {
    struct stat st;
    const uint64_t block =
        ::fstat(dst_fd, &st) == 0 && st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 0;
    if (block != 0 && src.offset % block == 0 && dst_offset % block == 0 && length % block == 0) {
      struct file_clone_range range;
      range.src_fd = files_[src.file].get();
      range.src_offset = src.offset;
      range.src_length = length;
      range.dest_offset = dst_offset;
      if (::ioctl(dst_fd, FICLONERANGE, &range) == 0) {
        // Shared extents, no bytes written; what matters is what the
        // destination now holds, so that is what is checked.
        if (!PreadAll(dst_fd, buf, dst_offset, dst_name)) return Copied::kNo;
        return ChunkHash(hash, buf) == id ? Copied::kCloned : Copied::kNo;
      }
      // EOPNOTSUPP/ENOTTY (ext4, tmpfs), EXDEV (two file systems), EINVAL
      // (the same file, or unaligned after all): never ask again.
      clone_ok_.store(false, std::memory_order_relaxed);
    }
  }
  if (!Read(src, buf, hash, id)) return Copied::kNo;
  HB_TRY(PwriteAll(dst_fd, buf, dst_offset, dst_name));
  return Copied::kWritten;
}

Result<std::vector<std::string>> ListSeedDir(const std::string& dir, uint64_t size,
                                             const ChunkerParams& params,
                                             const std::vector<std::string>& exclude) {
  namespace fs = std::filesystem;
  struct stat root;
  if (::stat(dir.c_str(), &root) != 0) return Fail(ErrnoError(errno, "--seed-dir " + dir));
  if (!S_ISDIR(root.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, "--seed-dir " + dir + " is not a directory");
  }
  std::vector<std::pair<dev_t, ino_t>> skip;
  for (const std::string& e : exclude) {
    struct stat st;
    if (::stat(e.c_str(), &st) == 0) skip.emplace_back(st.st_dev, st.st_ino);
  }
  struct Candidate {
    uint64_t distance;
    std::string path;
  };
  std::vector<Candidate> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Fail(ErrorCode::kIOError, "--seed-dir " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      ec.clear();
      continue;
    }
    struct stat st;
    const std::string path = it->path().string();
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != root.st_dev) it.disable_recursion_pending();  // another file system
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (static_cast<uint64_t>(st.st_size) < params.min_size) continue;
    if (std::find(skip.begin(), skip.end(), std::make_pair(st.st_dev, st.st_ino)) != skip.end()) {
      continue;
    }
    // Another get's temporary file: a partial restore, not a seed.
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") && name.find(".hugeblob.") != std::string::npos &&
        name.ends_with(".tmp")) {
      continue;
    }
    const uint64_t n = static_cast<uint64_t>(st.st_size);
    found.push_back({n > size ? n - size : size - n, path});
  }
  std::stable_sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.path < b.path;
  });
  std::vector<std::string> out;
  for (Candidate& c : found) out.push_back(std::move(c.path));
  return out;
}

}  // namespace hugeblob
