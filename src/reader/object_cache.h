// Manifests and segments from the disk cache: a store wrapper that serves
// the immutable objects a reader opens a file with (manifests/<id> and
// segments/<id>, each named by the SHA-256 of its bytes) from the shared
// disk cache, and keeps the ones it fetches there. With it, a mount (or a
// cat) started again reads what an earlier one read without asking the
// store for anything but the names (refs change; they are always read from
// the store).
//
// Every entry is checked against its id when read back (DiskCache::GetObject,
// and again by repo/manifests.cc, which checks whatever a store returns), so
// a damaged entry is deleted and fetched again, never used. Only whole
// objects read from offset 0 are cached; every other call (packs, refs,
// writes) goes straight to the wrapped store.
//
// Thread-safe.
#pragma once

#include <memory>

#include "hugeblob/store.h"

namespace hugeblob {

class ReaderContext;

// `store` behind the disk cache of `context`, or `store` itself when the
// context has no disk cache (or `store` is already such a wrapper).
std::shared_ptr<ObjectStore> WithObjectCache(std::shared_ptr<ObjectStore> store,
                                             const std::shared_ptr<ReaderContext>& context);

}  // namespace hugeblob
