#include "writer/chunk_index.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_set>

#include "format/layout.h"
#include "format/pack.h"
#include "repo/indexes.h"
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

bool ChunkIndex::Forget(const ChunkId& id, const ChunkLocation& location) {
  std::unique_lock lock(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return false;
  const ChunkLocation& l = it->second;
  if (l.pack_no != location.pack_no || l.offset != location.offset ||
      l.stored_length != location.stored_length || l.length != location.length ||
      l.codec != location.codec) {
    return false;
  }
  chunks_.erase(it);
  return true;
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
        Result<std::vector<IndexEntry>> entries = ReadIndexObject(store, key);
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

std::shared_ptr<DedupConfirmer::Pack> DedupConfirmer::PackSlot(uint32_t pack_no) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = packs_.try_emplace(pack_no);
  if (inserted) it->second = std::make_shared<Pack>();
  return it->second;
}

Result<bool> DedupConfirmer::Confirm(const ChunkId& id, const ChunkLocation& location) {
  if (location.pack_no >= first_unchecked_) return true;
  std::shared_ptr<Pack> pack = PackSlot(location.pack_no);
  const Hash256 pack_id = index_.PackId(location.pack_no);
  const std::string key = PackKey(pack_id);
  std::unique_lock plock(pack->mu);
  if (!pack->loaded) {
    // The first thread that needs this pack reads its trailer; the others
    // wait on the pack's mutex meanwhile.
    auto head = store_.Head(key);
    Result<std::vector<PackEntry>> entries =
        head ? ReadPackTrailer(store_, *head, pack_id)
             : Result<std::vector<PackEntry>>(Fail(head.error()));
    if (!entries) {
      const ErrorCode code = entries.error().code();
      if (code != ErrorCode::kNotFound && code != ErrorCode::kCorruption) {
        return Fail(entries.error().Wrap("checking the index entries put deduplicates against"));
      }
      pack->damage =
          code == ErrorCode::kNotFound ? "the pack is missing" : entries.error().message();
    } else {
      trailers_read_.fetch_add(1, std::memory_order_relaxed);
      pack->entries = std::move(*entries);
      std::sort(pack->entries.begin(), pack->entries.end(),
                [](const PackEntry& a, const PackEntry& b) { return a.offset < b.offset; });
    }
    pack->loaded = true;
    std::lock_guard lock(mu_);
    load_order_.emplace_back(location.pack_no, pack->entries.size());
    cached_entries_ += pack->entries.size();
    // Bounded memory: forget the packs loaded first (a holder keeps its
    // copy alive; a later chunk of an evicted pack reads its trailer again).
    while (cached_entries_ > kMaxCachedEntries && load_order_.size() > 1) {
      const auto [old_no, old_entries] = load_order_.front();
      load_order_.pop_front();
      cached_entries_ -= old_entries;
      packs_.erase(old_no);
    }
  }
  std::string why = pack->damage;
  if (why.empty()) {
    auto it =
        std::lower_bound(pack->entries.begin(), pack->entries.end(), location.offset,
                         [](const PackEntry& e, uint64_t offset) { return e.offset < offset; });
    if (it != pack->entries.end() && it->offset == location.offset && it->chunk == id &&
        it->stored_length == location.stored_length && it->length == location.length &&
        it->codec == location.codec) {
      return true;
    }
    why = "its trailer has no frame of chunk " + id.Short() + " at offset " +
          std::to_string(location.offset) + " (" + std::to_string(location.stored_length) +
          " bytes stored, " + std::to_string(location.length) + " plain)";
  }
  plock.unlock();
  if (index_.Forget(id, location)) dropped_.fetch_add(1, std::memory_order_relaxed);
  if (!pack->warned.exchange(true)) {
    spdlog::warn(
        "an index entry names {} for chunk {}, but {} (a damaged index object?); storing the "
        "chunk again instead of deduplicating against it (further entries of this pack are "
        "checked the same way, not reported)",
        key, id.Short(), why);
  }
  return false;
}

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
