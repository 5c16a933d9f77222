/* yoloswitch.v2 parsing; see protocol.h and docs/PROTOCOL.md.
 *
 * The parser never trusts a length: the payload length is checked against
 * the limit before a byte of payload is buffered, and every field inside a
 * payload is read through a cursor that refuses to pass the payload's end,
 * so a lying count or string length is MALFORMED, never an over-read.
 * Encoding is protocol.c's. */
#include "protocol.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MAGIC[2] = { 'Y', 'S' };

/* Smallest wire size of one detection: class, confidence, box, empty label. */
#define DETECTION_MIN_BYTES (2 + 4 + 16 + 2)

/* ---- reading --------------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t left;
  bool bad; /* a read went past the end or a field broke a limit */
  const char *why; /* the first problem, a sentence */
} Reader;

static void
refuse (Reader *r, const char *why)
{
  if (!r->bad)
    r->why = why;
  r->bad = true;
}

static const char SHORT_PAYLOAD[]
    = "a field's length or count does not match the payload length";

static const uint8_t *
take (Reader *r, size_t n)
{
  const uint8_t *p = r->p;
  if (r->bad || n > r->left) {
    refuse (r, SHORT_PAYLOAD);
    return NULL;
  }
  r->p += n;
  r->left -= n;
  return p;
}

static uint8_t
get_u8 (Reader *r)
{
  const uint8_t *p = take (r, 1);
  return p != NULL ? p[0] : 0;
}

static uint16_t
get_u16 (Reader *r)
{
  const uint8_t *p = take (r, 2);
  return p != NULL ? (uint16_t) (p[0] | p[1] << 8) : 0;
}

static uint32_t
get_u32 (Reader *r)
{
  const uint8_t *p = take (r, 4);
  return p != NULL ? (uint32_t) p[0] | (uint32_t) p[1] << 8
          | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24
                   : 0;
}

static uint64_t
get_u64 (Reader *r)
{
  uint64_t lo = get_u32 (r);
  return lo | (uint64_t) get_u32 (r) << 32;
}

/* Finite floats only: a NaN box would poison every consumer downstream. */
static float
get_f32 (Reader *r)
{
  uint32_t bits = get_u32 (r);
  float v;
  memcpy (&v, &bits, sizeof (v));
  if (!isfinite (v))
    refuse (r, "a float field is not finite (NaN or infinity)");
  return v;
}

static YsStr
get_str (Reader *r, size_t max)
{
  YsStr s = { "", 0 };
  uint16_t len = get_u16 (r);
  const uint8_t *p;

  if (len > max) {
    refuse (r, "a string is longer than its limit in docs/PROTOCOL.md");
    return s;
  }
  p = take (r, len);
  if (p == NULL)
    return s;
  if (memchr (p, '\0', len) != NULL) {
    refuse (r, "a string holds a NUL byte");
    return s;
  }
  if (!ys_utf8_valid ((const char *) p, len)) {
    refuse (r, "a string is not valid UTF-8");
    return s;
  }
  s.ptr = (const char *) p;
  s.len = len;
  return s;
}

struct YsParser {
  uint32_t max_payload;
  uint8_t header[YS_HEADER_SIZE];
  size_t have; /* bytes of the current message so far, header included */
  YsHeader h;
  uint8_t *payload;
  size_t payload_cap;
  YsDetection *detections; /* YS_MAX_DETECTIONS, on the first RESULT */
  YsStr *labels; /* YS_MAX_LABELS, on the first HELLO with a label list */
  YsParseStatus failed;
  bool one_per_unit;
  /* one_per_unit: the complete message of this unit, waiting for its end;
   * its strings point into `payload`, which nothing touches until then */
  bool held;
  YsMessage held_message;
  YsMemoryFunc memory;
  void *memory_user;
};

YsParser *
ys_parser_new (uint32_t max_payload)
{
  YsParser *p = calloc (1, sizeof (*p));
  if (p != NULL)
    p->max_payload = max_payload != 0 ? max_payload : YS_DEFAULT_MAX_PAYLOAD;
  return p;
}

/* Gives the payload buffer back (between messages only). */
static void
release_payload (YsParser *p)
{
  if (p->memory != NULL && p->payload_cap > 0)
    p->memory (-(int64_t) p->payload_cap, p->memory_user);
  free (p->payload);
  p->payload = NULL;
  p->payload_cap = 0;
}

void
ys_parser_set_max_payload (YsParser *p, uint32_t max_payload)
{
  p->max_payload = max_payload != 0 ? max_payload : YS_DEFAULT_MAX_PAYLOAD;
}

void
ys_parser_set_memory_hook (YsParser *p, YsMemoryFunc func, void *user)
{
  p->memory = func;
  p->memory_user = user;
}

/* After a message was handed on: a large buffer is not kept for the next
 * one (a client's one big keyframe must not cost its size for ever). */
static void
after_message (YsParser *p)
{
  if (p->payload_cap > YS_PARSER_KEEP_BYTES)
    release_payload (p);
}

void
ys_parser_free (YsParser *p)
{
  if (p == NULL)
    return;
  release_payload (p);
  free (p->detections);
  free (p->labels);
  free (p);
}

static YsParseStatus
fail (YsParser *p, YsParseStatus status, const char **why, const char *text)
{
  p->failed = status;
  if (why != NULL)
    *why = text;
  return status;
}

static YsParseStatus
check_header (YsParser *p, const char **why)
{
  Reader r = { p->header, YS_HEADER_SIZE, false, NULL };
  YsHeader *h = &p->h;

  if (memcmp (p->header, MAGIC, 2) != 0)
    return fail (p, YS_PARSE_BAD_MAGIC, why,
        "message does not start with the yoloswitch magic \"YS\"");
  take (&r, 2);
  h->version = get_u8 (&r);
  h->type = get_u8 (&r);
  h->flags = get_u16 (&r);
  get_u16 (&r); /* reserved */
  h->frame_id = get_u32 (&r);
  h->config_id = get_u32 (&r);
  h->capture_us = get_u64 (&r);
  h->payload_len = get_u32 (&r);
  if (h->version != YS_PROTOCOL_VERSION)
    return fail (p, YS_PARSE_BAD_VERSION, why,
        "protocol version is not 2 (this peer speaks yoloswitch.v2)");
  if (h->type < YS_MSG_HELLO || h->type > YS_MSG_ERROR)
    return fail (p, YS_PARSE_UNKNOWN_TYPE, why, "unknown message type");
  if (h->payload_len > p->max_payload)
    return fail (p, YS_PARSE_TOO_LARGE, why,
        "payload length is over this peer's message size limit");
  if (h->payload_len > p->payload_cap) {
    size_t more = h->payload_len - p->payload_cap;
    uint8_t *grown;
    if (p->memory != NULL && !p->memory ((int64_t) more, p->memory_user))
      return fail (p, YS_PARSE_NO_MEMORY, why,
          "the server's memory for clients is taken (--memory-budget-bytes) "
          "and this client holds more than its share: send smaller "
          "messages, or retry later");
    grown = realloc (p->payload, h->payload_len);
    if (grown == NULL) {
      if (p->memory != NULL)
        p->memory (-(int64_t) more, p->memory_user);
      return fail (p, YS_PARSE_TOO_LARGE, why,
          "out of memory for the message payload");
    }
    p->payload = grown;
    p->payload_cap = h->payload_len;
  }
  return YS_PARSE_OK;
}

/* A server HELLO's label list, after `workers`: a u16 count, then that
 * many strings.  Each fault gets its own sentence: the client closes the
 * connection with it. */
static bool
read_labels (YsParser *p, Reader *r, YsHello *o, const char **why)
{
  uint16_t count = get_u16 (r);

  if (r->bad) {
    *why = "HELLO ends inside its label count (one byte after `workers`)";
    return false;
  }
  /* Checked against what the payload can hold before anything is read. */
  if (count > YS_MAX_LABELS || (size_t) count * 2 > r->left) {
    *why = "HELLO's label count is over 1000 or more than its payload holds";
    return false;
  }
  if (count > 0 && p->labels == NULL) {
    p->labels = malloc (sizeof (YsStr) * YS_MAX_LABELS);
    if (p->labels == NULL) {
      *why = "out of memory for HELLO's label list";
      return false;
    }
  }
  for (int i = 0; i < count; i++) {
    p->labels[i] = get_str (r, YS_MAX_NAME);
    if (r->bad) {
      *why = r->why == SHORT_PAYLOAD
          ? "HELLO's label list ends before its count of labels"
          : "a label in HELLO's label list is over 64 bytes, holds a NUL "
            "byte or is not valid UTF-8";
      return false;
    }
  }
  o->label_count = count;
  o->labels = count > 0 ? p->labels : NULL;
  return true;
}

/* Decodes the buffered payload into m; false with *why if it contradicts
 * itself. */
static bool
decode_payload (YsParser *p, YsMessage *m, const char **why)
{
  Reader r = { p->payload, p->h.payload_len, false, NULL };

  m->header = p->h;
  switch (p->h.type) {
    case YS_MSG_HELLO: {
      YsHello *o = &m->u.hello;
      o->name = get_str (&r, YS_MAX_NAME);
      o->token = get_str (&r, YS_MAX_TOKEN);
      o->model = get_str (&r, YS_MAX_MODEL);
      o->codec_count = get_u8 (&r);
      if (o->codec_count > YS_MAX_CODECS) {
        *why = "HELLO lists more than 8 codecs";
        return false;
      }
      for (int i = 0; i < o->codec_count; i++)
        o->codecs[i] = get_u8 (&r);
      o->net_width = get_u16 (&r);
      o->net_height = get_u16 (&r);
      o->deadline_ms = get_u32 (&r);
      o->queue_depth = get_u16 (&r);
      o->workers = get_u16 (&r);
      /* A HELLO that ends here has no label list (a client's, or an older
       * server's); one that goes on starts with the list, and the bytes
       * after it are later revisions' fields, skipped below. */
      if (!r.bad && r.left > 0 && !read_labels (p, &r, o, why))
        return false;
      /* Then the model hash (a revision later); a HELLO that ends inside
       * it is malformed, one that ends before it has none. */
      if (!r.bad && r.left > 0) {
        o->model_hash = get_u64 (&r);
        if (r.bad) {
          *why = "HELLO ends inside its model hash (8 bytes after the label "
                 "list)";
          return false;
        }
      }
      break;
    }
    case YS_MSG_FRAME: {
      YsFrame *f = &m->u.frame;
      f->codec = get_u8 (&r);
      f->width = get_u16 (&r);
      f->height = get_u16 (&r);
      f->deadline_ms = get_u32 (&r);
      if (f->width > YS_MAX_DIMENSION || f->height > YS_MAX_DIMENSION) {
        *why = "FRAME width or height is over 16384";
        return false;
      }
      f->packet_len = (uint32_t) r.left;
      f->packet = take (&r, r.left);
      break;
    }
    case YS_MSG_ACK:
      m->u.ack.bytes = get_u32 (&r);
      m->u.ack.receive_us = get_u64 (&r);
      m->u.ack.receive_span_us = get_u32 (&r);
      m->u.ack.queue_depth = get_u16 (&r);
      break;
    case YS_MSG_RESULT: {
      YsResult *o = &m->u.result;
      o->queue_us = get_u32 (&r);
      o->decode_us = get_u32 (&r);
      o->infer_us = get_u32 (&r);
      o->model = get_str (&r, YS_MAX_MODEL);
      o->width = get_u16 (&r);
      o->height = get_u16 (&r);
      o->count = get_u16 (&r);
      /* The count is checked against what the payload can hold before any
       * detection is read. */
      if (r.bad || o->count > YS_MAX_DETECTIONS
          || (size_t) o->count * DETECTION_MIN_BYTES > r.left) {
        *why = r.bad ? r.why
                     : "RESULT's detection count is over 1024 or more than "
                       "its payload holds";
        return false;
      }
      if (o->count > 0 && p->detections == NULL) {
        p->detections = malloc (sizeof (YsDetection) * YS_MAX_DETECTIONS);
        if (p->detections == NULL) {
          *why = "out of memory for the detections";
          return false;
        }
      }
      for (int i = 0; i < o->count; i++) {
        YsDetection *d = &p->detections[i];
        d->class_id = get_u16 (&r);
        d->confidence = get_f32 (&r);
        d->x = get_f32 (&r);
        d->y = get_f32 (&r);
        d->w = get_f32 (&r);
        d->h = get_f32 (&r);
        d->label = get_str (&r, YS_MAX_NAME);
      }
      o->detections = p->detections;
      break;
    }
    case YS_MSG_DROP: m->u.drop.reason = get_u8 (&r); break;
    case YS_MSG_PING:
    case YS_MSG_PONG: break;
    case YS_MSG_ERROR:
      m->u.error.code = get_u16 (&r);
      m->u.error.text = get_str (&r, YS_MAX_ERROR_TEXT);
      break;
  }
  /* Every byte accounted for: trailing bytes mean the length lied.  HELLO
   * alone may grow: fields appended by later revisions are skipped. */
  if (r.bad) {
    *why = r.why;
    return false;
  }
  if (r.left != 0 && p->h.type != YS_MSG_HELLO) {
    *why = "a field's length or count does not match the payload length";
    return false;
  }
  return true;
}

YsParseStatus
ys_parser_feed (YsParser *p, const uint8_t *data, size_t len,
    YsMessageFunc on_message, void *user, const char **why)
{
  if (p->failed != YS_PARSE_OK)
    return fail (p, p->failed, why, "the stream already failed");
  while (len > 0) {
    size_t n;
    if (p->held)
      return fail (p, YS_PARSE_MALFORMED, why,
          "bytes after the end of the message its header describes: a "
          "WebSocket message carries exactly one protocol message, and "
          "payload_len counts all of its payload");
    if (p->have < YS_HEADER_SIZE) {
      n = YS_HEADER_SIZE - p->have;
      n = n < len ? n : len;
      memcpy (p->header + p->have, data, n);
      p->have += n;
      data += n;
      len -= n;
      /* The magic is checked as soon as it is in: garbage fails at once. */
      if (p->have >= 2 && memcmp (p->header, MAGIC, 2) != 0)
        return fail (p, YS_PARSE_BAD_MAGIC, why,
            "message does not start with the yoloswitch magic \"YS\"");
      if (p->have == YS_HEADER_SIZE) {
        YsParseStatus s = check_header (p, why);
        if (s != YS_PARSE_OK)
          return s;
      }
    } else {
      size_t got = p->have - YS_HEADER_SIZE;
      n = p->h.payload_len - got;
      n = n < len ? n : len;
      memcpy (p->payload + got, data, n);
      p->have += n;
      data += n;
      len -= n;
    }
    if (p->have == YS_HEADER_SIZE + (size_t) p->h.payload_len
        && p->have >= YS_HEADER_SIZE) {
      YsMessage m;
      const char *bad = NULL;
      memset (&m, 0, sizeof (m));
      p->have = 0;
      if (!decode_payload (p, &m, &bad))
        return fail (p, YS_PARSE_MALFORMED, why, bad);
      if (p->one_per_unit) {
        p->held_message = m;
        p->held = true;
      } else {
        bool go_on = on_message (&m, user);
        after_message (p);
        if (!go_on)
          return YS_PARSE_STOPPED;
      }
    }
  }
  return YS_PARSE_OK;
}

YsParseStatus
ys_parser_finish (YsParser *p, const char **why)
{
  if (p->failed != YS_PARSE_OK)
    return fail (p, p->failed, why, "the stream already failed");
  if (p->have != 0)
    return fail (p, YS_PARSE_TRUNCATED, why,
        "the message ended before the length its header gives");
  return YS_PARSE_OK;
}

void
ys_parser_set_one_per_unit (YsParser *p, bool one_per_unit)
{
  p->one_per_unit = one_per_unit;
}

YsParseStatus
ys_parser_end_unit (YsParser *p, YsMessageFunc on_message, void *user,
    const char **why)
{
  YsParseStatus s = ys_parser_finish (p, why);
  YsMessage m;

  if (s != YS_PARSE_OK || !p->one_per_unit)
    return s;
  if (!p->held)
    return fail (p, YS_PARSE_TRUNCATED, why,
        "an empty WebSocket message: each carries one protocol message");
  m = p->held_message;
  p->held = false;
  s = on_message (&m, user) ? YS_PARSE_OK : YS_PARSE_STOPPED;
  after_message (p);
  return s;
}

YsErrorCode
ys_parse_error_code (YsParseStatus status)
{
  switch (status) {
    case YS_PARSE_BAD_VERSION: return YS_ERR_VERSION;
    case YS_PARSE_TOO_LARGE: return YS_ERR_TOO_LARGE;
    case YS_PARSE_NO_MEMORY: return YS_ERR_TOO_LARGE;
    default: return YS_ERR_MALFORMED;
  }
}
