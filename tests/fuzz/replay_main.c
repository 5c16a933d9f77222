/* The harnesses without libFuzzer: a main that runs LLVMFuzzerTestOneInput
 * once over every file given, or every file inside a directory given, so
 * that a GCC build replays the seed corpus and the crash reproducers as an
 * ordinary test (meson test --suite fuzz).  A harness that finds a problem
 * abort()s, which fails the test the same way a libFuzzer crash does.
 *
 * Arguments starting with '-' are libFuzzer flags and are ignored, so one
 * command line serves both builds. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
replay_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *data = NULL;
  long size;

  if (f == NULL || fseek (f, 0, SEEK_END) != 0 || (size = ftell (f)) < 0
      || fseek (f, 0, SEEK_SET) != 0) {
    fprintf (stderr, "replay: cannot read %s\n", path);
    if (f != NULL)
      fclose (f);
    return -1;
  }
  /* One byte more than needed, so an empty file is not malloc (0). */
  data = malloc ((size_t) size + 1);
  if (data == NULL || fread (data, 1, (size_t) size, f) != (size_t) size) {
    fprintf (stderr, "replay: cannot read %s\n", path);
    free (data);
    fclose (f);
    return -1;
  }
  fclose (f);
  /* Said before the run: when it crashes, the last line names the input. */
  fprintf (stderr, "replay: %s (%ld bytes)\n", path, size);
  LLVMFuzzerTestOneInput (data, (size_t) size);
  free (data);
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Files of a directory in name order, so a run is reproducible. */
static int
replay_dir (const char *path, int *count)
{
  DIR *d = opendir (path);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0;
  int bad = 0;

  if (d == NULL) {
    fprintf (stderr, "replay: cannot open directory %s\n", path);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      names = realloc (names, cap * sizeof (*names));
      if (names == NULL)
        abort ();
    }
    names[n++] = strdup (e->d_name);
  }
  closedir (d);
  if (n > 0)
    qsort (names, n, sizeof (*names), compare_names);
  for (size_t i = 0; i < n; i++) {
    char *full = malloc (strlen (path) + strlen (names[i]) + 2);
    struct stat st;
    if (full == NULL)
      abort ();
    sprintf (full, "%s/%s", path, names[i]);
    if (stat (full, &st) == 0 && S_ISREG (st.st_mode)) {
      if (replay_file (full) != 0)
        bad = -1;
      else
        (*count)++;
    }
    free (full);
    free (names[i]);
  }
  free (names);
  return bad;
}

int
main (int argc, char **argv)
{
  int count = 0, bad = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (argv[i][0] == '-')
      continue;
    if (stat (argv[i], &st) != 0) {
      fprintf (stderr, "replay: %s does not exist\n", argv[i]);
      bad = 1;
    } else if (S_ISDIR (st.st_mode)) {
      if (replay_dir (argv[i], &count) != 0)
        bad = 1;
    } else if (replay_file (argv[i]) != 0) {
      bad = 1;
    } else {
      count++;
    }
  }
  printf ("replay: %d inputs, no crash\n", count);
  return bad;
}
