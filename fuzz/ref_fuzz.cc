// Fuzzes DecodeRef. A ref that decodes must re-encode to text that decodes to
// the same ref. (Not to the same bytes: lines with unknown keys are skipped
// for forward compatibility, so several spellings decode alike.)
#include <cstdint>
#include <string>

#include "format/manifest.h"
#include "format/manifest_codec.h"
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
  Buffer encoded = EncodeRef(*ref);
  auto again = DecodeRef(encoded.span(), "fuzz");
  if (!again || again->manifest != ref->manifest || again->size != ref->size ||
      again->created_unix != ref->created_unix || again->added_bytes != ref->added_bytes ||
      again->shared_bytes != ref->shared_bytes) {
    __builtin_trap();
  }
  // The canonical spelling is a fixed point.
  if (EncodeRef(*again).view() != encoded.view()) __builtin_trap();
  return 0;
}
