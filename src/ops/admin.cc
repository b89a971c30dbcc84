// ls, stat, rm and verify: read-only inspection of a store (rm only deletes
// a ref).
#include <algorithm>
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

Result<std::vector<BlobInfo>> ListBlobs(const std::shared_ptr<ObjectStore>& store) {
  HB_ASSIGN_OR_RETURN(auto refs, store->List(kRefsPrefix));
  std::vector<BlobInfo> out(refs.size());
  std::vector<std::optional<Error>> errors(refs.size());
  {
    ThreadPool pool(8);
    for (size_t i = 0; i < refs.size(); ++i) {
      pool.Submit([&, i] {
        std::string name(NameFromRefKey(refs[i].key));
        auto bytes = store->Get(refs[i].key);
        if (!bytes) {
          errors[i] = bytes.error();
          return;
        }
        auto ref = DecodeRef(bytes->span(), refs[i].key);
        if (!ref) {
          errors[i] = ref.error();
          return;
        }
        out[i] = InfoFromRef(name, *ref);
      });
    }
    pool.Wait();
  }
  for (auto& e : errors) {
    // A ref deleted between list and get is simply gone.
    if (e && e->code() != ErrorCode::kNotFound) return Fail(*e);
  }
  out.erase(
      std::remove_if(out.begin(), out.end(), [](const BlobInfo& b) { return b.name.empty(); }),
      out.end());
  return out;
}

Result<BlobStat> StatBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name) {
  HB_ASSIGN_OR_RETURN(Ref ref, LoadRef(*store, name));
  BlobStat st;
  st.info = InfoFromRef(name, ref);
  HB_ASSIGN_OR_RETURN(Manifest m, LoadManifest(*store, ref.manifest, &st.manifest_bytes));
  st.chunk_hash = std::string(HashAlgoName(m.chunk_hash));
  if (m.digest) st.digest = m.digest->Hex();
  if (m.sha256) st.sha256 = m.sha256->Hex();
  if (m.mode) st.mode = *m.mode;
  if (m.mtime_ns) st.mtime_ns = *m.mtime_ns;
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

Status RemoveBlob(const std::shared_ptr<ObjectStore>& store, const std::string& name) {
  HB_TRY(LoadRef(*store, name));  // a clear error for a name that does not exist
  return store->Delete(RefKey(name));
}

namespace {

// Checks frames of one pack: decodes each and compares with its chunk id.
// `frames` are (offset, stored_length, length, codec, chunk) of frames to check.
struct FrameCheck {
  uint64_t offset;
  uint32_t stored_length;
  uint32_t length;
  Codec codec;
  ChunkId chunk;
  // From a manifest, the hash it names chunks with; from a bare pack
  // trailer (which does not say), empty: either hash may match, since a
  // copy between stores of both kinds mixes them in one pack.
  std::optional<HashAlgo> hash;
};

class Verifier {
 public:
  Verifier(std::shared_ptr<ObjectStore> store, const VerifyOptions& options)
      : store_(std::move(store)), options_(options) {}

  Result<VerifyReport> Run();

 private:
  void Problem(std::string p) {
    std::lock_guard lock(mu_);
    report_.problems.push_back(std::move(p));
  }
  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }
  void CountObject(uint64_t bytes) {
    std::lock_guard lock(mu_);
    ++report_.objects;
    report_.bytes += bytes;
  }
  // Reads a whole pack, checks its trailer against its id and every frame
  // listed in `wanted` (or in the trailer when wanted is empty).
  void CheckPack(const Hash256& id, std::vector<FrameCheck> wanted);
  Status CheckName(const std::string& name, std::map<Hash256, std::vector<FrameCheck>>* packs);

  std::shared_ptr<ObjectStore> store_;
  VerifyOptions options_;
  std::mutex mu_;
  VerifyReport report_;  // guarded by mu_
};

void Verifier::CheckPack(const Hash256& id, std::vector<FrameCheck> wanted) {
  const std::string key = PackKey(id);
  auto bytes = store_->Get(key);
  if (!bytes) {
    if (bytes.error().code() == ErrorCode::kNotFound) {
      Problem(key + ": missing pack");
    } else {
      Problem(key + ": " + bytes.error().message());
    }
    return;
  }
  CountObject(bytes->size());
  const uint64_t size = bytes->size();
  if (size < kPackFooterSize) {
    Problem(key + ": truncated pack (" + std::to_string(size) + " bytes)");
    return;
  }
  auto footer = DecodePackFooter(bytes->span().subspan(size - kPackFooterSize), size);
  if (!footer) {
    Problem(key + ": " + footer.error().message());
    return;
  }
  auto trailer = bytes->span().subspan(size - footer->trailer_length);
  if (Sha256Of(trailer) != id) {
    Problem(key + ": trailer does not match the pack id");
    return;
  }
  auto entries = DecodePackTrailer(trailer, size);
  if (!entries) {
    Problem(key + ": " + entries.error().message());
    return;
  }
  if (wanted.empty()) {
    for (const PackEntry& e : *entries) {
      wanted.push_back(FrameCheck{e.offset, e.stored_length, e.length, e.codec, e.chunk, {}});
    }
  }
  std::vector<uint8_t> out;
  uint64_t frames = 0;
  for (const FrameCheck& f : wanted) {
    if (Cancelled()) return;
    if (f.offset + f.stored_length > size - footer->trailer_length) {
      Problem(key + ": frame at offset " + std::to_string(f.offset) + " lies outside the pack");
      continue;
    }
    out.resize(f.length);
    Status st = DecodeFrame(f.codec, bytes->span().subspan(f.offset, f.stored_length), out);
    if (!st) {
      Problem(key + ": frame at offset " + std::to_string(f.offset) + " (chunk " + f.chunk.Short() +
              "): " + st.error().message());
      continue;
    }
    const bool matches = f.hash ? ChunkHash(*f.hash, out) == f.chunk
                                : (Blake3Of(out) == f.chunk || Sha256Of(out) == f.chunk);
    if (!matches) {
      Problem(key + ": frame at offset " + std::to_string(f.offset) + " does not match chunk " +
              f.chunk.Short());
    }
    ++frames;
  }
  std::lock_guard lock(mu_);
  report_.frames += frames;
}

Status Verifier::CheckName(const std::string& name,
                           std::map<Hash256, std::vector<FrameCheck>>* packs) {
  auto ref = LoadRef(*store_, name);
  if (!ref) {
    if (ref.error().code() == ErrorCode::kCorruption) {
      Problem(ref.error().message());
      return OkStatus();
    }
    return Fail(ref.error());
  }
  CountObject(0);
  uint64_t msize = 0;
  auto m = LoadManifest(*store_, ref->manifest, &msize);
  if (!m) {
    if (m.error().code() == ErrorCode::kCorruption || m.error().code() == ErrorCode::kUnsupported) {
      Problem(m.error().message() + " (referenced by '" + name + "')");
      return OkStatus();
    }
    return Fail(m.error());
  }
  CountObject(msize);
  std::set<std::pair<uint32_t, uint64_t>> seen;
  for (const FrameRef& f : m->frames) {
    if (f.zero || !seen.insert({f.pack, f.stored_offset}).second) continue;
    (*packs)[m->packs[f.pack]].push_back(
        FrameCheck{f.stored_offset, f.stored_length, f.length, f.codec, f.chunk, f.hash});
  }
  return OkStatus();
}

Result<VerifyReport> Verifier::Run() {
  std::map<Hash256, std::vector<FrameCheck>> packs;
  if (!options_.name.empty()) {
    HB_TRY(LoadRef(*store_, options_.name));  // unknown name: an error, not a problem
    HB_TRY(CheckName(options_.name, &packs));
  } else {
    HB_ASSIGN_OR_RETURN(auto refs, store_->List(kRefsPrefix));
    for (const ObjectInfo& r : refs) {
      if (Cancelled()) return Fail(CancelledError("verify"));
      HB_TRY(CheckName(std::string(NameFromRefKey(r.key)), &packs));
    }
    // Index objects: each must decode and match its id.
    HB_ASSIGN_OR_RETURN(auto indexes, store_->List(kIndexPrefix));
    for (const ObjectInfo& info : indexes) {
      if (Cancelled()) return Fail(CancelledError("verify"));
      auto bytes = store_->Get(info.key);
      if (!bytes) {
        Problem(info.key + ": " + bytes.error().message());
        continue;
      }
      CountObject(bytes->size());
      auto id = IdFromKey(info.key);
      if (!id || Sha256Of(bytes->span()) != *id) {
        Problem(info.key + ": content does not match its id");
        continue;
      }
      auto entries = DecodeIndex(bytes->span(), info.key);
      if (!entries) Problem(entries.error().message());
    }
    // Every pack, referenced or not, is checked whole.
    HB_ASSIGN_OR_RETURN(auto all_packs, store_->List(kPacksPrefix));
    for (const ObjectInfo& info : all_packs) {
      auto id = IdFromKey(info.key);
      if (!id) {
        Problem(info.key + ": not a pack name");
        continue;
      }
      packs[*id];  // checked whole: frames referenced by names are a subset
    }
    for (auto& [id, frames] : packs) frames.clear();
  }

  uint64_t total = packs.size();
  std::atomic<uint64_t> done{0};
  {
    ThreadPool pool(options_.threads == 0 ? 4 : options_.threads);
    for (auto& [id, frames] : packs) {
      pool.Submit([&, id = id, frames = std::move(frames)]() mutable {
        if (Cancelled()) return;
        CheckPack(id, std::move(frames));
        uint64_t d = ++done;
        if (options_.progress) options_.progress(Progress{d, total, 0});
      });
    }
    pool.Wait();
  }
  if (Cancelled()) return Fail(CancelledError("verify"));
  std::sort(report_.problems.begin(), report_.problems.end());
  return report_;
}

}  // namespace

Result<VerifyReport> Verify(const std::shared_ptr<ObjectStore>& store,
                            const VerifyOptions& options) {
  Verifier v(store, options);
  return v.Run();
}

}  // namespace hugeblob
