// The hugeblob command: parses arguments, runs one command, maps the result
// to an exit status. Everything else lives in the library.
#include <malloc.h>

#include <cstdlib>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Data buffers are large and short-lived, allocated on one thread and
  // freed on another. A fixed mmap threshold returns them to the kernel at
  // once; glibc's adaptive threshold would keep them in arenas and let RSS
  // drift far above the memory budget.
  if (getenv("HB_NO_MALLOPT") == nullptr) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  return hugeblob::cli::Main(argc, argv);
}
