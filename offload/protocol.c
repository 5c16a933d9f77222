/* yoloswitch.v2 encoding and parsing; see protocol.h and docs/PROTOCOL.md.
 *
 * The parser never trusts a length: the payload length is checked against
 * the limit before a byte of payload is buffered, and every field inside a
 * payload is read through a cursor that refuses to pass the payload's end,
 * so a lying count or string length is MALFORMED, never an over-read. */
#include "protocol.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MAGIC[2] = { 'Y', 'S' };

/* Smallest wire size of one detection: class, confidence, box, empty label. */
#define DETECTION_MIN_BYTES (2 + 4 + 16 + 2)

YsStr
ys_str (const char *s)
{
  size_t len = s != NULL ? strlen (s) : 0;
  YsStr r = { s != NULL ? s : "", len > UINT16_MAX ? UINT16_MAX : len };
  return r;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct {
  uint8_t *p;
} Writer;

static void
put_u8 (Writer *w, uint8_t v)
{
  *w->p++ = v;
}

static void
put_u16 (Writer *w, uint16_t v)
{
  put_u8 (w, v & 0xff);
  put_u8 (w, v >> 8);
}

static void
put_u32 (Writer *w, uint32_t v)
{
  put_u16 (w, v & 0xffff);
  put_u16 (w, v >> 16);
}

static void
put_u64 (Writer *w, uint64_t v)
{
  put_u32 (w, (uint32_t) v);
  put_u32 (w, (uint32_t) (v >> 32));
}

static void
put_f32 (Writer *w, float v)
{
  uint32_t bits;
  memcpy (&bits, &v, sizeof (bits));
  put_u32 (w, bits);
}

static void
put_bytes (Writer *w, const void *data, size_t len)
{
  if (len > 0)
    memcpy (w->p, data, len);
  w->p += len;
}

static void
put_str (Writer *w, YsStr s)
{
  put_u16 (w, s.len);
  put_bytes (w, s.ptr, s.len);
}

static bool
str_ok (YsStr s, size_t max)
{
  return s.len <= max && (s.len == 0 || s.ptr != NULL)
      && (s.len == 0 || memchr (s.ptr, '\0', s.len) == NULL);
}

/* Payload bytes, or SIZE_MAX when a field is over the limits. */
static size_t
payload_size (const YsMessage *m)
{
  switch (m->header.type) {
    case YS_MSG_HELLO: {
      const YsHello *h = &m->u.hello;
      if (!str_ok (h->name, YS_MAX_NAME) || !str_ok (h->token, YS_MAX_TOKEN)
          || !str_ok (h->model, YS_MAX_MODEL) || h->codec_count > YS_MAX_CODECS)
        return SIZE_MAX;
      return 2 + h->name.len + 2 + h->token.len + 2 + h->model.len + 1
          + h->codec_count + 2 + 2 + 4 + 2 + 2;
    }
    case YS_MSG_FRAME: {
      const YsFrame *f = &m->u.frame;
      if (f->width > YS_MAX_DIMENSION || f->height > YS_MAX_DIMENSION
          || (f->packet_len > 0 && f->packet == NULL)
          || f->packet_len > UINT32_MAX - 9)
        return SIZE_MAX;
      return 1 + 2 + 2 + 4 + (size_t) f->packet_len;
    }
    case YS_MSG_ACK: return 4 + 8 + 4 + 2;
    case YS_MSG_RESULT: {
      const YsResult *r = &m->u.result;
      size_t n = 4 + 4 + 4 + 2 + r->model.len + 2 + 2 + 2;
      if (!str_ok (r->model, YS_MAX_MODEL) || r->count > YS_MAX_DETECTIONS
          || (r->count > 0 && r->detections == NULL))
        return SIZE_MAX;
      for (int i = 0; i < r->count; i++) {
        if (!str_ok (r->detections[i].label, YS_MAX_NAME))
          return SIZE_MAX;
        n += DETECTION_MIN_BYTES + r->detections[i].label.len;
      }
      return n;
    }
    case YS_MSG_DROP: return 1;
    case YS_MSG_PING:
    case YS_MSG_PONG: return 0;
    case YS_MSG_ERROR:
      if (!str_ok (m->u.error.text, YS_MAX_ERROR_TEXT))
        return SIZE_MAX;
      return 2 + 2 + m->u.error.text.len;
    default: return SIZE_MAX;
  }
}

size_t
ys_message_size (const YsMessage *msg)
{
  size_t payload = payload_size (msg);
  if (payload == SIZE_MAX || payload > UINT32_MAX)
    return 0;
  return YS_HEADER_SIZE + payload;
}

size_t
ys_message_encode (const YsMessage *msg, uint8_t *out)
{
  size_t size = ys_message_size (msg);
  const YsHeader *h = &msg->header;
  Writer w = { out };

  if (size == 0)
    return 0;
  put_bytes (&w, MAGIC, 2);
  put_u8 (&w, YS_PROTOCOL_VERSION);
  put_u8 (&w, h->type);
  put_u16 (&w, h->flags);
  put_u16 (&w, 0);
  put_u32 (&w, h->frame_id);
  put_u32 (&w, h->config_id);
  put_u64 (&w, h->capture_us);
  put_u32 (&w, (uint32_t) (size - YS_HEADER_SIZE));
  switch (h->type) {
    case YS_MSG_HELLO: {
      const YsHello *o = &msg->u.hello;
      put_str (&w, o->name);
      put_str (&w, o->token);
      put_str (&w, o->model);
      put_u8 (&w, o->codec_count);
      put_bytes (&w, o->codecs, o->codec_count);
      put_u16 (&w, o->net_width);
      put_u16 (&w, o->net_height);
      put_u32 (&w, o->deadline_ms);
      put_u16 (&w, o->queue_depth);
      put_u16 (&w, o->workers);
      break;
    }
    case YS_MSG_FRAME: {
      const YsFrame *f = &msg->u.frame;
      put_u8 (&w, f->codec);
      put_u16 (&w, f->width);
      put_u16 (&w, f->height);
      put_u32 (&w, f->deadline_ms);
      put_bytes (&w, f->packet, f->packet_len);
      break;
    }
    case YS_MSG_ACK:
      put_u32 (&w, msg->u.ack.bytes);
      put_u64 (&w, msg->u.ack.receive_us);
      put_u32 (&w, msg->u.ack.receive_span_us);
      put_u16 (&w, msg->u.ack.queue_depth);
      break;
    case YS_MSG_RESULT: {
      const YsResult *r = &msg->u.result;
      put_u32 (&w, r->queue_us);
      put_u32 (&w, r->decode_us);
      put_u32 (&w, r->infer_us);
      put_str (&w, r->model);
      put_u16 (&w, r->width);
      put_u16 (&w, r->height);
      put_u16 (&w, r->count);
      for (int i = 0; i < r->count; i++) {
        const YsDetection *d = &r->detections[i];
        put_u16 (&w, d->class_id);
        put_f32 (&w, d->confidence);
        put_f32 (&w, d->x);
        put_f32 (&w, d->y);
        put_f32 (&w, d->w);
        put_f32 (&w, d->h);
        put_str (&w, d->label);
      }
      break;
    }
    case YS_MSG_DROP: put_u8 (&w, msg->u.drop.reason); break;
    case YS_MSG_ERROR:
      put_u16 (&w, msg->u.error.code);
      put_str (&w, msg->u.error.text);
      break;
    default: break;
  }
  return (size_t) (w.p - out);
}

/* ---- reading --------------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t left;
  bool bad; /* a read went past the end or a field broke a limit */
} Reader;

static const uint8_t *
take (Reader *r, size_t n)
{
  const uint8_t *p = r->p;
  if (r->bad || n > r->left) {
    r->bad = true;
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
    r->bad = true;
  return v;
}

static YsStr
get_str (Reader *r, size_t max)
{
  YsStr s = { "", 0 };
  uint16_t len = get_u16 (r);
  const uint8_t *p;

  if (len > max) {
    r->bad = true;
    return s;
  }
  p = take (r, len);
  if (p == NULL || memchr (p, '\0', len) != NULL) {
    r->bad = true;
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
  YsParseStatus failed;
};

YsParser *
ys_parser_new (uint32_t max_payload)
{
  YsParser *p = calloc (1, sizeof (*p));
  if (p != NULL)
    p->max_payload = max_payload != 0 ? max_payload : YS_DEFAULT_MAX_PAYLOAD;
  return p;
}

void
ys_parser_free (YsParser *p)
{
  if (p == NULL)
    return;
  free (p->payload);
  free (p->detections);
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
  Reader r = { p->header, YS_HEADER_SIZE, false };
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
    uint8_t *grown = realloc (p->payload, h->payload_len);
    if (grown == NULL)
      return fail (p, YS_PARSE_TOO_LARGE, why,
          "out of memory for the message payload");
    p->payload = grown;
    p->payload_cap = h->payload_len;
  }
  return YS_PARSE_OK;
}

/* Decodes the buffered payload into m; false if it contradicts itself. */
static bool
decode_payload (YsParser *p, YsMessage *m)
{
  Reader r = { p->payload, p->h.payload_len, false };

  m->header = p->h;
  switch (p->h.type) {
    case YS_MSG_HELLO: {
      YsHello *o = &m->u.hello;
      o->name = get_str (&r, YS_MAX_NAME);
      o->token = get_str (&r, YS_MAX_TOKEN);
      o->model = get_str (&r, YS_MAX_MODEL);
      o->codec_count = get_u8 (&r);
      if (o->codec_count > YS_MAX_CODECS)
        return false;
      for (int i = 0; i < o->codec_count; i++)
        o->codecs[i] = get_u8 (&r);
      o->net_width = get_u16 (&r);
      o->net_height = get_u16 (&r);
      o->deadline_ms = get_u32 (&r);
      o->queue_depth = get_u16 (&r);
      o->workers = get_u16 (&r);
      break;
    }
    case YS_MSG_FRAME: {
      YsFrame *f = &m->u.frame;
      f->codec = get_u8 (&r);
      f->width = get_u16 (&r);
      f->height = get_u16 (&r);
      f->deadline_ms = get_u32 (&r);
      if (f->width > YS_MAX_DIMENSION || f->height > YS_MAX_DIMENSION)
        return false;
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
          || (size_t) o->count * DETECTION_MIN_BYTES > r.left)
        return false;
      if (o->count > 0 && p->detections == NULL) {
        p->detections = malloc (sizeof (YsDetection) * YS_MAX_DETECTIONS);
        if (p->detections == NULL)
          return false;
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
  return !r.bad && (r.left == 0 || p->h.type == YS_MSG_HELLO);
}

YsParseStatus
ys_parser_feed (YsParser *p, const uint8_t *data, size_t len,
    YsMessageFunc on_message, void *user, const char **why)
{
  if (p->failed != YS_PARSE_OK)
    return fail (p, p->failed, why, "the stream already failed");
  while (len > 0) {
    size_t n;
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
      memset (&m, 0, sizeof (m));
      p->have = 0;
      if (!decode_payload (p, &m))
        return fail (p, YS_PARSE_MALFORMED, why,
            "a field's length or count does not match the payload length");
      if (!on_message (&m, user))
        return YS_PARSE_STOPPED;
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

YsErrorCode
ys_parse_error_code (YsParseStatus status)
{
  switch (status) {
    case YS_PARSE_BAD_VERSION: return YS_ERR_VERSION;
    case YS_PARSE_TOO_LARGE: return YS_ERR_TOO_LARGE;
    default: return YS_ERR_MALFORMED;
  }
}

const char *
ys_msg_type_name (uint8_t type)
{
  static const char *names[] = { "?", "HELLO", "FRAME", "ACK", "RESULT", "DROP",
    "PING", "PONG", "ERROR" };
  return type <= YS_MSG_ERROR ? names[type] : "?";
}

const char *
ys_codec_name (uint8_t codec)
{
  switch (codec) {
    case YS_CODEC_H264: return "h264";
    case YS_CODEC_MJPEG: return "mjpeg";
    default: return "none";
  }
}

const char *
ys_drop_reason_name (uint8_t reason)
{
  switch (reason) {
    case YS_DROP_DEADLINE: return "deadline";
    case YS_DROP_OVERLOAD: return "overload";
    case YS_DROP_DECODE_ERROR: return "decode-error";
    case YS_DROP_SHUTDOWN: return "shutdown";
    default: return "unknown";
  }
}
