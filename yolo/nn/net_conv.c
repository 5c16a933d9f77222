/* Convolutions and connected layers in plain C on NCHW.
 *
 *   1x1 stride 1, no padding   GEMM on the input as it lies
 *   anything else              im2col (Darknet's layout: row = channel x
 *                              tap, column = output pixel) + GEMM, per group
 *   depthwise                  direct, one channel at a time
 *
 * The GEMM is C[m x n] = bias + A[m x k] B[k x n] in tiles of ROWS x
 * COL_BLOCK accumulators; the innermost loop runs along a row of B and C,
 * which the compiler vectorizes.  Every output sums its k products
 * in order 0..k-1 whatever the blocking, and threads only choose which
 * column blocks they run: results do not depend on the thread count. */
#include "net_internal.h"

#include <stddef.h>
#include <string.h>

#define COL_BLOCK 32 /* columns of B and C per tile */
#define ROWS 4 /* rows of A and C per tile */

typedef struct {
  const float *a, *b, *bias;
  float *c;
  int m, k, n;
  CfgActivation act;
  /* im2col */
  const float *im;
  int h, w, size, stride, pad, oh, ow;
} Job;

/* Rows [i0, i0 + ROWS) by columns [j0, j0 + w) of C: the accumulators
 * stay in a local tile (no aliasing with A or B, so the compiler keeps
 * them close and vectorizes across the columns), every B row read once
 * for ROWS outputs. */
static void
gemm_tile (const Job *g, int i0, int rows, int j0, int w)
{
  float acc[ROWS][COL_BLOCK];

  for (int r = 0; r < ROWS; r++)
    for (int j = 0; j < COL_BLOCK; j++)
      acc[r][j] = r < rows ? g->bias[i0 + r] : 0;
  for (int kk = 0; kk < g->k; kk++) {
    const float *restrict b = g->b + (size_t) kk * g->n + j0;
    float a[ROWS];
    for (int r = 0; r < ROWS; r++)
      a[r] = r < rows ? g->a[(size_t) (i0 + r) * g->k + kk] : 0;
    if (w == COL_BLOCK) {
      for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < COL_BLOCK; j++)
          acc[r][j] += a[r] * b[j];
    } else {
      for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < w; j++)
          acc[r][j] += a[r] * b[j];
    }
  }
  for (int r = 0; r < rows; r++) {
    float *c = g->c + (size_t) (i0 + r) * g->n + j0;
    memcpy (c, acc[r], sizeof (float) * w);
    nn_net_activate (c, (size_t) w, g->act);
  }
}

/* Columns [j0, j1) of C, bias first, activation last. */
static void
gemm_cols (const Job *g, int j0, int j1)
{
  for (int jb = j0; jb < j1; jb += COL_BLOCK) {
    int w = j1 - jb < COL_BLOCK ? j1 - jb : COL_BLOCK;
    for (int i = 0; i < g->m; i += ROWS)
      gemm_tile (g, i, g->m - i < ROWS ? g->m - i : ROWS, jb, w);
  }
}

/* Pool threads: one block of columns each. */
static void
gemm_task (void *ctx, int task, int count)
{
  const Job *g = ctx;
  int lo, hi;

  yolo_pool_split (g->n, task, count, COL_BLOCK, &lo, &hi);
  if (lo < hi)
    gemm_cols (g, lo, hi);
}

static int
tasks_for (NnNet *net, int n, int per_task)
{
  int t = yolo_pool_threads (net->pool), most = n / per_task;

  if (most < 1)
    most = 1;
  return t < most ? t : most;
}

static void
gemm (NnNet *net, Job *g)
{
  yolo_pool_run (net->pool, gemm_task, g, tasks_for (net, g->n, COL_BLOCK));
}

/* im2col rows [r0, r1): for each output row, the span of input columns a
 * tap reads is copied (stride 1) or gathered, the rest is padding. */
static void
im2col_rows (const Job *g, float *restrict col, int r0, int r1)
{
  int s = g->stride, p = g->pad, ow = g->ow;

  for (int r = r0; r < r1; r++) {
    int c = r / (g->size * g->size), ky = r / g->size % g->size;
    int kx = r % g->size;
    const float *plane = g->im + (size_t) c * g->h * g->w;
    float *row = col + (size_t) r * g->oh * ow;
    /* Output columns ox whose input column ox * s - p + kx is inside. */
    int lo = p - kx > 0 ? (p - kx + s - 1) / s : 0;
    int hi = g->w - 1 + p - kx >= 0 ? (g->w - 1 + p - kx) / s + 1 : 0;
    if (hi > ow)
      hi = ow;
    if (lo > hi)
      lo = hi;
    for (int oy = 0; oy < g->oh; oy++) {
      int iy = oy * s - p + ky;
      float *out = row + (size_t) oy * ow;
      ptrdiff_t base = (ptrdiff_t) iy * g->w - p + kx;
      if (iy < 0 || iy >= g->h) {
        memset (out, 0, sizeof (float) * ow);
        continue;
      }
      for (int ox = 0; ox < lo; ox++)
        out[ox] = 0;
      for (int ox = lo; ox < hi; ox++)
        out[ox] = plane[base + (ptrdiff_t) ox * s];
      for (int ox = hi; ox < ow; ox++)
        out[ox] = 0;
    }
  }
}

/* Pool threads: one block of im2col rows each. */
static void
im2col_task (void *ctx, int task, int count)
{
  const Job *g = ctx;
  int lo, hi;

  yolo_pool_split (g->k, task, count, 1, &lo, &hi);
  im2col_rows (g, (float *) g->b, lo, hi);
}

static void
run_conv (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const CfgLayer *p = &l->p;
  int groups = p->groups, cg = p->in_c / groups, m = p->filters / groups;
  int n = p->out_h * p->out_w, k = cg * p->size * p->size;
  bool direct = l->impl == &nn_impl_conv_1x1;

  for (int gi = 0; gi < groups; gi++) {
    Job g = {
      .a = l->weights + (size_t) gi * m * k,
      .bias = l->bias + (size_t) gi * m,
      .c = out + (size_t) gi * m * n,
      .m = m,
      .k = k,
      .n = n,
      .act = p->activation,
      .im = in + (size_t) gi * cg * p->in_h * p->in_w,
      .h = p->in_h,
      .w = p->in_w,
      .size = p->size,
      .stride = p->stride,
      .pad = p->padding,
      .oh = p->out_h,
      .ow = p->out_w,
    };
    if (direct) {
      g.b = g.im;
    } else {
      g.b = net->workspace;
      yolo_pool_run (net->pool, im2col_task, &g, tasks_for (net, k, 1));
    }
    gemm (net, &g);
  }
}

/* Channels [c0, c1) of a depthwise convolution. */
static void
depthwise_channels (const NnLayer *l, const float *in, float *out, int c0,
    int c1)
{
  const CfgLayer *p = &l->p;
  int size = p->size, s = p->stride, pad = p->padding;

  for (int c = c0; c < c1; c++) {
    const float *plane = in + (size_t) c * p->in_h * p->in_w;
    const float *wt = l->weights + (size_t) c * size * size;
    float *o = out + (size_t) c * p->out_h * p->out_w;
    for (int oy = 0; oy < p->out_h; oy++) {
      float *orow = o + (size_t) oy * p->out_w;
      for (int ox = 0; ox < p->out_w; ox++)
        orow[ox] = l->bias[c];
      for (int ky = 0; ky < size; ky++) {
        int iy = oy * s - pad + ky;
        if (iy < 0 || iy >= p->in_h)
          continue;
        for (int kx = 0; kx < size; kx++) {
          ptrdiff_t base = (ptrdiff_t) iy * p->in_w - pad + kx;
          float wv = wt[ky * size + kx];
          /* ox with 0 <= ox * s - pad + kx < in_w */
          int lo = pad - kx > 0 ? (pad - kx + s - 1) / s : 0;
          int hi = p->in_w - 1 + pad - kx >= 0
              ? (p->in_w - 1 + pad - kx) / s + 1
              : 0;
          if (hi > p->out_w)
            hi = p->out_w;
          for (int ox = lo; ox < hi; ox++)
            orow[ox] += wv * plane[base + (ptrdiff_t) ox * s];
        }
      }
    }
    nn_net_activate (o, (size_t) p->out_h * p->out_w, p->activation);
  }
}

typedef struct {
  const NnLayer *l;
  const float *in;
  float *out;
} DwJob;

/* Pool threads: one block of channels each. */
static void
depthwise_task (void *ctx, int task, int count)
{
  const DwJob *j = ctx;
  int lo, hi;

  yolo_pool_split (j->l->p.in_c, task, count, 1, &lo, &hi);
  depthwise_channels (j->l, j->in, j->out, lo, hi);
}

static void
run_depthwise (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  DwJob j = { l, in, out };

  yolo_pool_run (net->pool, depthwise_task, &j, tasks_for (net, l->p.in_c, 4));
}

/* Darknet: out = W[outputs x inputs] in + bias, then the activation. */
static void
run_connected (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  size_t k = nn_layer_inputs (l);

  for (int o = 0; o < l->p.out_c; o++) {
    const float *w = l->weights + (size_t) o * k;
    float sum = 0;
    for (size_t i = 0; i < k; i++)
      sum += w[i] * in[i];
    out[o] = sum + l->bias[o];
  }
  nn_net_activate (out, (size_t) l->p.out_c, l->p.activation);
}

const NnImpl nn_impl_conv_gemm = { "conv_gemm", run_conv };
const NnImpl nn_impl_conv_1x1 = { "conv_1x1", run_conv };
const NnImpl nn_impl_conv_depthwise = { "conv_depthwise", run_depthwise };
const NnImpl nn_impl_connected = { "connected", run_connected };
