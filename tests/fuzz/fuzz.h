/* What every harness shares: the libFuzzer entry points, a check that
 * aborts (so libFuzzer, and the replay main, report the input), and an
 * in-memory file for readers that take a path. */
#ifndef YOLOSWITCH_TESTS_FUZZ_H
#define YOLOSWITCH_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* A broken property, not only a crash, is a finding: say which and stop. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,        \
          #cond);                                                              \
      abort ();                                                                \
    }                                                                          \
  } while (0)

/* FUZZ_VERBOSE=1: harnesses say what they made of each input (checking a
 * seed is accepted, debugging one input). */
static inline int
fuzz_verbose (void)
{
  static int verbose = -1;
  if (verbose < 0)
    verbose = getenv ("FUZZ_VERBOSE") != NULL;
  return verbose;
}

/* An anonymous in-memory file holding exactly data, and a path that opens
 * it (/proc/self/fd/N): readers that take a path read the fuzz input
 * without touching the disk.  One per harness, rewritten per input. */
typedef struct {
  int fd;
  char path[64];
} FuzzFile;

static inline void
fuzz_file_open (FuzzFile *f, const char *name)
{
  f->fd = memfd_create (name, 0);
  if (f->fd < 0) {
    perror ("memfd_create");
    abort ();
  }
  snprintf (f->path, sizeof (f->path), "/proc/self/fd/%d", f->fd);
}

static inline void
fuzz_file_set (FuzzFile *f, const uint8_t *data, size_t size)
{
  size_t done = 0;

  if (ftruncate (f->fd, 0) != 0 || lseek (f->fd, 0, SEEK_SET) != 0)
    abort ();
  while (done < size) {
    ssize_t n = write (f->fd, data + done, size - done);
    if (n <= 0)
      abort ();
    done += (size_t) n;
  }
}

#endif
