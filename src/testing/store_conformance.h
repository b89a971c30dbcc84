// The ObjectStore conformance suite: one set of tests every backend must
// pass (the contract in include/hugeblob/store.h). A backend instantiates it
// with a factory that returns a fresh, empty store for each test:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Memory, StoreConformanceTest,
//       ::testing::Values(StoreFactory{"memory", [] { return std::make_shared<MemoryStore>(); }}),
//       StoreFactoryName);
//
// The store is destroyed at the end of each test, so a factory can tie
// cleanup (a temporary directory, a bucket prefix) to the store's lifetime
// with a custom deleter or an aliasing shared_ptr.
//
// The suite only uses what every backend must support; in particular every
// multipart part but the last is 5 MiB, S3's minimum, so it can run against
// a real S3 server.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "hugeblob/store.h"

namespace hugeblob {

struct StoreFactory {
  std::string name;  // test-name suffix: letters, digits and '_' only
  std::function<std::shared_ptr<ObjectStore>()> make;
};

// For INSTANTIATE_TEST_SUITE_P: names the instantiation after the factory.
std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info);

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  ObjectStore& store() { return *store_; }

  std::shared_ptr<ObjectStore> store_;
};

}  // namespace hugeblob
