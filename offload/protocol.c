/* yoloswitch.v2 encoding and the names of codes; see protocol.h and
 * docs/PROTOCOL.md.  The parser is protocol_parse.c. */
#include "protocol.h"

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

YsStr
ys_str_clip (YsStr s, size_t max)
{
  if (s.len <= max)
    return s;
  s.len = (uint16_t) max;
  /* Back off UTF-8 continuation bytes, then the lead byte they follow. */
  while (s.len > 0 && ((uint8_t) s.ptr[s.len] & 0xc0) == 0x80)
    s.len--;
  return s;
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
  return s.len <= max
      && (s.len == 0
          || (s.ptr != NULL && memchr (s.ptr, '\0', s.len) == NULL
              && ys_utf8_valid (s.ptr, s.len)));
}

/* Payload bytes, or SIZE_MAX when a field is over the limits. */
static size_t
payload_size (const YsMessage *m)
{
  size_t n;

  switch (m->header.type) {
    case YS_MSG_HELLO: {
      const YsHello *h = &m->u.hello;
      if (!str_ok (h->name, YS_MAX_NAME) || !str_ok (h->token, YS_MAX_TOKEN)
          || !str_ok (h->model, YS_MAX_MODEL) || h->codec_count > YS_MAX_CODECS
          || h->label_count > YS_MAX_LABELS
          || (h->label_count > 0 && h->labels == NULL))
        return SIZE_MAX;
      n = 2 + h->name.len + 2 + h->token.len + 2 + h->model.len + 1
          + h->codec_count + 2 + 2 + 4 + 2 + 2;
      if (h->label_count > 0 || h->model_hash != 0)
        n += 2;
      if (h->model_hash != 0)
        n += 8;
      for (int i = 0; i < h->label_count; i++) {
        if (!str_ok (h->labels[i], YS_MAX_NAME))
          return SIZE_MAX;
        n += 2 + h->labels[i].len;
      }
      return n;
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
      n = 4 + 4 + 4 + 2 + r->model.len + 2 + 2 + 2;
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
      /* Absent rather than 0 when empty: such a HELLO is byte for byte
       * what peers before the label list sent. */
      if (o->label_count > 0 || o->model_hash != 0) {
        put_u16 (&w, o->label_count);
        for (int i = 0; i < o->label_count; i++)
          put_str (&w, o->labels[i]);
      }
      if (o->model_hash != 0)
        put_u64 (&w, o->model_hash);
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
    case YS_CODEC_TENSOR: return "tensor";
    case YS_CODEC_TENSOR_ZSTD: return "tensor-zstd";
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
    case YS_DROP_BACKLOG: return "backlog";
    case YS_DROP_MODEL_CHANGED: return "model-changed";
    default: return "unknown";
  }
}
