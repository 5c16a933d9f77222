/* Strings from a peer: whether they are text, and how they are shown; see
 * protocol.h.  Both ends show what the other sent (the server's log, the
 * client's bus warnings), so one rule says what a hostile string can do
 * there: nothing but be read. */
#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 character at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), 0 if there is none. */
static size_t
utf8_char (const uint8_t *p, size_t left)
{
  uint8_t c = p[0];
  size_t n;
  uint32_t cp, min;

  if (c < 0x80)
    return 1;
  if ((c & 0xe0) == 0xc0)
    n = 1, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    n = 2, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    n = 3, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (n > left - 1)
    return 0;
  for (size_t k = 1; k <= n; k++) {
    if ((p[k] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[k] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n + 1;
}

/* Peers log and show these strings; bytes that are not text would reach
 * a person's terminal or a JSON file as garbage. */
bool
ys_utf8_valid (const char *text, size_t len)
{
  const uint8_t *p = (const uint8_t *) text;

  for (size_t i = 0, n; i < len; i += n)
    if ((n = utf8_char (p + i, len - i)) == 0)
      return false;
  return true;
}

char *
ys_text_escape (const char *text, size_t len, size_t max, unsigned flags)
{
  const uint8_t *p = (const uint8_t *) text;
  size_t shown = len < max ? len : max;
  /* \xNN for every byte at most, and "..." */
  char *out = malloc (shown * 4 + 4), *o = out;

  if (out == NULL)
    return NULL;
  for (size_t i = 0, n; i < shown; i += n) {
    uint8_t c = p[i];
    n = 1;
    if ((flags & YS_ESCAPE_QUOTES) && (c == '\\' || c == '"')) {
      *o++ = '\\';
      *o++ = (char) c;
    } else if (c >= 0x20 && c < 0x7f) {
      *o++ = (char) c;
    } else if ((flags & YS_ESCAPE_KEEP_UTF8) && c >= 0x80
        && (n = utf8_char (p + i, shown - i)) > 0) {
      memcpy (o, p + i, n);
      o += n;
    } else {
      n = 1;
      o += sprintf (o, "\\x%02x", c);
    }
  }
  if (len > max)
    o += sprintf (o, "...");
  *o = '\0';
  return out;
}
