/* An HTTP Range header; see http_range.h. */
#include "http_range.h"

#include <glib.h>
#include <stdbool.h>

/* Digits beyond this many are refused: 10^18 < 2^63, so no overflow. */
#define MAX_DIGITS 18

typedef struct {
  const char *p, *end;
} Cursor;

static void
skip_spaces (Cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

/* A decimal number; false when there is none or it is too long. */
static bool
number (Cursor *c, uint64_t *out)
{
  uint64_t v = 0;
  int digits = 0;

  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    if (++digits > MAX_DIGITS)
      return false;
    v = v * 10 + (uint64_t) (*c->p - '0');
    c->p++;
  }
  *out = v;
  return digits > 0;
}

static bool
literal (Cursor *c, char ch)
{
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

HttpRange
http_range_parse (const char *text, size_t len, uint64_t size)
{
  HttpRange none = { HTTP_RANGE_NONE, 0, 0 };
  HttpRange r = { HTTP_RANGE_PARTIAL, 0, 0 };
  Cursor c;
  uint64_t first = 0, last = 0;
  bool has_first, has_last;
  static const char unit[] = "bytes=";

  /* (No pointer arithmetic on NULL, not even + 0: undefined in C.) */
  if (text == NULL || len > HTTP_RANGE_MAX_TEXT)
    return none;
  c.p = text;
  c.end = text + len;
  skip_spaces (&c);
  /* Units compare case-insensitively (RFC 9110 14.1). */
  for (const char *u = unit; *u != '\0'; u++, c.p++)
    if (c.p >= c.end || g_ascii_tolower (*c.p) != *u)
      return none;
  skip_spaces (&c);
  has_first = number (&c, &first);
  if (!has_first && c.p < c.end && *c.p >= '0' && *c.p <= '9')
    return none; /* too many digits */
  skip_spaces (&c);
  if (!literal (&c, '-'))
    return none;
  skip_spaces (&c);
  has_last = number (&c, &last);
  if (!has_last && c.p < c.end && *c.p >= '0' && *c.p <= '9')
    return none;
  skip_spaces (&c);
  if (c.p != c.end || (!has_first && !has_last))
    return none; /* a list of ranges, or junk */

  if (!has_first) {
    /* The last `last` bytes. */
    if (last == 0 || size == 0) {
      r.kind = HTTP_RANGE_UNSATISFIABLE;
      return r;
    }
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
    return r;
  }
  if (has_last && last < first)
    return none; /* invalid: RFC 9110 says ignore */
  if (first >= size) {
    r.kind = HTTP_RANGE_UNSATISFIABLE;
    return r;
  }
  r.first = first;
  r.last = !has_last || last >= size ? size - 1 : last;
  return r;
}
