#include "fuse/filesystem.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <set>

#include "format/layout.h"
#include "format/manifest.h"
#include "ops/load.h"
#include "reader/object_cache.h"
#include "repo/refs.h"
#include "util/thread_pool.h"

namespace hugeblob::fuse {
namespace {

// Refs are tiny; reading many at once hides the store's latency (S3), and
// eight keeps a refresh of thousands of names to a few seconds.
constexpr size_t kRefReadThreads = 8;

// A ref whose object time is this close to the previous listing is read
// again even if its size and time look unchanged: store times have second
// resolution (and S3's clock may be a little off ours), so a ref rewritten
// within the same second as the listing could otherwise be missed.
constexpr int64_t kRecentSeconds = 60;

}  // namespace

BlobFs::BlobFs(std::shared_ptr<ObjectStore> store, const FsOptions& options)
    : store_(std::move(store)),
      options_(options),
      start_unix_(static_cast<int64_t>(::time(nullptr))) {}

Result<std::unique_ptr<BlobFs>> BlobFs::Create(std::shared_ptr<ObjectStore> store,
                                               const FsOptions& options) {
  if (store == nullptr) return Fail(ErrorCode::kInvalidArgument, "mount: no store");
  std::unique_ptr<BlobFs> fs(new BlobFs(std::move(store), options));
  HB_TRY(fs->Refresh(/*force=*/true));
  return fs;
}

void BlobFs::SetReaderContext(std::shared_ptr<ReaderContext> context) {
  context_ = std::move(context);
  objects_ = WithObjectCache(store_, context_);
}

std::shared_ptr<const Tree> BlobFs::tree() const {
  std::lock_guard<std::mutex> lock(tree_mu_);
  return tree_;
}

Status BlobFs::Refresh(bool force) {
  std::unique_lock<std::mutex> rebuild(rebuild_mu_, std::try_to_lock);
  if (!rebuild.owns_lock()) {
    if (!force) return OkStatus();  // someone is refreshing; use the current tree meanwhile
    rebuild.lock();
  }
  if (!force) {
    std::lock_guard<std::mutex> lock(tree_mu_);
    if (std::chrono::steady_clock::now() - built_at_ < options_.refresh_interval) return OkStatus();
  }
  Status s = Rebuild();
  if (!s) {
    if (!refresh_failing_) {
      spdlog::warn("mount: cannot refresh the names ({}); still showing the previous list",
                   s.error().message());
    }
    refresh_failing_ = true;
    // Try again after another interval, not on every lookup.
    std::lock_guard<std::mutex> lock(tree_mu_);
    built_at_ = std::chrono::steady_clock::now();
    return s;
  }
  if (refresh_failing_) spdlog::warn("mount: the store answers again; names refreshed");
  refresh_failing_ = false;
  return OkStatus();
}

void BlobFs::MaybeRefresh() {
  {
    std::lock_guard<std::mutex> lock(tree_mu_);
    if (std::chrono::steady_clock::now() - built_at_ < options_.refresh_interval) return;
  }
  (void)Refresh();  // failures are logged; the previous tree stays
}

// Called with rebuild_mu_ held.
Status BlobFs::Rebuild() {
  const int64_t list_unix = static_cast<int64_t>(::time(nullptr));
  HB_ASSIGN_OR_RETURN(auto names, ListAllVersions(*store_));

  // A version object is written once (gc's repack rewrites it, which
  // changes its time): one read before and unchanged since is not read again.
  std::unordered_map<std::string, KnownRef> known;
  std::vector<const Version*> to_read;
  for (const auto& vs : names) {
    for (const Version& v : vs) {
      auto it = known_.find(v.key);
      if (it != known_.end() && it->second.object_size == v.object_size &&
          it->second.object_mtime == v.object_mtime && v.object_mtime != 0 &&
          v.object_mtime < last_list_unix_ - kRecentSeconds) {
        known.emplace(v.key, std::move(it->second));
      } else {
        to_read.push_back(&v);
      }
    }
  }

  std::vector<std::optional<Result<Ref>>> refs(to_read.size());
  auto read_one = [&](size_t i) { refs[i] = LoadVersionRef(*store_, *to_read[i]); };
  if (to_read.size() <= 1) {
    for (size_t i = 0; i < to_read.size(); ++i) read_one(i);
  } else {
    ThreadPool pool(std::min(kRefReadThreads, to_read.size()));
    for (size_t i = 0; i < to_read.size(); ++i) pool.Submit([&, i] { read_one(i); });
    pool.Wait();
  }

  std::vector<std::string> warnings;
  for (size_t i = 0; i < to_read.size(); ++i) {
    const Version& v = *to_read[i];
    Result<Ref>& r = *refs[i];
    if (!r) {
      const Error& e = r.error();
      if (e.code() == ErrorCode::kNotFound) continue;  // deleted between list and read
      if (e.code() == ErrorCode::kCorruption || e.code() == ErrorCode::kUnsupported) {
        // One bad ref must not hide every other name.
        warnings.push_back("not shown: " + e.message());
        continue;
      }
      return Fail(e.Wrap("reading " + v.key));
    }
    KnownRef k;
    k.object_size = v.object_size;
    k.object_mtime = v.object_mtime;
    k.entry.size = r->size;
    k.entry.data_bytes = r->data_bytes.value_or(r->size);
    k.entry.mtime_unix = r->created_unix != 0 ? r->created_unix : v.object_mtime;
    k.entry.manifest = r->manifest;
    known.emplace(v.key, std::move(k));
  }

  // The newest readable version of a name is the file NAME; when a name has
  // more than one, all of them are also NAME@versions/1, 2, ... (1 = the
  // oldest, the numbers of `hugeblob versions`). New names cannot hold '@'.
  std::vector<RefEntry> entries;
  entries.reserve(known.size());
  for (const auto& vs : names) {
    std::vector<const Version*> shown;
    for (const Version& v : vs) {
      if (known.count(v.key) != 0) shown.push_back(&v);
    }
    if (shown.empty()) continue;
    RefEntry newest = known.at(shown.back()->key).entry;
    newest.name = shown.back()->name;
    entries.push_back(std::move(newest));
    if (vs.size() < 2) continue;
    for (const Version* v : shown) {
      RefEntry e = known.at(v->key).entry;
      e.name = v->name + "@versions/" + std::to_string(v->number);
      entries.push_back(std::move(e));
    }
  }
  auto tree = Tree::Build(std::move(entries), inodes_, start_unix_, &warnings);

  // Each problem is logged when it first appears, not on every refresh.
  std::set<std::string> now(warnings.begin(), warnings.end());
  for (const std::string& w : now) {
    if (warned_.count(w) == 0) spdlog::warn("mount: {}", w);
  }
  warned_ = std::move(now);

  known_ = std::move(known);
  last_list_unix_ = list_unix;
  refreshes_.fetch_add(1);
  std::lock_guard<std::mutex> lock(tree_mu_);
  tree_ = std::move(tree);
  built_at_ = std::chrono::steady_clock::now();
  return OkStatus();
}

Attr BlobFs::AttrOf(const Node& n) const {
  Attr a;
  a.ino = n.ino;
  a.dir = n.dir;
  a.size = n.dir ? 0 : n.size;
  a.data_bytes = n.dir ? 0 : n.data_bytes;
  a.mtime_unix = n.mtime_unix;
  a.nlink = n.dir ? static_cast<uint32_t>(2 + n.subdirs) : 1;
  return a;
}

Result<Attr> BlobFs::Lookup(uint64_t parent, std::string_view name) {
  MaybeRefresh();
  auto t = tree();
  const Node* dir = t->Find(parent);
  if (dir == nullptr)
    return Fail(ErrorCode::kNotFound, "inode " + std::to_string(parent) + " is gone");
  if (!dir->dir) return Fail(ErrorCode::kInvalidArgument, "'" + dir->path + "' is not a directory");
  const Node* n = t->Child(*dir, name);
  if (n == nullptr) return Fail(ErrorCode::kNotFound, std::string(name));
  return AttrOf(*n);
}

Result<Attr> BlobFs::GetAttr(uint64_t ino) {
  auto t = tree();
  if (const Node* n = t->Find(ino)) return AttrOf(*n);
  // A file removed from the store while open keeps its attributes (fstat).
  std::lock_guard<std::mutex> lock(open_mu_);
  auto it = open_.find(ino);
  if (it != open_.end()) {
    if (auto f = it->second.lock()) return f->attr;
  }
  return Fail(ErrorCode::kNotFound, "inode " + std::to_string(ino) + " is gone");
}

Result<std::vector<DirEntry>> BlobFs::ReadDir(uint64_t ino) {
  MaybeRefresh();
  auto t = tree();
  const Node* dir = t->Find(ino);
  if (dir == nullptr)
    return Fail(ErrorCode::kNotFound, "inode " + std::to_string(ino) + " is gone");
  if (!dir->dir) return Fail(ErrorCode::kInvalidArgument, "'" + dir->path + "' is not a directory");
  std::vector<DirEntry> out;
  out.reserve(dir->children.size() + 2);
  out.push_back({".", AttrOf(*dir)});
  out.push_back({"..", AttrOf(*t->Find(dir->parent))});
  for (const auto& [name, child] : dir->children) out.push_back({name, AttrOf(*t->Find(child))});
  return out;
}

Result<std::shared_ptr<OpenFile>> BlobFs::Open(uint64_t ino) {
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    auto it = open_.find(ino);
    if (it != open_.end()) {
      if (auto f = it->second.lock()) return f;
    }
  }
  auto t = tree();
  const Node* n = t->Find(ino);
  if (n == nullptr) return Fail(ErrorCode::kNotFound, "inode " + std::to_string(ino) + " is gone");
  if (n->dir) return Fail(ErrorCode::kInvalidArgument, "'" + n->path + "' is a directory");
  if (context_ == nullptr) return Fail(ErrorCode::kInternal, "mount: no reader context");

  // The inode's manifest, not the name's current one: see the header.
  // Its top only: the reader loads the segments of a large one as it reads.
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifestTop(*objects_, n->manifest));
  if (m.size != n->size) {
    return Fail(ErrorCode::kCorruption, "'" + n->path + "': ref says " + std::to_string(n->size) +
                                            " bytes, manifest " + n->manifest.Short() + " has " +
                                            std::to_string(m.size));
  }
  const std::string label = "'" + n->path + "'";
  HB_ASSIGN_OR_RETURN(
      auto reader,
      BlobReader::Open(context_, objects_, std::make_shared<const Manifest>(std::move(m)), label));
  auto* raw = new OpenFile{AttrOf(*n), n->path, std::move(reader)};
  // The last handle's release drops the map entry too, so the map holds
  // only open inodes.
  std::shared_ptr<OpenFile> file(raw, [this, ino](OpenFile* f) {
    {
      std::lock_guard<std::mutex> lock(open_mu_);
      auto it = open_.find(ino);
      if (it != open_.end() && it->second.expired()) open_.erase(it);
    }
    delete f;
  });

  std::lock_guard<std::mutex> lock(open_mu_);
  auto& slot = open_[ino];
  // Two opens raced: keep the first reader so its cache state is shared.
  if (auto existing = slot.lock()) return existing;
  slot = file;
  return file;
}

Result<size_t> BlobFs::Read(OpenFile& file, uint64_t offset, std::span<uint8_t> out) {
  return file.reader->pread(offset, out);
}

Result<BufferChain> BlobFs::ReadChain(OpenFile& file, uint64_t offset, uint64_t length) {
  return file.reader->ReadRange(offset, length);
}

Result<uint64_t> BlobFs::SeekData(OpenFile& file, int64_t offset, bool hole) {
  if (offset < 0) return Fail(ErrorCode::kInvalidArgument, "negative offset");
  return file.reader->SeekData(static_cast<uint64_t>(offset), hole);
}

}  // namespace hugeblob::fuse
