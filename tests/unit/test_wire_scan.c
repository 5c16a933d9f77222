/* The unmasked-frame check of yoloswitch-edge (offload/wire_scan.c) on
 * byte fragments: where the first unmasked frame is found and what is
 * handed on before it, the head read as libwebsockets reads it, streams
 * that are not WebSocket upgrades left alone.  tests/fuzz/fuzz_wire_scan.c
 * checks the same rules on arbitrary streams. */
#include "wire_scan.h"

#include <glib.h>
#include <string.h>

#define HEAD                                                                   \
  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"                        \
  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* Appends one frame; masked with a zero key (any key is allowed). */
static void
add_frame (GByteArray *out, gsize length, gboolean masked)
{
  guint8 head[14] = { 0x82 };
  gsize n = 2;

  if (length < 126) {
    head[1] = (guint8) length;
  } else if (length < 65536) {
    head[1] = 126;
    head[2] = (guint8) (length >> 8);
    head[3] = (guint8) length;
    n = 4;
  } else {
    head[1] = 127;
    for (int i = 0; i < 8; i++)
      head[2 + i] = (guint8) ((guint64) length >> (56 - 8 * i));
    n = 10;
  }
  if (masked)
    head[1] |= 0x80;
  g_byte_array_append (out, head, (guint) n);
  if (masked)
    g_byte_array_append (out, (const guint8 *) "\0\0\0\0", 4);
  for (gsize i = 0; i < length; i++)
    g_byte_array_append (out, (const guint8 *) "p", 1);
}

static GByteArray *
stream (const char *head)
{
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, (const guint8 *) head, (guint) strlen (head));
  return out;
}

/* Feeds `s` in fragments of `step` bytes; returns the offset of the
 * refusal in the stream (what was handed on before it), or -1. */
static gssize
feed (const GByteArray *s, gsize step)
{
  YsWireState st;
  gsize at = 0;

  memset (&st, 0, sizeof (st));
  while (at < s->len) {
    gsize n = MIN (step, s->len - at);
    gsize keep = ys_wire_scan (&st, s->data + at, n);
    if (st.phase == YS_WIRE_UNMASKED)
      return (gssize) (at + keep);
    g_assert_cmpuint (keep, ==, n);
    at += n;
  }
  return -1;
}

static void
test_found_after_masked_frames (void)
{
  GByteArray *s = stream (HEAD);
  gsize bad;

  add_frame (s, 5, TRUE);
  add_frame (s, 300, TRUE); /* 16-bit length */
  add_frame (s, 70000, TRUE); /* 64-bit length */
  bad = s->len;
  add_frame (s, 3, FALSE);
  add_frame (s, 3, TRUE);
  g_assert_cmpint (feed (s, s->len), ==, bad);
  g_assert_cmpint (feed (s, 4096), ==, bad);
  /* Found in the fragment holding the mask bit; when the header began in
   * an earlier one, that fragment's start (the first byte, FIN and
   * opcode, was handed on: nothing acts on half a header). */
  g_assert_cmpint (feed (s, 7), ==, MAX (bad, (bad + 1) / 7 * 7));
  g_assert_cmpint (feed (s, 1), ==, bad + 1);
  g_byte_array_unref (s);
}

static void
test_masked_only_passes (void)
{
  GByteArray *s = stream (HEAD);

  for (int i = 0; i < 20; i++)
    add_frame (s, (gsize) i * 37, TRUE);
  g_assert_cmpint (feed (s, s->len), ==, -1);
  g_assert_cmpint (feed (s, 1), ==, -1);
  g_byte_array_unref (s);
}

static void
test_right_behind_the_head (void)
{
  GByteArray *s = stream (HEAD);
  YsWireState st;

  add_frame (s, 2, FALSE);
  g_assert_cmpint (feed (s, s->len), ==, strlen (HEAD));
  /* Once refused, nothing more is handed on. */
  memset (&st, 0, sizeof (st));
  ys_wire_scan (&st, s->data, s->len);
  g_assert_cmpuint (ys_wire_scan (&st, s->data, s->len), ==, 0);
  g_byte_array_unref (s);
}

static void
test_heads_as_libwebsockets_reads_them (void)
{
  /* LF without CR, the header name and value in any case */
  GByteArray *s = stream ("GET / HTTP/1.1\nuPgRaDe:WebSocket\n\n");
  gsize head = s->len;

  add_frame (s, 1, FALSE);
  g_assert_cmpint (feed (s, 3), ==, head);
  g_byte_array_unref (s);
  /* Not an upgrade, or not HTTP: not looked at. */
  s = stream ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  add_frame (s, 1, FALSE);
  g_assert_cmpint (feed (s, 1), ==, -1);
  g_byte_array_unref (s);
  s = stream ("\x16\x03\x01\x00\x40");
  add_frame (s, 1, FALSE);
  g_assert_cmpint (feed (s, 1), ==, -1);
  g_byte_array_unref (s);
  /* "Upgrade" elsewhere than a header name does not count. */
  s = stream (
      "GET /upgrade:websocket HTTP/1.1\r\nX-Upgrade: websocket\r\n\r\n");
  add_frame (s, 1, FALSE);
  g_assert_cmpint (feed (s, 1), ==, -1);
  g_byte_array_unref (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire_scan/found-after-masked-frames",
      test_found_after_masked_frames);
  g_test_add_func ("/wire_scan/masked-only-passes", test_masked_only_passes);
  g_test_add_func ("/wire_scan/right-behind-the-head",
      test_right_behind_the_head);
  g_test_add_func ("/wire_scan/heads-as-libwebsockets-reads-them",
      test_heads_as_libwebsockets_reads_them);
  return g_test_run ();
}
