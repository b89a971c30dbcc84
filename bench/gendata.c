/* Seeded benchmark inputs, written to stdout.
 *   gendata random SIZE SEED          incompressible bytes (xorshift128+)
 *   gendata mixed SIZE SEED SOURCE    SOURCE (e.g. a tar of /usr) repeated up to SIZE; every
 *                                     repetition after the first changes one byte per 4 KiB
 *                                     (seeded), so repetitions compress like real data but do
 *                                     not deduplicate against each other.
 *   gendata blend SIZE SEED SOURCE    in 64 MiB pieces, cycling: three of SOURCE (read on, wrapping
 *                                     around), one of zeros, one incompressible: 60% real data, 20%
 *                                     zeros, 20% random, like a VM image or a checkpoint.
 * SIZE takes K/M/G suffixes. Deterministic for a given SEED (and SOURCE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s0, s1;
static uint64_t next(void) {
  uint64_t x = s0, y = s1;
  s0 = y;
  x ^= x << 23;
  s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
  return s1 + y;
}

static uint64_t parse_size(const char* s) {
  char* end;
  double v = strtod(s, &end);
  switch (*end) {
    case 'K': case 'k': v *= 1024.0; break;
    case 'M': case 'm': v *= 1048576.0; break;
    case 'G': case 'g': v *= 1073741824.0; break;
    default: break;
  }
  return (uint64_t)v;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: gendata random|mixed SIZE SEED [SOURCE]\n");
    return 2;
  }
  uint64_t size = parse_size(argv[2]);
  s0 = 0x9E3779B97F4A7C15ull ^ strtoull(argv[3], NULL, 10);
  s1 = 0xD1B54A32D192ED03ull;
  for (int i = 0; i < 16; i++) next();
  enum { kBuf = 1 << 20 };
  static unsigned char buf[kBuf];
  if (strcmp(argv[1], "random") == 0) {
    while (size > 0) {
      size_t n = size < kBuf ? (size_t)size : kBuf;
      for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = next();
        memcpy(buf + i, &v, 8);
      }
      if (fwrite(buf, 1, n, stdout) != n) return 1;
      size -= n;
    }
    return 0;
  }
  if (strcmp(argv[1], "blend") == 0 && argc >= 5) {
    FILE* src = fopen(argv[4], "rb");
    if (!src) {
      perror(argv[4]);
      return 1;
    }
    const uint64_t kPiece = 64ull << 20;
    for (uint64_t piece = 0; size > 0; piece++) {
      uint64_t left = size < kPiece ? size : kPiece;
      int kind = (int)(piece % 5);  /* 0,1,3 source; 2 zeros; 4 random */
      while (left > 0) {
        size_t n = left < kBuf ? (size_t)left : kBuf;
        if (kind == 2) {
          memset(buf, 0, n);
        } else if (kind == 4) {
          for (size_t i = 0; i + 8 <= n; i += 8) {
            uint64_t v = next();
            memcpy(buf + i, &v, 8);
          }
        } else {
          size_t got = fread(buf, 1, n, src);
          if (got < n) {
            rewind(src);
            if (fread(buf + got, 1, n - got, src) != n - got) return 1;
          }
        }
        if (fwrite(buf, 1, n, stdout) != n) return 1;
        left -= n;
        size -= n;
      }
    }
    fclose(src);
    return 0;
  }
  if (strcmp(argv[1], "mixed") != 0 || argc < 5) {
    fprintf(stderr, "usage: gendata mixed SIZE SEED SOURCE\n");
    return 2;
  }
  for (uint64_t rep = 0; size > 0; rep++) {
    FILE* src = fopen(argv[4], "rb");
    if (!src) {
      perror(argv[4]);
      return 1;
    }
    size_t n;
    uint64_t total = 0;
    while (size > 0 && (n = fread(buf, 1, size < kBuf ? (size_t)size : kBuf, src)) > 0) {
      if (rep > 0) {
        for (size_t i = 0; i < n; i += 4096) buf[i + (next() % (n - i < 4096 ? n - i : 4096))] ^= 0x5a;
      }
      if (fwrite(buf, 1, n, stdout) != n) return 1;
      size -= n;
      total += n;
    }
    fclose(src);
    if (total == 0) return 1;
  }
  return 0;
}
