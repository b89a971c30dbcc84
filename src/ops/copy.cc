#include "ops/copy.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "format/layout.h"
#include "format/manifest.h"
#include "ops/load.h"
#include "repo/frames.h"
#include "repo/refs.h"
#include "store/local_store.h"
#include "util/cancel.h"
#include "util/units.h"
#include "writer/chunk_index.h"
#include "writer/pack_writer.h"
#include "writer/store_lock.h"

namespace hugeblob {
namespace {

using Clock = std::chrono::steady_clock;

class Copier {
 public:
  Copier(std::shared_ptr<ObjectStore> src, std::shared_ptr<ObjectStore> dst,
         const CopyOptions& options)
      : src_(std::move(src)), dst_(std::move(dst)), options_(options) {}

  Result<CopyResult> Run();

 private:
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }
  Status Configure();
  // One version of a name, as the source holds it.
  struct Item {
    std::string name;
    uint32_t number = 0;  // in the source
    std::string stamp;    // kept in the destination: same order, reruns skip it
    Ref ref;
  };
  Result<std::vector<Item>> Plan();
  Status CopyOne(const Item& item);
  void Report(bool force);

  std::shared_ptr<ObjectStore> src_;
  std::shared_ptr<ObjectStore> dst_;
  CopyOptions options_;
  WindowOptions window_;
  RequestCost cost_;  // of the source's requests
  ReadShape shape_;
  unsigned uploaders_ = 1;

  std::unique_ptr<ChunkIndex> index_;
  uint32_t first_new_pack_ = 0;
  std::unique_ptr<PackWriter> writer_;
  CopyResult result_;
  uint64_t other_written_ = 0;  // manifests and refs
  uint64_t done_ = 0;           // file bytes accounted for, for progress
  uint64_t total_ = 0;
  Clock::time_point last_progress_{};
};

Status Copier::Configure() {
  if (options_.pack_size < (1u << 20) || options_.pack_size > (1ull << 30)) {
    return Fail(ErrorCode::kInvalidArgument, "pack size must be between 1M and 1G");
  }
  // Memory plan, as put's: the open pack and one being stored take
  // pack_size each; the rest is a window of ranged reads of up to 12 MiB
  // each (large requests: on S3 each one costs tens of ms before its first
  // byte). The frames are handed to PackWriter::Append, which copies them,
  // as slices of the read (no second copy), so a read costs its size once.
  // What is left above the minimum buys a second upload and more reads in
  // flight; FetchInOrder then grows its window up to that bound only
  // while the sink waits for the store (a local source stays at 2).
  window_.threads = std::max(1u, options_.threads);
  window_.cancel = options_.cancel;
  window_.private_copies = false;
  const uint64_t pack_size = options_.pack_size;
  const uint64_t budget = options_.memory_budget;
  if (budget < 2 * pack_size + (1ull << 20)) {
    return Fail(ErrorCode::kInvalidArgument, "memory budget " + FormatSize(budget) +
                                                 " is too small for packs of " +
                                                 FormatSize(pack_size) + "; need at least " +
                                                 FormatSize(2 * pack_size + (1ull << 20)));
  }
  if (budget >= 3 * pack_size + 4 * (8ull << 20)) uploaders_ = 2;
  const uint64_t for_reads = budget - (1 + uploaders_) * pack_size;
  // The repository's planner sizes the reads: a whole source pack per
  // request when the budget holds two of them (a full pack is pack_size
  // plus the frame that crossed it plus its trailer), else smaller ones;
  // never one request at a time. From a remote source (S3: tens of ms
  // before each request's first byte, a few tens of MB/s per connection)
  // a third of a pack per request instead, so that the same memory keeps
  // more of them in flight (five at the default budget rather than two):
  // with two whole packs one connection was mostly waiting for its first
  // byte while the other's frames were being verified, and copy took 10-20%
  // longer than get. At most three GETs per pack (aws s3 cp makes one per
  // 8 MiB of the original file: 128 for the benchmark's 1 GiB, against 93).
  const bool remote = !IsLocalStore(*src_);
  shape_ = ShapeReads(nullptr, 0, pack_size + pack_size / 32, for_reads, 2, 16);
  if (remote) {
    const uint64_t third = std::max<uint64_t>((pack_size + pack_size / 16 + 2) / 3, 1ull << 20);
    shape_.max_request = std::min(shape_.max_request, third);
  }
  window_.max_window =
      static_cast<unsigned>(std::clamp<uint64_t>(for_reads / shape_.max_request, 1, 16));
  window_.min_window = std::min(remote ? 4u : 2u, window_.max_window);
  window_.cost = &cost_;
  // Reading a few frames the destination already has between two it lacks
  // costs less than a request on a remote store (1 MiB moves in ~10 ms at
  // 100 MB/s; an S3 request costs 10-50 ms); on a local one it is waste.
  shape_.max_gap = remote ? (1ull << 20) : (64ull << 10);
  return OkStatus();
}

void Copier::Report(bool force) {
  if (!options_.progress) return;
  auto now = Clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(200)) return;
  last_progress_ = now;
  options_.progress(
      Progress{done_, total_, writer_ ? writer_->stored_bytes() + other_written_ : 0});
}

Status Copier::CopyOne(const Item& item) {
  const std::string& name = item.name;
  const Ref& ref = item.ref;
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(*src_, ref.manifest));
  CopiedName out;
  out.name = name;
  out.version = item.number;
  out.size = m.size;
  const uint64_t written_before = writer_->stored_bytes() + other_written_;
  const uint64_t done_before = done_;

  // What the destination lacks, each chunk once, in pack order so that
  // neighbouring frames of a source pack come with one GET.
  FrameList wanted;
  std::unordered_set<ChunkId, Hash256Hasher> seen;
  for (const FrameRef& f : m.frames) {
    if (f.zero) continue;
    if (index_->Contains(f.chunk)) {
      out.shared_bytes += f.length;
      ++out.chunks_present;
      continue;
    }
    if (!seen.insert(f.chunk).second) continue;
    wanted.Add(m.packs[f.pack], f);
  }

  HB_TRY(FetchFrames(*src_, wanted, shape_, window_,
                     [&](const StoredFrame& f, const Buffer& stored) -> Status {
                       result_.bytes_read += f.stored_length;
                       done_ += f.length;
                       if (!index_->Contains(f.chunk)) {
                         HB_TRY(writer_->Append(f.chunk, stored, f.length, f.codec));
                         ++out.chunks_sent;
                       }
                       Report(false);
                       return OkStatus();
                     }));
  // Every frame of this name is now in a stored pack with a known id.
  HB_TRY(writer_->Flush());

  Manifest copy;
  copy.size = m.size;
  copy.chunk_hash = m.chunk_hash;
  copy.sha256 = m.sha256;
  copy.mode = m.mode;
  copy.mtime_ns = m.mtime_ns;
  copy.owner = m.owner;
  copy.xattrs = m.xattrs;
  copy.chunker = m.chunker;
  copy.created_unix = m.created_unix;
  copy.frames.reserve(m.frames.size());
  std::unordered_map<uint32_t, uint32_t> pack_slot;  // pack_no -> manifest pack index
  std::vector<Hash256> reused;
  for (const FrameRef& f : m.frames) {
    FrameRef g;
    g.offset = f.offset;
    g.length = f.length;
    g.zero = f.zero;
    g.hash = f.hash;
    if (!f.zero) {
      auto loc = index_->Find(f.chunk);
      if (!loc) {
        return Fail(ErrorCode::kInternal, "copy " + name + ": chunk " + f.chunk.Short() +
                                              " was not written to the destination");
      }
      auto [it, inserted] =
          pack_slot.emplace(loc->pack_no, static_cast<uint32_t>(copy.packs.size()));
      if (inserted) {
        copy.packs.push_back(index_->PackId(loc->pack_no));
        if (loc->pack_no < first_new_pack_) reused.push_back(copy.packs.back());
      }
      g.chunk = f.chunk;
      g.pack = it->second;
      g.stored_offset = loc->offset;
      g.stored_length = loc->stored_length;
      g.codec = loc->codec;
    }
    copy.frames.push_back(g);
  }
  // The digest names the same chunk list; a version 1 source, which has
  // none, gets one computed from the frames just verified.
  copy.digest = m.digest ? *m.digest : ContentDigestOf(copy.frames);
  HB_TRY(CheckPacksExist(*dst_, reused, options_.cancel));
  uint64_t manifest_bytes = 0;
  HB_ASSIGN_OR_RETURN(const Hash256 manifest_id, StoreManifest(*dst_, copy, &manifest_bytes));
  other_written_ += manifest_bytes;

  out.added_bytes = writer_->stored_bytes() + other_written_ - written_before;
  Ref dst_ref;
  dst_ref.manifest = manifest_id;
  dst_ref.size = copy.size;
  dst_ref.created_unix = ref.created_unix;
  dst_ref.added_bytes = out.added_bytes;
  dst_ref.shared_bytes = out.shared_bytes;
  dst_ref.data_bytes = DataBytes(copy);
  // The ref last: until here the destination only gained unreferenced
  // objects, which a rerun reuses. The source's stamp keeps the version's
  // place among the others.
  HB_TRY(PublishVersion(*dst_, name, dst_ref, item.stamp));
  done_ = done_before + m.size;
  Report(true);
  result_.names.push_back(std::move(out));
  return OkStatus();
}

Result<CopyResult> Copier::Run() {
  if (src_.get() == dst_.get() || (src_->url() == dst_->url() && src_->url() != "mem://")) {
    return Fail(ErrorCode::kInvalidArgument,
                "copy: source and destination are the same store (" + src_->url() + ")");
  }
  HB_TRY(Configure());
  // The versions and their refs first, so that a typo or a name the
  // destination cannot take fails before anything is written.
  HB_ASSIGN_OR_RETURN(std::vector<Item> items, Plan());
  for (const Item& item : items) total_ += item.ref.size;

  HB_ASSIGN_OR_RETURN(auto lock,
                      StoreLock::Acquire(dst_, LockKind::kPut, "copy from " + src_->url()));
  HB_ASSIGN_OR_RETURN(index_, ChunkIndex::Load(*dst_, 8, options_.cancel));
  first_new_pack_ = index_->pack_count();
  PackWriterOptions pw;
  pw.pack_size = options_.pack_size;
  pw.uploaders = uploaders_;
  pw.stopped = [this] { return Cancelled(); };
  pw.what = "copy";
  writer_ = std::make_unique<PackWriter>(dst_, index_.get(), std::move(pw));
  writer_->Start();

  Status st = OkStatus();
  size_t i = 0;
  for (; i < items.size() && st; ++i) {
    if (Cancelled()) {
      st = Fail(CancelledError("copy"));
      break;
    }
    st = CopyOne(items[i]);
  }
  if (st) st = writer_->Finish();
  writer_->Cancel();  // joins the uploaders whatever happened
  result_.packs = writer_->packs_stored();
  result_.bytes_written = writer_->stored_bytes() + other_written_;
  if (st) return result_;

  std::string kept = std::to_string(result_.names.size()) + " of " + std::to_string(items.size()) +
                     " versions copied";
  if (!result_.names.empty()) {
    kept += " (";
    for (size_t k = 0; k < result_.names.size() && k < 5; ++k) {
      kept += (k == 0 ? "" : ", ") + result_.names[k].name;
    }
    kept += result_.names.size() > 5 ? ", ...)" : ")";
  }
  kept += "; " + std::to_string(result_.packs) + " packs written to " + dst_->url() +
          " are kept and a rerun resumes from them";
  if (st.error().code() == ErrorCode::kCancelled || Cancelled()) {
    return Fail(ErrorCode::kCancelled, "copy interrupted: " + kept);
  }
  const std::string failed = i > 0 && i <= items.size()
                                 ? items[i - 1].name + "@" + std::to_string(items[i - 1].number)
                                 : std::string("?");
  return Fail(st.error().Wrap("copy '" + failed + "' (" + kept + ")"));
}

Result<std::vector<Copier::Item>> Copier::Plan() {
  // Which versions: every version of every name, every version of NAME, or
  // the one NAME@X names.
  std::vector<LoadedVersion> chosen;
  if (options_.names.empty()) {
    HB_ASSIGN_OR_RETURN(auto names, ListAllVersions(*src_));
    for (auto& vs : names) {
      for (LoadedVersion& lv : LoadVersions(*src_, std::move(vs))) chosen.push_back(std::move(lv));
    }
  } else {
    for (const std::string& text : options_.names) {
      const Address a = ParseAddress(text);
      HB_ASSIGN_OR_RETURN(auto vs, ListVersions(*src_, text));
      if (!vs.empty() || a.selector.empty()) {
        if (vs.empty()) {
          return Fail(ErrorCode::kNotFound, "no file named '" + text + "' in " + src_->url());
        }
        for (LoadedVersion& lv : LoadVersions(*src_, std::move(vs))) {
          chosen.push_back(std::move(lv));
        }
      } else {
        HB_ASSIGN_OR_RETURN(Resolved r, ResolveVersion(*src_, text));
        chosen.push_back(LoadedVersion{r.version, r.ref});
      }
    }
  }
  std::vector<Item> items;
  std::set<std::string> names;
  std::set<std::pair<std::string, std::string>> seen;
  for (LoadedVersion& lv : chosen) {
    if (!lv.ref) return Fail(lv.ref.error().Wrap("copy '" + lv.version.name + "'"));
    HB_TRY(ValidateName(lv.version.name));
    Item item;
    item.name = lv.version.name;
    item.number = lv.version.number;
    item.stamp = lv.version.legacy ? LegacyStamp(lv.ref->created_unix) : lv.version.stamp;
    item.ref = *lv.ref;
    if (!seen.insert({item.name, item.stamp}).second) continue;  // named twice
    names.insert(item.name);
    items.push_back(std::move(item));
  }
  // The destination: the names must fit (a name cannot be a file and a
  // folder at once; conflicts the source itself holds are carried over),
  // and a version it already has (same stamp: copied before) is skipped.
  std::vector<Item> todo;
  std::map<std::string, std::set<std::string>> present;
  for (const std::string& name : names) {
    HB_TRY(CheckNamePlacement(*dst_, name, &names));
    HB_ASSIGN_OR_RETURN(auto vs, ListVersions(*dst_, name));
    for (const Version& v : vs) present[name].insert(v.stamp);
  }
  for (Item& item : items) {
    if (present[item.name].count(item.stamp) != 0) {
      ++result_.versions_present;
      continue;
    }
    todo.push_back(std::move(item));
  }
  return todo;
}

}  // namespace

Result<CopyResult> CopyNames(const std::shared_ptr<ObjectStore>& src,
                             const std::shared_ptr<ObjectStore>& dst, const CopyOptions& options) {
  Copier copier(src, dst, options);
  return copier.Run();
}

}  // namespace hugeblob
