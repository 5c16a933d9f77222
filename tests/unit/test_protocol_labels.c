/* The label list of the server's HELLO (docs/PROTOCOL.md, HELLO and
 * Versioning): its bytes on the wire, its limits, a list cut short, and
 * peers from before it in both directions.  The rest of the protocol is
 * test_protocol.c's. */
#include <glib.h>
#include <string.h>

#include "protocol.h"

/* The first HELLO parsed, its labels copied out. */
typedef struct {
  int count;
  YsHello hello;
  GPtrArray *labels; /* gchar * */
} Seen;

static bool
keep (const YsMessage *m, void *user)
{
  Seen *seen = user;
  if (seen->count++ == 0) {
    seen->hello = m->u.hello;
    seen->hello.labels = NULL;
    for (int i = 0; i < m->u.hello.label_count; i++)
      g_ptr_array_add (seen->labels,
          g_strndup (m->u.hello.labels[i].ptr, m->u.hello.labels[i].len));
  }
  return true;
}

/* Parses data in stream mode, then ends it: the status, and the sentence. */
static YsParseStatus
parse (const guint8 *data, gsize len, Seen *seen, const char **why)
{
  YsParser *p = ys_parser_new (0);
  YsParseStatus s;

  seen->count = 0;
  if (seen->labels != NULL)
    g_ptr_array_unref (seen->labels);
  seen->labels = g_ptr_array_new_with_free_func (g_free);
  *why = NULL;
  s = ys_parser_feed (p, data, len, keep, seen, why);
  if (s == YS_PARSE_OK)
    s = ys_parser_finish (p, why);
  ys_parser_free (p);
  return s;
}

static void
seen_clear (Seen *seen)
{
  g_clear_pointer (&seen->labels, g_ptr_array_unref);
}

static YsMessage
server_hello (const YsStr *labels, int count)
{
  YsMessage m;

  memset (&m, 0, sizeof (m));
  m.header.type = YS_MSG_HELLO;
  m.header.flags = YS_FLAG_SERVER;
  m.u.hello.name = ys_str ("yoloswitch-edge");
  m.u.hello.model = ys_str ("yolo-fastest-1.1-xl");
  m.u.hello.codec_count = 2;
  m.u.hello.codecs[0] = YS_CODEC_H264;
  m.u.hello.codecs[1] = YS_CODEC_MJPEG;
  m.u.hello.net_width = m.u.hello.net_height = 320;
  m.u.hello.deadline_ms = 1000;
  m.u.hello.queue_depth = 4;
  m.u.hello.workers = 2;
  m.u.hello.label_count = (uint16_t) count;
  m.u.hello.labels = labels;
  return m;
}

static GByteArray *
encode (const YsMessage *m)
{
  GByteArray *wire = g_byte_array_new ();
  gsize size = ys_message_size (m);

  g_assert_cmpuint (size, >, 0);
  g_byte_array_set_size (wire, size);
  g_assert_cmpuint (ys_message_encode (m, wire->data), ==, size);
  return wire;
}

/* The HELLO without list, with `tail` appended to its payload: the
 * payload_len says so. */
static GByteArray *
with_tail (const void *tail, gsize len)
{
  YsMessage m = server_hello (NULL, 0);
  GByteArray *wire = encode (&m);
  guint32 payload;

  g_byte_array_append (wire, tail, len);
  payload = wire->len - YS_HEADER_SIZE;
  for (int i = 0; i < 4; i++)
    wire->data[24 + i] = (guint8) (payload >> (8 * i));
  return wire;
}

static void
test_wire_layout (void)
{
  static const YsStr two[] = { { "a", 1 }, { "bc", 2 } };
  static const guint8 list[] = { 2, 0, 1, 0, 'a', 2, 0, 'b', 'c' };
  YsMessage none = server_hello (NULL, 0), m = server_hello (two, 2);
  GByteArray *old = encode (&none), *wire = encode (&m);
  Seen seen = { 0 };
  const char *why;

  /* The list is appended after `workers`: the HELLO of today with the
   * count and the strings after it, payload_len counting them. */
  g_assert_cmpuint (wire->len, ==, old->len + sizeof (list));
  g_assert_cmpmem (wire->data + YS_HEADER_SIZE, old->len - YS_HEADER_SIZE,
      old->data + YS_HEADER_SIZE, old->len - YS_HEADER_SIZE);
  g_assert_cmpmem (wire->data + old->len, sizeof (list), list, sizeof (list));
  g_assert_cmpuint (wire->data[24] | wire->data[25] << 8, ==,
      wire->len - YS_HEADER_SIZE);
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpint (seen.count, ==, 1);
  g_assert_cmpuint (seen.hello.label_count, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen.labels, 0), ==, "a");
  g_assert_cmpstr (g_ptr_array_index (seen.labels, 1), ==, "bc");
  g_assert_cmpuint (seen.hello.workers, ==, 2);
  g_byte_array_unref (old);
  g_byte_array_unref (wire);
  seen_clear (&seen);
}

/* 1000 labels of 64 bytes is the largest list: it encodes and parses (in
 * the client's message limit); one label more, or a byte more in one,
 * is refused by the encoder and by the parser. */
static void
test_limits (void)
{
  static char text[YS_MAX_NAME + 1];
  YsStr *many = g_new (YsStr, YS_MAX_LABELS + 1);
  YsMessage m;
  GByteArray *wire;
  Seen seen = { 0 };
  const char *why;
  gsize base;

  memset (text, 'x', sizeof (text));
  for (int i = 0; i <= YS_MAX_LABELS; i++)
    many[i] = (YsStr){ text, YS_MAX_NAME };
  m = server_hello (NULL, 0);
  base = ys_message_size (&m);
  m = server_hello (many, YS_MAX_LABELS);
  g_assert_cmpuint (ys_message_size (&m), ==,
      base + 2 + YS_MAX_LABELS * (2 + YS_MAX_NAME));
  g_assert_cmpuint (ys_message_size (&m), <, YS_DEFAULT_MAX_PAYLOAD);
  wire = encode (&m);
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpuint (seen.hello.label_count, ==, YS_MAX_LABELS);
  g_assert_cmpuint (strlen (g_ptr_array_index (seen.labels, 999)), ==, 64);
  g_byte_array_unref (wire);

  m = server_hello (many, YS_MAX_LABELS + 1);
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
  many[7].len = YS_MAX_NAME + 1;
  m = server_hello (many, 10);
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
  m = server_hello (NULL, 3); /* a count without labels */
  g_assert_cmpuint (ys_message_size (&m), ==, 0);

  {
    /* count 1001, and the bytes for 1001 empty labels */
    GByteArray *tail = g_byte_array_new ();
    g_byte_array_append (tail, (const guint8 *) "\xe9\x03", 2);
    for (int i = 0; i <= YS_MAX_LABELS; i++)
      g_byte_array_append (tail, (const guint8 *) "\0\0", 2);
    wire = with_tail (tail->data, tail->len);
    g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==,
        YS_PARSE_MALFORMED);
    g_assert_cmpstr (why, ==,
        "HELLO's label count is over 1000 or more than its payload holds");
    g_assert_cmpint (seen.count, ==, 0);
    g_byte_array_unref (wire);
    g_byte_array_unref (tail);
  }
  {
    /* one label of 65 bytes */
    guint8 tail[2 + 2 + YS_MAX_NAME + 1] = { 1, 0, YS_MAX_NAME + 1, 0 };
    memset (tail + 4, 'y', YS_MAX_NAME + 1);
    wire = with_tail (tail, sizeof (tail));
    g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==,
        YS_PARSE_MALFORMED);
    g_assert_cmpstr (why, ==,
        "a label in HELLO's label list is over 64 bytes, holds a NUL byte "
        "or is not valid UTF-8");
    g_byte_array_unref (wire);
  }
  g_free (many);
  seen_clear (&seen);
}

/* Labels are strings like any other: strict UTF-8, no NUL. */
static void
test_label_bytes (void)
{
  static const guint8 bad_utf8[]
      = { 2, 0, 3, 0, 'd', 'o', 'g', 2, 0, 0xc3, 0x28 };
  static const guint8 nul[] = { 1, 0, 3, 0, 'c', 0, 't' };
  static const guint8 surrogate[] = { 1, 0, 3, 0, 0xed, 0xa0, 0x80 };
  const guint8 *cases[] = { bad_utf8, nul, surrogate };
  const gsize lens[] = { sizeof (bad_utf8), sizeof (nul), sizeof (surrogate) };
  Seen seen = { 0 };
  const char *why;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GByteArray *wire = with_tail (cases[i], lens[i]);
    g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==,
        YS_PARSE_MALFORMED);
    g_assert_nonnull (strstr (why, "a label in HELLO's label list"));
    g_assert_cmpint (seen.count, ==, 0);
    g_byte_array_unref (wire);
  }
  seen_clear (&seen);
}

/* The payload cut at every byte of the list (payload_len saying so):
 * only the cut right after `workers` (no list) and the whole list parse;
 * each other cut is refused with a sentence saying where it ended. */
static void
test_truncated_list (void)
{
  static const YsStr three[]
      = { { "person", 6 }, { "bicycle", 7 }, { "car", 3 } };
  YsMessage none = server_hello (NULL, 0), m = server_hello (three, 3);
  GByteArray *old = encode (&none), *full = encode (&m);
  Seen seen = { 0 };
  const char *why;

  for (guint cut = old->len; cut <= full->len; cut++) {
    GByteArray *wire = with_tail (full->data + old->len, cut - old->len);
    YsParseStatus s = parse (wire->data, wire->len, &seen, &why);
    if (cut == old->len || cut == full->len) {
      g_assert_cmpint (s, ==, YS_PARSE_OK);
      g_assert_cmpuint (seen.hello.label_count, ==, cut == old->len ? 0 : 3);
    } else {
      g_assert_cmpint (s, ==, YS_PARSE_MALFORMED);
      g_assert_cmpint (seen.count, ==, 0);
      if (cut == old->len + 1)
        g_assert_cmpstr (why, ==,
            "HELLO ends inside its label count (one byte after `workers`)");
      else if (cut - old->len < 2 + 3 * 2)
        /* not even the three length fields fit */
        g_assert_cmpstr (why, ==,
            "HELLO's label count is over 1000 or more than its payload "
            "holds");
      else
        g_assert_cmpstr (why, ==,
            "HELLO's label list ends before its count of labels");
    }
    g_byte_array_unref (wire);
  }
  g_byte_array_unref (old);
  g_byte_array_unref (full);
  seen_clear (&seen);
}

/* New client, old server: a HELLO that ends at `workers` (written by hand
 * as servers before the list wrote it) has no list, and the fields before
 * it read as they always did.  A list of 0 labels is no list either, and
 * the encoder writes it as the old layout, byte for byte. */
static void
test_old_server_new_client (void)
{
  static const guint8 old_hello[] = { 'Y', 'S', 2, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27, 0, 0, 0,
    /* name "edge", token "", model "m1" */
    4, 0, 'e', 'd', 'g', 'e', 0, 0, 2, 0, 'm', '1',
    /* codecs h264, mjpeg; 416x416; 250 ms; queue 4; workers 1 */
    2, 1, 2, 0xa0, 1, 0xa0, 1, 250, 0, 0, 0, 4, 0, 1, 0 };
  YsMessage m;
  guint8 out[sizeof (old_hello)];
  Seen seen = { 0 };
  const char *why;
  GByteArray *zero;

  g_assert_cmpuint (sizeof (old_hello) - YS_HEADER_SIZE, ==, 27);
  g_assert_cmpint (parse (old_hello, sizeof (old_hello), &seen, &why), ==,
      YS_PARSE_OK);
  g_assert_cmpint (seen.count, ==, 1);
  g_assert_cmpuint (seen.hello.label_count, ==, 0);
  g_assert_cmpuint (seen.hello.net_width, ==, 416);
  g_assert_cmpuint (seen.hello.deadline_ms, ==, 250);
  g_assert_cmpuint (seen.hello.queue_depth, ==, 4);
  g_assert_cmpuint (seen.hello.workers, ==, 1);

  memset (&m, 0, sizeof (m));
  m.header.type = YS_MSG_HELLO;
  m.header.flags = YS_FLAG_SERVER;
  m.u.hello = (YsHello){ ys_str ("edge"), ys_str (""), ys_str ("m1"), 2,
    { YS_CODEC_H264, YS_CODEC_MJPEG }, 416, 416, 250, 4, 1, 0, NULL };
  g_assert_cmpuint (ys_message_encode (&m, out), ==, sizeof (old_hello));
  g_assert_cmpmem (out, sizeof (out), old_hello, sizeof (old_hello));
  /* a count of 0 sent explicitly */
  zero = with_tail ("\0\0", 2);
  g_assert_cmpint (parse (zero->data, zero->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpuint (seen.hello.label_count, ==, 0);
  g_byte_array_unref (zero);
  seen_clear (&seen);
}

/* Old client, new server: a peer from before the list reads the fields up
 * to `workers` at their old offsets (test_wire_layout: the new HELLO
 * starts with the old one's bytes) and skips what follows, by the rule
 * that still skips what comes after the list: a HELLO from a later
 * revision, list then a field of its own, parses here with the list
 * whole and the rest skipped. */
static void
test_new_server_old_client (void)
{
  static const YsStr two[] = { { "person", 6 }, { "dog", 3 } };
  YsMessage m = server_hello (two, 2);
  GByteArray *wire = encode (&m);
  Seen seen = { 0 };
  const char *why;
  guint32 payload;

  /* the model hash (0x0102030405060708), then the later field */
  g_byte_array_append (wire,
      (const guint8 *) "\x08\x07\x06\x05\x04\x03\x02\x01"
                       "\x07\x00\xff\x01",
      12);
  payload = wire->len - YS_HEADER_SIZE;
  wire->data[24] = payload & 0xff;
  wire->data[25] = payload >> 8;
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpint (seen.count, ==, 1);
  g_assert_cmpuint (seen.hello.label_count, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen.labels, 1), ==, "dog");
  g_assert_cmpuint (seen.hello.workers, ==, 2);
  g_assert_cmpuint (seen.hello.model_hash, ==,
      G_GUINT64_CONSTANT (0x0102030405060708));
  /* In one-message-per-unit mode (the client's) too. */
  {
    YsParser *p = ys_parser_new (0);
    ys_parser_set_one_per_unit (p, true);
    seen.count = 0;
    g_assert_cmpint (ys_parser_feed (p, wire->data, wire->len, keep, &seen,
                         &why),
        ==, YS_PARSE_OK);
    g_assert_cmpint (ys_parser_end_unit (p, keep, &seen, &why), ==,
        YS_PARSE_OK);
    g_assert_cmpint (seen.count, ==, 1);
    ys_parser_free (p);
  }
  g_byte_array_unref (wire);
  seen_clear (&seen);
}

/* The model hash after the list (split FRAMEs name it): written with a
 * label count of 0 when there are no labels, read back; a HELLO that ends
 * inside its 8 bytes is refused with a sentence, one that ends before them
 * has none (0). */
static void
test_model_hash (void)
{
  static const YsStr three[]
      = { { "person", 6 }, { "bicycle", 7 }, { "car", 3 } };
  const guint64 hash = G_GUINT64_CONSTANT (0xc659994e11139ce0);
  YsMessage none = server_hello (NULL, 0), bare = server_hello (NULL, 0);
  YsMessage listed = server_hello (three, 3);
  GByteArray *old = encode (&none), *wire;
  Seen seen = { 0 };
  const char *why;

  bare.u.hello.model_hash = hash;
  wire = encode (&bare);
  g_assert_cmpuint (wire->len, ==, old->len + 2 + 8);
  g_assert_cmpmem (wire->data + YS_HEADER_SIZE, old->len - YS_HEADER_SIZE,
      old->data + YS_HEADER_SIZE, old->len - YS_HEADER_SIZE);
  g_assert_cmpmem (wire->data + old->len, 10,
      "\x00\x00\xe0\x9c\x13\x11\x4e\x99\x59\xc6", 10);
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpuint (seen.hello.model_hash, ==, hash);
  g_assert_cmpuint (seen.hello.label_count, ==, 0);
  for (guint cut = 1; cut < 8; cut++) {
    GByteArray *part = with_tail (wire->data + old->len, 2 + cut);
    g_assert_cmpint (parse (part->data, part->len, &seen, &why), ==,
        YS_PARSE_MALFORMED);
    g_assert_cmpstr (why, ==,
        "HELLO ends inside its model hash (8 bytes after the label list)");
    g_byte_array_unref (part);
  }
  g_byte_array_unref (wire);

  listed.u.hello.model_hash = hash;
  wire = encode (&listed);
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpuint (seen.hello.label_count, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (seen.labels, 2), ==, "car");
  g_assert_cmpuint (seen.hello.model_hash, ==, hash);
  g_byte_array_unref (wire);

  /* A list and no hash (the revision before it): 0. */
  listed.u.hello.model_hash = 0;
  wire = encode (&listed);
  g_assert_cmpint (parse (wire->data, wire->len, &seen, &why), ==, YS_PARSE_OK);
  g_assert_cmpuint (seen.hello.model_hash, ==, 0);
  g_byte_array_unref (wire);
  g_byte_array_unref (old);
  seen_clear (&seen);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/protocol-labels/wire-layout", test_wire_layout);
  g_test_add_func ("/protocol-labels/limits", test_limits);
  g_test_add_func ("/protocol-labels/label-bytes", test_label_bytes);
  g_test_add_func ("/protocol-labels/truncated", test_truncated_list);
  g_test_add_func ("/protocol-labels/old-server-new-client",
      test_old_server_new_client);
  g_test_add_func ("/protocol-labels/new-server-old-client",
      test_new_server_old_client);
  g_test_add_func ("/protocol-labels/model-hash", test_model_hash);
  return g_test_run ();
}
