// Helpers for the gc and copy tests (not part of the library): files of
// reproducible content, small puts, and facts about what a store holds.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "format/layout.h"
#include "format/pack.h"
#include "hugeblob/hugeblob.h"
#include "testing/temp_dir.h"
#include "util/fs.h"
#include "writer/chunk_index.h"

namespace hugeblob::testing_gc {

// Half random, half text-like (compressible), so frames are a mix of raw and
// zstd.
inline std::string MakeData(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = (i / 4096) % 2 == 0 ? static_cast<char>(rng()) : static_cast<char>('a' + rng() % 4);
  }
  return s;
}

inline std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& data) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}

inline std::string ReadFile(const std::string& path) {
  auto s = ReadFileToString(path);
  return s ? *s : std::string("<unreadable>");
}

// Small packs and chunks so a few MiB make several packs.
inline PutOptions SmallPut(const std::string& name, const std::string& chunker = "fixed") {
  PutOptions o;
  o.name = name;
  o.chunker = chunker;
  o.chunk_size = 64 << 10;
  o.pack_size = 1 << 20;
  o.threads = 2;
  o.memory_budget = 16 << 20;
  return o;
}

// The bytes `name` restores to (empty + test failure on error).
inline std::string Restore(const std::shared_ptr<ObjectStore>& store, const std::string& name,
                           const TempDir& dir) {
  std::string out = dir.path() + "/restore.out";
  GetOptions o;
  o.force = true;
  o.reader.disk_cache = false;
  auto r = Get(store, name, out, o);
  EXPECT_TRUE(r) << name << ": " << r.error().message();
  if (!r) return "";
  return ReadFile(out);
}

inline std::set<std::string> Keys(ObjectStore& store, std::string_view prefix) {
  std::set<std::string> keys;
  auto list = store.List(prefix);
  EXPECT_TRUE(list);
  if (list) {
    for (const auto& o : *list) keys.insert(o.key);
  }
  return keys;
}

inline uint64_t Bytes(ObjectStore& store, std::string_view prefix) {
  uint64_t n = 0;
  auto list = store.List(prefix);
  if (list) {
    for (const auto& o : *list) n += o.size;
  }
  return n;
}

// Frames in all packs, and distinct chunk ids among them: equal when no
// chunk is stored twice.
struct PackCensus {
  uint64_t frames = 0;
  uint64_t distinct = 0;
};
inline PackCensus Census(ObjectStore& store) {
  PackCensus c;
  std::set<Hash256> ids;
  auto list = store.List(kPacksPrefix);
  EXPECT_TRUE(list);
  for (const auto& o : *list) {
    auto id = IdFromKey(o.key);
    EXPECT_TRUE(id);
    auto entries = ReadPackTrailer(store, o, *id);
    EXPECT_TRUE(entries) << o.key;
    if (!entries) continue;
    c.frames += entries->size();
    for (const auto& e : *entries) ids.insert(e.chunk);
  }
  c.distinct = ids.size();
  return c;
}

inline void ExpectVerifies(const std::shared_ptr<ObjectStore>& store) {
  VerifyOptions o;
  auto r = Verify(store, o);
  ASSERT_TRUE(r) << r.error().message();
  for (const auto& p : r->problems) ADD_FAILURE() << "verify: " << p;
}

}  // namespace hugeblob::testing_gc
