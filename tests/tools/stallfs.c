// stallfs: a read-only FUSE view of a directory whose reads of chosen files
// are never answered, so a program reading them blocks in read(2) in the
// kernel, as on a dead NFS server or a wedged network disk. Tests put a
// hugeblob store behind it to check that get, cat, verify and the mount give
// up after their deadline, and that Ctrl-C cancels.
//
//   [STALLFS_FROM=OFFSET] stallfs SOURCE MOUNTPOINT PREFIX [LOG]
//
// Every read of a file whose path below SOURCE starts with PREFIX (e.g.
// "packs/"), and that reaches past OFFSET (default 0), waits until the
// kernel interrupts the request (the reader got a signal: FUSE_INTERRUPT)
// and then fails with EINTR, or until the file SOURCE/.stallfs-go exists
// and is then answered normally: a test holds a reader at a known point
// (put has read the first OFFSET bytes of its input), changes the file, and
// lets it go on. A stalled read that the reader abandons stays stuck; when the
// reading process exits, the kernel interrupts it and the process can be
// reaped (a server that never answers interrupts would leave the process a
// zombie until the file system is unmounted: no program can avoid that).
// Each stalled read is logged as "stalled read PATH OFFSET SIZE" (one line,
// flushed) to LOG, or stderr, so a test can wait for the state "a read is
// blocked" instead of guessing a time. Everything else (lookup, stat,
// readdir, reads of other files) passes through to SOURCE.
//
// Runs in the foreground, multi-threaded; unmount with fusermount3 -u.
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char* g_source;
static const char* g_prefix;
static long long g_from;
static char g_gate[PATH_MAX + 16];
static FILE* g_log;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;

static int full_path(const char* path, char* out) {
  int n = snprintf(out, PATH_MAX, "%s%s", g_source, path);
  return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int sf_getattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  (void)fi;
  char p[PATH_MAX];
  int rc = full_path(path, p);
  if (rc != 0) return rc;
  return lstat(p, st) == 0 ? 0 : -errno;
}

static int sf_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info* fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  char p[PATH_MAX];
  int rc = full_path(path, p);
  if (rc != 0) return rc;
  DIR* d = opendir(p);
  if (d == NULL) return -errno;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = e->d_ino;
    st.st_mode = (mode_t)e->d_type << 12;
    if (fill(buf, e->d_name, &st, 0, 0) != 0) break;
  }
  closedir(d);
  return 0;
}

static int stalled(const char* path) {
  return strncmp(path + 1, g_prefix, strlen(g_prefix)) == 0;  // path starts with '/'
}

static int sf_open(const char* path, struct fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  char p[PATH_MAX];
  int rc = full_path(path, p);
  if (rc != 0) return rc;
  int fd = open(p, O_RDONLY | O_NOFOLLOW);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  // A stalled file bypasses the page cache, so each read(2) is a request
  // the reading thread itself waits for (and a signal interrupts), as on a
  // network file system; through the page cache it would be a background
  // readahead request that the reader waits for uninterruptibly.
  if (stalled(path)) fi->direct_io = 1;
  return 0;
}

static int sf_read(const char* path, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  if (stalled(path) && off + (off_t)size > g_from) {
    pthread_mutex_lock(&g_log_mu);
    fprintf(g_log, "stalled read %s %lld %zu\n", path + 1, (long long)off, size);
    fflush(g_log);
    pthread_mutex_unlock(&g_log_mu);
    // Never answered with data. With cfg->intr, libfuse marks the request
    // interrupted (and signals this thread) when the kernel sends
    // FUSE_INTERRUPT; the nap below only bounds how late we notice that.
    while (access(g_gate, F_OK) != 0) {
      if (fuse_interrupted()) return -EINTR;
      struct timespec nap = {0, 20 * 1000 * 1000};
      nanosleep(&nap, NULL);
    }
  }
  ssize_t n = pread((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int sf_release(const char* path, struct fuse_file_info* fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int sf_statfs(const char* path, struct statvfs* st) {
  (void)path;
  return statvfs(g_source, st) == 0 ? 0 : -errno;
}

static void* sf_init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  (void)conn;
  cfg->use_ino = 1;
  // No attribute cache: a test changes files under SOURCE and a reader's
  // fstat must see it.
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  // FUSE_INTERRUPT reaches a stalled callback (fuse_interrupted()).
  cfg->intr = 1;
  return NULL;
}

static const struct fuse_operations kOps = {
    .getattr = sf_getattr,
    .open = sf_open,
    .read = sf_read,
    .statfs = sf_statfs,
    .release = sf_release,
    .readdir = sf_readdir,
    .init = sf_init,
};

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: %s SOURCE MOUNTPOINT PREFIX [LOG]\n", argv[0]);
    return 2;
  }
  static char source[PATH_MAX];
  if (realpath(argv[1], source) == NULL) {
    perror(argv[1]);
    return 1;
  }
  g_source = source;
  g_prefix = argv[3];
  const char* from = getenv("STALLFS_FROM");
  g_from = from != NULL ? atoll(from) : 0;
  snprintf(g_gate, sizeof g_gate, "%s/.stallfs-go", source);
  g_log = stderr;
  if (argc == 5 && (g_log = fopen(argv[4], "a")) == NULL) {
    perror(argv[4]);
    return 1;
  }
  // libfuse signals a thread whose request was interrupted with SIGUSR1
  // (intr_signal), but installs no handler when cfg->intr is only set in
  // init(): without one the signal would kill this server.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  char* fargv[] = {argv[0], "-f", "-o", "ro,fsname=stallfs,subtype=stallfs", argv[2], NULL};
  return fuse_main(5, fargv, &kOps, NULL);
}
