/* 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3).
 *
 * Each 2x2 block of output ("tile") comes from a 4x4 block of input.  In
 * the transformed domain (V = Bt d B for the input, U = G g Gt for each
 * filter, packed once at load) the convolution becomes 16 independent
 * matrix products, M[xi] = U[xi] (n x c) . V[xi] (c x tiles), and the
 * output is At M A.  That is 16 multiplies per 4 outputs instead of 36:
 * 2.25x fewer, which on yolov3-tiny's big 3x3 layers is most of the frame.
 * The transform constants are 0, +-1 and +-1/2, so the results stay within
 * a few float ulps of the direct sum (the tests compare with Darknet).
 *
 * Tiles go in chunks sized to keep V and M in the last-level cache.  Per
 * chunk: the input transform shares out channels, the 16 products are one
 * task each, the output transform shares out output channels; nothing any
 * task computes depends on the thread count, so results are bit-identical
 * for every `threads` setting. */
#include "winograd.h"

#include "kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define XI 16 /* transformed tile size, 4 x 4 */

/* Floats of V plus M per chunk: ~4 MiB, the L3 share of a small core. */
#define CHUNK_FLOATS (1 << 20)

bool
winograd_suits (const layer *l)
{
  /* Below 16 channels either way the transforms cost more than the
   * multiplies they save (measured on yolov3-tiny's 16->32 layer). */
  return l->groups == 1 && l->size == 3 && l->stride == 1 && l->pad == 1
      && l->c >= 16 && l->n >= 16;
}

float *
winograd_pack_filters (const float *weights, int n, int c)
{
  float *u = malloc (sizeof (float) * XI * (size_t) n * c);
  float *row = malloc (sizeof (float) * XI * (size_t) c);

  if (u == NULL || row == NULL) {
    free (u);
    free (row);
    return NULL;
  }
  for (int o = 0; o < n; o++) {
    /* One output channel into row[16][c], then 16 contiguous copies: far
     * fewer cache and TLB misses than 16 scattered stores per filter. */
    for (int i = 0; i < c; i++) {
      const float *g = weights + ((size_t) o * c + i) * 9;
      float gg[4][3];
      /* G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 */
      for (int x = 0; x < 3; x++) {
        gg[0][x] = g[x];
        gg[1][x] = 0.5f * (g[x] + g[3 + x] + g[6 + x]);
        gg[2][x] = 0.5f * (g[x] - g[3 + x] + g[6 + x]);
        gg[3][x] = g[6 + x];
      }
      /* (G g) Gt, the same on columns */
      for (int y = 0; y < 4; y++) {
        row[(4 * y + 0) * c + i] = gg[y][0];
        row[(4 * y + 1) * c + i] = 0.5f * (gg[y][0] + gg[y][1] + gg[y][2]);
        row[(4 * y + 2) * c + i] = 0.5f * (gg[y][0] - gg[y][1] + gg[y][2]);
        row[(4 * y + 3) * c + i] = gg[y][2];
      }
    }
    for (int xi = 0; xi < XI; xi++)
      memcpy (u + ((size_t) xi * n + o) * c, row + (size_t) xi * c,
          sizeof (float) * c);
  }
  free (row);
  return u;
}

static int
tiles_wide (const layer *l)
{
  return (l->out_w + 1) / 2;
}

static int
tiles_total (const layer *l)
{
  return tiles_wide (l) * ((l->out_h + 1) / 2);
}

static int
chunk_tiles (const layer *l)
{
  int per = CHUNK_FLOATS / (XI * (l->c + l->n));
  int total = tiles_total (l);

  if (per < 16)
    per = 16;
  return per < total ? per : total;
}

size_t
winograd_scratch_floats (const layer *l)
{
  return (size_t) XI * (l->c + l->n) * chunk_tiles (l);
}

typedef struct {
  const layer *l;
  const float *u, *in;
  float *v, *m; /* [XI][c][count], [XI][n][count] */
  int first, count; /* tiles of this chunk */
} Chunk;

/* V = Bt d B, Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
static void
input_task (void *ctx, int task, int count)
{
  Chunk *k = ctx;
  const layer *l = k->l;
  int tw = tiles_wide (l), c0, c1;
  size_t plane = (size_t) k->count * l->c;

  yolo_pool_split (l->c, task, count, 1, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    const float *in = k->in + (size_t) c * l->h * l->w;
    float *v = k->v + (size_t) c * k->count;
    for (int t = 0; t < k->count; t++) {
      int ty = (k->first + t) / tw, tx = (k->first + t) % tw;
      int y0 = 2 * ty - 1, x0 = 2 * tx - 1;
      float d[4][4], r[4][4];
      bool inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= l->h && x0 + 4 <= l->w;
      for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
          int iy = y0 + y, ix = x0 + x;
          d[y][x] = inside || (iy >= 0 && iy < l->h && ix >= 0 && ix < l->w)
              ? in[(size_t) iy * l->w + ix]
              : 0.f;
        }
      for (int x = 0; x < 4; x++) {
        r[0][x] = d[0][x] - d[2][x];
        r[1][x] = d[1][x] + d[2][x];
        r[2][x] = d[2][x] - d[1][x];
        r[3][x] = d[1][x] - d[3][x];
      }
      for (int y = 0; y < 4; y++) {
        float *row = v + (size_t) (4 * y) * plane + t;
        row[0] = r[y][0] - r[y][2];
        row[plane] = r[y][1] + r[y][2];
        row[2 * plane] = r[y][2] - r[y][1];
        row[3 * plane] = r[y][1] - r[y][3];
      }
    }
  }
}

static void
product_task (void *ctx, int xi, int count)
{
  Chunk *k = ctx;
  int n = k->l->n, c = k->l->c;

  (void) count;
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k->count, c, 1.0f,
      k->u + (size_t) xi * n * c, c, k->v + (size_t) xi * c * k->count,
      k->count, 0.0f, k->m + (size_t) xi * n * k->count, k->count);
}

/* Y = At M A, At = [1 1 1 0; 0 1 -1 -1], clipped at odd output edges. */
static void
output_task (void *ctx, int task, int count)
{
  Chunk *k = ctx;
  const layer *l = k->l;
  int tw = tiles_wide (l), o0, o1;
  size_t plane = (size_t) k->count * l->n;

  yolo_pool_split (l->n, task, count, 1, &o0, &o1);
  for (int o = o0; o < o1; o++) {
    const float *m = k->m + (size_t) o * k->count;
    float *out = l->output + (size_t) o * l->out_h * l->out_w;
    for (int t = 0; t < k->count; t++) {
      int ty = (k->first + t) / tw, tx = (k->first + t) % tw;
      float s[4][4], r[2][4];
      for (int xi = 0; xi < XI; xi++)
        s[xi / 4][xi % 4] = m[xi * plane + t];
      for (int x = 0; x < 4; x++) {
        r[0][x] = s[0][x] + s[1][x] + s[2][x];
        r[1][x] = s[1][x] - s[2][x] - s[3][x];
      }
      for (int y = 0; y < 2 && 2 * ty + y < l->out_h; y++) {
        float *dst = out + (size_t) (2 * ty + y) * l->out_w + 2 * tx;
        dst[0] = r[y][0] + r[y][1] + r[y][2];
        if (2 * tx + 1 < l->out_w)
          dst[1] = r[y][1] - r[y][2] - r[y][3];
      }
    }
  }
}

typedef struct {
  const layer *l;
  const float *bias;
} Finish;

static void
activate_task (void *ctx, int task, int count)
{
  Finish *f = ctx;
  int o0, o1, plane = f->l->out_h * f->l->out_w;

  yolo_pool_split (f->l->n, task, count, 1, &o0, &o1);
  for (int o = o0; o < o1; o++)
    kernel_bias_activate (f->l->output + (size_t) o * plane, plane, f->bias[o],
        f->l->activation);
}

void
winograd_conv (YoloPool *pool, const layer *l, const float *u,
    const float *bias, const float *input, float *scratch)
{
  int total = tiles_total (l), per = chunk_tiles (l);
  int threads = yolo_pool_threads (pool);
  Finish finish = { l, bias };

  for (int first = 0; first < total; first += per) {
    Chunk k = {
      .l = l,
      .u = u,
      .in = input,
      .first = first,
      .count = first + per < total ? per : total - first,
    };
    k.v = scratch;
    k.m = scratch + (size_t) XI * l->c * k.count;
    yolo_pool_run (pool, input_task, &k, threads);
    yolo_pool_run (pool, product_task, &k, XI);
    yolo_pool_run (pool, output_task, &k, threads);
  }
  yolo_pool_run (pool, activate_task, &finish, threads);
}
