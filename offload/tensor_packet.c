#include "tensor_packet.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
put_u16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
}

static void
put_u32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_u64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_f32 (uint8_t *p, float f)
{
  uint32_t v;
  memcpy (&v, &f, sizeof v);
  put_u32 (p, v);
}

static uint16_t
get_u16 (const uint8_t *p)
{
  return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t
get_u32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
      | (uint32_t) p[3] << 24;
}

static uint64_t
get_u64 (const uint8_t *p)
{
  return (uint64_t) get_u32 (p) | (uint64_t) get_u32 (p + 4) << 32;
}

static float
get_f32 (const uint8_t *p)
{
  uint32_t v = get_u32 (p);
  float f;
  memcpy (&f, &v, sizeof f);
  return f;
}

static size_t
range_count (const YsTensorPacket *p, const YsTensor *t)
{
  return p->flags & YS_TENSOR_PER_CHANNEL ? t->c : 1;
}

/* The shape limits both sides apply; values counts the packet's values so
 * far, ranges its ranges. */
static bool
tensor_fits (const YsTensorPacket *p, const YsTensor *t, int prev_layer,
    uint64_t *values, size_t *ranges)
{
  if (t->layer >= p->cut || (int) t->layer <= prev_layer)
    return false;
  if (t->c < 1 || t->h < 1 || t->w < 1 || t->c > YS_TENSOR_MAX_CHANNELS
      || t->h > YS_TENSOR_MAX_SIDE || t->w > YS_TENSOR_MAX_SIDE)
    return false;
  *values += (uint64_t) t->c * t->h * t->w;
  *ranges += range_count (p, t);
  return *values <= YS_TENSOR_MAX_VALUES && *ranges <= YS_TENSOR_MAX_RANGES;
}

size_t
ys_tensor_entry_size (size_t c, size_t h, size_t w, int bits, bool per_channel)
{
  return 8 + 8 * (per_channel ? c : 1) + yolo_quant_bytes (c * h * w, bits);
}

size_t
ys_tensor_packet_size (const YsTensorPacket *p)
{
  size_t size = YS_TENSOR_HEADER_SIZE, ranges = 0;
  uint64_t values = 0;
  int prev = -1;

  if (!yolo_quant_bits_valid (p->bits) || p->count < 1
      || p->count > YS_TENSOR_MAX_COUNT || (p->flags & ~YS_TENSOR_KNOWN_FLAGS))
    return 0;
  for (int i = 0; i < p->count; i++) {
    const YsTensor *t = &p->tensors[i];
    if (!tensor_fits (p, t, prev, &values, &ranges))
      return 0;
    for (size_t r = 0; r < range_count (p, t); r++)
      if (!yolo_quant_range_valid (t->ranges[r], p->bits))
        return 0;
    prev = t->layer;
    size += ys_tensor_entry_size (t->c, t->h, t->w, p->bits,
        (p->flags & YS_TENSOR_PER_CHANNEL) != 0);
  }
  return size;
}

size_t
ys_tensor_packet_encode (const YsTensorPacket *p, uint8_t *out)
{
  size_t size = ys_tensor_packet_size (p);
  uint8_t *o = out;

  if (size == 0)
    return 0;
  o[0] = YS_TENSOR_FORMAT;
  o[1] = p->bits;
  o[2] = p->flags;
  o[3] = p->count;
  put_u16 (o + 4, p->cut);
  put_u16 (o + 6, 0);
  put_u64 (o + 8, p->model_hash);
  o += YS_TENSOR_HEADER_SIZE;
  for (int i = 0; i < p->count; i++) {
    const YsTensor *t = &p->tensors[i];
    size_t codes = yolo_quant_bytes ((size_t) t->c * t->h * t->w, p->bits);
    put_u16 (o, t->layer);
    put_u16 (o + 2, t->c);
    put_u16 (o + 4, t->h);
    put_u16 (o + 6, t->w);
    o += 8;
    for (size_t r = 0; r < range_count (p, t); r++, o += 8) {
      put_f32 (o, t->ranges[r].lo);
      put_f32 (o + 4, t->ranges[r].scale);
    }
    memcpy (o, t->codes, codes);
    o += codes;
  }
  return size;
}

static bool __attribute__ ((format (printf, 3, 4)))
refuse (char *error, size_t error_size, const char *fmt, ...)
{
  va_list ap;

  if (error_size > 0) {
    va_start (ap, fmt);
    vsnprintf (error, error_size, fmt, ap);
    va_end (ap);
  }
  return false;
}

bool
ys_tensor_packet_parse (const uint8_t *data, size_t len, YsTensorPacket *p,
    YoloQuantRange *ranges, char *error, size_t error_size)
{
  size_t at = YS_TENSOR_HEADER_SIZE, used_ranges = 0;
  uint64_t values = 0;
  int prev = -1;

  memset (p, 0, sizeof *p);
  if (len < YS_TENSOR_HEADER_SIZE)
    return refuse (error, error_size,
        "tensor packet of %zu bytes: shorter than its %d-byte header", len,
        YS_TENSOR_HEADER_SIZE);
  if (data[0] != YS_TENSOR_FORMAT)
    return refuse (error, error_size,
        "tensor packet format %u: this side reads format %d", data[0],
        YS_TENSOR_FORMAT);
  p->bits = data[1];
  p->flags = data[2];
  p->count = data[3];
  p->cut = get_u16 (data + 4);
  p->model_hash = get_u64 (data + 8);
  if (!yolo_quant_bits_valid (p->bits))
    return refuse (error, error_size,
        "tensor packet with %u-bit codes: only 4, 6 and 8 are defined",
        p->bits);
  if (p->flags & ~YS_TENSOR_KNOWN_FLAGS)
    return refuse (error, error_size,
        "tensor packet flags 0x%02x: unknown bits set", p->flags);
  if (p->count < 1 || p->count > YS_TENSOR_MAX_COUNT)
    return refuse (error, error_size,
        "tensor packet with %u tensors: 1 to %d allowed", p->count,
        YS_TENSOR_MAX_COUNT);
  for (int i = 0; i < p->count; i++) {
    YsTensor *t = &p->tensors[i];
    size_t n_ranges, codes;

    if (len - at < 8)
      return refuse (error, error_size,
          "tensor packet ends inside tensor %d's shape", i);
    t->layer = get_u16 (data + at);
    t->c = get_u16 (data + at + 2);
    t->h = get_u16 (data + at + 4);
    t->w = get_u16 (data + at + 6);
    at += 8;
    if (!tensor_fits (p, t, prev, &values, &used_ranges))
      return refuse (error, error_size,
          "tensor %d (layer %u, %ux%ux%u) is not a handover of cut %u: "
          "layers must be below the cut and increasing, sides 1..%d, "
          "channels 1..%d, at most %u values in all",
          i, t->layer, t->c, t->h, t->w, p->cut, YS_TENSOR_MAX_SIDE,
          YS_TENSOR_MAX_CHANNELS, YS_TENSOR_MAX_VALUES);
    prev = t->layer;
    n_ranges = range_count (p, t);
    if ((len - at) / 8 < n_ranges)
      return refuse (error, error_size,
          "tensor packet ends inside tensor %d's ranges", i);
    t->ranges = ranges + (used_ranges - n_ranges);
    for (size_t r = 0; r < n_ranges; r++, at += 8) {
      YoloQuantRange q = { get_f32 (data + at), get_f32 (data + at + 4) };
      if (!yolo_quant_range_valid (q, p->bits))
        return refuse (error, error_size,
            "tensor %d's range %zu (lo %g, scale %g) cannot be decoded: lo "
            "and scale must be finite, scale above 0",
            i, r, (double) q.lo, (double) q.scale);
      ranges[used_ranges - n_ranges + r] = q;
    }
    codes = yolo_quant_bytes ((size_t) t->c * t->h * t->w, p->bits);
    if (len - at < codes)
      return refuse (error, error_size,
          "tensor packet ends inside tensor %d's codes (%zu bytes of %zu)", i,
          len - at, codes);
    t->codes = data + at;
    at += codes;
  }
  if (at != len)
    return refuse (error, error_size,
        "tensor packet has %zu bytes after its last tensor", len - at);
  return true;
}
