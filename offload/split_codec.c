#include "split_codec.h"

#include "split_zstd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool __attribute__ ((format (printf, 3, 4)))
fail (char *error, size_t error_size, const char *fmt, ...)
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
ys_split_encode (const YoloHandover *h, const YsSplitOptions *o, uint8_t **out,
    size_t *out_len, char *error, size_t error_size)
{
  YsTensorPacket p;
  YoloQuantRange *ranges = NULL;
  uint8_t *codes[YS_TENSOR_MAX_COUNT] = { 0 };
  size_t used = 0, size;
  bool ok = false;

  *out = NULL;
  *out_len = 0;
  memset (&p, 0, sizeof p);
  if (h->count < 1 || h->count > YS_TENSOR_MAX_COUNT || h->cut > UINT16_MAX)
    return fail (error, error_size,
        "a handover of %zu tensors at cut %d does not fit a split packet "
        "(1 to %d tensors)",
        h->count, h->cut, YS_TENSOR_MAX_COUNT);
  p.bits = (uint8_t) o->bits;
  p.flags = (o->per_channel ? YS_TENSOR_PER_CHANNEL : 0)
      | (h->letterbox ? YS_TENSOR_LETTERBOX : 0);
  p.count = (uint8_t) h->count;
  p.cut = (uint16_t) h->cut;
  p.model_hash = o->model_hash;
  ranges = calloc (YS_TENSOR_MAX_RANGES, sizeof *ranges);
  if (ranges == NULL)
    return fail (error, error_size, "out of memory");
  for (size_t i = 0; i < h->count; i++) {
    const YoloTensor *t = &h->tensors[i];
    size_t plane = (size_t) t->h * t->w, nr = o->per_channel ? t->c : 1;
    if (t->c < 1 || t->c > YS_TENSOR_MAX_CHANNELS || t->h < 1
        || t->h > YS_TENSOR_MAX_SIDE || t->w < 1 || t->w > YS_TENSOR_MAX_SIDE
        || used + nr > YS_TENSOR_MAX_RANGES) {
      fail (error, error_size,
          "layer %d's %dx%dx%d output is outside a split packet's limits",
          t->layer, t->c, t->h, t->w);
      goto out;
    }
    for (size_t r = 0; r < nr; r++) {
      const float *x = t->data + r * (nr > 1 ? plane : 0);
      size_t count = nr > 1 ? plane : plane * t->c;
      ranges[used + r] = o->range == YS_SPLIT_RANGE_SIGMA3
          ? yolo_quant_range (x, count, o->bits)
          : yolo_quant_range_minmax (x, count, o->bits);
    }
    codes[i] = malloc (yolo_quant_bytes (plane * t->c, o->bits) + 1);
    if (codes[i] == NULL) {
      fail (error, error_size, "out of memory");
      goto out;
    }
    yolo_quantize_planes (t->data, t->c, plane, ranges + used, nr > 1, o->bits,
        codes[i]);
    p.tensors[i] = (YsTensor){ (uint16_t) t->layer, (uint16_t) t->c,
      (uint16_t) t->h, (uint16_t) t->w, ranges + used, codes[i] };
    used += nr;
  }
  size = ys_tensor_packet_size (&p);
  if (size == 0) {
    fail (error, error_size,
        "the handover at cut %d is outside a split packet's limits (bits %d, "
        "at most %u values)",
        h->cut, o->bits, YS_TENSOR_MAX_VALUES);
    goto out;
  }
  *out = malloc (size);
  if (*out == NULL) {
    fail (error, error_size, "out of memory");
    goto out;
  }
  *out_len = ys_tensor_packet_encode (&p, *out);
  ok = true;
out:
  for (size_t i = 0; i < YS_TENSOR_MAX_COUNT; i++)
    free (codes[i]);
  free (ranges);
  return ok;
}

int
ys_split_packet_cut (const uint8_t *data, size_t len)
{
  return len >= YS_TENSOR_HEADER_SIZE ? data[4] | data[5] << 8 : 0;
}

uint64_t
ys_split_packet_hash (const uint8_t *data, size_t len)
{
  uint64_t hash = 0;

  if (len < YS_TENSOR_HEADER_SIZE)
    return 0;
  for (int i = 7; i >= 0; i--)
    hash = hash << 8 | data[8 + i];
  return hash;
}

/* The bytes after the header of a plain packet of layout's tensors at
 * bits (per channel or not); 0 if bits is not a depth packets use. */
static size_t
layout_rest_bytes (const YoloHandover *layout, int bits, bool per_channel)
{
  size_t rest = 0;

  if (!yolo_quant_bits_valid (bits))
    return 0;
  for (size_t i = 0; i < layout->count; i++) {
    const YoloTensor *t = &layout->tensors[i];
    rest += ys_tensor_entry_size (t->c, t->h, t->w, bits, per_channel);
  }
  return rest;
}

/* A compressed packet's plain form, in *plain (to free); false with the
 * fault if it is not the plain packet of layout compressed. */
static bool
unpack (const uint8_t *data, size_t len, const YoloHandover *layout,
    uint8_t **plain, size_t *plain_len, YsSplitFault *why, char *error,
    size_t error_size)
{
  size_t rest = layout_rest_bytes (layout, data[1],
      (data[2] & YS_TENSOR_PER_CHANNEL) != 0);
  bool no_memory;

  /* The header as the plain parser reads it, before a byte is
   * decompressed. */
  *why = YS_SPLIT_FAULT_MALFORMED;
  if (data[0] != YS_TENSOR_FORMAT
      || (data[2] & ~(YS_TENSOR_KNOWN_FLAGS | YS_TENSOR_ZSTD)) != 0)
    return fail (error, error_size,
        "compressed split packet of format %u with flags 0x%02x: format %d, "
        "flags of tensor_packet.h only",
        data[0], data[2], YS_TENSOR_FORMAT);
  if (data[3] != layout->count) {
    *why = YS_SPLIT_FAULT_MISMATCH;
    return fail (error, error_size,
        "split packet with %u tensors, but the model's handover at cut %d "
        "has %zu",
        data[3], layout->cut, layout->count);
  }
  if (rest == 0)
    return fail (error, error_size,
        "compressed split packet at %u bits: packets have 4, 6 or 8", data[1]);
  if (ys_split_packet_cut (data, len) != layout->cut) {
    *why = YS_SPLIT_FAULT_MISMATCH;
    return fail (error, error_size,
        "split packet at cut %d, but the model's handover is at cut %d",
        ys_split_packet_cut (data, len), layout->cut);
  }
  if (ys_split_zstd_unpack (data, len, rest, plain, plain_len, &no_memory,
          error, error_size))
    return true;
  if (no_memory)
    *why = YS_SPLIT_FAULT_NO_MEMORY;
  return false;
}

bool
ys_split_decode (const uint8_t *data, size_t len, const YoloHandover *layout,
    uint64_t model_hash, int source_width, int source_height, YoloHandover *out,
    YsSplitFault *fault, char *error, size_t error_size)
{
  YsTensorPacket p;
  YoloQuantRange *ranges = calloc (YS_TENSOR_MAX_RANGES, sizeof *ranges);
  YsSplitFault why = YS_SPLIT_FAULT_NO_MEMORY;
  uint8_t *plain = NULL;
  size_t plain_len;
  bool ok = false;

  yolo_handover_free (out);
  if (fault != NULL)
    *fault = why;
  if (ranges == NULL)
    return fail (error, error_size, "out of memory");
  if (ys_split_zstd_is_packed (data, len)) {
    if (!unpack (data, len, layout, &plain, &plain_len, &why, error,
            error_size))
      goto out;
    data = plain;
    len = plain_len;
  }
  why = YS_SPLIT_FAULT_MALFORMED;
  if (!ys_tensor_packet_parse (data, len, &p, ranges, error, error_size))
    goto out;
  why = YS_SPLIT_FAULT_MISMATCH;
  if (p.model_hash != model_hash) {
    fail (error, error_size,
        "split packet for model hash %016llx, but this side runs %016llx: "
        "both must load the same cfg and weights",
        (unsigned long long) p.model_hash, (unsigned long long) model_hash);
    goto out;
  }
  if (p.cut != layout->cut || p.count != layout->count) {
    fail (error, error_size,
        "split packet at cut %u with %u tensors, but the model's handover at "
        "cut %d has %zu",
        p.cut, p.count, layout->cut, layout->count);
    goto out;
  }
  for (int i = 0; i < p.count; i++) {
    const YsTensor *t = &p.tensors[i];
    const YoloTensor *want = &layout->tensors[i];
    if (t->layer != want->layer || t->c != want->c || t->h != want->h
        || t->w != want->w) {
      fail (error, error_size,
          "split packet tensor %d is layer %u, %ux%ux%u, but the model hands "
          "over layer %d, %dx%dx%d there",
          i, t->layer, t->c, t->h, t->w, want->layer, want->c, want->h,
          want->w);
      goto out;
    }
  }
  /* Only now, with every shape the model's own, is anything allocated. */
  why = YS_SPLIT_FAULT_NO_MEMORY;
  out->tensors = calloc (p.count, sizeof (YoloTensor));
  if (out->tensors == NULL) {
    fail (error, error_size, "out of memory");
    goto out;
  }
  out->cut = p.cut;
  out->source_width = source_width;
  out->source_height = source_height;
  out->letterbox = (p.flags & YS_TENSOR_LETTERBOX) != 0;
  for (int i = 0; i < p.count; i++) {
    const YsTensor *t = &p.tensors[i];
    size_t plane = (size_t) t->h * t->w;
    YoloTensor *o = &out->tensors[i];
    *o = (YoloTensor){ t->layer, t->c, t->h, t->w, NULL };
    o->data = malloc (sizeof (float) * plane * t->c);
    if (o->data == NULL) {
      out->count = (size_t) i;
      yolo_handover_free (out);
      fail (error, error_size, "out of memory");
      goto out;
    }
    out->count = (size_t) i + 1;
    yolo_dequantize_planes (t->codes, t->c, plane, t->ranges,
        (p.flags & YS_TENSOR_PER_CHANNEL) != 0, p.bits, o->data);
  }
  ok = true;
  why = YS_SPLIT_FAULT_NONE;
out:
  if (fault != NULL)
    *fault = why;
  free (plain);
  free (ranges);
  return ok;
}
