// Object key rules shared by every backend (see the contract in
// include/hugeblob/store.h): relative, '/'-separated, no empty, "." or ".."
// component, no NUL. A backend calls ValidateKey on every key it is given, so
// no key can name a path outside a local store or a mount.
#pragma once

#include <string_view>

#include "hugeblob/error.h"

namespace hugeblob {

// kInvalidArgument naming the key unless it follows the rules above.
Status ValidateKey(std::string_view key);

// A List/ListMultipart prefix: empty, or a key, or a key prefix ending in '/'
// or in the middle of a component ("packs/a"). It may not climb ("..") or
// start with '/'.
Status ValidatePrefix(std::string_view prefix);

}  // namespace hugeblob
