/* hugeblob's C API: open a store, read stored files at any offset, store a
 * file. For C programs and for other languages' foreign-function interfaces;
 * C++ programs use hugeblob.h, which does more.
 *
 *   hb_store *s = hb_store_open("/srv/blobs", 0);
 *   hb_file *f = s ? hb_file_open(s, "vm/2026-11-22") : NULL;
 *   int64_t n = f ? hb_file_pread(f, buf, sizeof buf, offset) : -1;
 *   if (n < 0) fprintf(stderr, "%s\n", hb_last_error());
 *   hb_file_close(f);
 *   hb_store_close(s);
 *
 * Errors: a function that fails returns NULL (handles) or a negative value
 * (-HB_E..., see hb_status), and records a message naming what failed, for
 * the calling thread only: hb_last_error() and hb_last_error_code() return
 * it until the next failing call on that thread. Successful calls leave it
 * alone.
 *
 * Thread safety: every function may be called from any thread. One hb_store
 * or hb_file may be used by several threads at once (hb_file_pread has no
 * cursor: any offset, any thread), except that closing a handle must not
 * race with another call on it.
 *
 * Lifetimes: an hb_file keeps what it reads from alive, so it may outlive
 * the hb_store it was opened from (close them in any order). Strings passed
 * in are read during the call only. Link: pkg-config --static --libs
 * hugeblob (the library is static and written in C++: link with a C++
 * runtime, which pkg-config and CMake's hugeblob::hugeblob add).
 */
#ifndef HUGEBLOB_HUGEBLOB_C_H_
#define HUGEBLOB_HUGEBLOB_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_store hb_store;
typedef struct hb_file hb_file;

/* What went wrong; functions return the negated value. */
typedef enum hb_status {
  HB_OK = 0,
  HB_ENOTFOUND = 1,    /* no such name, object or store */
  HB_EEXIST = 2,       /* already exists */
  HB_EINVAL = 3,       /* bad argument, name or URL */
  HB_ECORRUPT = 4,     /* stored data is damaged (checksum, truncation) */
  HB_EUNSUPPORTED = 5, /* unknown format version or feature */
  HB_EIO = 6,          /* local I/O error */
  HB_ENOSPC = 7,       /* no space left */
  HB_EPERM = 8,        /* permission or credentials refused */
  HB_ENETWORK = 9,     /* connection failed or dropped */
  HB_ETIMEOUT = 10,    /* took longer than its deadline */
  HB_ETHROTTLED = 11,  /* the store asked to slow down (retries ran out) */
  HB_ESERVER = 12,     /* the store's server failed (retries ran out) */
  HB_ECANCELLED = 13,  /* cancelled */
  HB_EINTERNAL = 14    /* a bug in hugeblob */
} hb_status;

/* The message of the last failed call on this thread ("" if none). Valid
 * until the next failing call on this thread. */
const char* hb_last_error(void);
/* Its hb_status (HB_OK if none). */
int hb_last_error_code(void);
/* A short name of a status ("not found"); never NULL. */
const char* hb_status_name(int status);
/* The closest errno value of a status (ENOENT for HB_ENOTFOUND, ...). */
int hb_status_errno(int status);

/* hb_store_open flags. */
#define HB_OPEN_CREATE 1 /* make the store if it does not exist */

/* Opens the store at `url`: a path, file:///path, s3://bucket/prefix, or
 * NULL / "" for the default store. Without HB_OPEN_CREATE a missing store
 * is HB_ENOTFOUND. The disk cache is off; reads are cached in memory (64 MiB
 * per store). Returns NULL on failure. */
hb_store* hb_store_open(const char* url, int flags);
/* Closes the handle (NULL is ignored). Open files stay readable. */
void hb_store_close(hb_store* store);

/* Stores the local file `path` ("-": standard input) under `name`. 0 or a
 * negative hb_status. */
int hb_put(hb_store* store, const char* path, const char* name);

/* Opens `name` for reading. NULL on failure (HB_ENOTFOUND: no such name). */
hb_file* hb_file_open(hb_store* store, const char* name);
/* Its size in bytes. */
uint64_t hb_file_size(const hb_file* file);
/* Copies up to `n` bytes at `offset` into `buf`, like pread(2): returns the
 * number of bytes read (less than n only at the end of the file, 0 at or
 * past it) or a negative hb_status. Every byte is verified. */
int64_t hb_file_pread(hb_file* file, void* buf, size_t n, uint64_t offset);
/* Closes the file (NULL is ignored). */
void hb_file_close(hb_file* file);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HUGEBLOB_HUGEBLOB_C_H_ */
