// ls, stat, rm and verify: read-only inspection of a store (rm only deletes
// a ref).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_set>

#include "codec/codec.h"
#include "format/index.h"
#include "format/layout.h"
#include "format/manifest.h"
#include "format/pack.h"
#include "hash/blake3.h"
#include "hugeblob/hugeblob.h"
#include "ops/load.h"
#include "repo/frames.h"
#include "repo/indexes.h"
#include "repo/packs.h"
#include "repo/refs.h"
#include "util/budget.h"
#include "util/cancel.h"
#include "util/thread_pool.h"
#include "util/units.h"

namespace hugeblob {
namespace {

BlobInfo InfoFromRef(const std::string& name, const Ref& ref) {
  BlobInfo info;
  info.name = name;
  info.size = ref.size;
  info.created_unix = ref.created_unix;
  info.manifest = ref.manifest.Hex();
  info.added_bytes = ref.added_bytes;
  info.shared_bytes = ref.shared_bytes;
  return info;
}

std::string SizeLabel(uint32_t bytes) {
  if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

}  // namespace

namespace {

BlobInfo InfoOf(const LoadedVersion& lv, uint32_t count) {
  BlobInfo info;
  if (!lv.ref) {
    info.name = lv.version.name;
    info.error = lv.ref.error().message();
  } else {
    info = InfoFromRef(lv.version.name, *lv.ref);
  }
  info.version = lv.version.number;
  info.versions = count;
  return info;
}

}  // namespace

Result<std::vector<BlobInfo>> ListBlobs(const std::shared_ptr<ObjectStore>& store,
                                        const std::string& prefix) {
  HB_ASSIGN_OR_RETURN(auto names, ListAllVersions(*store, prefix));
  // The newest version of each name, read in parallel.
  std::vector<Version> newest;
  std::vector<uint32_t> counts;
  newest.reserve(names.size());
  for (auto& vs : names) {
    counts.push_back(static_cast<uint32_t>(vs.size()));
    newest.push_back(std::move(vs.back()));
  }
  std::vector<LoadedVersion> loaded = LoadVersions(*store, std::move(newest));
  std::vector<BlobInfo> listed;
  listed.reserve(loaded.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    const LoadedVersion& lv = loaded[i];
    // A damaged ref is reported in its entry, never fails the listing: one
    // bad object must not hide every good one.
    if (Status valid = ValidateName(lv.version.name); !valid) {
      BlobInfo info;
      info.name = lv.version.name;
      info.error = valid.error().message() + " (not written by hugeblob)";
      info.version = lv.version.number;
      info.versions = counts[i];
      listed.push_back(std::move(info));
      continue;
    }
    // A version deleted between list and get is simply gone.
    if (!lv.ref && lv.ref.error().code() == ErrorCode::kNotFound) continue;
    listed.push_back(InfoOf(lv, counts[i]));
  }
  return listed;
}

Status CheckPutName(const std::shared_ptr<ObjectStore>& store, const std::string& name) {
  HB_TRY(ValidateNewName(name));
  return CheckNamePlacement(*store, name);
}

Result<std::vector<BlobInfo>> ListBlobVersions(const std::shared_ptr<ObjectStore>& store,
                                               const std::string& name) {
  HB_TRY(ValidateName(name));
  HB_ASSIGN_OR_RETURN(auto versions, ListVersions(*store, name));
  if (versions.empty()) {
    return Fail(ErrorCode::kNotFound, "no file named '" + name + "' in " + store->url());
  }
  const auto count = static_cast<uint32_t>(versions.size());
  std::vector<BlobInfo> out;
  for (const LoadedVersion& lv : LoadVersions(*store, std::move(versions))) {
    if (!lv.ref && lv.ref.error().code() == ErrorCode::kNotFound) continue;
    out.push_back(InfoOf(lv, count));
  }
  return out;
}

Result<BlobStat> StatBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name) {
  HB_ASSIGN_OR_RETURN(Resolved r, ResolveVersion(*store, name));
  const Ref& ref = r.ref;
  BlobStat st;
  st.info = InfoFromRef(r.version.name, ref);
  st.info.version = r.version.number;
  st.info.versions = static_cast<uint32_t>(r.count);
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifestOfRef(*store, name, ref, &st.manifest_bytes));
  st.chunk_hash = std::string(HashAlgoName(m.chunk_hash));
  if (m.digest) st.digest = m.digest->Hex();
  if (m.sha256) st.sha256 = m.sha256->Hex();
  if (m.mode) st.mode = *m.mode;
  if (m.mtime_ns) st.mtime_ns = *m.mtime_ns;
  if (m.owner) {
    st.uid = m.owner->uid;
    st.gid = m.owner->gid;
  }
  if (m.xattrs) {
    st.xattrs.emplace();
    for (const Xattr& x : *m.xattrs) st.xattrs->emplace_back(x.name, x.value);
  }
  if (m.chunker.kind == ChunkerKind::kFixed) {
    st.chunker = "fixed " + SizeLabel(m.chunker.avg_size);
  } else {
    st.chunker = "cdc " + SizeLabel(m.chunker.min_size) + "/" + SizeLabel(m.chunker.avg_size) +
                 "/" + SizeLabel(m.chunker.max_size);
  }
  st.chunks = m.frames.size();
  st.packs = m.packs.size();
  std::unordered_set<ChunkId, Hash256Hasher> seen;
  for (const FrameRef& f : m.frames) {
    if (f.zero) {
      ++st.zero_chunks;
      continue;
    }
    if (seen.insert(f.chunk).second) {
      ++st.unique_chunks;
      st.unique_bytes += f.length;
      st.stored_bytes += f.stored_length;
    }
  }
  return st;
}

Result<size_t> RemoveBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name) {
  // Which versions: all of NAME, or the one NAME@X names. A damaged ref
  // must be removable (that is how a user gets rid of one), so refs are
  // read only to match a manifest id prefix. A name hugeblob would never
  // write (made by other means) is handled the same way: the store's own
  // key rules (no "..", no empty component) keep every key inside the
  // store's ref folders.
  const Address a = ParseAddress(name);
  std::vector<Version> doomed;
  HB_ASSIGN_OR_RETURN(std::vector<Version> all, ListVersions(*store, name));
  if (!all.empty()) {
    doomed = std::move(all);  // the whole text is a name (maybe one with '@')
  } else if (!a.selector.empty() && ValidateName(a.name)) {
    HB_ASSIGN_OR_RETURN(std::vector<Version> vs, ListVersions(*store, a.name));
    const std::string& sel = a.selector;
    const bool number =
        !sel.empty() && sel.find_first_not_of("0123456789") == std::string::npos && sel.size() <= 9;
    if (number && !vs.empty()) {
      const size_t n = std::stoul(sel);
      if (n == 0 || n > vs.size()) {
        return Fail(ErrorCode::kNotFound, "'" + name + "': '" + a.name + "' has " +
                                              std::to_string(vs.size()) +
                                              " versions (1 is the oldest)");
      }
      doomed.push_back(vs[n - 1]);
    } else {
      HB_ASSIGN_OR_RETURN(Resolved r, ResolveVersion(*store, name));
      doomed.push_back(r.version);
    }
  }
  if (doomed.empty()) {
    return Fail(ErrorCode::kNotFound, "no file named '" + name + "' in " + store->url());
  }
  // Oldest first: until the last delete the name still means its newest
  // version, so an interrupted rm never makes it silently mean an older one.
  for (const Version& v : doomed) {
    Status st = RemoveVersion(*store, v);
    if (!st && st.error().code() != ErrorCode::kNotFound) return Fail(st.error());
  }
  return doomed.size();
}

namespace {

// Memory of verify, whatever the store holds: frames are read in runs of at
// most kRunBytes and decoded one at a time, and every run reserves its bytes
// plus its largest decoded frame from this budget before allocating (a frame
// is at most kMaxFrameLength, so any run fits). Trailers are streamed in
// pieces of about 1 MiB (PackTrailerStream). With 4 threads, peak RSS stays far below 256 MiB.
constexpr uint64_t kVerifyBudget = 160ull << 20;
constexpr uint64_t kRunBytes = 8ull << 20;
constexpr uint64_t kRunGap = 64ull << 10;
// Problems reported per pack before "and N more" (a lost pack would
// otherwise print one line per frame).
constexpr int kProblemsPerPack = 10;

// A frame some object says is in a pack: a manifest's frame or an index
// entry. Every claim must match a trailer entry of that pack exactly, or a
// get (or a put that dedups against the index) would fail later.
struct Claim {
  uint64_t offset = 0;
  uint32_t stored_length = 0;
  uint32_t length = 0;
  Codec codec = Codec::kNone;
  ChunkId chunk;
  uint32_t source = 0;  // index into Verifier::sources_
};

// Damage (a problem verify reports, exit 3) as opposed to a failure to read
// (permission, I/O, network: an error, exit 1).
bool IsDamage(const Error& e) {
  return e.code() == ErrorCode::kCorruption || e.code() == ErrorCode::kUnsupported ||
         e.code() == ErrorCode::kNotFound;
}

class Verifier {
 public:
  Verifier(std::shared_ptr<ObjectStore> store, const VerifyOptions& options)
      : store_(std::move(store)), options_(options), budget_(MemoryBudget::Create(kVerifyBudget)) {}

  Result<VerifyReport> Run();

 private:
  void Problem(std::string p) {
    std::lock_guard lock(mu_);
    report_.problems.push_back(std::move(p));
  }
  void ReadError(std::string e) {
    std::lock_guard lock(mu_);
    report_.errors.push_back(std::move(e));
  }
  // A failed load: damage is a problem, anything else an error.
  void Failed(const Error& e, const std::string& suffix = "") {
    if (IsDamage(e)) {
      Problem(e.message() + suffix);
    } else {
      ReadError(e.message() + suffix);
    }
  }
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }
  void CountObject(uint64_t bytes) {
    std::lock_guard lock(mu_);
    ++report_.objects;
    report_.bytes += bytes;
  }
  void CountBytes(uint64_t bytes) {
    std::lock_guard lock(mu_);
    report_.bytes += bytes;
  }
  uint32_t AddSource(std::string s) {
    sources_.push_back(std::move(s));
    return static_cast<uint32_t>(sources_.size() - 1);
  }

  // Checks one version: its ref (`ref`, already read, or an error), its
  // manifest, and records the frames it claims for the pack phase.
  void CheckVersion(const Version& v, const Result<Ref>& ref, size_t count);
  void CheckIndex(const ObjectInfo& info);
  // Streams the trailer of pack `id`, checks it against the id, checks each
  // claim against its entry, and decodes and hashes every frame (`whole`) or
  // only the claimed ones.
  void CheckPack(const Hash256& id, std::vector<Claim> claims, bool whole);
  // Reads `frames` (in offset order) in runs and checks each against its id.
  void CheckFrames(const std::string& key, const std::vector<PackEntry>& frames,
                   std::vector<uint8_t>* scratch, int* reported);

  std::shared_ptr<ObjectStore> store_;
  VerifyOptions options_;
  std::shared_ptr<MemoryBudget> budget_;
  HashAlgo primary_hash_ = HashAlgo::kBlake3;  // the store's; the other is tried second
  // Filled before the pack phase, read-only during it.
  std::vector<std::string> sources_;
  std::map<Hash256, std::vector<Claim>> claims_;
  std::mutex mu_;
  VerifyReport report_;  // guarded by mu_
};

void Verifier::CheckVersion(const Version& v, const Result<Ref>& ref, size_t count) {
  if (Status valid = ValidateName(v.name); !valid) {
    Problem(v.key + ": " + valid.error().message() +
            " (not written by hugeblob; rm can remove it)");
    return;
  }
  if (!ref) {
    if (ref.error().code() == ErrorCode::kNotFound) return;  // removed since it was listed
    Failed(ref.error());
    return;
  }
  const std::string label = count > 1 ? v.name + "@" + std::to_string(v.number) : v.name;
  CountObject(0);
  uint64_t msize = 0;
  auto m = LoadManifestOfRef(*store_, label, *ref, &msize);
  if (!m) {
    Failed(m.error(), " (referenced by '" + label + "')");
    return;
  }
  CountObject(msize);
  const uint32_t source = AddSource("manifest " + ref->manifest.Short() + " of '" + label + "'");
  std::set<std::pair<uint32_t, uint64_t>> seen;
  for (const FrameRef& f : m->frames) {
    if (f.zero || !seen.insert({f.pack, f.stored_offset}).second) continue;
    claims_[m->packs[f.pack]].push_back(
        Claim{f.stored_offset, f.stored_length, f.length, f.codec, f.chunk, source});
  }
}

void Verifier::CheckIndex(const ObjectInfo& info) {
  // Bounded by the format's limit before anything is read.
  if (info.size > MaxIndexObjectBytes()) {
    Problem(info.key + ": larger than an index object can be (" + std::to_string(info.size) +
            " bytes)");
    return;
  }
  uint64_t read = 0;
  auto entries = ReadIndexObject(*store_, info.key, &read);
  if (read > 0) CountObject(read);
  if (!entries) {
    Failed(entries.error());
    return;
  }
  // Each entry is a promise put relies on when it dedups: the chunk is in
  // that pack at that offset. Checked against the pack's trailer below.
  const uint32_t source = AddSource(info.key);
  for (const IndexEntry& e : *entries) {
    claims_[e.pack].push_back(Claim{e.offset, e.stored_length, e.length, e.codec, e.chunk, source});
  }
}

void Verifier::CheckFrames(const std::string& key, const std::vector<PackEntry>& frames,
                           std::vector<uint8_t>* scratch, int* reported) {
  auto problem = [&](std::string p) {
    if ((*reported)++ < kProblemsPerPack) Problem(std::move(p));
  };
  // The read plan (repo/frames.h): frames close together in runs of at most
  // kRunBytes (or one frame), decoded one at a time.
  std::vector<StoredFrame> stored;
  stored.reserve(frames.size());
  std::vector<size_t> order(frames.size());
  for (size_t k = 0; k < frames.size(); ++k) {
    const PackEntry& e = frames[k];
    stored.push_back(
        StoredFrame{0, e.offset, e.stored_length, e.length, e.codec, e.chunk, primary_hash_});
    order[k] = k;
  }
  // A pack does not say which hash names its chunks (a copy between stores
  // of both kinds mixes them): the store's first, then the other.
  const HashAlgo other = primary_hash_ == HashAlgo::kBlake3 ? HashAlgo::kSha256 : HashAlgo::kBlake3;
  for (const PlannedRead& r : PlanReads(stored, order, kRunBytes, kRunGap)) {
    if (Cancelled()) return;
    uint32_t max_length = 0;
    for (size_t k = r.first; k < r.last; ++k) max_length = std::max(max_length, frames[k].length);
    auto reservation = budget_->Reserve(r.bytes() + max_length, options_.cancel);
    if (!reservation) return;  // cancelled
    auto bytes = ReadRange(*store_, key, r, nullptr);
    if (!bytes) {
      if (bytes.error().code() == ErrorCode::kCorruption) {
        problem(bytes.error().message());
      } else {
        Failed(bytes.error());
      }
      return;
    }
    CountBytes(bytes->size());
    uint64_t checked = 0;
    for (size_t k = r.first; k < r.last; ++k) {
      const StoredFrame& f = stored[k];
      auto plain = DecodeVerifiedView(f, bytes->span().subspan(f.offset - r.begin, f.stored_length),
                                      scratch, key, &other);
      if (!plain) {
        problem(plain.error().message());
        continue;
      }
      ++checked;
    }
    {
      std::lock_guard lock(mu_);
      report_.frames += checked;
    }
    // Give the (possibly large) scratch back once a run needed it.
    if (scratch->size() > (4u << 20)) std::vector<uint8_t>().swap(*scratch);
  }
}

void Verifier::CheckPack(const Hash256& id, std::vector<Claim> claims, bool whole) {
  const std::string key = PackKey(id);
  int reported = 0;
  auto problem = [&](std::string p) {
    if (reported++ < kProblemsPerPack) Problem(std::move(p));
  };
  auto needed_by = [&] {
    std::set<uint32_t> sources;
    for (const Claim& c : claims) sources.insert(c.source);
    if (sources.empty()) return std::string();
    std::string out = " (needed by ";
    int n = 0;
    for (uint32_t s : sources) {
      if (n++ == 3) {
        out += ", and " + std::to_string(sources.size() - 3) + " more";
        break;
      }
      out += (n > 1 ? ", " : "") + sources_[s];
    }
    return out + ")";
  };
  auto head = store_->Head(key);
  if (!head) {
    if (head.error().code() == ErrorCode::kNotFound) {
      Problem(key + ": missing pack" + needed_by());
    } else {
      Failed(head.error(), needed_by());
    }
    return;
  }
  const uint64_t size = head->size;
  CountObject(0);
  Buffer raw_footer;
  auto footer = ReadPackFooter(*store_, ObjectInfo{key, size, 0}, &raw_footer);
  if (!footer) {
    if (IsDamage(footer.error())) {
      Problem(footer.error().message() + needed_by());
    } else {
      Failed(footer.error());
    }
    return;
  }
  CountBytes(raw_footer.size());
  std::sort(claims.begin(), claims.end(),
            [](const Claim& a, const Claim& b) { return a.offset < b.offset; });
  auto claim_problem = [&](const Claim& c, const std::string& why) {
    problem(sources_[c.source] + ": chunk " + c.chunk.Short() + " at " + key + " offset " +
            std::to_string(c.offset) + ": " + why);
  };

  // The trailer, streamed (the repository layer decodes each entry and
  // checks the checksum and the id): claims matched in offset order, frames
  // checked in batches.
  PackTrailerStream trailer(*store_, ObjectInfo{key, size, 0}, *footer, std::move(raw_footer));
  uint64_t counted = trailer.bytes_read();
  size_t ci = 0;
  bool entries_ok = true;
  std::vector<PackEntry> batch;
  uint64_t batch_bytes = 0;
  std::vector<uint8_t> scratch;
  while (true) {
    if (Cancelled()) return;
    auto entries = trailer.Next();
    CountBytes(trailer.bytes_read() - counted);
    counted = trailer.bytes_read();
    if (!entries) {
      if (!IsDamage(entries.error())) {
        Failed(entries.error());
        return;
      }
      problem(entries.error().message() + needed_by());
      entries_ok = false;
      break;
    }
    if (entries->empty()) break;
    for (const PackEntry& e : *entries) {
      bool wanted = whole;
      for (; ci < claims.size() && claims[ci].offset < e.offset; ++ci) {
        claim_problem(claims[ci], "the pack has no frame there");
      }
      for (; ci < claims.size() && claims[ci].offset == e.offset; ++ci) {
        const Claim& c = claims[ci];
        if (c.chunk != e.chunk || c.stored_length != e.stored_length || c.length != e.length ||
            c.codec != e.codec) {
          claim_problem(c, "the pack holds chunk " + e.chunk.Short() + " (" +
                               std::to_string(e.stored_length) + " stored, " +
                               std::to_string(e.length) + " bytes) there");
        } else {
          wanted = true;
        }
      }
      if (!wanted) continue;
      batch.push_back(e);
      batch_bytes += e.stored_length;
      if (batch_bytes >= kRunBytes || batch.size() >= 4096) {
        CheckFrames(key, batch, &scratch, &reported);
        batch.clear();
        batch_bytes = 0;
      }
    }
  }
  if (!batch.empty()) CheckFrames(key, batch, &scratch, &reported);
  if (entries_ok) {
    for (; ci < claims.size(); ++ci) claim_problem(claims[ci], "the pack has no frame there");
  }
  Status sealed = trailer.Finish(id);
  CountBytes(trailer.bytes_read() - counted);
  if (!sealed) {
    if (!IsDamage(sealed.error())) {
      Failed(sealed.error());
      return;
    }
    // A truncated trailer was already reported by Next().
    if (entries_ok || !trailer.truncated()) problem(sealed.error().message());
  }
  if (reported > kProblemsPerPack) {
    Problem(key + ": and " + std::to_string(reported - kProblemsPerPack) + " more problems");
  }
}

Result<VerifyReport> Verifier::Run() {
  // The store's chunk hash is tried first on frames of unknown origin.
  if (auto config = store_->GetRange(kConfigKey, 0, 4096)) {
    if (auto algo = ChunkHashOfConfig(config->view())) primary_hash_ = *algo;
  }
  std::set<Hash256> all_packs;
  const bool whole = options_.name.empty();
  if (!whole) {
    // One version: NAME (the newest), NAME@N or NAME@ID. A damaged ref is
    // damage (exit 3), a name that is not there an error.
    auto r = ResolveVersion(*store_, options_.name);
    if (!r) {
      if (!IsDamage(r.error()) || r.error().code() == ErrorCode::kNotFound) return Fail(r.error());
      Problem(r.error().message());
    } else {
      CheckVersion(r->version, r->ref, r->count);
    }
  } else {
    std::vector<std::string> stray;
    HB_ASSIGN_OR_RETURN(auto names, ListAllVersions(*store_, "", &stray));
    for (const std::string& key : stray) {
      Problem(key + ": not a version object (names/NAME/.v/STAMP)");
    }
    for (auto& vs : names) {
      if (Cancelled()) return Fail(CancelledError("verify"));
      const size_t count = vs.size();
      for (const LoadedVersion& lv : LoadVersions(*store_, std::move(vs))) {
        CheckVersion(lv.version, lv.ref, count);
      }
    }
    HB_ASSIGN_OR_RETURN(auto indexes, store_->List(kIndexPrefix));
    for (const ObjectInfo& info : indexes) {
      if (Cancelled()) return Fail(CancelledError("verify"));
      CheckIndex(info);
    }
    // Every pack, referenced or not, is checked whole.
    HB_ASSIGN_OR_RETURN(auto listed, store_->List(kPacksPrefix));
    for (const ObjectInfo& info : listed) {
      auto id = IdFromKey(info.key);
      if (!id) {
        Problem(info.key + ": not a pack name");
        continue;
      }
      all_packs.insert(*id);
    }
  }
  // Packs claimed but not listed are checked too: Head reports them missing.
  for (const auto& [id, claims] : claims_) all_packs.insert(id);

  const uint64_t total = all_packs.size();
  std::atomic<uint64_t> done{0};
  {
    const unsigned threads = options_.threads == 0 ? 4 : std::min(options_.threads, 64u);
    ThreadPool pool(threads);
    for (const Hash256& id : all_packs) {
      std::vector<Claim> claims;
      if (auto it = claims_.find(id); it != claims_.end()) claims = std::move(it->second);
      pool.Submit([this, &done, total, whole, id, claims = std::move(claims)]() mutable {
        if (Cancelled()) return;
        CheckPack(id, std::move(claims), whole);
        uint64_t d = ++done;
        if (options_.progress) options_.progress(Progress{d, total, 0});
      });
    }
    pool.Wait();
  }
  if (Cancelled()) return Fail(CancelledError("verify"));
  std::sort(report_.problems.begin(), report_.problems.end());
  std::sort(report_.errors.begin(), report_.errors.end());
  return report_;
}

}  // namespace

Result<VerifyReport> Verify(const std::shared_ptr<ObjectStore>& store,
                            const VerifyOptions& options) {
  Verifier v(store, options);
  return v.Run();
}

}  // namespace hugeblob
