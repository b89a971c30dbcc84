#include "writer/chunk_index.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <unordered_set>

#include "format/layout.h"
#include "format/pack.h"
#include "util/thread_pool.h"

namespace hugeblob {

uint32_t ChunkIndex::AddPack(const Hash256& id) {
  std::unique_lock lock(mu_);
  packs_.push_back(id);
  return static_cast<uint32_t>(packs_.size() - 1);
}

void ChunkIndex::SetPackId(uint32_t pack_no, const Hash256& id) {
  std::unique_lock lock(mu_);
  packs_[pack_no] = id;
  pack_numbers_[id] = pack_no;
}

Hash256 ChunkIndex::PackId(uint32_t pack_no) const {
  std::shared_lock lock(mu_);
  return packs_[pack_no];
}

uint32_t ChunkIndex::pack_count() const {
  std::shared_lock lock(mu_);
  return static_cast<uint32_t>(packs_.size());
}

bool ChunkIndex::Contains(const ChunkId& id) const {
  std::shared_lock lock(mu_);
  return chunks_.count(id) != 0;
}

std::optional<ChunkLocation> ChunkIndex::Find(const ChunkId& id) const {
  std::shared_lock lock(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return std::nullopt;
  return it->second;
}

void ChunkIndex::Insert(const ChunkId& id, const ChunkLocation& location) {
  std::unique_lock lock(mu_);
  InsertLocked(id, location);
}

void ChunkIndex::InsertLocked(const ChunkId& id, const ChunkLocation& location) {
  chunks_.emplace(id, location);
}

uint32_t ChunkIndex::PackNoLocked(const Hash256& id) {
  auto it = pack_numbers_.find(id);
  if (it != pack_numbers_.end()) return it->second;
  packs_.push_back(id);
  uint32_t no = static_cast<uint32_t>(packs_.size() - 1);
  pack_numbers_.emplace(id, no);
  return no;
}

size_t ChunkIndex::size() const {
  std::shared_lock lock(mu_);
  return chunks_.size();
}

std::vector<IndexEntry> ChunkIndex::TakeUnindexed() {
  std::unique_lock lock(mu_);
  return std::move(unindexed_);
}

Result<std::vector<PackEntry>> ReadPackTrailer(ObjectStore& store, const ObjectInfo& info,
                                               const Hash256& id) {
  if (info.size < kPackFooterSize) {
    return Fail(ErrorCode::kCorruption, info.key + ": too short to be a pack");
  }
  HB_ASSIGN_OR_RETURN(Buffer footer_bytes,
                      store.GetRange(info.key, info.size - kPackFooterSize, kPackFooterSize));
  auto footer = DecodePackFooter(footer_bytes.span(), info.size);
  if (!footer) return Fail(footer.error().Wrap(info.key));
  HB_ASSIGN_OR_RETURN(Buffer trailer, store.GetRange(info.key, info.size - footer->trailer_length,
                                                     footer->trailer_length));
  if (Sha256Of(trailer.span()) != id) {
    return Fail(ErrorCode::kCorruption, info.key + ": trailer does not match the pack id");
  }
  auto entries = DecodePackTrailer(trailer.span(), info.size);
  if (!entries) return Fail(entries.error().Wrap(info.key));
  return entries;
}

Result<std::unique_ptr<ChunkIndex>> ChunkIndex::Load(ObjectStore& store, unsigned threads,
                                                     const CancelToken* cancel) {
  auto index = std::make_unique<ChunkIndex>();
  // Index objects first: one is written after the packs it covers, so every
  // pack it names is in the pack listing taken after it, unless gc deleted it.
  HB_ASSIGN_OR_RETURN(auto index_objects, store.List(kIndexPrefix));
  HB_ASSIGN_OR_RETURN(auto pack_objects, store.List(kPacksPrefix));
  std::unordered_set<Hash256, Hash256Hasher> present;
  for (const ObjectInfo& info : pack_objects) {
    if (auto id = IdFromKey(info.key)) present.insert(*id);
  }

  std::mutex mu;
  std::optional<Error> first_error;
  std::set<Hash256> covered;  // packs some index object mentions; guarded by mu
  {
    ThreadPool pool(threads == 0 ? 4 : threads);
    for (const ObjectInfo& info : index_objects) {
      pool.Submit([&, key = info.key] {
        if (cancel != nullptr && cancel->cancelled()) return;
        auto bytes = store.Get(key);
        Result<std::vector<IndexEntry>> entries =
            bytes ? DecodeIndex(bytes->span(), key)
                  : Result<std::vector<IndexEntry>>(Fail(bytes.error()));
        std::lock_guard lock(mu);
        if (!entries) {
          // A damaged index object loses only dedup opportunities: its packs
          // are re-read from their trailers below. verify reports it.
          spdlog::warn("ignoring index object {}: {}", key, entries.error().message());
          return;
        }
        std::unique_lock ilock(index->mu_);
        for (const IndexEntry& e : *entries) {
          // An index object may outlive a pack gc deleted (gc writes the
          // new index objects first, and a crash can stop it there):
          // dedup against a pack that is gone would lose data.
          if (present.count(e.pack) == 0) continue;
          covered.insert(e.pack);
          index->InsertLocked(e.chunk, ChunkLocation{index->PackNoLocked(e.pack), e.stored_length,
                                                     e.offset, e.length, e.codec});
        }
      });
    }
    pool.Wait();
    if (cancel != nullptr && cancel->cancelled()) return Fail(CancelledError("loading the index"));

    for (const ObjectInfo& info : pack_objects) {
      auto id = IdFromKey(info.key);
      if (!id || covered.count(*id) != 0) continue;
      pool.Submit([&, info, pack_id = *id] {
        if (cancel != nullptr && cancel->cancelled()) return;
        auto entries = ReadPackTrailer(store, info, pack_id);
        std::lock_guard lock(mu);
        if (!entries) {
          if (entries.error().code() == ErrorCode::kCorruption) {
            spdlog::warn("ignoring pack {}: {}", info.key, entries.error().message());
          } else if (!first_error) {
            first_error = entries.error();
          }
          return;
        }
        std::unique_lock ilock(index->mu_);
        uint32_t no = index->PackNoLocked(pack_id);
        for (const PackEntry& e : *entries) {
          index->InsertLocked(e.chunk,
                              ChunkLocation{no, e.stored_length, e.offset, e.length, e.codec});
          index->unindexed_.push_back(
              IndexEntry{e.chunk, pack_id, e.offset, e.stored_length, e.length, e.codec});
        }
      });
    }
    pool.Wait();
  }
  if (cancel != nullptr && cancel->cancelled()) return Fail(CancelledError("loading the index"));
  if (first_error) return Fail(first_error->Wrap("loading the chunk index"));
  return index;
}

}  // namespace hugeblob

namespace hugeblob {

Status CheckPacksExist(ObjectStore& store, const std::vector<Hash256>& packs,
                       const CancelToken* cancel) {
  if (packs.empty()) return OkStatus();
  std::mutex mu;
  std::optional<Error> first_error;  // guarded by mu
  {
    ThreadPool pool(std::min<size_t>(16, packs.size()));
    for (const Hash256& id : packs) {
      pool.Submit([&, id] {
        if (cancel != nullptr && cancel->cancelled()) return;
        {
          std::lock_guard lock(mu);
          if (first_error) return;
        }
        auto head = store.Head(PackKey(id));
        if (head) return;
        std::lock_guard lock(mu);
        if (first_error) return;
        if (head.error().code() == ErrorCode::kNotFound) {
          first_error = Error(ErrorCode::kNotFound,
                              PackKey(id) +
                                  ": a pack this file shares with earlier ones was "
                                  "deleted while it was being written (a gc ran despite "
                                  "the lock?); nothing was published, run it again");
        } else {
          first_error = head.error().Wrap("checking reused packs");
        }
      });
    }
    pool.Wait();
  }
  if (cancel != nullptr && cancel->cancelled())
    return Fail(CancelledError("checking reused packs"));
  if (first_error) return Fail(*first_error);
  return OkStatus();
}

}  // namespace hugeblob
