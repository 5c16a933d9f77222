#include "tensor_quant.h"

#include <float.h>
#include <math.h>

bool
yolo_quant_bits_valid (int bits)
{
  return bits == 4 || bits == 6 || bits == 8;
}

size_t
yolo_quant_bytes (size_t n, int bits)
{
  if (!yolo_quant_bits_valid (bits) || n > (SIZE_MAX - 7) / (size_t) bits)
    return 0;
  return (n * (size_t) bits + 7) / 8;
}

static unsigned
top_code (int bits)
{
  return (1u << bits) - 1;
}

YoloQuantRange
yolo_quant_range (const float *x, size_t n, int bits)
{
  /* Within float, and with room for lo + top * scale to stay finite. */
  const double limit = FLT_MAX / 2;
  double sum = 0, sum2 = 0, mu, sigma, lo, hi;
  size_t count = 0;
  YoloQuantRange r = { 0.f, 1.f };

  for (size_t i = 0; i < n; i++) {
    if (isfinite (x[i])) {
      sum += x[i];
      count++;
    }
  }
  if (!yolo_quant_bits_valid (bits))
    return r;
  if (count == 0) /* [0, 1] */
    return (YoloQuantRange){ 0.f, 1.f / (float) top_code (bits) };
  mu = sum / (double) count;
  /* Two passes: sum of squares about the mean, not E[x^2] - mu^2, which
   * cancels for activations far from 0. */
  for (size_t i = 0; i < n; i++) {
    if (isfinite (x[i])) {
      double d = x[i] - mu;
      sum2 += d * d;
    }
  }
  sigma = sqrt (sum2 / (double) count);
  lo = fmax (mu - 3 * sigma, -limit);
  hi = fmin (mu + 3 * sigma, limit);
  r.lo = (float) lo;
  r.scale = (float) ((hi - lo) / top_code (bits));
  /* A constant tensor, or one whose spread is below float's reach: its
   * value is code 0, exactly. */
  if (!(r.scale >= FLT_MIN)) {
    r.lo = (float) fmax (fmin (mu, limit), -limit);
    r.scale = 1.f;
  }
  return r;
}

YoloQuantRange
yolo_quant_range_minmax (const float *x, size_t n, int bits)
{
  const double limit = FLT_MAX / 2;
  double lo = INFINITY, hi = -INFINITY;
  YoloQuantRange r = { 0.f, 1.f };

  if (!yolo_quant_bits_valid (bits))
    return r;
  for (size_t i = 0; i < n; i++) {
    if (isfinite (x[i])) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
  }
  if (lo > hi) /* nothing finite: [0, 1] */
    return (YoloQuantRange){ 0.f, 1.f / (float) top_code (bits) };
  lo = fmax (lo, -limit);
  hi = fmin (hi, limit);
  r.lo = (float) lo;
  /* Rounded up a hair so that the top code still reaches the maximum. */
  r.scale = (float) ((hi - lo) / top_code (bits)) * (1 + FLT_EPSILON);
  if (!(r.scale >= FLT_MIN))
    r.scale = 1.f; /* constant: code 0 is its value, exactly */
  return r;
}

bool
yolo_quant_range_valid (YoloQuantRange range, int bits)
{
  float span;

  if (!yolo_quant_bits_valid (bits) || !isfinite (range.lo)
      || !isfinite (range.scale) || !(range.scale > 0))
    return false;
  /* The span on its own: fused into lo + top * scale (FMA), an overflowing
   * product could pass and then overflow in yolo_dequantize(). */
  span = (float) top_code (bits) * range.scale;
  return isfinite (span) && isfinite (range.lo + span);
}

static unsigned
code_of (float v, float lo, float inv, float top)
{
  float t = (v - lo) * inv;

  if (!(t >= 0)) /* below the range, or NaN */
    return 0;
  if (t >= top)
    return (unsigned) top;
  return (unsigned) (t + 0.5f);
}

void
yolo_quantize_planes (const float *x, size_t planes, size_t plane,
    const YoloQuantRange *ranges, bool per_plane, int bits, uint8_t *out)
{
  float top = (float) top_code (bits);
  uint32_t acc = 0;
  int held = 0; /* bits in acc not yet written */

  for (size_t c = 0; c < planes; c++) {
    YoloQuantRange r = ranges[per_plane ? c : 0];
    const float *v = x + c * plane;
    float inv = 1.f / r.scale;
    if (bits == 8) {
      for (size_t i = 0; i < plane; i++)
        *out++ = (uint8_t) code_of (v[i], r.lo, inv, top);
      continue;
    }
    for (size_t i = 0; i < plane; i++) {
      acc |= code_of (v[i], r.lo, inv, top) << held;
      held += bits;
      while (held >= 8) {
        *out++ = (uint8_t) acc;
        acc >>= 8;
        held -= 8;
      }
    }
  }
  if (held > 0)
    *out = (uint8_t) acc;
}

void
yolo_dequantize_planes (const uint8_t *codes, size_t planes, size_t plane,
    const YoloQuantRange *ranges, bool per_plane, int bits, float *out)
{
  uint32_t acc = 0, mask = top_code (bits);
  int held = 0;

  for (size_t c = 0; c < planes; c++) {
    YoloQuantRange r = ranges[per_plane ? c : 0];
    if (bits == 8) {
      for (size_t i = 0; i < plane; i++)
        *out++ = r.lo + (float) *codes++ * r.scale;
      continue;
    }
    /* A byte is read only when the next code needs it: exactly
     * yolo_quant_bytes (planes * plane, bits) bytes in all. */
    for (size_t i = 0; i < plane; i++) {
      if (held < bits) {
        acc |= (uint32_t) *codes++ << held;
        held += 8;
      }
      *out++ = r.lo + (float) (acc & mask) * r.scale;
      acc >>= bits;
      held -= bits;
    }
  }
}

void
yolo_quantize (const float *x, size_t n, YoloQuantRange range, int bits,
    uint8_t *out)
{
  yolo_quantize_planes (x, 1, n, &range, false, bits, out);
}

void
yolo_dequantize (const uint8_t *codes, size_t n, YoloQuantRange range, int bits,
    float *out)
{
  yolo_dequantize_planes (codes, 1, n, &range, false, bits, out);
}
