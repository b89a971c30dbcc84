// Reads a byte range of a stored file and writes it to standard output.
//
//   read_range STORE NAME OFFSET LENGTH
//   read_range /srv/blobs vm/2026-11-22 4096 65536 | xxd | head
//
// Only the blocks holding the range are fetched (and verified); the rest of
// the file stays in the store.
#include <hugeblob/hugeblob.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s STORE NAME OFFSET LENGTH\n", argv[0]);
    return 2;
  }
  const uint64_t offset = std::strtoull(argv[3], nullptr, 10);
  const uint64_t length = std::strtoull(argv[4], nullptr, 10);

  auto store = hugeblob::Store::Open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message().c_str());
    return 1;
  }
  auto file = store->OpenFile(argv[2]);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().message().c_str());
    return 1;
  }
  std::vector<uint8_t> buf(1 << 20);
  uint64_t pos = offset;
  const uint64_t end = offset + length;
  while (pos < end) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
    auto n = (*file)->pread(pos, {buf.data(), want});
    if (!n) {
      std::fprintf(stderr, "%s\n", n.error().message().c_str());
      return 1;
    }
    if (*n == 0) break;  // the end of the file
    if (std::fwrite(buf.data(), 1, *n, stdout) != *n) return 1;
    pos += *n;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
