/* The edge server's look at a client's raw bytes (offload/wire_scan.c:
 * HTTP head, then WebSocket frame headers, up to the first unmasked frame)
 * on arbitrary streams.  A wrong answer either lets an unmasked frame
 * through or fails a well-behaved client, so beyond memory safety:
 *
 * - the stream fed whole and the stream fed in fragments (cut by a hash of
 *   the input: 1 byte, a header and a half, ...) find the same frame, the
 *   fragmented feed in the fragment holding its mask bit, and hand on
 *   exactly the bytes before it (or the fragment's start);
 * - both agree with a second reading of the same rules written the other
 *   way round (whole buffer, no state: reference() below);
 * - after the refusal every call hands on nothing. */
#include "fuzz.h"

#include "wire_scan.h"

#include <stdbool.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

static int
lower (int c)
{
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
has_word (const uint8_t *d, size_t n, const char *word)
{
  size_t w = strlen (word);

  for (size_t i = 0; i + w <= n; i++) {
    size_t k = 0;
    while (k < w && lower (d[i + k]) == word[k])
      k++;
    if (k == w)
      return true;
  }
  return false;
}

/* Offset of the first unmasked frame's header, or -1 (none, or not a
 * WebSocket upgrade). */
static long
reference (const uint8_t *d, size_t n)
{
  size_t i = 0, line = 0;
  bool upgrade = false;

  if (n == 0 || d[0] < 'A' || d[0] > 'Z')
    return -1;
  for (;; i++) {
    if (i >= n || i >= YS_WIRE_MAX_HEAD)
      return -1;
    if (d[i] != '\n')
      continue;
    if (i == line || (i == line + 1 && d[line] == '\r'))
      break; /* the blank line */
    if (i - line >= 8 && has_word (d + line, 8, "upgrade:")
        && has_word (d + line + 8, i - line - 8, "websocket"))
      upgrade = true;
    line = i + 1;
  }
  if (!upgrade)
    return -1;
  for (i++; i + 1 < n;) {
    uint64_t len = d[i + 1] & 0x7f;
    size_t ext = len == 126 ? 2 : len == 127 ? 8 : 0;
    if (!(d[i + 1] & 0x80))
      return (long) i;
    if (i + 2 + ext > n)
      return -1;
    if (ext > 0)
      len = 0;
    for (size_t k = 0; k < ext; k++)
      len = len << 8 | d[i + 2 + k];
    if (len > n)
      return -1;
    i += 2 + ext + 4 + (size_t) len;
  }
  return -1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  YsWireState whole, parts;
  size_t keep, at = 0;
  long expected = reference (data, size), found = -1;
  uint32_t h = 2166136261u;

  memset (&whole, 0, sizeof (whole));
  keep = ys_wire_scan (&whole, data, size);
  FUZZ_CHECK (keep <= size);
  if (whole.phase == YS_WIRE_UNMASKED)
    found = (long) keep;
  if (fuzz_verbose ())
    fprintf (stderr, "phase %d, unmasked frame at %ld (reference %ld)\n",
        whole.phase, found, expected);
  FUZZ_CHECK (found == expected);
  FUZZ_CHECK (found >= 0 || keep == size);
  if (found >= 0)
    FUZZ_CHECK (ys_wire_scan (&whole, data, size) == 0);

  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  memset (&parts, 0, sizeof (parts));
  while (at < size) {
    size_t cut = 1 + (h = h * 1103515245u + 12345u) % 23;
    size_t n = cut < size - at ? cut : size - at;
    int before = parts.phase;
    keep = ys_wire_scan (&parts, data + at, n);
    FUZZ_CHECK (keep <= n);
    if (before == YS_WIRE_UNMASKED) {
      FUZZ_CHECK (keep == 0);
    } else if (parts.phase == YS_WIRE_UNMASKED) {
      /* found where its mask bit is, handing on what precedes it */
      FUZZ_CHECK (found >= 0 && (size_t) found + 1 >= at
          && (size_t) found + 1 < at + n);
      FUZZ_CHECK (at + keep == ((size_t) found > at ? (size_t) found : at));
    } else {
      FUZZ_CHECK (keep == n);
    }
    at += n;
  }
  FUZZ_CHECK ((parts.phase == YS_WIRE_UNMASKED) == (found >= 0));
  return 0;
}
