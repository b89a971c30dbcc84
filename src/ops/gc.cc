#include "ops/gc.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "format/index.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "ops/load.h"
#include "repo/frames.h"
#include "repo/indexes.h"
#include "repo/refs.h"
#include "util/cancel.h"
#include "util/thread_pool.h"
#include "writer/chunk_index.h"
#include "writer/pack_writer.h"

namespace hugeblob {
namespace {

// Consolidated index objects hold at most this many entries (26 MB of body,
// about 40 MB while being built): large enough that a store of a few TB has
// tens of index objects, small enough to keep gc's memory bounded.
constexpr size_t kMaxEntriesPerIndex = 500000;

bool IsBroken(const Error& e) {
  return e.code() == ErrorCode::kCorruption || e.code() == ErrorCode::kUnsupported;
}
// Index objects below this many entries are merged when there are several
// (every put leaves at least one; a long-lived store would otherwise make
// every load fetch thousands of small objects).
constexpr size_t kSmallIndexEntries = 50000;

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct IndexObjectInfo {
  ObjectInfo object;
  uint64_t entries = 0;
  bool mentions_gone = false;  // names a pack that will not be kept
  bool readable = true;
};

class Collector {
 public:
  Collector(std::shared_ptr<ObjectStore> store, const GcOptions& options)
      : store_(std::move(store)), options_(options) {}

  Result<GcReport> Run();

 private:
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }
  Status CheckCancel(const char* step) const {
    if (Cancelled())
      return Fail(ErrorCode::kCancelled, std::string("gc interrupted during ") + step +
                                             "; the store is consistent, run gc again");
    return OkStatus();
  }
  bool Young(const ObjectInfo& o) const {
    // Unknown mtime counts as young: never delete what we cannot date.
    return o.mtime_unix == 0 || now_ - o.mtime_unix < options_.grace_seconds;
  }
  Status Mark();
  Status Repack();
  Status RewriteIndexes();
  Status DeleteAll(const std::vector<std::string>& keys, const char* what);

  std::shared_ptr<ObjectStore> store_;
  GcOptions options_;
  int64_t now_ = 0;
  GcReport report_;

  // Mark results.
  std::unordered_map<Hash256, std::vector<Version>, Hash256Hasher>
      manifest_refs_;  // manifest -> the versions that use it
  std::unordered_map<Hash256, std::vector<Hash256>, Hash256Hasher>
      manifest_packs_;  // manifest -> packs
  std::unordered_set<Hash256, Hash256Hasher> live_packs_;
  std::unordered_map<Hash256, uint64_t, Hash256Hasher> live_bytes_;  // only when repacking

  // Listings, taken after the mark: anything created later is not in them
  // and so is never touched.
  std::map<Hash256, ObjectInfo> packs_;
  std::vector<ObjectInfo> manifests_;
  std::vector<ObjectInfo> segments_;  // of large manifests
  // The segments of each manifest read in the mark.
  std::unordered_map<Hash256, std::vector<Hash256>, Hash256Hasher> manifest_segments_;
  std::vector<ObjectInfo> indexes_;

  std::set<Hash256> dead_packs_;                                  // to delete
  std::unordered_set<Hash256, Hash256Hasher> retired_manifests_;  // replaced by repack
};

Status Collector::Mark() {
  // Every version of every name (refs of the previous release included)
  // keeps its manifest: a ref whatever its name, since one written by other
  // means under a name hugeblob refuses still protects its data.
  HB_ASSIGN_OR_RETURN(auto names, ListAllVersions(*store_));
  std::vector<Version> versions;
  for (auto& vs : names) {
    for (Version& v : vs) versions.push_back(std::move(v));
  }
  HB_TRY(CheckCancel("the mark"));
  std::vector<LoadedVersion> loaded = LoadVersions(*store_, std::move(versions));
  HB_TRY(CheckCancel("the mark"));
  std::mutex mu;
  std::optional<Error> first_error;                     // guarded by mu
  std::vector<std::pair<Version, Hash256>> named;       // guarded by mu
  std::vector<std::pair<Version, std::string>> broken;  // guarded by mu: version, why
  std::set<std::string> named_names;
  for (LoadedVersion& lv : loaded) {
    if (!lv.ref) {
      // Removed since the listing: nothing to keep for it.
      if (lv.ref.error().code() == ErrorCode::kNotFound) continue;
      if (options_.prune_broken && IsBroken(lv.ref.error())) {
        broken.emplace_back(lv.version, lv.ref.error().message());
        continue;
      }
      if (!first_error) first_error = lv.ref.error();
      continue;
    }
    named_names.insert(lv.version.name);
    named.emplace_back(std::move(lv.version), lv.ref->manifest);
  }
  if (first_error) {
    // A ref we cannot read might protect anything: refuse rather than guess.
    return Fail(first_error->Wrap(
        "gc refused (nothing deleted): a ref cannot be read; remove it (hugeblob rm) or run "
        "gc --prune-broken"));
  }
  report_.refs = named_names.size();
  report_.versions = named.size();
  std::set<Hash256> broken_manifests;  // guarded by mu
  for (auto& [v, id] : named) manifest_refs_[id].push_back(v);

  const bool frames = options_.repack_threshold > 0;
  std::unordered_map<Hash256, std::unordered_set<uint64_t>, Hash256Hasher>
      seen_offsets;             // guarded by mu
  uint64_t manifests_read = 0;  // guarded by mu
  {
    ThreadPool pool(std::max(1u, options_.threads));
    for (const auto& [id, names] : manifest_refs_) {
      pool.Submit([&, id = id, name = names.front().name] {
        if (Cancelled()) return;
        auto m = LoadManifest(*store_, id);
        std::lock_guard lock(mu);
        ++manifests_read;
        if (options_.progress)
          options_.progress(Progress{manifests_read, manifest_refs_.size(), 0});
        if (!m) {
          if (options_.prune_broken && IsBroken(m.error())) {
            for (const Version& v : manifest_refs_.at(id)) {
              broken.emplace_back(v, m.error().message());
            }
            broken_manifests.insert(id);
            return;
          }
          if (!first_error) first_error = m.error().Wrap("manifest of '" + name + "'");
          return;
        }
        manifest_packs_[id] = m->packs;
        manifest_segments_[id] = m->segments;
        for (const Hash256& p : m->packs) live_packs_.insert(p);
        if (!frames) return;
        for (const FrameRef& f : m->frames) {
          if (f.zero) continue;
          const Hash256& p = m->packs[f.pack];
          if (seen_offsets[p].insert(f.stored_offset).second) live_bytes_[p] += f.stored_length;
        }
      });
    }
    pool.Wait();
  }
  HB_TRY(CheckCancel("the mark"));
  if (first_error) {
    return Fail(first_error->Wrap(
        "gc refused (nothing deleted): a referenced manifest cannot be read (gc --prune-broken "
        "removes the refs that use it)"));
  }
  for (const Hash256& id : broken_manifests) manifest_refs_.erase(id);
  std::sort(broken.begin(), broken.end(),
            [](const auto& a, const auto& b) { return a.first.key < b.first.key; });
  for (const auto& [v, why] : broken) {
    report_.broken_refs.push_back(v.key + ": " + why);
    if (options_.dry_run) continue;
    // Only if it is still the broken ref: gc's own repack or a put of the
    // previous release may have rewritten it since.
    auto again = LoadVersionRef(*store_, v);
    if (again && manifest_refs_.count(again->manifest) != 0) continue;
    if (again && broken_manifests.count(again->manifest) == 0) {
      return Fail(ErrorCode::kInternal, "gc: " + v.key + " changed during the mark; rerun gc");
    }
    HB_TRY(RemoveVersion(*store_, v));
  }
  report_.live_manifests = manifest_refs_.size();
  return OkStatus();
}

Status Collector::Repack() {
  // Candidates: live packs, old enough, whose live frames are a small part
  // of their bytes.
  std::set<Hash256> candidates;
  uint64_t candidate_bytes = 0, live_in_candidates = 0;
  for (const auto& [id, info] : packs_) {
    if (live_packs_.count(id) == 0 || Young(info) || info.size == 0) continue;
    const uint64_t live = live_bytes_[id];
    if (static_cast<double>(live) / static_cast<double>(info.size) < options_.repack_threshold) {
      candidates.insert(id);
      candidate_bytes += info.size;
      live_in_candidates += live;
    }
  }
  if (candidates.empty()) return OkStatus();
  std::vector<Hash256> affected;  // manifests that use a candidate
  for (const auto& [mid, packs] : manifest_packs_) {
    if (std::any_of(packs.begin(), packs.end(),
                    [&](const Hash256& p) { return candidates.count(p) != 0; })) {
      affected.push_back(mid);
    }
  }
  if (options_.dry_run) {
    report_.packs_repacked = candidates.size();
    report_.repack_bytes_written = live_in_candidates;  // about: frames are copied as they are
    report_.manifests_rewritten = affected.size();
    for (const Hash256& id : candidates) dead_packs_.insert(id);
    return OkStatus();
  }

  // The live frames of the candidates, each once.
  FrameList frames;
  {
    std::set<std::pair<Hash256, uint64_t>> seen;
    for (const Hash256& mid : affected) {
      HB_TRY(CheckCancel("repack"));
      HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(*store_, mid));
      for (const FrameRef& f : m.frames) {
        if (f.zero || candidates.count(m.packs[f.pack]) == 0) continue;
        if (!seen.insert({m.packs[f.pack], f.stored_offset}).second) continue;
        frames.Add(m.packs[f.pack], f);
      }
    }
  }

  // Copied (verified) into new packs, with their own index objects.
  ChunkIndex fresh;
  PackWriterOptions pw;
  pw.pack_size = options_.pack_size;
  pw.uploaders = 1;
  pw.stopped = [this] { return Cancelled(); };
  pw.what = "gc repack";
  PackWriter writer(store_, &fresh, std::move(pw));
  writer.Start();
  WindowOptions fetch;
  fetch.threads = 4;
  fetch.cancel = options_.cancel;
  // Private copies (the writer may hold a frame while a pack fills), 4 MiB
  // requests, 4 in flight: 32 MiB of reads at most.
  ReadShape shape;
  shape.max_request = 4ull << 20;
  shape.max_gap = 64ull << 10;
  Status st = FetchFrames(*store_, frames, shape, fetch,
                          [&](const StoredFrame& f, const Buffer& b) -> Status {
                            if (fresh.Contains(f.chunk)) return OkStatus();
                            HB_TRY(writer.Append(f.chunk, b, f.length, f.codec));
                            return OkStatus();
                          });
  if (st) st = writer.Finish();
  writer.Cancel();
  if (!st) return Fail(st.error().Wrap("gc repack (nothing deleted yet)"));
  report_.repack_bytes_written = writer.stored_bytes();

  // New manifests, then the refs switched to them. A ref that changed
  // meanwhile is left alone, and so are the packs its old manifest used.
  std::set<Hash256> still_used;
  for (const Hash256& mid : affected) {
    HB_TRY(CheckCancel("repack"));
    HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(*store_, mid));
    Manifest n = m;
    n.packs.clear();
    std::unordered_map<Hash256, uint32_t, Hash256Hasher> slot;
    for (size_t i = 0; i < m.frames.size(); ++i) {
      const FrameRef& f = m.frames[i];
      if (f.zero) continue;
      FrameRef& g = n.frames[i];
      Hash256 pack = m.packs[f.pack];
      if (candidates.count(pack) != 0) {
        auto loc = fresh.Find(f.chunk);
        if (!loc)
          return Fail(ErrorCode::kInternal,
                      "gc repack: chunk " + f.chunk.Short() + " was not copied");
        pack = fresh.PackId(loc->pack_no);
        g.stored_offset = loc->offset;
        g.stored_length = loc->stored_length;
        g.codec = loc->codec;
      }
      auto [it, inserted] = slot.emplace(pack, static_cast<uint32_t>(n.packs.size()));
      if (inserted) n.packs.push_back(pack);
      g.pack = it->second;
    }
    uint64_t written = 0;
    HB_ASSIGN_OR_RETURN(const Hash256 nid, StoreManifest(*store_, n, &written));
    report_.repack_bytes_written += written;
    bool all_switched = true;
    for (const Version& v : manifest_refs_[mid]) {
      auto ref = LoadVersionRef(*store_, v);
      if (!ref) {
        if (ref.error().code() == ErrorCode::kNotFound) continue;  // removed: nothing to switch
        return Fail(ref.error());
      }
      if (ref->manifest != mid) {
        spdlog::warn("gc: {} changed during gc; its packs are kept", v.key);
        all_switched = false;
        continue;
      }
      Ref updated = *ref;
      updated.manifest = nid;
      HB_TRY(RewriteVersion(*store_, v, updated));
    }
    ++report_.manifests_rewritten;
    if (all_switched) {
      retired_manifests_.insert(mid);
    } else {
      for (const Hash256& p : m.packs) still_used.insert(p);
    }
  }
  for (const Hash256& id : candidates) {
    if (still_used.count(id) != 0) continue;
    live_packs_.erase(id);
    ++report_.packs_repacked;
  }
  return OkStatus();
}

Status Collector::RewriteIndexes() {
  // Which index objects must go: those naming a pack that is not kept (dead
  // now, or already gone), and the small ones when there are several.
  std::vector<IndexObjectInfo> infos(indexes_.size());
  std::set<Hash256> covered;
  std::mutex mu;
  {
    ThreadPool pool(std::max(1u, options_.threads));
    for (size_t i = 0; i < indexes_.size(); ++i) {
      pool.Submit([&, i] {
        if (Cancelled()) return;
        IndexObjectInfo& info = infos[i];
        info.object = indexes_[i];
        auto entries = ReadIndexObject(*store_, info.object.key);
        std::lock_guard lock(mu);
        if (!entries) {
          // Unreadable: replaced by entries re-read from the pack trailers.
          spdlog::warn("gc: replacing unreadable index object {}: {}", info.object.key,
                       entries.error().message());
          info.readable = false;
          info.mentions_gone = true;
          return;
        }
        info.entries = entries->size();
        for (const IndexEntry& e : *entries) {
          if (packs_.count(e.pack) == 0 || dead_packs_.count(e.pack) != 0)
            info.mentions_gone = true;
          covered.insert(e.pack);
        }
      });
    }
    pool.Wait();
  }
  HB_TRY(CheckCancel("the index rewrite"));
  size_t small = 0;
  for (const auto& i : infos)
    small += i.readable && !i.mentions_gone && i.entries < kSmallIndexEntries;
  std::vector<const IndexObjectInfo*> rewrite;
  std::set<Hash256> still_covered;  // by index objects that stay
  for (const auto& i : infos) {
    if (i.mentions_gone || (small > 1 && i.entries < kSmallIndexEntries)) {
      rewrite.push_back(&i);
    }
  }
  // Kept packs that no surviving index object will cover: rewritten objects
  // give back their entries below; packs no index object covers at all are
  // re-indexed from their trailers.
  std::vector<Hash256> unindexed;
  for (const auto& [id, info] : packs_) {
    if (dead_packs_.count(id) == 0 && covered.count(id) == 0) unindexed.push_back(id);
  }
  if (rewrite.empty() && unindexed.empty()) return OkStatus();
  if (options_.dry_run) {
    for (const IndexObjectInfo* i : rewrite) {
      ++report_.indexes_deleted;
      report_.index_bytes_deleted += i->object.size;
    }
    return OkStatus();
  }

  std::set<Hash256> written;
  std::vector<IndexEntry> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return OkStatus();
    HB_ASSIGN_OR_RETURN(const StoredIndexObject stored,
                        WriteIndexObject(*store_, std::move(pending)));
    pending.clear();
    written.insert(stored.id);
    ++report_.indexes_written;
    report_.index_bytes_written += stored.bytes;
    return OkStatus();
  };
  auto keep = [&](const IndexEntry& e) {
    return packs_.count(e.pack) != 0 && dead_packs_.count(e.pack) == 0;
  };
  for (const IndexObjectInfo* i : rewrite) {
    HB_TRY(CheckCancel("the index rewrite"));
    if (!i->readable) continue;
    HB_ASSIGN_OR_RETURN(auto entries, ReadIndexObject(*store_, i->object.key));
    for (const IndexEntry& e : entries) {
      if (!keep(e)) continue;
      pending.push_back(e);
      if (pending.size() >= kMaxEntriesPerIndex) HB_TRY(flush());
    }
  }
  for (const Hash256& id : unindexed) {
    HB_TRY(CheckCancel("the index rewrite"));
    auto entries = ReadPackTrailer(*store_, packs_[id], id);
    if (!entries) {
      // verify reports a damaged pack; gc neither indexes nor deletes it.
      spdlog::warn("gc: cannot index {}: {}", packs_[id].key, entries.error().message());
      continue;
    }
    for (const PackEntry& e : *entries) {
      pending.push_back(IndexEntry{e.chunk, id, e.offset, e.stored_length, e.length, e.codec});
      if (pending.size() >= kMaxEntriesPerIndex) HB_TRY(flush());
    }
  }
  HB_TRY(flush());
  // Only now, with every kept entry written again, the old objects go. A
  // crash before this point leaves duplicate entries, which loading
  // tolerates.
  std::vector<std::string> old;
  for (const IndexObjectInfo* i : rewrite) {
    auto id = IdFromKey(i->object.key);
    if (id && written.count(*id) != 0) continue;  // rewritten to the very same bytes
    old.push_back(i->object.key);
    ++report_.indexes_deleted;
    report_.index_bytes_deleted += i->object.size;
  }
  return DeleteAll(old, "index objects");
}

Status Collector::DeleteAll(const std::vector<std::string>& keys, const char* what) {
  if (keys.empty() || options_.dry_run) return OkStatus();
  std::mutex mu;
  std::optional<Error> first_error;  // guarded by mu
  std::atomic<uint64_t> done{0};
  {
    ThreadPool pool(std::max(1u, options_.threads));
    for (const std::string& key : keys) {
      pool.Submit([&, key] {
        if (Cancelled()) return;
        {
          std::lock_guard lock(mu);
          if (first_error) return;
        }
        Status st = store_->Delete(key);
        if (!st) {
          std::lock_guard lock(mu);
          if (!first_error) first_error = st.error().Wrap(std::string("deleting ") + what);
          return;
        }
        uint64_t d = ++done;
        if (options_.progress) options_.progress(Progress{d, keys.size(), 0});
      });
    }
    pool.Wait();
  }
  HB_TRY(CheckCancel(what));
  if (first_error) return Fail(*first_error);
  return OkStatus();
}

Result<GcReport> Collector::Run() {
  now_ = options_.now_unix != 0 ? options_.now_unix : NowUnix();
  report_.dry_run = options_.dry_run;
  if (options_.grace_seconds < 0)
    return Fail(ErrorCode::kInvalidArgument, "--grace must not be negative");
  if (options_.repack_threshold < 0 || options_.repack_threshold > 1) {
    return Fail(ErrorCode::kInvalidArgument, "--repack-threshold must be between 0 and 1");
  }
  std::unique_ptr<StoreLock> lock;
  if (!options_.dry_run) {
    HB_ASSIGN_OR_RETURN(lock,
                        StoreLock::Acquire(store_, LockKind::kGc, "gc", options_.lock_timing));
  }
  HB_ASSIGN_OR_RETURN(auto locks, ListLocks(*store_, options_.lock_timing, now_));
  std::vector<std::string> stale_keys;
  for (const LockInfo& l : locks) {
    if (!l.stale || (lock && l.key == lock->key())) continue;
    stale_keys.push_back(l.key);
    report_.stale_locks.push_back(l.key + " (" + l.holder + ": " + l.why_stale + ")");
  }

  HB_TRY(Mark());
  // Listed after the mark: an object created after this is not in the
  // listings, so it cannot be deleted however it ends up being used.
  HB_ASSIGN_OR_RETURN(auto packs, store_->List(kPacksPrefix));
  for (ObjectInfo& p : packs) {
    auto id = IdFromKey(p.key);
    if (!id) continue;  // not a pack name: not ours to delete
    packs_.emplace(*id, std::move(p));
  }
  HB_ASSIGN_OR_RETURN(manifests_, store_->List(kManifestsPrefix));
  HB_ASSIGN_OR_RETURN(segments_, store_->List(kSegmentsPrefix));
  HB_ASSIGN_OR_RETURN(indexes_, store_->List(kIndexPrefix));

  if (options_.repack_threshold > 0) HB_TRY(Repack());
  HB_TRY(CheckCancel("the sweep"));

  // Dead: unreferenced and past the grace period. Repack already moved the
  // packs it took over out of live_packs_ (or, in a dry run, into dead_packs_).
  for (const auto& [id, info] : packs_) {
    if (live_packs_.count(id) != 0 && dead_packs_.count(id) == 0) {
      ++report_.live_packs;
      report_.live_pack_bytes += info.size;
      continue;
    }
    if (live_packs_.count(id) == 0 && Young(info)) {
      ++report_.young_kept;
      report_.young_kept_bytes += info.size;
      continue;
    }
    dead_packs_.insert(id);
  }
  // A live manifest is referenced and not retired by repack. Segments (of
  // large manifests) go with the last live manifest that uses them; both
  // are counted as manifests in the report.
  auto live_manifest = [&](const Hash256& id) {
    return manifest_refs_.count(id) != 0 && retired_manifests_.count(id) == 0;
  };
  std::unordered_set<Hash256, Hash256Hasher> live_segments;
  for (const auto& [mid, segs] : manifest_segments_) {
    if (live_manifest(mid)) live_segments.insert(segs.begin(), segs.end());
  }
  // The keys of `objects` that are not live and past the grace period.
  auto dead_of = [&](const std::vector<ObjectInfo>& objects, auto&& live) {
    std::vector<std::string> dead;
    for (const ObjectInfo& o : objects) {
      auto id = IdFromKey(o.key);
      if (!id || live(*id)) continue;
      if (Young(o)) {
        ++report_.young_kept;
        report_.young_kept_bytes += o.size;
        continue;
      }
      dead.push_back(o.key);
      ++report_.manifests_deleted;
      report_.manifest_bytes_deleted += o.size;
    }
    return dead;
  };
  const std::vector<std::string> dead_manifests = dead_of(manifests_, live_manifest);
  const std::vector<std::string> dead_segments =
      dead_of(segments_, [&](const Hash256& id) { return live_segments.count(id) != 0; });

  HB_TRY(RewriteIndexes());

  std::vector<std::string> dead_pack_keys;
  for (const Hash256& id : dead_packs_) {
    dead_pack_keys.push_back(packs_[id].key);
    ++report_.packs_deleted;
    report_.pack_bytes_deleted += packs_[id].size;
  }
  HB_TRY(DeleteAll(dead_pack_keys, "packs"));
  HB_TRY(DeleteAll(dead_manifests, "manifests"));
  // After the manifests: a crash between leaves segments no manifest uses,
  // which the next gc deletes.
  HB_TRY(DeleteAll(dead_segments, "segments"));

  // Multipart uploads left by a crashed writer hold storage (and cost money
  // on S3) but are invisible to List.
  auto uploads = store_->ListMultipart("");
  if (!uploads) {
    // Not fatal: everything else is collected; the report says what was not.
    report_.uploads_unchecked = uploads.error().message();
    if (uploads.error().code() != ErrorCode::kUnsupported) {
      spdlog::warn("gc: cannot list multipart uploads: {}", uploads.error().message());
    }
  } else {
    for (const MultipartUpload& u : *uploads) {
      if (u.initiated_unix == 0 || now_ - u.initiated_unix < options_.grace_seconds) continue;
      ++report_.uploads_aborted;
      if (options_.dry_run) continue;
      if (Status st = store_->AbortMultipart(u.key, u.upload_id); !st) {
        spdlog::warn("gc: cannot abort the upload of {}: {}", u.key, st.error().message());
      }
    }
  }
  // Temporary files of writers killed mid-write (kill -9, power loss): no
  // key names them, so the mark/sweep above cannot see them.
  if (auto temps = store_->CleanTemporaries(now_ - options_.grace_seconds, options_.dry_run);
      temps) {
    report_.temp_files_deleted = temps->files;
    report_.temp_bytes_deleted = temps->bytes;
  } else {
    spdlog::warn("gc: cannot clean temporary files: {}", temps.error().message());
  }
  HB_TRY(DeleteAll(stale_keys, "stale locks"));
  if (lock) HB_TRY(lock->Release());
  return report_;
}

}  // namespace

Result<GcReport> CollectGarbage(const std::shared_ptr<ObjectStore>& store,
                                const GcOptions& options) {
  Collector c(store, options);
  return c.Run();
}

}  // namespace hugeblob
