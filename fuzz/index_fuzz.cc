// Fuzzes DecodeIndex. The first input byte picks a mode:
//   even: the rest is a whole index object;
//   odd:  the rest is [pack_count u32][entry_count u32][body], sealed with a
//         valid checksum first so that the body parser is reached.
// Whatever decodes must re-encode to the same bytes (canonical encoding).
#include <cstdint>
#include <cstring>
#include <span>

#include "format/envelope.h"
#include "format/index.h"
#include "format/index_codec.h"
#include "fuzz_util.h"

namespace hugeblob {
namespace {

void WriteSeeds(const std::string& dir) {
  int n = 0;
  for (int count : {0, 1, 6, 30}) {
    std::vector<IndexEntry> entries;
    uint64_t offset[3] = {0, 0, 0};
    for (int i = 0; i < count; ++i) {
      IndexEntry e;
      e.chunk.bytes.fill(static_cast<uint8_t>(i));
      int p = i % 3;
      e.pack.bytes.fill(static_cast<uint8_t>(0x30 + p));
      e.offset = offset[p];
      e.length = 4096 + i;
      e.codec = static_cast<Codec>(i % 3);
      e.stored_length = e.codec == Codec::kNone ? e.length : 1000 + i;
      offset[p] += e.stored_length;
      entries.push_back(e);
    }
    auto enc = EncodeIndex(entries);
    if (!enc) __builtin_trap();
    std::vector<uint8_t> raw = {0};
    raw.insert(raw.end(), enc->data(), enc->data() + enc->size());
    fuzz::WriteSeed(dir, "raw" + std::to_string(n), raw);
    auto body = ZstdDecompress(enc->span().subspan(24, enc->size() - 40), 1 << 20);
    if (!body) __builtin_trap();
    std::vector<uint8_t> sealed = {1};
    sealed.insert(sealed.end(), enc->data() + 12, enc->data() + 16);  // pack count
    sealed.insert(sealed.end(), enc->data() + 16, enc->data() + 20);  // entry count, low half
    sealed.insert(sealed.end(), body->data(), body->data() + body->size());
    fuzz::WriteSeed(dir, "body" + std::to_string(n), sealed);
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
  if (size < 1) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  Result<Buffer> object = Buffer();
  if ((data[0] & 1) == 0) {
    object = Buffer::Copy(in);
  } else {
    if (in.size() < 8) return 0;
    format_internal::EnvelopeHeader h;
    h.version = kIndexVersion;
    std::memcpy(&h.pack_count, in.data(), 4);
    uint32_t entries;
    std::memcpy(&entries, in.data() + 4, 4);
    h.entry_count = entries;
    object = format_internal::SealEnvelope("HBIX", h, in.subspan(8));
    if (!object) return 0;
  }
  auto entries = DecodeIndex(object->span(), "fuzz");
  if (!entries) return 0;
  auto again = EncodeIndex(*entries);
  if (!again || again->view() != object->view()) __builtin_trap();
  return 0;
}
