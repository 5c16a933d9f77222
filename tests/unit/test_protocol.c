/* yoloswitch.v2: every message type round-trips, in any split of the
 * bytes, and every kind of bad input is refused with the right status.
 *
 * Why this file is long: one fixture (a sample of every message and its
 * canonical text form) serves both parser modes, stream and one message
 * per WebSocket message, and each kind of bad input is a test of its own. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "protocol.h"

/* Messages collected by the parser callback, deep-copied as the text
 * form below, so tests compare what was parsed after the fact. */
typedef struct {
  GPtrArray *seen; /* gchar * descriptions */
  int stop_after; /* 0: never stop */
} Collector;

static gchar *
str_dup (YsStr s)
{
  return s.len > 0 ? g_strndup (s.ptr, s.len) : g_strdup ("");
}

/* A canonical text form of a message: two messages are equal when their
 * descriptions are. */
static gchar *
describe (const YsMessage *m)
{
  GString *s = g_string_new (NULL);
  const YsHeader *h = &m->header;
  gchar *a, *b, *c;

  g_string_append_printf (s,
      "%s v%u flags=%u frame=%u config=%u ts=%" G_GUINT64_FORMAT,
      ys_msg_type_name (h->type), h->version, h->flags, h->frame_id,
      h->config_id, h->capture_us);
  switch (h->type) {
    case YS_MSG_HELLO:
      a = str_dup (m->u.hello.name);
      b = str_dup (m->u.hello.token);
      c = str_dup (m->u.hello.model);
      g_string_append_printf (s, " name=%s token=%s model=%s codecs=", a, b, c);
      for (int i = 0; i < m->u.hello.codec_count; i++)
        g_string_append_printf (s, "%u,", m->u.hello.codecs[i]);
      g_string_append_printf (s, " net=%ux%u deadline=%u", m->u.hello.net_width,
          m->u.hello.net_height, m->u.hello.deadline_ms);
      g_string_append_printf (s, " labels=%u:", m->u.hello.label_count);
      for (int i = 0; i < m->u.hello.label_count; i++) {
        gchar *l = str_dup (m->u.hello.labels[i]);
        g_string_append_printf (s, "[%s]", l);
        g_free (l);
      }
      g_free (a);
      g_free (b);
      g_free (c);
      break;
    case YS_MSG_FRAME:
      g_string_append_printf (s, " codec=%u %ux%u deadline=%u bytes=%u sum=%u",
          m->u.frame.codec, m->u.frame.width, m->u.frame.height,
          m->u.frame.deadline_ms, m->u.frame.packet_len,
          m->u.frame.packet_len > 0
              ? (guint) m->u.frame.packet[m->u.frame.packet_len - 1]
              : 0);
      break;
    case YS_MSG_ACK:
      g_string_append_printf (s,
          " bytes=%u rx=%" G_GUINT64_FORMAT " span=%u queue=%u", m->u.ack.bytes,
          m->u.ack.receive_us, m->u.ack.receive_span_us, m->u.ack.queue_depth);
      break;
    case YS_MSG_RESULT:
      a = str_dup (m->u.result.model);
      g_string_append_printf (s, " q=%u d=%u i=%u model=%s %ux%u n=%u",
          m->u.result.queue_us, m->u.result.decode_us, m->u.result.infer_us, a,
          m->u.result.width, m->u.result.height, m->u.result.count);
      g_free (a);
      for (int i = 0; i < m->u.result.count; i++) {
        const YsDetection *d = &m->u.result.detections[i];
        a = str_dup (d->label);
        g_string_append_printf (s, " [%u %s %.6f %.6f %.6f %.6f %.6f]",
            d->class_id, a, d->confidence, d->x, d->y, d->w, d->h);
        g_free (a);
      }
      break;
    case YS_MSG_DROP:
      g_string_append_printf (s, " reason=%s",
          ys_drop_reason_name (m->u.drop.reason));
      break;
    case YS_MSG_ERROR:
      a = str_dup (m->u.error.text);
      g_string_append_printf (s, " code=%u text=%s", m->u.error.code, a);
      g_free (a);
      break;
    default: break;
  }
  return g_string_free (s, FALSE);
}

static bool
collect (const YsMessage *m, void *user)
{
  Collector *c = user;
  g_ptr_array_add (c->seen, describe (m));
  return c->stop_after == 0 || (int) c->seen->len < c->stop_after;
}

static const YsDetection dets[] = {
  { 16, 0.98f, 0.1f, 0.2f, 0.3f, 0.4f, { "dog", 3 } },
  { 1, 0.5f, 0.0f, 0.0f, 1.0f, 1.0f, { "bicycle", 7 } },
  { 2, 0.25f, 0.75f, 0.125f, 0.2f, 0.1f, { "", 0 } },
};

/* A server's label list: an empty label (a names line that is not UTF-8)
 * and one beyond ASCII among them. */
static const YsStr labels[] = { { "person", 6 }, { "", 0 },
  { "b\xc3\xbc"
    "cher",
      7 } };

static guint8 packet[3000];

/* One message of every type, with every field set. */
static GPtrArray *
sample_messages (void)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_free);
  YsMessage m;

  for (guint i = 0; i < sizeof (packet); i++)
    packet[i] = (guint8) (i * 7);
  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_HELLO, 0, 0, 0, 0, 0 };
  m.u.hello.name = ys_str ("camera-1");
  m.u.hello.token = ys_str ("s3cret");
  m.u.hello.model = ys_str ("yolo-fastest-1.1-xl");
  m.u.hello.codec_count = 2;
  m.u.hello.codecs[0] = YS_CODEC_H264;
  m.u.hello.codecs[1] = YS_CODEC_MJPEG;
  m.u.hello.deadline_ms = 250;
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_HELLO, YS_FLAG_SERVER, 0, 0, 0, 0 };
  m.u.hello.name = ys_str ("yoloswitch-edge");
  m.u.hello.model = ys_str ("yolo-fastest-1.1-xl");
  m.u.hello.net_width = 320;
  m.u.hello.net_height = 320;
  m.u.hello.queue_depth = 2;
  m.u.hello.workers = 3;
  m.u.hello.label_count = G_N_ELEMENTS (labels);
  m.u.hello.labels = labels;
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_FRAME, YS_FLAG_KEYFRAME, 42, 7,
    G_GUINT64_CONSTANT (1234567890123), 0 };
  m.u.frame
      = (YsFrame){ YS_CODEC_H264, 640, 480, 200, packet, sizeof (packet) };
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_ACK, 0, 42, 7,
    G_GUINT64_CONSTANT (1234567890123), 0 };
  m.u.ack = (YsAck){ 3009, G_GUINT64_CONSTANT (99999999999), 41234, 3 };
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_RESULT, 0, 42, 7, 5, 0 };
  m.u.result = (YsResult){ 1500, 2500, 15000, ys_str ("xl"), 640, 480,
    G_N_ELEMENTS (dets), dets };
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_RESULT, 0, 43, 7, 6, 0 };
  m.u.result = (YsResult){ 0, 0, 0, ys_str ("xl"), 640, 480, 0, NULL };
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_DROP, YS_FLAG_NEED_KEYFRAME, 44, 7, 8, 0 };
  m.u.drop.reason = YS_DROP_DEADLINE;
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_PING, 0, 0, 0, 77, 0 };
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));
  m.header.type = YS_MSG_PONG;
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));

  memset (&m, 0, sizeof (m));
  m.header = (YsHeader){ 0, YS_MSG_ERROR, 0, 0, 0, 0, 0 };
  m.u.error.code = YS_ERR_UNAUTHORIZED;
  m.u.error.text = ys_str ("HELLO has no valid token; start the client with "
                           "the server's token");
  g_ptr_array_add (all, g_memdup2 (&m, sizeof (m)));
  return all;
}

static GByteArray *
encode_all (GPtrArray *msgs, GPtrArray *expected)
{
  GByteArray *wire = g_byte_array_new ();

  for (guint i = 0; i < msgs->len; i++) {
    YsMessage *m = msgs->pdata[i];
    size_t n = ys_message_size (m);
    guint old = wire->len;
    g_assert_cmpuint (n, >=, YS_HEADER_SIZE);
    g_byte_array_set_size (wire, old + n);
    g_assert_cmpuint (ys_message_encode (m, wire->data + old), ==, n);
    m->header.version = YS_PROTOCOL_VERSION;
    m->header.payload_len = (guint32) (n - YS_HEADER_SIZE);
    if (expected != NULL)
      g_ptr_array_add (expected, describe (m));
  }
  return wire;
}

/* Parses wire in pieces of `step` bytes; returns the descriptions. */
static GPtrArray *
parse_in_steps (const GByteArray *wire, gsize step, YsParseStatus *status)
{
  Collector c = { g_ptr_array_new_with_free_func (g_free), 0 };
  YsParser *p = ys_parser_new (0);
  const char *why = NULL;

  *status = YS_PARSE_OK;
  for (gsize off = 0; off < wire->len && *status == YS_PARSE_OK; off += step) {
    gsize n = MIN (step, wire->len - off);
    *status = ys_parser_feed (p, wire->data + off, n, collect, &c, &why);
  }
  if (*status == YS_PARSE_OK)
    *status = ys_parser_finish (p, &why);
  ys_parser_free (p);
  return c.seen;
}

static void
assert_same (GPtrArray *got, GPtrArray *want)
{
  g_assert_cmpuint (got->len, ==, want->len);
  for (guint i = 0; i < got->len; i++)
    g_assert_cmpstr (got->pdata[i], ==, want->pdata[i]);
}

static void
test_round_trip (void)
{
  GPtrArray *msgs = sample_messages ();
  GPtrArray *want = g_ptr_array_new_with_free_func (g_free);
  GByteArray *wire = encode_all (msgs, want);
  YsParseStatus status;
  GPtrArray *got = parse_in_steps (wire, wire->len, &status);

  g_assert_cmpint (status, ==, YS_PARSE_OK);
  assert_same (got, want);
  /* Spot-check the text form is not trivially equal: the RESULT carries
   * the dog at its box. */
  g_assert_nonnull (strstr (want->pdata[4],
      "[16 dog 0.980000 0.100000 0.200000 0.300000 0.400000]"));
  g_assert_nonnull (strstr (want->pdata[1], " labels=3:[person][][b\xc3\xbc"));
  g_ptr_array_unref (got);
  g_ptr_array_unref (want);
  g_ptr_array_unref (msgs);
  g_byte_array_unref (wire);
}

/* The same stream split every possible way into 1-, 2-, 3- and 7-byte
 * pieces, and at every single cut into two. */
static void
test_fragments (void)
{
  GPtrArray *msgs = sample_messages ();
  GPtrArray *want = g_ptr_array_new_with_free_func (g_free);
  GByteArray *wire = encode_all (msgs, want);
  static const gsize steps[] = { 1, 2, 3, 7, 28, 29 };
  YsParseStatus status;

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    GPtrArray *got = parse_in_steps (wire, steps[i], &status);
    g_assert_cmpint (status, ==, YS_PARSE_OK);
    assert_same (got, want);
    g_ptr_array_unref (got);
  }
  for (gsize cut = 1; cut < wire->len; cut += 13) {
    Collector c = { g_ptr_array_new_with_free_func (g_free), 0 };
    YsParser *p = ys_parser_new (0);
    g_assert_cmpint (ys_parser_feed (p, wire->data, cut, collect, &c, NULL), ==,
        YS_PARSE_OK);
    g_assert_cmpint (ys_parser_feed (p, wire->data + cut, wire->len - cut,
                         collect, &c, NULL),
        ==, YS_PARSE_OK);
    g_assert_cmpint (ys_parser_finish (p, NULL), ==, YS_PARSE_OK);
    assert_same (c.seen, want);
    ys_parser_free (p);
    g_ptr_array_unref (c.seen);
  }
  g_ptr_array_unref (want);
  g_ptr_array_unref (msgs);
  g_byte_array_unref (wire);
}

/* Encodes one sample message (index i of sample_messages). */
static GByteArray *
one_message (guint i)
{
  GPtrArray *msgs = sample_messages ();
  GPtrArray *single = g_ptr_array_new ();
  GByteArray *wire;

  g_ptr_array_add (single, msgs->pdata[i]);
  wire = encode_all (single, NULL);
  g_ptr_array_unref (single);
  g_ptr_array_unref (msgs);
  return wire;
}

static void
put_le32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

static YsParseStatus
parse_once (const guint8 *data, gsize len, guint32 max_payload, guint *count,
    const char **why)
{
  Collector c = { g_ptr_array_new_with_free_func (g_free), 0 };
  YsParser *p = ys_parser_new (max_payload);
  YsParseStatus s = ys_parser_feed (p, data, len, collect, &c, why);

  if (s == YS_PARSE_OK)
    s = ys_parser_finish (p, why);
  *count = c.seen->len;
  g_ptr_array_unref (c.seen);
  ys_parser_free (p);
  return s;
}

static void
test_truncated (void)
{
  GByteArray *wire = one_message (4); /* RESULT */
  const char *why = NULL;
  guint count;

  /* Every strict prefix is incomplete, never a message. */
  for (gsize len = 1; len < wire->len; len++) {
    g_assert_cmpint (parse_once (wire->data, len, 0, &count, &why), ==,
        YS_PARSE_TRUNCATED);
    g_assert_cmpuint (count, ==, 0);
  }
  g_assert_nonnull (strstr (why, "ended before"));
  g_byte_array_unref (wire);
}

static void
test_oversize (void)
{
  GByteArray *wire = one_message (2); /* FRAME, 3000-byte packet */
  const char *why = NULL;
  guint count;

  /* Refused from the header alone: only the 28 header bytes are fed. */
  g_assert_cmpint (parse_once (wire->data, YS_HEADER_SIZE, 1000, &count, &why),
      ==, YS_PARSE_TOO_LARGE);
  g_assert_nonnull (strstr (why, "size limit"));
  g_assert_cmpint (parse_once (wire->data, wire->len, 1000, &count, NULL), ==,
      YS_PARSE_TOO_LARGE);
  /* A header claiming 4 GiB with the default limit. */
  put_le32 (wire->data + 24, 0xffffffffu);
  g_assert_cmpint (parse_once (wire->data, YS_HEADER_SIZE, 0, &count, NULL), ==,
      YS_PARSE_TOO_LARGE);
  g_assert_cmpint (ys_parse_error_code (YS_PARSE_TOO_LARGE), ==,
      YS_ERR_TOO_LARGE);
  g_byte_array_unref (wire);
}

static void
test_wrong_version_magic_type (void)
{
  GByteArray *wire = one_message (7); /* PING */
  const char *why = NULL;
  guint count;

  wire->data[2] = 1; /* the version before the ACK span */
  g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, &why), ==,
      YS_PARSE_BAD_VERSION);
  g_assert_nonnull (strstr (why, "version"));
  g_assert_cmpint (ys_parse_error_code (YS_PARSE_BAD_VERSION), ==,
      YS_ERR_VERSION);
  wire->data[2] = YS_PROTOCOL_VERSION;
  wire->data[3] = 99;
  g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, NULL), ==,
      YS_PARSE_UNKNOWN_TYPE);
  /* Garbage fails on its second byte, before any header is complete. */
  g_assert_cmpint (parse_once ((const guint8 *) "GET / HTTP/1.1\r\n", 2, 0,
                       &count, &why),
      ==, YS_PARSE_BAD_MAGIC);
  g_assert_nonnull (strstr (why, "magic"));
  g_byte_array_unref (wire);
}

/* Lengths that lie: the header's payload length, a string length and a
 * detection count that disagree with the bytes actually there. */
static void
test_lying_lengths (void)
{
  GByteArray *wire;
  guint count;
  const char *why = NULL;

  /* DROP with payload length 5 instead of 1: trailing bytes. */
  wire = one_message (6);
  g_byte_array_append (wire, (const guint8 *) "abcd", 4);
  put_le32 (wire->data + 24, 5);
  g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, &why), ==,
      YS_PARSE_MALFORMED);
  g_assert_nonnull (strstr (why, "does not match"));
  g_byte_array_unref (wire);

  /* ACK whose header says 4 payload bytes: the fields need 18. */
  wire = one_message (3);
  put_le32 (wire->data + 24, 4);
  g_assert_cmpint (parse_once (wire->data, YS_HEADER_SIZE + 4, 0, &count, NULL),
      ==, YS_PARSE_MALFORMED);
  g_byte_array_unref (wire);

  /* ERROR whose text length says 60000 bytes. */
  wire = one_message (9);
  wire->data[YS_HEADER_SIZE + 2] = 0x60;
  wire->data[YS_HEADER_SIZE + 3] = 0xea;
  g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, NULL), ==,
      YS_PARSE_MALFORMED);
  g_byte_array_unref (wire);

  /* RESULT whose detection count says 1000 (payload holds 3), then one
   * that says 60000 (over the limit). */
  wire = one_message (4);
  {
    /* count sits after q, d, i (12 bytes), model (2 + 2), width, height */
    gsize at = YS_HEADER_SIZE + 12 + 2 + 2 + 4;
    wire->data[at] = 1000 & 0xff;
    wire->data[at + 1] = 1000 >> 8;
    g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, NULL), ==,
        YS_PARSE_MALFORMED);
    wire->data[at] = 0x60;
    wire->data[at + 1] = 0xea;
    g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, NULL), ==,
        YS_PARSE_MALFORMED);
    g_assert_cmpuint (count, ==, 0);
    /* Back to 3, but the first confidence made a NaN. */
    wire->data[at] = 3;
    wire->data[at + 1] = 0;
    put_le32 (wire->data + at + 2 + 2, 0x7fc00000u);
    g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, NULL), ==,
        YS_PARSE_MALFORMED);
  }
  g_byte_array_unref (wire);
}

/* After a failure the parser refuses everything; a callback can stop it. */
static void
test_failed_stays_failed_and_stop (void)
{
  GPtrArray *msgs = sample_messages ();
  GByteArray *wire = encode_all (msgs, NULL);
  Collector c = { g_ptr_array_new_with_free_func (g_free), 2 };
  YsParser *p = ys_parser_new (0);

  g_assert_cmpint (ys_parser_feed (p, wire->data, wire->len, collect, &c, NULL),
      ==, YS_PARSE_STOPPED);
  g_assert_cmpuint (c.seen->len, ==, 2);
  ys_parser_free (p);

  p = ys_parser_new (0);
  g_assert_cmpint (ys_parser_feed (p, (const guint8 *) "XX", 2, collect, &c,
                       NULL),
      ==, YS_PARSE_BAD_MAGIC);
  g_assert_cmpint (ys_parser_feed (p, wire->data, wire->len, collect, &c, NULL),
      ==, YS_PARSE_BAD_MAGIC);
  g_assert_cmpint (ys_parser_finish (p, NULL), ==, YS_PARSE_BAD_MAGIC);
  g_assert_cmpuint (c.seen->len, ==, 2);
  ys_parser_free (p);
  g_ptr_array_unref (c.seen);
  g_ptr_array_unref (msgs);
  g_byte_array_unref (wire);
}

/* The bytes of docs/PROTOCOL.md's example, and a HELLO from a later
 * revision with a field appended after the label list and the model hash
 * (skipped, not refused): a client's HELLO carries no list and no hash,
 * so the later revision writes a count of 0 and a hash of 0 before its
 * own field. */
static void
test_wire_bytes (void)
{
  static const guint8 ping77[] = { 0x59, 0x53, 0x02, 0x06, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  YsMessage m;
  guint8 out[64];
  GByteArray *hello;
  guint count;

  memset (&m, 0, sizeof (m));
  m.header.type = YS_MSG_PING;
  m.header.capture_us = 77;
  g_assert_cmpuint (ys_message_encode (&m, out), ==, sizeof (ping77));
  g_assert_cmpmem (out, sizeof (ping77), ping77, sizeof (ping77));

  hello = one_message (0);
  g_byte_array_append (hello,
      (const guint8 *) "\x00\x00"
                       "\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x01\x02\x03",
      13);
  put_le32 (hello->data + 24, hello->len - YS_HEADER_SIZE);
  g_assert_cmpint (parse_once (hello->data, hello->len, 0, &count, NULL), ==,
      YS_PARSE_OK);
  g_assert_cmpuint (count, ==, 1);
  g_byte_array_unref (hello);
}

/* The encoder refuses what a parser would refuse. */
static void
test_encoder_limits (void)
{
  YsMessage m;
  char long_label[YS_MAX_NAME + 2];
  YsDetection d = dets[0];

  memset (long_label, 'a', sizeof (long_label) - 1);
  long_label[sizeof (long_label) - 1] = '\0';
  memset (&m, 0, sizeof (m));
  m.header.type = YS_MSG_RESULT;
  d.label = ys_str (long_label);
  m.u.result = (YsResult){ 0, 0, 0, ys_str ("m"), 1, 1, 1, &d };
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
  m.u.result.count = YS_MAX_DETECTIONS + 1;
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
  memset (&m, 0, sizeof (m));
  m.header.type = YS_MSG_HELLO;
  m.u.hello.codec_count = YS_MAX_CODECS + 1;
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
  m.header.type = 200;
  g_assert_cmpuint (ys_message_size (&m), ==, 0);
}

/* ---- one protocol message per unit (per WebSocket message) ---- */

/* Feeds `data` as one unit in pieces of `step` bytes, in one-per-unit
 * mode; the messages handed on are counted. */
static YsParseStatus
parse_unit (YsParser *p, const guint8 *data, gsize len, gsize step,
    guint *count, const char **why)
{
  Collector c = { g_ptr_array_new_with_free_func (g_free), 0 };
  YsParseStatus s = YS_PARSE_OK;

  for (gsize off = 0; off < len && s == YS_PARSE_OK; off += step)
    s = ys_parser_feed (p, data + off, MIN (step, len - off), collect, &c, why);
  /* Nothing is handed on before the unit ends. */
  g_assert_cmpuint (c.seen->len, ==, 0);
  if (s == YS_PARSE_OK)
    s = ys_parser_end_unit (p, collect, &c, why);
  *count += c.seen->len;
  g_ptr_array_unref (c.seen);
  return s;
}

static YsParser *
unit_parser (void)
{
  YsParser *p = ys_parser_new (0);
  ys_parser_set_one_per_unit (p, true);
  return p;
}

/* Every message as its own unit, in every split: each handed on once, at
 * the unit's end; the parser goes on with the next unit. */
static void
test_unit_fragments (void)
{
  GPtrArray *msgs = sample_messages ();
  static const gsize steps[] = { 1, 3, 28, 29, 100000 };

  for (guint k = 0; k < G_N_ELEMENTS (steps); k++) {
    YsParser *p = unit_parser ();
    guint count = 0;

    for (guint i = 0; i < msgs->len; i++) {
      GByteArray *wire = one_message (i);
      g_assert_cmpint (parse_unit (p, wire->data, wire->len, steps[k], &count,
                           NULL),
          ==, YS_PARSE_OK);
      g_assert_cmpuint (count, ==, i + 1);
      g_byte_array_unref (wire);
    }
    ys_parser_free (p);
  }
  g_ptr_array_unref (msgs);
}

/* Two messages in one unit: MALFORMED, and neither is handed on. */
static void
test_unit_several_messages (void)
{
  GPtrArray *msgs = sample_messages ();
  GByteArray *wire = encode_all (msgs, NULL);
  static const gsize steps[] = { 1, 7, 100000 };

  for (guint k = 0; k < G_N_ELEMENTS (steps); k++) {
    YsParser *p = unit_parser ();
    const char *why = NULL;
    guint count = 0;

    g_assert_cmpint (parse_unit (p, wire->data, wire->len, steps[k], &count,
                         &why),
        ==, YS_PARSE_MALFORMED);
    g_assert_cmpuint (count, ==, 0);
    g_assert_nonnull (strstr (why, "exactly one protocol message"));
    /* And it stays failed. */
    g_assert_cmpint (ys_parser_end_unit (p, collect, NULL, NULL), ==,
        YS_PARSE_MALFORMED);
    ys_parser_free (p);
  }
  /* The same bytes in stream mode are all the messages. */
  {
    YsParseStatus status;
    GPtrArray *got = parse_in_steps (wire, 5, &status);
    g_assert_cmpint (status, ==, YS_PARSE_OK);
    g_assert_cmpuint (got->len, ==, msgs->len);
    g_ptr_array_unref (got);
  }
  g_byte_array_unref (wire);
  g_ptr_array_unref (msgs);
}

/* A FRAME whose payload_len says 100 bytes less than the unit holds: the
 * rest would have been taken for a second message; refused before the
 * FRAME is handed on (so a server never ACKs it). */
static void
test_unit_understated_length (void)
{
  GByteArray *wire = one_message (2); /* FRAME, 3009 payload bytes */
  YsParser *p = unit_parser ();
  const char *why = NULL;
  guint count = 0;

  put_le32 (wire->data + 24, 3009 - 100);
  g_assert_cmpint (parse_unit (p, wire->data, wire->len, 512, &count, &why), ==,
      YS_PARSE_MALFORMED);
  g_assert_cmpuint (count, ==, 0);
  g_assert_nonnull (strstr (why, "payload_len"));
  ys_parser_free (p);

  /* Overstated: the unit ends inside the message. */
  p = unit_parser ();
  put_le32 (wire->data + 24, 3009 + 1);
  g_assert_cmpint (parse_unit (p, wire->data, wire->len, 512, &count, &why), ==,
      YS_PARSE_TRUNCATED);
  g_assert_cmpuint (count, ==, 0);
  ys_parser_free (p);

  /* An empty unit holds no message. */
  p = unit_parser ();
  g_assert_cmpint (ys_parser_end_unit (p, collect, NULL, &why), ==,
      YS_PARSE_TRUNCATED);
  g_assert_nonnull (strstr (why, "empty"));
  ys_parser_free (p);
  g_byte_array_unref (wire);
}

/* Strings must be UTF-8: a HELLO name with a lone continuation byte, an
 * overlong slash and a surrogate are refused; real UTF-8 passes.  The
 * encoder refuses what the parser would. */
static void
test_utf8_strings (void)
{
  static const char *bad[] = { "cam\x80", "\xc0\xaf", "\xed\xa0\x80",
    "\xf4\x90\x80\x80", "ab\xe2\x82" };
  static const char *good[] = { "caméra-1", "摄像头", "\xf0\x9f\x93\xb7", "" };
  const char *why = NULL;
  guint count = 0;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (ys_utf8_valid (good[i], strlen (good[i])));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GByteArray *wire = one_message (0); /* HELLO, name "camera-1" */
    gsize n = strlen (bad[i]);
    YsMessage m;

    g_assert_false (ys_utf8_valid (bad[i], n));
    /* Put the bad bytes over the start of the name. */
    memcpy (wire->data + YS_HEADER_SIZE + 2, bad[i], MIN (n, 8));
    g_assert_cmpint (parse_once (wire->data, wire->len, 0, &count, &why), ==,
        YS_PARSE_MALFORMED);
    g_assert_nonnull (strstr (why, "UTF-8"));
    memset (&m, 0, sizeof (m));
    m.header.type = YS_MSG_ERROR;
    m.u.error.text = ys_str (bad[i]);
    g_assert_cmpuint (ys_message_size (&m), ==, 0);
    g_byte_array_unref (wire);
  }
  /* Clipping keeps whole characters. */
  {
    YsStr s = ys_str_clip (ys_str ("aé"), 2);
    g_assert_cmpuint (s.len, ==, 1);
    s = ys_str_clip (ys_str ("aé"), 3);
    g_assert_cmpuint (s.len, ==, 3);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/protocol/round-trip", test_round_trip);
  g_test_add_func ("/protocol/fragments", test_fragments);
  g_test_add_func ("/protocol/truncated", test_truncated);
  g_test_add_func ("/protocol/oversize", test_oversize);
  g_test_add_func ("/protocol/wrong-version-magic-type",
      test_wrong_version_magic_type);
  g_test_add_func ("/protocol/lying-lengths", test_lying_lengths);
  g_test_add_func ("/protocol/failed-stays-failed",
      test_failed_stays_failed_and_stop);
  g_test_add_func ("/protocol/encoder-limits", test_encoder_limits);
  g_test_add_func ("/protocol/wire-bytes", test_wire_bytes);
  g_test_add_func ("/protocol/unit/fragments", test_unit_fragments);
  g_test_add_func ("/protocol/unit/several-messages",
      test_unit_several_messages);
  g_test_add_func ("/protocol/unit/understated-length",
      test_unit_understated_length);
  g_test_add_func ("/protocol/utf8-strings", test_utf8_strings);
  return g_test_run ();
}
