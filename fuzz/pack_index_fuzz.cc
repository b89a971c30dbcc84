// Fuzzes DecodePackFooter and DecodePackTrailer. Input:
//   [mode u8][gap u16][trailer bytes]
// The frames region is `gap` bytes: pack_size = gap + trailer size. With an
// odd mode the trailer checksum is recomputed first so that the entry checks are
// reached. A trailer that decodes must re-encode to the same bytes.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "format/pack.h"
#include "format/pack_codec.h"
#include "fuzz_util.h"

namespace hugeblob {
namespace {

void WriteSeeds(const std::string& dir) {
  int n = 0;
  for (int count : {0, 1, 3, 10}) {
    std::vector<PackEntry> entries;
    uint64_t offset = 0;
    for (int i = 0; i < count; ++i) {
      PackEntry e;
      e.chunk.bytes.fill(static_cast<uint8_t>(i));
      e.offset = offset;
      e.length = 100 + i;
      e.codec = static_cast<Codec>(i % 3);
      e.stored_length = e.codec == Codec::kNone ? e.length : 40 + i;
      offset += e.stored_length;
      entries.push_back(e);
    }
    Buffer t = EncodePackTrailer(entries, offset);
    std::vector<uint8_t> seed = {static_cast<uint8_t>(n % 2), static_cast<uint8_t>(offset),
                                 static_cast<uint8_t>(offset >> 8)};
    seed.insert(seed.end(), t.data(), t.data() + t.size());
    fuzz::WriteSeed(dir, "trailer" + std::to_string(n), seed);
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
  if (size < 3) return 0;
  const bool fix_checksum = data[0] & 1;
  const uint64_t gap = data[1] | uint64_t{data[2]} << 8;
  std::vector<uint8_t> trailer(data + 3, data + size);
  const uint64_t pack_size = gap + trailer.size();

  if (fix_checksum && trailer.size() >= kPackFooterSize) {
    // Checksum: 8 bytes at footer offset 16, over everything before it.
    size_t at = trailer.size() - kPackFooterSize + 16;
    Hash256 sum = Sha256Of(std::span<const uint8_t>(trailer.data(), at));
    std::memcpy(trailer.data() + at, sum.bytes.data(), 8);
  }
  if (trailer.size() >= kPackFooterSize) {
    auto footer = DecodePackFooter(
        std::span<const uint8_t>(trailer).subspan(trailer.size() - kPackFooterSize), pack_size);
    if (footer && footer->trailer_length > pack_size) __builtin_trap();
  }
  auto entries = DecodePackTrailer(trailer, pack_size);
  if (!entries) return 0;
  // Frames inside the region, in order, not overlapping.
  uint64_t end = 0;
  for (const PackEntry& e : *entries) {
    if (e.offset < end || e.offset + e.stored_length > gap) __builtin_trap();
    end = e.offset + e.stored_length;
  }
  Buffer again = EncodePackTrailer(*entries, end);
  if (again.view() !=
      std::string_view(reinterpret_cast<const char*>(trailer.data()), trailer.size())) {
    __builtin_trap();
  }
  return 0;
}
