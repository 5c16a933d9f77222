/* The nn kernels (yolo/nn) against plain-C NCHW references written here
 * (loops over the definitions, no tricks), for every ISA table this CPU can
 * run; the others are listed as skipped.  Shapes are chosen to be awkward
 * for a packed layout: channel counts 1, 3, P - 1, P + 1, 2 P + 3, planes
 * of width or height 1 and 2 and odd sizes, stride 1 and 2, every fused
 * activation.  Each op is checked three ways:
 *  - values: |got - ref| <= 1e-5 (1 + |ref| + sum of |terms|), the rounding
 *    FMA and a different order of additions may cause, and far below what
 *    a wrong tap, lane or border gives on random data in [-1, 1];
 *  - padding lanes exactly zero (outputs start as NaN, so a lane the
 *    kernel forgot is caught too);
 *  - the same bits when the op runs as several slices of blocks x rows,
 *    in reverse order, as an executor's threads would, and nothing
 *    written outside a slice. */
#include <glib.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"

static GRand *rng;

#ifdef NN_TEST_AVX2X2
/* The AVX-512 build's two-block columns on AVX2 (yolo/nn/meson.build). */
extern const NnKernels nn_kernels_avx2x2;
#endif

static const NnAct fused_acts[] = {
  NN_ACT_LINEAR,
  NN_ACT_LEAKY,
  NN_ACT_RELU,
  NN_ACT_LOGISTIC,
};

static float *
random_floats (size_t n)
{
  float *v = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (rng, -1, 1);
  return v;
}

static void
fill_nan (NnTensor *t)
{
  size_t n = nn_tensor_floats (t->c, t->h, t->w, t->pack);
  for (size_t i = 0; i < n; i++)
    t->data[i] = NAN;
}

static void
alloc_tensor (NnTensor *t, int c, int h, int w, int pack)
{
  g_assert_true (nn_tensor_alloc (t, c, h, w, pack));
  g_assert_true (((uintptr_t) t->data % NN_ALIGN) == 0);
}

/* A random input tensor and its NCHW copy. */
static float *
random_input (NnTensor *t, int c, int h, int w, int pack)
{
  float *nchw = random_floats ((size_t) c * h * w);
  alloc_tensor (t, c, h, w, pack);
  nn_pack_nchw (nchw, t);
  return nchw;
}

static void
assert_padding_zero (const NnTensor *t)
{
  size_t hw = (size_t) t->h * t->w;
  for (int b = 0; b < t->blocks; b++)
    for (size_t i = 0; i < hw; i++)
      for (int l = 0; l < t->pack; l++) {
        float v = t->data[((size_t) b * hw + i) * t->pack + l];
        if (b * t->pack + l >= t->c && v != 0.f)
          g_error ("padding lane %d of block %d pixel %zu is %g, not 0", l, b,
              i, v);
        if (isnan (v))
          g_error ("block %d pixel %zu lane %d never written", b, i, l);
      }
}

/* got (packed) against ref (NCHW) with magnitudes mag (sum |terms|, or
 * NULL for exact ops). */
static void
assert_close (const NnTensor *got, const double *ref, const double *mag,
    const char *what)
{
  size_t n = (size_t) got->c * got->h * got->w;
  float *g = g_new (float, n);
  nn_unpack_nchw (got, g);
  for (size_t i = 0; i < n; i++) {
    double tol = mag ? 1e-5 * (1 + fabs (ref[i]) + mag[i]) : 0;
    if (!(fabs (g[i] - ref[i]) <= tol))
      g_error ("%s: element %zu (c %zu, y %zu, x %zu) is %.9g, reference "
               "%.9g (tolerance %.3g)",
          what, i, i / ((size_t) got->h * got->w), i / got->w % got->h,
          i % got->w, g[i], ref[i], tol);
  }
  assert_padding_zero (got);
  g_free (g);
}

/* An op over a slice of its output, for run_sliced. */
typedef void (
    *SliceFn) (const void *ctx, NnTensor *out, int b0, int b1, int y0, int y1);

/* Runs fn over the whole of out, then again into a copy as slices (blocks
 * cut after the first, rows in three uneven parts, last slice first) and
 * requires the same bits. */
static void
run_sliced (SliceFn fn, const void *ctx, NnTensor *out)
{
  NnTensor again;
  int bcut = out->blocks > 1 ? 1 : out->blocks;
  int ycut[4]
      = { 0, out->h > 1 ? 1 : 0, out->h > 2 ? out->h / 2 + 1 : out->h, out->h };
  size_t n = nn_tensor_floats (out->c, out->h, out->w, out->pack);

  fill_nan (out);
  fn (ctx, out, 0, out->blocks, 0, out->h);
  alloc_tensor (&again, out->c, out->h, out->w, out->pack);
  fill_nan (&again);
  for (int r = 2; r >= 0; r--) {
    if (ycut[r] == ycut[r + 1])
      continue;
    if (bcut < out->blocks)
      fn (ctx, &again, bcut, out->blocks, ycut[r], ycut[r + 1]);
    fn (ctx, &again, 0, bcut, ycut[r], ycut[r + 1]);
  }
  if (memcmp (out->data, again.data, n * sizeof (float)) != 0)
    g_error ("slicing changed the result");

  /* A slice writes nothing outside itself (threads run slices at once). */
  fill_nan (&again);
  fn (ctx, &again, bcut, out->blocks, ycut[1], ycut[2]);
  for (int b = 0; b < out->blocks; b++)
    for (int y = 0; y < out->h; y++) {
      int inside = b >= bcut && y >= ycut[1] && y < ycut[2];
      for (int x = 0; x < out->w * out->pack; x++)
        if (!inside && !isnan (nn_tensor_at (&again, b, y, 0)[x]))
          g_error ("slice blocks [%d, %d) rows [%d, %d) wrote block %d row %d",
              bcut, out->blocks, ycut[1], ycut[2], b, y);
    }
  nn_tensor_clear (&again);
}

/* Convolutions ----------------------------------------------------------- */

/* Pre-activation sums (double) and sums of |terms|, straight from the
 * definition with Darknet's zero padding. */
static void
ref_conv (const NnConv *cv, const float *in, int h, int w, const float *wt,
    const float *bias, int oh, int ow, double *out, double *mag)
{
  int cin_g = cv->cin / cv->groups, cout_g = cv->cout / cv->groups;
  for (int co = 0; co < cv->cout; co++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        int g = co / cout_g;
        double sum = bias[co], m = fabs (bias[co]);
        for (int ci = 0; ci < cin_g; ci++)
          for (int ky = 0; ky < cv->k; ky++)
            for (int kx = 0; kx < cv->k; kx++) {
              int iy = oy * cv->stride - cv->pad + ky;
              int ix = ox * cv->stride - cv->pad + kx;
              double t;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                continue;
              t = (double) wt[((co * cin_g + ci) * cv->k + ky) * cv->k + kx]
                  * in[((size_t) (g * cin_g + ci) * h + iy) * w + ix];
              sum += t;
              m += fabs (t);
            }
        out[((size_t) co * oh + oy) * ow + ox] = sum;
        mag[((size_t) co * oh + oy) * ow + ox] = m;
      }
}

typedef struct {
  NnConvFn fn;
  const NnConv *conv;
  const float *packed;
  const NnTensor *in;
} ConvCtx;

static void
conv_slice (const void *ctx, NnTensor *out, int b0, int b1, int y0, int y1)
{
  const ConvCtx *c = ctx;
  c->fn (c->conv, c->packed, c->in, out, b0, b1, y0, y1);
}

/* One convolution through fn (in packed with in_pack) against ref_conv. */
static void
check_conv (const NnKernels *k, NnConvFn fn, const NnConv *cv, int h, int w,
    int in_pack)
{
  int oh = nn_conv_out_side (h, cv->k, cv->stride, cv->pad);
  int ow = nn_conv_out_side (w, cv->k, cv->stride, cv->pad);
  size_t nw = (size_t) cv->cout * (cv->cin / cv->groups) * cv->k * cv->k;
  size_t nout;
  float *wt, *bias, *packed, *x;
  double *ref, *mag;
  NnTensor in, out;
  char *what;
  ConvCtx ctx;

  if (oh <= 0 || ow <= 0)
    return; /* the kernel does not fit the plane */
  nout = (size_t) cv->cout * oh * ow;
  wt = random_floats (nw);
  bias = random_floats (cv->cout);
  packed = nn_alloc_floats (k->conv_packed_floats (cv));
  ref = g_new (double, nout);
  mag = g_new (double, nout);
  x = random_input (&in, cv->cin, h, w, in_pack);
  alloc_tensor (&out, cv->cout, oh, ow, k->pack);
  k->conv_pack (cv, wt, bias, packed);
  ctx = (ConvCtx){ fn, cv, packed, &in };
  run_sliced (conv_slice, &ctx, &out);

  ref_conv (cv, x, h, w, wt, bias, oh, ow, ref, mag);
  for (size_t i = 0; i < nout; i++)
    ref[i] = nn_activate_one ((float) ref[i], cv->act);
  what = g_strdup_printf ("%s conv cin %d cout %d k %d s %d pad %d groups %d "
                          "act %d in %dx%d pack %d",
      k->name, cv->cin, cv->cout, cv->k, cv->stride, cv->pad, cv->groups,
      cv->act, h, w, in_pack);
  assert_close (&out, ref, mag, what);

  g_free (what);
  nn_tensor_clear (&in);
  nn_tensor_clear (&out);
  g_free (x), g_free (wt), g_free (bias), g_free (ref), g_free (mag);
  nn_free (packed);
}

static void
channel_counts (int p, int *c)
{
  c[0] = 1;
  c[1] = 3;
  c[2] = p - 1;
  c[3] = p + 1;
  c[4] = 2 * p + 3;
}

/* 3 x 40: full register tiles (12 pixels) at stride 2. */
static const int sizes[][2]
    = { { 1, 1 }, { 2, 2 }, { 1, 13 }, { 7, 5 }, { 13, 18 }, { 3, 40 } };

static void
test_conv1x1 (gconstpointer data)
{
  const NnKernels *k = data;
  int c[5], n = 0;
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (int o = 0; o < 5; o++)
      for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++) {
        NnConv cv = { c[i], c[o], 1, 1, 0, 1, fused_acts[n++ % 4] };
        g_assert_true (nn_conv_fn (k, &cv) == k->conv1x1);
        check_conv (k, k->conv1x1, &cv, sizes[s][0], sizes[s][1], k->pack);
      }
  /* Four output blocks: pairs of blocks, the odd one out in a slice. */
  {
    NnConv cv = { 2 * k->pack + 3, 4 * k->pack, 1, 1, 0, 1, NN_ACT_LEAKY };
    check_conv (k, k->conv1x1, &cv, 9, 11, k->pack);
  }
}

static void
test_conv_direct (gconstpointer data)
{
  const NnKernels *k = data;
  const int cins[] = { 1, 3, k->pack + 1, 2 * k->pack + 3 };
  const int couts[] = { 1, k->pack - 1, 2 * k->pack + 3, 3 * k->pack };
  int n = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (cins); i++)
    for (size_t o = 0; o < G_N_ELEMENTS (couts); o++)
      for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
        for (int stride = 1; stride <= 2; stride++) {
          int ksz = (n % 5 == 4) ? 5 : (n % 5 == 3 ? 1 : 3);
          int pad = (n % 7 == 6) ? 0 : ksz / 2;
          NnConv cv
              = { cins[i], couts[o], ksz, stride, pad, 1, fused_acts[n % 4] };
          n++;
          check_conv (k, k->conv_direct, &cv, sizes[s][0], sizes[s][1],
              k->pack);
        }
}

/* The first layer: planar RGB (pack 1) straight into packed output. */
static void
test_conv_first (gconstpointer data)
{
  const NnKernels *k = data;
  const int couts[] = { 1, k->pack - 1, k->pack, 2 * k->pack + 3, 16 };
  int n = 0;
  for (size_t o = 0; o < G_N_ELEMENTS (couts); o++)
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (int stride = 1; stride <= 2; stride++) {
        NnConv cv = { 3, couts[o], 3, stride, 1, 1, fused_acts[n++ % 4] };
        g_assert_true (nn_conv_fn (k, &cv) == k->conv_direct);
        check_conv (k, k->conv_direct, &cv, sizes[s][0], sizes[s][1], 1);
      }
  {
    NnConv cv = { 3, 8, 3, 2, 1, 1, NN_ACT_LEAKY };
    check_conv (k, k->conv_direct, &cv, 41, 37, 1);
  }
}

static void
test_depthwise (gconstpointer data)
{
  const NnKernels *k = data;
  const int dw_sizes[][2]
      = { { 1, 1 }, { 2, 2 }, { 3, 7 }, { 1, 20 }, { 13, 13 }, { 20, 17 } };
  int c[5], n = 0;
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (size_t s = 0; s < G_N_ELEMENTS (dw_sizes); s++)
      for (int ksz = 3; ksz <= 5; ksz += 2)
        for (int stride = 1; stride <= 2; stride++) {
          int pad = (n % 5 == 4) ? 0 : ksz / 2;
          /* n % 4 is fixed by (ksz, stride): n / 4 moves the activation
           * on, so every (k, s) kernel meets every activation. */
          NnConv cv = { c[i], c[i], ksz, stride, pad, c[i],
            fused_acts[(n + n / 4) % 4] };
          n++;
          /* one channel is an ordinary convolution (conv_direct) */
          g_assert_true (nn_conv_fn (k, &cv)
              == (c[i] == 1 ? k->conv_direct : k->depthwise));
          check_conv (k, nn_conv_fn (k, &cv), &cv, dw_sizes[s][0],
              dw_sizes[s][1], k->pack);
        }
}

/* Pools and elementwise ops ---------------------------------------------- */

typedef struct {
  const NnKernels *k;
  const NnTensor *x, *y;
  int size, stride, pad;
  float a, b;
  NnAct act;
} OpCtx;

static void
maxpool_slice (const void *ctx, NnTensor *out, int b0, int b1, int y0, int y1)
{
  const OpCtx *c = ctx;
  c->k->maxpool (c->x, out, c->size, c->stride, c->pad, b0, b1, y0, y1);
}

static void
test_maxpool (gconstpointer data)
{
  const NnKernels *k = data;
  const int psizes[] = { 2, 3, 5, 9, 13 };
  int c[5];
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (size_t p = 0; p < G_N_ELEMENTS (psizes); p++)
        for (int stride = 1; stride <= 2; stride++)
          for (int padv = 0; padv < 2; padv++) {
            int h = sizes[s][0], w = sizes[s][1], size = psizes[p];
            int pad = padv ? size - 1 : 0; /* Darknet's default, and none */
            int oh = nn_maxpool_out_side (h, size, stride, pad);
            int ow = nn_maxpool_out_side (w, size, stride, pad);
            NnTensor in, out;
            float *x;
            double *ref;
            OpCtx ctx;
            char *what;
            if (oh <= 0 || ow <= 0)
              continue;
            x = random_input (&in, c[i], h, w, k->pack);
            alloc_tensor (&out, c[i], oh, ow, k->pack);
            ctx = (OpCtx){ k, &in, NULL, size, stride, pad, 0, 0, 0 };
            run_sliced (maxpool_slice, &ctx, &out);
            ref = g_new (double, (size_t) c[i] * oh * ow);
            for (int ch = 0; ch < c[i]; ch++)
              for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                  double m = -INFINITY;
                  for (int ky = 0; ky < size; ky++)
                    for (int kx = 0; kx < size; kx++) {
                      int iy = oy * stride - pad / 2 + ky;
                      int ix = ox * stride - pad / 2 + kx;
                      if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                        m = fmax (m, x[((size_t) ch * h + iy) * w + ix]);
                    }
                  ref[((size_t) ch * oh + oy) * ow + ox] = m;
                }
            what = g_strdup_printf ("%s maxpool c %d %dx%d size %d stride %d "
                                    "pad %d",
                k->name, c[i], h, w, size, stride, pad);
            assert_close (&out, ref, NULL, what);
            g_free (what), g_free (ref), g_free (x);
            nn_tensor_clear (&in);
            nn_tensor_clear (&out);
          }
}

static void
upsample_slice (const void *ctx, NnTensor *out, int b0, int b1, int y0, int y1)
{
  const OpCtx *c = ctx;
  c->k->upsample (c->x, out, c->stride, c->a, b0, b1, y0, y1);
}

static void
test_upsample (gconstpointer data)
{
  const NnKernels *k = data;
  int c[5];
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (int sc = 0; sc < 2; sc++) {
        int h = sizes[s][0], w = sizes[s][1], oh = 2 * h, ow = 2 * w;
        float scale = sc ? 0.5f : 1.f;
        NnTensor in, out;
        float *x = random_input (&in, c[i], h, w, k->pack);
        double *ref = g_new (double, (size_t) c[i] * oh * ow);
        OpCtx ctx = { k, &in, NULL, 0, 2, 0, scale, 0, 0 };
        alloc_tensor (&out, c[i], oh, ow, k->pack);
        run_sliced (upsample_slice, &ctx, &out);
        for (int ch = 0; ch < c[i]; ch++)
          for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
              ref[((size_t) ch * oh + oy) * ow + ox]
                  = scale * x[((size_t) ch * h + oy / 2) * w + ox / 2];
        assert_close (&out, ref, NULL, "upsample");
        g_free (ref), g_free (x);
        nn_tensor_clear (&in);
        nn_tensor_clear (&out);
      }
}

static void
shortcut_slice (const void *ctx, NnTensor *out, int b0, int b1, int y0, int y1)
{
  const OpCtx *c = ctx;
  c->k->shortcut (c->x, c->y, c->a, c->b, c->act, out, b0, b1, y0, y1);
}

static void
test_shortcut (gconstpointer data)
{
  const NnKernels *k = data;
  const float ab[][2] = { { 1, 1 }, { 0.5f, -2 } };
  int c[5], n = 0;
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (size_t j = 0; j < G_N_ELEMENTS (ab); j++) {
        int h = sizes[s][0], w = sizes[s][1];
        size_t nel = (size_t) c[i] * h * w;
        NnTensor tx, ty, out;
        float *x = random_input (&tx, c[i], h, w, k->pack);
        float *y = random_input (&ty, c[i], h, w, k->pack);
        double *ref = g_new (double, nel), *mag = g_new (double, nel);
        NnAct act = fused_acts[n++ % 4];
        OpCtx ctx = { k, &tx, &ty, 0, 0, 0, ab[j][0], ab[j][1], act };
        alloc_tensor (&out, c[i], h, w, k->pack);
        run_sliced (shortcut_slice, &ctx, &out);
        for (size_t e = 0; e < nel; e++) {
          double t = (double) ab[j][0] * x[e] + (double) ab[j][1] * y[e];
          mag[e] = fabs (ab[j][0] * x[e]) + fabs (ab[j][1] * y[e]);
          ref[e] = nn_activate_one ((float) t, act);
        }
        assert_close (&out, ref, mag, "shortcut");
        /* In place, as the executor runs it: out = x. */
        k->shortcut (&tx, &ty, ab[j][0], ab[j][1], act, &tx, 0, tx.blocks, 0,
            h);
        g_assert_cmpmem (tx.data,
            nn_tensor_floats (c[i], h, w, k->pack) * sizeof (float), out.data,
            nn_tensor_floats (c[i], h, w, k->pack) * sizeof (float));
        g_free (ref), g_free (mag), g_free (x), g_free (y);
        nn_tensor_clear (&tx);
        nn_tensor_clear (&ty);
        nn_tensor_clear (&out);
      }
}

/* Layout helpers (plain C, the same for every pack) ---------------------- */

static void
test_layout (gconstpointer data)
{
  const NnKernels *k = data;
  int c[5];
  channel_counts (k->pack, c);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) {
      int h = 3, w = 5, ct = c[i] + c[j];
      size_t hw = (size_t) h * w;
      NnTensor a, b, cat;
      float *xa = random_input (&a, c[i], h, w, k->pack);
      float *xb = random_input (&b, c[j], h, w, k->pack);
      float *back = g_new (float, (size_t) ct *hw);
      double *ref = g_new (double, (size_t) ct *hw);
      nn_unpack_nchw (&a, back);
      g_assert_cmpmem (back, hw * c[i] * sizeof (float), xa,
          hw * c[i] * sizeof (float));
      assert_padding_zero (&a);
      /* Route: [a, b] then [a, b, a] (a second part off the block grid). */
      alloc_tensor (&cat, ct, h, w, k->pack);
      fill_nan (&cat);
      nn_concat_channels (&cat, 0, &a);
      nn_concat_channels (&cat, c[i], &b);
      for (size_t e = 0; e < hw * c[i]; e++)
        ref[e] = xa[e];
      for (size_t e = 0; e < hw * c[j]; e++)
        ref[hw * c[i] + e] = xb[e];
      assert_close (&cat, ref, NULL, "concat");
      nn_tensor_clear (&cat);
      g_free (back), g_free (ref), g_free (xa), g_free (xb);
      nn_tensor_clear (&a);
      nn_tensor_clear (&b);
    }
}

/* The unfused activations: nn_activate applies nn_activate_one to real
 * lanes only. */
static void
test_activate (void)
{
  for (int act = NN_ACT_LINEAR; act <= NN_ACT_GELU; act++) {
    NnTensor t;
    float *x = random_input (&t, 11, 3, 4, 8);
    double *ref = g_new (double, 11 * 12);
    for (int e = 0; e < 11 * 12; e++)
      ref[e] = nn_activate_one (x[e] * 1.f, act);
    nn_activate (&t, act, 0, t.blocks, 0, t.h);
    assert_close (&t, ref, NULL, "activate");
    g_free (ref), g_free (x);
    nn_tensor_clear (&t);
  }
  /* Spot values of Darknet's formulas. */
  g_assert_cmpfloat (nn_activate_one (-2, NN_ACT_LEAKY), ==, -0.2f);
  g_assert_cmpfloat (nn_activate_one (7, NN_ACT_RELU6), ==, 6);
  g_assert_cmpfloat_with_epsilon (nn_activate_one (0, NN_ACT_LOGISTIC), 0.5,
      1e-7);
}

/* Dispatch ---------------------------------------------------------------- */

static void
test_dispatch (void)
{
  const NnKernels *all[8], *avail[8];
  int n_all = nn_kernels_compiled (all, 8);
  int n_avail = nn_kernels_available (avail, 8);
  char err[256] = "";

  g_assert_cmpint (n_avail, >=, 1);
  g_assert_cmpstr (all[n_all - 1]->name, ==, "generic");
  g_unsetenv ("YOLOSWITCH_ISA");
  g_assert_true (nn_kernels_select (err, sizeof err) == avail[0]);

  g_setenv ("YOLOSWITCH_ISA", "generic", TRUE);
  g_assert_cmpstr (nn_kernels_select (err, sizeof err)->name, ==, "generic");
  g_setenv ("YOLOSWITCH_ISA", "mmx", TRUE);
  g_assert_null (nn_kernels_select (err, sizeof err));
  g_assert_nonnull (strstr (err, "Unknown ISA 'mmx'"));
  g_assert_nonnull (strstr (err, "generic"));
  for (int i = 0; i < n_all; i++) {
    g_setenv ("YOLOSWITCH_ISA", all[i]->name, TRUE);
    err[0] = '\0';
    if (nn_kernels_runnable (all[i])) {
      g_assert_true (nn_kernels_select (err, sizeof err) == all[i]);
    } else {
      g_assert_null (nn_kernels_select (err, sizeof err));
      g_assert_nonnull (strstr (err, "cannot run"));
    }
  }
  g_unsetenv ("YOLOSWITCH_ISA");
}

static void
test_skipped (gconstpointer data)
{
  const NnKernels *k = data;
  char *msg = g_strdup_printf ("this CPU cannot run the %s kernels", k->name);
  g_test_skip (msg);
  g_free (msg);
}

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    GTestDataFunc fn;
  } ops[] = {
    { "layout", test_layout },
    { "conv1x1", test_conv1x1 },
    { "conv-direct", test_conv_direct },
    { "conv-first", test_conv_first },
    { "depthwise", test_depthwise },
    { "maxpool", test_maxpool },
    { "upsample", test_upsample },
    { "shortcut", test_shortcut },
  };
  const NnKernels *all[8];
  int n_all;

  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (14);
  g_test_add_func ("/nn/dispatch", test_dispatch);
  g_test_add_func ("/nn/activate", test_activate);
  n_all = nn_kernels_compiled (all, 8);
  for (int i = 0; i < n_all; i++)
    for (size_t o = 0; o < G_N_ELEMENTS (ops); o++) {
      char *path = g_strdup_printf ("/nn/%s/%s", all[i]->name, ops[o].name);
      if (nn_kernels_runnable (all[i]))
        g_test_add_data_func (path, all[i], ops[o].fn);
      else
        g_test_add_data_func (path, all[i], test_skipped);
      g_free (path);
    }
#ifdef NN_TEST_AVX2X2
  for (size_t o = 0; o < G_N_ELEMENTS (ops); o++) {
    char *path = g_strdup_printf ("/nn/avx2x2/%s", ops[o].name);
    __builtin_cpu_init ();
    if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
      g_test_add_data_func (path, &nn_kernels_avx2x2, ops[o].fn);
    else
      g_test_add_data_func (path, &nn_kernels_avx2x2, test_skipped);
    g_free (path);
  }
#endif
  return g_test_run ();
}
