/* Every layer but the convolutions, in plain C on NCHW, each as Darknet's
 * forward pass computes it at inference (pjreddie/darknet src/<type>_layer.c):
 * the odd parts are kept on purpose, see maxpool's origin, reorg's index
 * arithmetic and the negative-stride upsample. */
#include "net_internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Darknet's activations.h, in its arithmetic (double constants). */
static inline float
activate (float x, CfgActivation a)
{
  switch (a) {
    case CFG_ACT_LOGISTIC: return 1. / (1. + exp (-x));
    case CFG_ACT_LOGGY: return 2. / (1. + exp (-x)) - 1;
    case CFG_ACT_RELU: return x * (x > 0);
    case CFG_ACT_ELU: return (x >= 0) * x + (x < 0) * (exp (x) - 1);
    case CFG_ACT_SELU:
      return (x >= 0) * 1.0507 * x + (x < 0) * 1.0507 * 1.6732 * (exp (x) - 1);
    case CFG_ACT_RELIE: return x > 0 ? x : .01 * x;
    case CFG_ACT_PLSE:
      if (x < -4)
        return .01 * (x + 4);
      if (x > 4)
        return .01 * (x - 4) + 1;
      return .125 * x + .5;
    case CFG_ACT_HARDTAN: return x < -1 ? -1 : (x > 1 ? 1 : x);
    case CFG_ACT_LHTAN:
      if (x < 0)
        return .001 * x;
      if (x > 1)
        return .001 * (x - 1) + 1;
      return x;
    case CFG_ACT_LINEAR: return x;
    case CFG_ACT_RAMP: return x * (x > 0) + .1 * x;
    case CFG_ACT_LEAKY: return x > 0 ? x : .1 * x;
    case CFG_ACT_TANH: return (exp (2 * x) - 1) / (exp (2 * x) + 1);
    case CFG_ACT_STAIR: {
      /* Darknet converts floor(x) to int: bounded here, where it is UB. */
      double f = floor (x);
      long long n = f > -1e18 && f < 1e18 ? (long long) f : 0;
      if (n % 2 == 0)
        return floor (x / 2.);
      return (x - n) + floor (x / 2.);
    }
  }
  return x;
}

void
nn_net_activate (float *x, size_t n, CfgActivation a)
{
  /* The common ones as plain loops the compiler vectorizes; the leaky
   * slope in float differs from Darknet's double .1 by under an ulp. */
  if (a == CFG_ACT_LINEAR)
    return;
  if (a == CFG_ACT_LEAKY) {
    for (size_t i = 0; i < n; i++)
      x[i] = x[i] > 0 ? x[i] : .1f * x[i];
    return;
  }
  if (a == CFG_ACT_RELU) {
    for (size_t i = 0; i < n; i++)
      x[i] = x[i] > 0 ? x[i] : 0;
    return;
  }
  for (size_t i = 0; i < n; i++)
    x[i] = activate (x[i], a);
}

static void
run_copy (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  memcpy (out, in, sizeof (float) * nn_layer_outputs (l));
}

/* [batchnorm]: Darknet normalizes, scales and adds biases it never loads
 * (zeros): folded into a scale and a shift per channel. */
static void
run_batchnorm (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  size_t plane = (size_t) l->p.in_h * l->p.in_w;

  for (int c = 0; c < l->p.in_c; c++)
    for (size_t i = 0; i < plane; i++)
      out[c * plane + i] = in[c * plane + i] * l->weights[c] + l->bias[c];
}

/* The window starts at -padding/2 (Darknet's origin; padding defaults to
 * size-1); taps outside the input never win. */
static void
run_maxpool (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const CfgLayer *p = &l->p;
  int off = -p->padding / 2;

  for (int c = 0; c < p->in_c; c++) {
    const float *plane = in + (size_t) c * p->in_h * p->in_w;
    float *o = out + (size_t) c * p->out_h * p->out_w;
    for (int y = 0; y < p->out_h; y++)
      for (int x = 0; x < p->out_w; x++) {
        float best = -FLT_MAX;
        for (int dy = 0; dy < p->size; dy++) {
          int iy = off + y * p->stride + dy;
          if (iy < 0 || iy >= p->in_h)
            continue;
          for (int dx = 0; dx < p->size; dx++) {
            int ix = off + x * p->stride + dx;
            if (ix >= 0 && ix < p->in_w && plane[iy * p->in_w + ix] > best)
              best = plane[iy * p->in_w + ix];
          }
        }
        o[y * p->out_w + x] = best;
      }
  }
}

static void
run_avgpool (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  int plane = l->p.in_h * l->p.in_w;

  for (int c = 0; c < l->p.in_c; c++) {
    float sum = 0;
    for (int i = 0; i < plane; i++)
      sum += in[(size_t) c * plane + i];
    out[c] = sum / plane;
  }
}

static void
run_route (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  for (int r = 0; r < l->p.ref_count; r++) {
    const NnLayer *from = &net->layers[l->p.refs[r]];
    size_t n = nn_layer_outputs (from);
    if (from->packed) {
      NnTensor t = nn_layer_tensor (net, l->p.refs[r]);
      nn_unpack_nchw (&t, out);
    } else {
      memcpy (out, nn_output_of (net, l->p.refs[r]), sizeof (float) * n);
    }
    out += n;
  }
}

/* Same width and height (the checker insists): the first min(c, from's c)
 * channels are added, the others pass through. */
static void
run_shortcut (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const NnLayer *from = &net->layers[l->p.from];
  const float *add = nn_nchw_of (net, l->p.from, net->unpack_b);
  size_t plane = (size_t) l->p.out_h * l->p.out_w;
  int c = l->p.out_c < from->p.out_c ? l->p.out_c : from->p.out_c;
  float alpha = l->p.alpha, beta = l->p.beta;

  memcpy (out, in, sizeof (float) * nn_layer_outputs (l));
  for (size_t i = 0; i < (size_t) c * plane; i++)
    out[i] = alpha * out[i] + beta * add[i];
  nn_net_activate (out, nn_layer_outputs (l), l->p.activation);
}

/* Positive stride: nearest-neighbour, times scale.  Negative: Darknet runs
 * its upsample backwards, summing each stride x stride block (times scale)
 * and reading the input as if it were exactly out x stride wide. */
static void
run_upsample (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const CfgLayer *p = &l->p;
  int s = p->stride;

  if (!p->reverse) {
    for (int c = 0; c < p->in_c; c++)
      for (int y = 0; y < p->out_h; y++) {
        const float *irow = in + ((size_t) c * p->in_h + y / s) * p->in_w;
        float *orow = out + ((size_t) c * p->out_h + y) * p->out_w;
        for (int x = 0; x < p->out_w; x++)
          orow[x] = p->scale * irow[x / s];
      }
    return;
  }
  memset (out, 0, sizeof (float) * nn_layer_outputs (l));
  for (int c = 0; c < p->out_c; c++)
    for (int y = 0; y < p->out_h * s; y++)
      for (int x = 0; x < p->out_w * s; x++) {
        size_t ii = (size_t) c * p->out_w * p->out_h * s * s
            + (size_t) y * p->out_w * s + x;
        size_t oi = (size_t) c * p->out_w * p->out_h
            + (size_t) (y / s) * p->out_w + x / s;
        out[oi] += p->scale * in[ii];
      }
}

/* Darknet's reorg_cpu() with the arguments forward_reorg_layer() passes:
 * always the layer's input sizes, forward = reverse.  It is a permutation
 * of the flat buffer that indexes one side as w x h x c and the other as
 * (w * stride) x (h * stride) x (c / stride^2), whichever way it runs. */
static void
run_reorg (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  int w = l->p.in_w, h = l->p.in_h, c = l->p.in_c, s = l->p.stride;
  int out_c = c / (s * s);

  for (int k = 0; k < c; k++)
    for (int j = 0; j < h; j++)
      for (int i = 0; i < w; i++) {
        size_t a = (size_t) i + (size_t) w * (j + (size_t) h * k);
        int c2 = k % out_c, offset = k / out_c;
        int w2 = i * s + offset % s, h2 = j * s + offset / s;
        size_t b = (size_t) w2 + (size_t) w * s * (h2 + (size_t) h * s * c2);
        if (l->p.reverse)
          out[b] = in[a];
        else
          out[a] = in[b];
      }
}

/* Darknet's softmax(): n values `stride` apart, exp relative to the
 * largest, in its float arithmetic. */
static void
softmax (const float *in, int n, float temp, size_t stride, float *out)
{
  float largest = -FLT_MAX, sum = 0;

  for (int i = 0; i < n; i++)
    if (in[i * stride] > largest)
      largest = in[i * stride];
  for (int i = 0; i < n; i++) {
    float e = exp (in[i * stride] / temp - largest / temp);
    sum += e;
    out[i * stride] = e;
  }
  for (int i = 0; i < n; i++)
    out[i * stride] /= sum;
}

static void
run_softmax (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  size_t per = nn_layer_inputs (l) / (size_t) l->p.groups;

  for (int g = 0; g < l->p.groups; g++)
    softmax (in + g * per, (int) per, l->p.temperature, 1, out + g * per);
}

/* 1 / (1 + e^-x), e^t as 2^k times a degree-6 polynomial of the rest
 * (|t - k ln 2| <= ln 2 / 2), without branches or calls so the loop
 * vectorizes: within 6e-8 of Darknet's double exp (a yolo head's 127 500
 * exps were 14 % of yolo-fastest-1.1's time).  NaN stays NaN, as in
 * Darknet. */
static inline float
fast_logistic (float x)
{
  const float round = 12582912.f; /* 1.5 * 2^23: adding it rounds */
  float t = -x, k, n, r, p;
  uint32_t kbits, bits;

  t = t < -87.f ? -87.f : (t > 87.f ? 87.f : t);
  k = t * 1.44269504f + round;
  memcpy (&kbits, &k, sizeof kbits);
  n = k - round;
  r = t - n * 0.693145752f - n * 1.42860677e-6f;
  p = 0.00833336543f + r * 0.00138925645f;
  p = 0.0416666418f + r * p;
  p = 0.166666672f + r * p;
  p = 0.5f + r * p;
  p = 1.f + r * p;
  p = 1.f + r * p;
  memcpy (&bits, &p, sizeof bits);
  bits += (kbits - 0x4B400000u) << 23; /* times 2^k */
  memcpy (&p, &bits, sizeof p);
  return x != x ? x : 1.f / (1.f + p);
}

static void
logistic (float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = fast_logistic (x[i]);
}

/* Per anchor: x, y, objectness and the classes through the logistic; w, h
 * stay raw (decoding exponentiates them). */
static void
run_yolo (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  size_t plane = (size_t) l->p.out_h * l->p.out_w;
  size_t per = plane * (5 + (size_t) l->p.classes);

  if (out != in) /* in place after a packed layer: nn_net_forward() */
    memcpy (out, in, sizeof (float) * nn_layer_outputs (l));
  for (int n = 0; n < l->p.mask_count; n++) {
    logistic (out + n * per, 2 * plane);
    logistic (out + n * per + 4 * plane, (1 + (size_t) l->p.classes) * plane);
  }
}

/* forward_region_layer() at inference: logistic on x, y and (without
 * background) objectness; the classes through a softmax per cell and
 * anchor (spanning the objectness slot too with background), or the
 * logistic without softmax=. */
static void
run_region (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const CfgLayer *p = &l->p;
  size_t plane = (size_t) p->out_h * p->out_w;
  size_t per = plane * (size_t) (p->coords + p->classes + 1);

  memcpy (out, in, sizeof (float) * nn_layer_outputs (l));
  for (int n = 0; n < p->num; n++) {
    float *a = out + n * per;
    logistic (a, 2 * plane);
    if (!p->background)
      logistic (a + p->coords * plane, plane);
    if (!p->softmax)
      logistic (a + (p->coords + 1) * plane, (size_t) p->classes * plane);
  }
  if (!p->softmax)
    return;
  for (int n = 0; n < p->num; n++) {
    size_t first = n * per + (size_t) (p->coords + !p->background) * plane;
    for (size_t g = 0; g < plane; g++)
      softmax (in + first + g, p->classes + p->background, 1, plane,
          out + first + g);
  }
}

const NnImpl nn_impl_copy = { "copy", run_copy };
const NnImpl nn_impl_batchnorm = { "batchnorm", run_batchnorm };
const NnImpl nn_impl_maxpool = { "maxpool", run_maxpool };
const NnImpl nn_impl_avgpool = { "avgpool", run_avgpool };
const NnImpl nn_impl_route = { "route", run_route };
const NnImpl nn_impl_shortcut = { "shortcut", run_shortcut };
const NnImpl nn_impl_upsample = { "upsample", run_upsample };
const NnImpl nn_impl_reorg = { "reorg", run_reorg };
const NnImpl nn_impl_softmax = { "softmax", run_softmax };
const NnImpl nn_impl_yolo = { "yolo", run_yolo };
const NnImpl nn_impl_region = { "region", run_region };
