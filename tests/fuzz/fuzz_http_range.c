/* The edge server's Range header parser (offload/http_range.c), which reads
 * a client's bytes to decide what part of a model file to send.  Input:
 * 5 bytes of file size (little-endian, up to 2^40), then the header's
 * text.  Beyond memory safety:
 *
 * - a partial range lies inside the file: first <= last < size;
 * - written back as "bytes=FIRST-LAST" it parses to itself;
 * - a header over HTTP_RANGE_MAX_TEXT, or not naming bytes=, is ignored;
 * - an unsatisfiable answer only for a file it could not be inside. */
#include "fuzz.h"

#include "http_range.h"

#include <glib.h>

#include <stdbool.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

static bool
names_bytes (const uint8_t *d, size_t n)
{
  size_t i = 0;
  while (i < n && (d[i] == ' ' || d[i] == '\t'))
    i++;
  return n - i >= 6
      && g_ascii_strncasecmp ((const char *) d + i, "bytes=", 6) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint64_t file_size = 0;
  const char *text;
  size_t len;
  HttpRange r;

  if (size < 5)
    return 0;
  for (int i = 0; i < 5; i++)
    file_size |= (uint64_t) data[i] << (8 * i);
  text = (const char *) data + 5;
  len = size - 5;
  r = http_range_parse (text, len, file_size);
  if (fuzz_verbose ())
    fprintf (stderr, "size %llu: kind %d [%llu, %llu]\n",
        (unsigned long long) file_size, (int) r.kind,
        (unsigned long long) r.first, (unsigned long long) r.last);

  if (len > HTTP_RANGE_MAX_TEXT || !names_bytes (data + 5, len))
    FUZZ_CHECK (r.kind == HTTP_RANGE_NONE);
  if (r.kind == HTTP_RANGE_PARTIAL) {
    char again[64];
    HttpRange back;
    int n;

    FUZZ_CHECK (file_size > 0);
    FUZZ_CHECK (r.first <= r.last);
    FUZZ_CHECK (r.last < file_size);
    n = snprintf (again, sizeof (again), "bytes=%llu-%llu",
        (unsigned long long) r.first, (unsigned long long) r.last);
    back = http_range_parse (again, (size_t) n, file_size);
    FUZZ_CHECK (back.kind == HTTP_RANGE_PARTIAL);
    FUZZ_CHECK (back.first == r.first && back.last == r.last);
  }
  /* Nothing of an empty file can be sent; of a larger one, a range that
   * starts inside it can. */
  if (r.kind == HTTP_RANGE_UNSATISFIABLE && file_size > 0) {
    char inside[32];
    int n = snprintf (inside, sizeof (inside), "bytes=%llu-",
        (unsigned long long) (file_size - 1));
    FUZZ_CHECK (http_range_parse (inside, (size_t) n, file_size).kind
        == HTTP_RANGE_PARTIAL);
  }
  return 0;
}
