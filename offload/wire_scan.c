/* The client's byte stream read as far as the mask bit of each frame; see
 * wire_scan.h.  The head is read the way libwebsockets reads it (a line
 * ends at LF, a CR before it is optional; header names are matched
 * without case; the value of Upgrade is matched without case), so both
 * agree on where the first frame begins: a disagreement would read frame
 * bits at the wrong offset and fail a well-behaved client. */
#include "wire_scan.h"

static const char upgrade_name[] = "upgrade:";
static const char websocket[] = "websocket";

static uint8_t
lower (uint8_t c)
{
  return c >= 'A' && c <= 'Z' ? (uint8_t) (c + ('a' - 'A')) : c;
}

static void
head_byte (YsWireState *s, uint8_t c)
{
  /* A method is an upper-case token; a TLS ClientHello starts with 0x16:
   * anything else is not ours to read. */
  if ((s->head_len == 0 && !(c >= 'A' && c <= 'Z'))
      || ++s->head_len > YS_WIRE_MAX_HEAD) {
    s->phase = YS_WIRE_PASS;
    return;
  }
  if (c == '\n') {
    if (s->line_blank)
      s->phase = s->upgrade ? YS_WIRE_FRAMES : YS_WIRE_PASS;
    s->line_len = 0;
    s->line_blank = 1;
    s->line_other = 0;
    s->word = 0;
    return;
  }
  if (!(c == '\r' && s->line_len == 0))
    s->line_blank = 0;
  if (s->line_other) {
    /* not an Upgrade header */
  } else if (s->line_len < sizeof (upgrade_name) - 1) {
    s->line_other = lower (c) != (uint8_t) upgrade_name[s->line_len];
  } else if (lower (c) == (uint8_t) websocket[s->word]) {
    if (++s->word == sizeof (websocket) - 1) {
      s->upgrade = 1;
      s->word = 0;
    }
  } else {
    /* "websocket" has one 'w', at its start: no other prefix to keep */
    s->word = lower (c) == 'w';
  }
  if (s->line_len < 255)
    s->line_len++;
}

size_t
ys_wire_scan (YsWireState *s, const uint8_t *data, size_t n)
{
  size_t i = 0, start = 0;

  while (i < n) {
    uint8_t c;

    if (s->phase == YS_WIRE_PASS)
      return n;
    if (s->phase == YS_WIRE_UNMASKED)
      return 0;
    if (s->phase == YS_WIRE_HEAD) {
      head_byte (s, data[i++]);
      continue;
    }
    if (s->hdr_pos == 0 && s->payload > 0) {
      size_t take = n - i < s->payload ? n - i : (size_t) s->payload;
      s->payload -= take;
      i += take;
      continue;
    }
    c = data[i];
    if (s->hdr_pos == 0) {
      start = i; /* FIN, RSV and opcode: any */
    } else if (s->hdr_pos == 1) {
      uint8_t len7 = c & 0x7f;
      if (!(c & 0x80)) {
        s->phase = YS_WIRE_UNMASKED;
        return start; /* 0 if the header began before this call */
      }
      s->hdr_len = (uint8_t) (2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
      s->payload = len7 < 126 ? len7 : 0;
    } else if (s->hdr_pos < s->hdr_len - 4) {
      s->payload = s->payload << 8 | c; /* extended length, big-endian */
    }
    i++;
    if (++s->hdr_pos == s->hdr_len)
      s->hdr_pos = 0; /* the masking key ends it; the payload follows */
  }
  return n;
}
