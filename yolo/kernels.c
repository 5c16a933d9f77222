#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Exported by libdarknet but not declared in darknet.h. */
void activate_array (float *x, const int n, const ACTIVATION a);

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)            \
    && defined(__has_attribute)
/* Clang before 15 names the dispatcher "f.ifunc" instead of "f", so
 * callers in other files do not link: those builds (the sanitizer build)
 * get the baseline kernels. */
#if __has_attribute(target_clones)                                             \
    && !(defined(__clang__) && __clang_major__ < 15)
#define KERNEL __attribute__ ((target_clones ("avx2", "default")))
#endif
#endif
#ifndef KERNEL
#define KERNEL
#endif

/* exp(x) as 2^(x log2 e): 2^integer from the exponent bits, 2^fraction
 * from a degree-6 polynomial (relative error ~2e-7, as expf).  Written
 * without library calls so the logistic loops vectorize. */
static inline float
exp_approx (float x)
{
  float t, f, p;
  int32_t i;
  uint32_t bits;

  x = x < -87.f ? -87.f : (x > 88.f ? 88.f : x);
  t = x * 1.44269504088896341f;
  i = (int32_t) (t < 0 ? t - 1.f : t); /* floor */
  f = t - (float) i; /* in [0, 1) */
  p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f;
  p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f;
  p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.f;
  bits = (uint32_t) (i + 127) << 23;
  {
    float scale;
    memcpy (&scale, &bits, sizeof (scale));
    return p * scale;
  }
}

/* Vectorized into branch-free selects (yolo/meson.build's
 * -fno-trapping-math lets the compiler if-convert them): signs are random,
 * so a branch would mispredict half the time. */
KERNEL void
kernel_bias_activate (float *x, int n, float bias, ACTIVATION act)
{
  switch (act) {
    case LINEAR:
      for (int i = 0; i < n; i++)
        x[i] += bias;
      return;
    case LEAKY:
      for (int i = 0; i < n; i++) {
        float v = x[i] + bias;
        x[i] = v > 0 ? v : .1f * v;
      }
      return;
    case RELU:
      for (int i = 0; i < n; i++) {
        float v = x[i] + bias;
        x[i] = v > 0 ? v : 0;
      }
      return;
    case LOGISTIC:
      for (int i = 0; i < n; i++)
        x[i] = 1.f / (1.f + exp_approx (-(x[i] + bias)));
      return;
    default:
      for (int i = 0; i < n; i++)
        x[i] += bias;
      activate_array (x, n, act);
      return;
  }
}

KERNEL void
kernel_depthwise_plane (const float *pad, int pw, const float *k, int size,
    int s, float *out, int oh, int ow, float bias, ACTIVATION act)
{
  for (int oy = 0; oy < oh; oy++) {
    float *orow = out + (size_t) oy * ow;
    const float *r0 = pad + (size_t) oy * s * pw;
    if (size == 3) {
      /* Nine weights in registers, one pass per row. */
      const float *r1 = r0 + pw, *r2 = r1 + pw;
      const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4];
      const float k5 = k[5], k6 = k[6], k7 = k[7], k8 = k[8];
      if (s == 1) {
        for (int ox = 0; ox < ow; ox++)
          orow[ox] = k0 * r0[ox] + k1 * r0[ox + 1] + k2 * r0[ox + 2]
              + k3 * r1[ox] + k4 * r1[ox + 1] + k5 * r1[ox + 2] + k6 * r2[ox]
              + k7 * r2[ox + 1] + k8 * r2[ox + 2];
      } else {
        for (int ox = 0; ox < ow; ox++) {
          int x = ox * s;
          orow[ox] = k0 * r0[x] + k1 * r0[x + 1] + k2 * r0[x + 2] + k3 * r1[x]
              + k4 * r1[x + 1] + k5 * r1[x + 2] + k6 * r2[x] + k7 * r2[x + 1]
              + k8 * r2[x + 2];
        }
      }
      continue;
    }
    /* Other sizes (5x5 in Yolo-Fastest's heads): one pass per tap, each
     * a vectorizable multiply-add over the output row. */
    memset (orow, 0, sizeof (float) * ow);
    for (int ky = 0; ky < size; ky++) {
      const float *r = r0 + (size_t) ky * pw;
      for (int kx = 0; kx < size; kx++) {
        const float wv = k[ky * size + kx];
        const float *src = r + kx;
        if (s == 1)
          for (int ox = 0; ox < ow; ox++)
            orow[ox] += wv * src[ox];
        else
          for (int ox = 0; ox < ow; ox++)
            orow[ox] += wv * src[ox * s];
      }
    }
  }
  kernel_bias_activate (out, oh * ow, bias, act);
}

KERNEL void
kernel_maxpool_row (const float *rows, int w, int size, int s, int off,
    float *out, int lo, int hi)
{
  if (size == 2 && s == 2) {
    /* Yolov3-tiny's downsampling pools. */
    const float *r0 = rows + off, *r1 = r0 + w;
    for (int ox = lo; ox < hi; ox++) {
      float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
      float b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
      out[ox] = a > b ? a : b;
    }
    return;
  }
  for (int ox = lo; ox < hi; ox++) {
    const float *win = rows + ox * s + off;
    float best = win[0];
    for (int ky = 0; ky < size; ky++)
      for (int kx = 0; kx < size; kx++) {
        float v = win[(size_t) ky * w + kx];
        best = v > best ? v : best;
      }
    out[ox] = best;
  }
}

KERNEL void
kernel_shortcut (const float *x, const float *y, float a, float b, float *out,
    int n, ACTIVATION act)
{
  for (int i = 0; i < n; i++)
    out[i] = a * x[i] + b * y[i];
  kernel_bias_activate (out, n, 0.f, act);
}
