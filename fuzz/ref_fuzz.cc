// Fuzzes DecodeRef. A ref that decodes must re-encode to the same text: the
// parser accepts exactly one spelling of each ref.
#include <cstdint>
#include <string>
#include <string_view>

#include "format/manifest.h"
#include "fuzz_util.h"

namespace hugeblob {
namespace {

void WriteSeeds(const std::string& dir) {
  int n = 0;
  for (Ref r : {Ref{{}, 0, 0}, Ref{{}, 1ull << 40, 1700000000}, Ref{{}, 5, -3}}) {
    r.manifest.bytes.fill(static_cast<uint8_t>(0x11 * (n + 1)));
    Buffer b = EncodeRef(r);
    fuzz::WriteSeed(dir, "ref" + std::to_string(n), b.span());
    ++n;
  }
}

}  // namespace
}  // namespace hugeblob

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hugeblob::fuzz::MaybeWriteSeeds(hugeblob::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hugeblob;
  auto ref = DecodeRef({data, size}, "fuzz");
  if (!ref) return 0;
  Buffer again = EncodeRef(*ref);
  if (again.view() != std::string_view(reinterpret_cast<const char*>(data), size)) {
    __builtin_trap();
  }
  return 0;
}
