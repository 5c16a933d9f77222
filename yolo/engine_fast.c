/* The fast engine: Darknet's layer graph, our kernels for the heavy layers.
 *
 * Convolutions: batch-norm folded into weights and bias once at load; the
 * GEMMs add onto the bias, the activation is applied while the output
 * block is still in cache.
 *   1x1 stride 1      one OpenBLAS SGEMM on the input as it lies (no im2col)
 *   3x3 stride 1      Winograd F(2x2, 3x3), 16 SGEMMs (winograd.c)
 *   k x k, groups 1   im2col (threaded over tap rows) + SGEMM
 *   depthwise         direct kernel, threaded over channels
 *   other groups      per group im2col + SGEMM
 * Max-pool: direct, threaded over channels.  Every other layer (route,
 * shortcut, upsample, yolo, region...) runs Darknet's own forward: they are
 * copies and cost little (see the profile).
 *
 * Threads: the model's pool.  OpenBLAS is kept single-threaded and called
 * from our threads, so the `threads` setting is per model.  Results do not
 * depend on it: work is cut into blocks whose shapes come from the layer
 * alone, and threads only choose which blocks they run (see gemm_col_block). */
#include "engine.h"

#include "kernels.h"
#include "status.h"
#include "threadpool.h"
#include "winograd.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Exported by libdarknet but not declared in darknet.h. */
void activate_array (float *x, const int n, const ACTIVATION a);
void im2col_cpu (float *data_im, int channels, int height, int width, int ksize,
    int stride, int pad, float *data_col);
void openblas_set_num_threads (int num_threads);

typedef enum {
  FAST_DARKNET = 0, /* use the layer's own forward */
  FAST_CONV_1X1,
  FAST_CONV_GEMM,
  FAST_CONV_WINOGRAD,
  FAST_CONV_DEPTHWISE,
  FAST_CONV_GROUPED,
  FAST_MAXPOOL,
  FAST_SHORTCUT,
  FAST_YOLO,
} FastKind;

typedef struct {
  FastKind kind;
  float *weights; /* folded: [n][c/groups * size * size] */
  float *bias; /* folded: [n] */
  float *winograd_filters; /* FAST_CONV_WINOGRAD: [16][n][c] */
} FastLayer;

struct FastEngine {
  YoloPool *pool;
  FastLayer *layers;
  int layer_count;
  float *workspace; /* im2col columns or Winograd tiles, the largest need */
  float *pad_scratch; /* one zero-bordered plane per thread (depthwise) */
  size_t pad_floats;
};

/* ---- helpers ------------------------------------------------------------ */

static int
tasks_for (const FastEngine *e, int n, int min_per_task)
{
  int t = yolo_pool_threads (e->pool);
  int most = n / min_per_task;
  if (most < 1)
    most = 1;
  return t < most ? t : most;
}

/* ---- convolution --------------------------------------------------------- */

typedef struct {
  const layer *l;
  const FastLayer *f;
  const float *in; /* the group's input planes */
  float *cols; /* B matrix: input (1x1) or im2col columns */
  float *out; /* the group's output planes */
  int m, k, n; /* C[m x n] = W[m x k] B[k x n] */
  int group;
  bool split_rows; /* tasks split C by rows (channels), not columns */
  int col_block; /* else: columns per task */
} ConvJob;

/* Darknet's im2col layout (row = channel x tap, column = output pixel),
 * rows [r0, r1) built one by one (tasks split by rows, so a 3-channel first
 * layer still has 27 to share out): the valid span of each row is a copy (stride 1) or a
 * strided gather, the rest zeros; no per-pixel bounds checks. */
static void
im2col_rows (const float *restrict im, int h, int w, int size, int s, int p,
    int oh, int ow, float *restrict col, int r0, int r1)
{
  for (int r = r0; r < r1; r++) {
    int c = r / (size * size), ky = r / size % size, kx = r % size;
    const float *plane = im + (size_t) c * h * w;
    float *row = col + (size_t) r * oh * ow;
    /* ox with 0 <= ox*s - p + kx <= w-1 */
    int lo = p - kx > 0 ? (p - kx + s - 1) / s : 0;
    int hi = w - 1 + p - kx >= 0 ? (w - 1 + p - kx) / s + 1 : 0;
    if (hi > ow)
      hi = ow;
    if (lo > hi)
      lo = hi;
    for (int oy = 0; oy < oh; oy++) {
      int iy = oy * s - p + ky;
      float *out = row + (size_t) oy * ow;
      const float *in;
      if (iy < 0 || iy >= h) {
        memset (out, 0, sizeof (float) * ow);
        continue;
      }
      in = plane + (size_t) iy * w - p + kx;
      for (int ox = 0; ox < lo; ox++)
        out[ox] = 0;
      if (s == 1)
        memcpy (out + lo, in + lo, sizeof (float) * (hi - lo));
      else
        for (int ox = lo; ox < hi; ox++)
          out[ox] = in[ox * s];
      for (int ox = hi; ox < ow; ox++)
        out[ox] = 0;
    }
  }
}

static void
im2col_task (void *ctx, int task, int count)
{
  ConvJob *j = ctx;
  const layer *l = j->l;
  int r0, r1;

  yolo_pool_split (j->k, task, count, 1, &r0, &r1);
  if (r1 > r0)
    im2col_rows (j->in, l->h, l->w, l->size, l->stride, l->pad, l->out_h,
        l->out_w, j->cols, r0, r1);
}

#define GEMM_ROW_BLOCK 32
#define GEMM_COL_BLOCKS 4 /* at most, a power of two */
#define GEMM_COL_MIN 64

/* The width of the column blocks C[m x n] is cut into, from n alone.
 * OpenBLAS's sum for one element depends on the shape of the call and on
 * where in the call the element lies (0.3.21 on Zen: the columns of a
 * call's first internal block are summed in another order than the rest),
 * so blocks cut by thread count gave results that changed with it.  Fixed
 * blocks make every call the same whatever the number of threads running
 * them.  A power of two, so that 2 or 4 threads share them out evenly; not
 * under GEMM_COL_MIN columns, as each call has a fixed cost. */
static int
gemm_col_block (int n)
{
  int blocks = GEMM_COL_BLOCKS, per;

  while (blocks > 1 && (n + blocks - 1) / blocks < GEMM_COL_MIN)
    blocks /= 2;
  per = (n + blocks - 1) / blocks;
  return (per + 15) / 16 * 16;
}

/* Rows [r0, r1), columns [lo, hi) of C: each row's bias, for the GEMM to
 * add onto.  With beta 1 OpenBLAS skips its own pass zeroing C, and linear
 * layers need no pass after the GEMM at all. */
static void
fill_bias (float *c, int ldc, const float *bias, int r0, int r1, int lo, int hi)
{
  for (int r = r0; r < r1; r++) {
    float *row = c + (size_t) r * ldc + lo;
    for (int i = 0; i < hi - lo; i++)
      row[i] = bias[r];
  }
}

/* One block of C = bias + W B, then the activation on it. */
static void
gemm_task (void *ctx, int task, int count)
{
  ConvJob *j = ctx;
  const float *w = j->f->weights + (size_t) j->group * j->m * j->k;
  const float *b = j->f->bias + (size_t) j->group * j->m;
  int lo, hi;

  (void) count;
  if (j->split_rows) {
    /* Small maps, many filters: a block of output channels each, every
     * column, so OpenBLAS keeps its long contiguous rows.  Blocks have a
     * fixed size whatever the thread count: OpenBLAS picks its kernel by
     * shape, so equal shapes keep results bit-identical across threads. */
    lo = task * GEMM_ROW_BLOCK;
    hi = lo + GEMM_ROW_BLOCK < j->m ? lo + GEMM_ROW_BLOCK : j->m;
    fill_bias (j->out, j->n, b, lo, hi, 0, j->n);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, j->n, j->k,
        1.0f, w + (size_t) lo * j->k, j->k, j->cols, j->n, 1.0f,
        j->out + (size_t) lo * j->n, j->n);
    if (j->l->activation != LINEAR)
      for (int r = lo; r < hi; r++)
        kernel_bias_activate (j->out + (size_t) r * j->n, j->n, 0.f,
            j->l->activation);
    return;
  }
  lo = task * j->col_block;
  hi = lo + j->col_block < j->n ? lo + j->col_block : j->n;
  fill_bias (j->out, j->n, b, 0, j->m, lo, hi);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, j->m, hi - lo, j->k,
      1.0f, w, j->k, j->cols + lo, j->n, 1.0f, j->out + lo, j->n);
  if (j->l->activation != LINEAR)
    for (int r = 0; r < j->m; r++)
      kernel_bias_activate (j->out + (size_t) r * j->n + lo, hi - lo, 0.f,
          j->l->activation);
}

static void
conv_gemm (FastEngine *e, const layer *l, const FastLayer *f,
    const float *input)
{
  int groups = l->groups;
  ConvJob j = {
    .l = l,
    .f = f,
    .m = l->n / groups,
    .k = l->c / groups * l->size * l->size,
    .n = l->out_h * l->out_w,
  };

  for (int g = 0; g < groups; g++) {
    j.group = g;
    j.in = input + (size_t) g * (l->c / groups) * l->h * l->w;
    j.out = l->output + (size_t) g * j.m * j.n;
    if (f->kind == FAST_CONV_1X1) {
      j.cols = (float *) j.in;
    } else {
      j.cols = e->workspace;
      yolo_pool_run (e->pool, im2col_task, &j, tasks_for (e, j.k, 4));
    }
    /* Measured: below ~2000 pixels, sharing out output channels beats
     * sharing out pixels by 15-20 % on Yolo-Fastest and MobileNet-Nano.
     * Not for long K (yolov3-tiny's 3x3 layers): every block re-packs the
     * whole K x N input, which then costs more than it saves. */
    j.split_rows = j.n < 2000 && j.m >= 64 && j.k <= 512;
    j.col_block = gemm_col_block (j.n);
    yolo_pool_run (e->pool, gemm_task, &j,
        j.split_rows ? (j.m + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK
                     : (j.n + j.col_block - 1) / j.col_block);
  }
}

/* Copies plane in (h x w) into pad (h+2p x w+2p) with a zero border, so
 * the filter loops below need no bounds checks at all. */
static void
pad_plane (const float *restrict in, int h, int w, int p, float *restrict pad)
{
  int pw = w + 2 * p;

  memset (pad, 0, sizeof (float) * pw * p);
  for (int y = 0; y < h; y++) {
    float *row = pad + (size_t) (y + p) * pw;
    memset (row, 0, sizeof (float) * p);
    memcpy (row + p, in + (size_t) y * w, sizeof (float) * w);
    memset (row + p + w, 0, sizeof (float) * p);
  }
  memset (pad + (size_t) (h + p) * pw, 0, sizeof (float) * pw * p);
}

typedef struct {
  FastEngine *e;
  const layer *l;
  const FastLayer *f;
  const float *in;
} PlaneJob;

static void
depthwise_task (void *ctx, int task, int count)
{
  PlaneJob *j = ctx;
  const layer *l = j->l;
  int c0, c1;
  size_t in_plane = (size_t) l->h * l->w;
  size_t out_plane = (size_t) l->out_h * l->out_w;
  size_t taps = (size_t) l->size * l->size;
  /* Each task has its own padded scratch plane (tasks <= threads). */
  float *pad = j->e->pad_scratch + (size_t) task * j->e->pad_floats;
  int pw = l->w + 2 * l->pad;

  yolo_pool_split (l->c, task, count, 1, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    pad_plane (j->in + c * in_plane, l->h, l->w, l->pad, pad);
    kernel_depthwise_plane (pad, pw, j->f->weights + c * taps, l->size,
        l->stride, l->output + c * out_plane, l->out_h, l->out_w, j->f->bias[c],
        l->activation);
  }
}

/* ---- max-pool ------------------------------------------------------------ */

/* Darknet's semantics: window origin at -pad/2, cells outside ignored. */
static void
maxpool_task (void *ctx, int task, int count)
{
  PlaneJob *j = ctx;
  const layer *l = j->l;
  int off = -l->pad / 2, c0, c1;

  yolo_pool_split (l->c, task, count, 1, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    const float *in = j->in + (size_t) c * l->h * l->w;
    float *out = l->output + (size_t) c * l->out_h * l->out_w;
    for (int oy = 0; oy < l->out_h; oy++) {
      int iy0 = off + oy * l->stride;
      /* Output cells whose window lies inside the input: no checks. */
      int x_lo = off < 0 ? (-off + l->stride - 1) / l->stride : 0;
      int x_hi = (l->w - l->size - off) / l->stride + 1;
      if (x_hi > l->out_w)
        x_hi = l->out_w;
      if (iy0 >= 0 && iy0 + l->size <= l->h && x_lo < x_hi) {
        kernel_maxpool_row (in + (size_t) iy0 * l->w, l->w, l->size, l->stride,
            off, out + (size_t) oy * l->out_w, x_lo, x_hi);
      } else {
        x_lo = x_hi = 0;
      }
      for (int ox = 0; ox < l->out_w; ox++) {
        float best = -FLT_MAX;
        if (ox == x_lo && x_hi > x_lo) {
          ox = x_hi - 1;
          continue;
        }
        for (int ky = 0; ky < l->size; ky++) {
          int iy = off + oy * l->stride + ky;
          if (iy < 0 || iy >= l->h)
            continue;
          for (int kx = 0; kx < l->size; kx++) {
            int ix = off + ox * l->stride + kx;
            if (ix >= 0 && ix < l->w && in[iy * l->w + ix] > best)
              best = in[iy * l->w + ix];
          }
        }
        out[oy * l->out_w + ox] = best;
      }
    }
  }
}

/* ---- shortcut ----------------------------------------------------------- */

typedef struct {
  const layer *l;
  const float *in;
  const float *add;
} ShortcutJob;

/* Darknet's shortcut for equal shapes: out = alpha*in + beta*from. */
static void
shortcut_task (void *ctx, int task, int count)
{
  ShortcutJob *j = ctx;
  const layer *l = j->l;
  int lo, hi;
  float a = l->alpha, b = l->beta;

  yolo_pool_split (l->outputs, task, count, 1024, &lo, &hi);
  if (hi > lo)
    kernel_shortcut (j->in + lo, j->add + lo, a, b, l->output + lo, hi - lo,
        l->activation);
}

/* ---- yolo ------------------------------------------------------------------ */

/* Darknet's forward_yolo_layer at inference: a copy, then the logistic on
 * each anchor's x, y and on its objectness and class scores (w, h stay
 * raw; Darknet's box decoding reads them later). */
static void
yolo_forward (const layer *l, const float *in)
{
  int plane = l->w * l->h;
  int per_anchor = (4 + l->classes + 1) * plane;

  memcpy (l->output, in, sizeof (float) * l->outputs);
  for (int n = 0; n < l->n; n++) {
    float *a = l->output + (size_t) n * per_anchor;
    kernel_bias_activate (a, 2 * plane, 0.f, LOGISTIC);
    kernel_bias_activate (a + 4 * plane, (1 + l->classes) * plane, 0.f,
        LOGISTIC);
  }
}

/* ---- set-up --------------------------------------------------------------- */

static FastKind
conv_kind (const layer *l)
{
  if (l->groups == l->c && l->n == l->c && l->groups > 1)
    return FAST_CONV_DEPTHWISE;
  if (l->groups > 1)
    return FAST_CONV_GROUPED;
  if (l->size == 1 && l->stride == 1 && l->pad == 0)
    return FAST_CONV_1X1;
  /* YOLOSWITCH_NO_WINOGRAD=1: im2col + GEMM instead, to measure the gain. */
  if (winograd_suits (l) && getenv ("YOLOSWITCH_NO_WINOGRAD") == NULL)
    return FAST_CONV_WINOGRAD;
  return FAST_CONV_GEMM;
}

/* Folds y = scale * (Wx - mean) / (sqrt(var) + 1e-6) + bias, Darknet's
 * inference batch-norm (note: sqrt(var) + eps, not sqrt(var + eps)). */
static bool
fold_conv (const layer *l, FastLayer *f)
{
  size_t per = (size_t) l->c / l->groups * l->size * l->size;

  f->weights = malloc (sizeof (float) * per * l->n);
  f->bias = malloc (sizeof (float) * l->n);
  if (f->weights == NULL || f->bias == NULL)
    return false;
  for (int o = 0; o < l->n; o++) {
    float a = 1.f, b = l->biases[o];
    if (l->batch_normalize) {
      a = l->scales[o] / (sqrtf (l->rolling_variance[o]) + .000001f);
      b = l->biases[o] - l->rolling_mean[o] * a;
    }
    for (size_t i = 0; i < per; i++)
      f->weights[o * per + i] = l->weights[o * per + i] * a;
    f->bias[o] = b;
  }
  return true;
}

FastEngine *
fast_engine_new (network *net, int threads, YoloStatus *status)
{
  FastEngine *e = calloc (1, sizeof (*e));
  size_t ws = 0;

  /* Our threads call OpenBLAS; it must not start its own under them. */
  openblas_set_num_threads (1);
  if (e == NULL)
    goto oom;
  e->layer_count = net->n;
  e->layers = calloc (net->n, sizeof (FastLayer));
  e->pool = yolo_pool_new (threads);
  if (e->layers == NULL || e->pool == NULL)
    goto oom;
  for (int i = 0; i < net->n; i++) {
    const layer *l = &net->layers[i];
    FastLayer *f = &e->layers[i];
    if (l->type == CONVOLUTIONAL && l->batch == 1 && !l->binary && !l->xnor) {
      f->kind = conv_kind (l);
      if (!fold_conv (l, f))
        goto oom;
      if (f->kind == FAST_CONV_DEPTHWISE) {
        size_t need = (size_t) (l->h + 2 * l->pad) * (l->w + 2 * l->pad);
        if (need > e->pad_floats)
          e->pad_floats = need;
      }
      if (f->kind == FAST_CONV_WINOGRAD) {
        size_t need = winograd_scratch_floats (l);
        f->winograd_filters = winograd_pack_filters (f->weights, l->n, l->c);
        if (f->winograd_filters == NULL)
          goto oom;
        free (f->weights); /* only the transformed filters are used */
        f->weights = NULL;
        if (need > ws)
          ws = need;
      }
      if (f->kind == FAST_CONV_GEMM || f->kind == FAST_CONV_GROUPED) {
        size_t need = (size_t) l->c / l->groups * l->size * l->size * l->out_h
            * l->out_w;
        if (need > ws)
          ws = need;
      }
    } else if (l->type == MAXPOOL && l->batch == 1) {
      f->kind = FAST_MAXPOOL;
    } else if (l->type == YOLO && l->batch == 1) {
      f->kind = FAST_YOLO;
    } else if (l->type == SHORTCUT && l->batch == 1) {
      const layer *from = &net->layers[l->index];
      if (from->out_w == l->out_w && from->out_h == l->out_h
          && from->out_c == l->out_c && l->w == l->out_w && l->h == l->out_h
          && l->c == l->out_c)
        f->kind = FAST_SHORTCUT;
    }
  }
  if (ws > 0 && (e->workspace = malloc (ws * sizeof (float))) == NULL)
    goto oom;
  if (e->pad_floats > 0
      && (e->pad_scratch = malloc (
              sizeof (float) * e->pad_floats * yolo_pool_threads (e->pool)))
          == NULL)
    goto oom;
  return e;

oom:
  fast_engine_free (e);
  yolo_fail (status, YOLO_ERR_LOAD, "Out of memory preparing the fast engine");
  return NULL;
}

void
fast_engine_free (FastEngine *e)
{
  if (e == NULL)
    return;
  for (int i = 0; e->layers != NULL && i < e->layer_count; i++) {
    free (e->layers[i].weights);
    free (e->layers[i].bias);
    free (e->layers[i].winograd_filters);
  }
  free (e->layers);
  free (e->workspace);
  free (e->pad_scratch);
  yolo_pool_free (e->pool);
  free (e);
}

void
fast_engine_forward (FastEngine *e, network *net, int from, int to,
    YoloProfile *profile)
{
  net->train = 0;
  for (int i = from; i < to; i++) {
    layer *l = &net->layers[i];
    const FastLayer *f = &e->layers[i];
    double t0 = yolo_now_ms ();
    PlaneJob pj = { e, l, f, net->input };

    net->index = i;
    switch (f->kind) {
      case FAST_CONV_1X1:
      case FAST_CONV_GEMM:
      case FAST_CONV_GROUPED: conv_gemm (e, l, f, net->input); break;
      case FAST_CONV_WINOGRAD:
        winograd_conv (e->pool, l, f->winograd_filters, f->bias, net->input,
            e->workspace);
        break;
      case FAST_CONV_DEPTHWISE:
        yolo_pool_run (e->pool, depthwise_task, &pj, tasks_for (e, l->c, 4));
        break;
      case FAST_MAXPOOL:
        yolo_pool_run (e->pool, maxpool_task, &pj, tasks_for (e, l->c, 4));
        break;
      case FAST_SHORTCUT: {
        ShortcutJob sj = { l, net->input, net->layers[l->index].output };
        yolo_pool_run (e->pool, shortcut_task, &sj,
            tasks_for (e, l->outputs, 4096));
        break;
      }
      case FAST_YOLO: yolo_forward (l, net->input); break;
      case FAST_DARKNET: l->forward (*l, *net); break;
    }
    net->input = l->output;
    if (profile != NULL) {
      int kind = engine_profile_kind (l);
      profile->ms[kind] += yolo_now_ms () - t0;
      profile->layers[kind]++;
    }
  }
}
