/* The C API (include/hugeblob/hugeblob_c.h), compiled as C: a store made in
 * a temporary directory, a file put and read back at many offsets (from
 * several threads at once), end-of-file reads, every error path a caller
 * can hit (missing store, missing name, bad arguments, a damaged pack), and
 * the per-thread error message. Prints "N passed, M failed". */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <hugeblob/hugeblob_c.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (cond) {                                                             \
      ++passed;                                                             \
    } else {                                                                \
      ++failed;                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: [%d] %s\n",     \
              __FILE__, __LINE__, #cond, hb_last_error_code(), hb_last_error()); \
    }                                                                       \
  } while (0)

enum { kSize = 5 * 1024 * 1024 + 12345 };
static unsigned char *g_data;
static char g_dir[256];
static char g_store[300];

/* Deterministic bytes that do not compress to nothing, with a 1 MiB run of
 * zeros in the middle (a hole in the store). */
static void MakeData(void) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  g_data = malloc(kSize);
  for (size_t i = 0; i < kSize; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g_data[i] = (unsigned char)(x >> 56);
  }
  memset(g_data + 2 * 1024 * 1024, 0, 1024 * 1024);
}

static int RemoveOne(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* A regular file under DIR/packs, for the damage test. */
static char g_pack[1024];
static int FindPack(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  if (flag == FTW_F && S_ISREG(st->st_mode) && strstr(path, "/packs/") != NULL &&
      st->st_size > 4096) {
    snprintf(g_pack, sizeof g_pack, "%s", path);
    return 1;
  }
  return 0;
}

static int RangeMatches(hb_file *f, uint64_t offset, size_t n) {
  static __thread unsigned char buf[300000];
  if (n > sizeof buf) n = sizeof buf;
  int64_t got = hb_file_pread(f, buf, n, offset);
  uint64_t want = offset >= kSize ? 0 : (kSize - offset < n ? kSize - offset : n);
  if (got != (int64_t)want) {
    fprintf(stderr, "pread(%llu, %zu) = %lld, want %llu\n", (unsigned long long)offset, n,
            (long long)got, (unsigned long long)want);
    return 0;
  }
  return memcmp(buf, g_data + (offset < kSize ? offset : 0), (size_t)want) == 0;
}

struct Reader {
  hb_file *file;
  unsigned seed;
  int mismatches;
};

static void *ReadRandom(void *arg) {
  struct Reader *r = arg;
  for (int i = 0; i < 200; ++i) {
    uint64_t off = (uint64_t)rand_r(&r->seed) % kSize;
    size_t n = 1 + (size_t)rand_r(&r->seed) % 200000;
    if (!RangeMatches(r->file, off, n)) ++r->mismatches;
  }
  return NULL;
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/hb_c_api.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(g_store, sizeof g_store, "%s/store", g_dir);
  char input[300];
  snprintf(input, sizeof input, "%s/input.bin", g_dir);
  MakeData();
  FILE *in = fopen(input, "wb");
  if (in == NULL || fwrite(g_data, 1, kSize, in) != kSize || fclose(in) != 0) {
    perror(input);
    return 1;
  }

  /* No store there yet: opening it without HB_OPEN_CREATE does not make one. */
  CHECK(hb_store_open(g_store, 0) == NULL);
  CHECK(hb_last_error_code() == HB_ENOTFOUND);
  CHECK(strstr(hb_last_error(), g_store) != NULL);
  CHECK(access(g_store, F_OK) != 0);
  CHECK(hb_store_open(g_store, 0x40) == NULL);
  CHECK(hb_last_error_code() == HB_EINVAL);

  hb_store *s = hb_store_open(g_store, HB_OPEN_CREATE);
  CHECK(s != NULL);
  if (s == NULL) return 1;
  CHECK(hb_put(s, input, "data/one") == 0);
  CHECK(hb_put(s, "/nonexistent/input", "data/two") == -HB_ENOTFOUND);
  CHECK(strstr(hb_last_error(), "/nonexistent/input") != NULL);
  CHECK(hb_put(s, input, "../escape") == -HB_EINVAL);
  CHECK(hb_put(NULL, input, "x") == -HB_EINVAL);

  CHECK(hb_file_open(s, "data/missing") == NULL);
  CHECK(hb_last_error_code() == HB_ENOTFOUND);
  CHECK(strstr(hb_last_error(), "data/missing") != NULL);

  hb_file *f = hb_file_open(s, "data/one");
  CHECK(f != NULL);
  if (f == NULL) return 1;
  /* The file outlives its store handle. */
  hb_store_close(s);
  CHECK(hb_file_size(f) == kSize);
  CHECK(RangeMatches(f, 0, 4096));
  CHECK(RangeMatches(f, 2 * 1024 * 1024 - 100, 200000)); /* into the zeros */
  CHECK(RangeMatches(f, kSize - 1000, 4096));              /* short at the end */
  CHECK(RangeMatches(f, kSize, 100));                      /* 0 at the end */
  CHECK(hb_file_pread(f, NULL, 0, 0) == 0);
  CHECK(hb_file_pread(f, NULL, 10, 0) == -HB_EINVAL);
  CHECK(hb_file_pread(NULL, g_pack, 10, 0) == -HB_EINVAL);

  /* Several threads on one file. */
  enum { kThreads = 4 };
  pthread_t th[kThreads];
  struct Reader readers[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    readers[i].file = f;
    readers[i].seed = 17u + (unsigned)i;
    readers[i].mismatches = 0;
    pthread_create(&th[i], NULL, ReadRandom, &readers[i]);
  }
  int mismatches = 0;
  for (int i = 0; i < kThreads; ++i) {
    pthread_join(th[i], NULL);
    mismatches += readers[i].mismatches;
  }
  CHECK(mismatches == 0);
  hb_file_close(f);

  /* A damaged pack: a fresh handle (no cache) reads HB_ECORRUPT, not bytes. */
  CHECK(nftw(g_store, FindPack, 16, FTW_PHYS) == 1);
  FILE *p = fopen(g_pack, "r+b");
  CHECK(p != NULL);
  if (p != NULL) {
    /* Every byte from 1 KiB on: frames and the trailer alike. */
    struct stat st;
    stat(g_pack, &st);
    for (long off = 1024; off < st.st_size; off += 512) {
      fseek(p, off, SEEK_SET);
      int c = fgetc(p);
      fseek(p, off, SEEK_SET);
      fputc(c ^ 0x5a, p);
    }
    fclose(p);
  }
  s = hb_store_open(g_store, 0);
  f = s ? hb_file_open(s, "data/one") : NULL;
  CHECK(f != NULL);
  if (f != NULL) {
    static unsigned char buf[1 << 20];
    int64_t n = hb_file_pread(f, buf, sizeof buf, 0);
    CHECK(n == -HB_ECORRUPT);
    CHECK(hb_last_error()[0] != '\0');
    hb_file_close(f);
  }
  hb_store_close(s);

  CHECK(strcmp(hb_status_name(HB_ENOTFOUND), "not found") == 0);
  CHECK(strcmp(hb_status_name(-HB_ECORRUPT), "corruption") == 0);
  CHECK(strcmp(hb_status_name(99), "unknown status") == 0);
  CHECK(hb_status_errno(HB_ENOTFOUND) == ENOENT);
  CHECK(hb_status_errno(-HB_EINVAL) == EINVAL);

  nftw(g_dir, RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  free(g_data);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
