// The conformance suite (src/testing/store_conformance.h) on the local and
// the in-memory store.
#include <memory>

#include "store/local_store.h"
#include "store/memory_store.h"
#include "testing/store_conformance.h"
#include "testing/temp_dir.h"
#include "testing/wrapper_store.h"

namespace hugeblob {
namespace {

// A LocalStore in a fresh directory that is removed when the store goes.
std::shared_ptr<ObjectStore> MakeLocalStore() {
  struct Holder {
    TempDir dir;
    std::shared_ptr<LocalStore> store;
  };
  auto holder = std::make_shared<Holder>();
  if (holder->dir.path().empty()) return nullptr;
  auto store = LocalStore::Open(holder->dir.path() + "/store");
  if (!store) return nullptr;
  holder->store = *store;
  return std::shared_ptr<ObjectStore>(holder, holder->store.get());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreConformanceTest,
    ::testing::Values(
        StoreFactory{"local", MakeLocalStore},
        StoreFactory{"memory", [] { return std::make_shared<MemoryStore>(); }},
        // Wrappers must be transparent when no rule fires.
        StoreFactory{"counting_over_local",
                     [] { return std::make_shared<CountingStore>(MakeLocalStore()); }},
        StoreFactory{
            "faults_over_memory",
            [] { return std::make_shared<FaultInjectingStore>(std::make_shared<MemoryStore>()); }}),
    StoreFactoryName);

}  // namespace
}  // namespace hugeblob
