/* Reads a byte range of a stored file and writes it to standard output,
 * through the C API (hugeblob/hugeblob_c.h).
 *
 *   read_range_c STORE NAME OFFSET LENGTH
 */
#include <hugeblob/hugeblob_c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s STORE NAME OFFSET LENGTH\n", argv[0]);
    return 2;
  }
  uint64_t pos = strtoull(argv[3], NULL, 10);
  const uint64_t end = pos + strtoull(argv[4], NULL, 10);

  hb_store *store = hb_store_open(argv[1], 0);
  if (store == NULL) {
    fprintf(stderr, "%s\n", hb_last_error());
    return 1;
  }
  hb_file *file = hb_file_open(store, argv[2]);
  hb_store_close(store); /* the file keeps what it needs */
  if (file == NULL) {
    fprintf(stderr, "%s\n", hb_last_error());
    return 1;
  }
  static char buf[1 << 20];
  int rc = 0;
  while (pos < end) {
    size_t want = end - pos < sizeof buf ? (size_t)(end - pos) : sizeof buf;
    int64_t n = hb_file_pread(file, buf, want, pos);
    if (n < 0) {
      fprintf(stderr, "%s (%s)\n", hb_last_error(), hb_status_name((int)n));
      rc = 1;
      break;
    }
    if (n == 0) break; /* the end of the file */
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
      rc = 1;
      break;
    }
    pos += (uint64_t)n;
  }
  hb_file_close(file);
  return fflush(stdout) == 0 ? rc : 1;
}
