/* Convolutions with groups == 1 on packed tensors, and the packing of every
 * convolution's weights (compiled once per ISA: kernels_isa.h).
 *
 * Packed weights for groups == 1: the bias, [column][NN_A], then
 * [column][ky][kx][cin][NN_A], a column being NN_ACC_BLOCKS output blocks
 * (one vector of NN_A output channels per input channel and tap: the
 * micro-kernel's one load per FMA column).  Depthwise: the bias
 * [block][P], then [block][ky][kx][P].  Lanes beyond cout are zero, so
 * padding output lanes come out as act (0).
 *
 * The micro-kernel keeps NN_TILE output pixels x two columns of
 * accumulators in registers and walks the input channels, one broadcast of
 * an input value and two FMAs per (pixel, input channel): the loads of
 * weights are shared by NN_TILE pixels and the broadcasts by 2 NN_A output
 * channels.  Each output's sum runs over taps (ky, kx) and then input
 * channels in order, from 0, with the bias added last, whatever tile or
 * slice it falls in, so results do not depend on the slicing (a column
 * cut by a slice is computed whole and only its blocks in the slice are
 * stored). */
#include "kernels_isa.h"

static size_t
out_cols (const NnConv *conv)
{
  return (size_t) (conv->cout + NN_A - 1) / NN_A;
}

static size_t
out_blocks (const NnConv *conv)
{
  return (size_t) (conv->cout + P - 1) / P;
}

size_t
NN_SYM (nn_conv_packed_floats) (const NnConv *conv)
{
  size_t taps = (size_t) conv->k * conv->k;
  if (conv->groups == 1) {
    size_t nc = out_cols (conv);
    return nc * NN_A + nc * taps * (size_t) conv->cin * NN_A;
  }
  return out_blocks (conv) * P * (1 + taps);
}

void
NN_SYM (nn_conv_pack) (const NnConv *conv, const float *weights,
    const float *bias, float *packed)
{
  int kk = conv->k * conv->k;
  int cin_g = conv->cin / conv->groups;
  int lanes = conv->groups == 1 ? NN_A : P;
  size_t nb = conv->groups == 1 ? out_cols (conv) : out_blocks (conv);
  float *w = packed + nb * lanes;

  memset (packed, 0, NN_SYM (nn_conv_packed_floats) (conv) * sizeof (float));
  for (int co = 0; co < conv->cout; co++)
    packed[co] = bias ? bias[co] : 0.f;
  for (int co = 0; co < conv->cout; co++) {
    size_t ob = co / lanes;
    int lane = co % lanes;
    for (int ci = 0; ci < cin_g; ci++) {
      for (int t = 0; t < kk; t++) {
        float v = weights[((size_t) co * cin_g + ci) * kk + t];
        size_t at;
        if (conv->groups == 1)
          at = ((ob * kk + t) * conv->cin + ci) * NN_A + lane;
        else
          at = (ob * kk + t) * P + lane;
        w[at] = v;
      }
    }
  }
}

NN_INLINE va
ld_col (const float *p)
{
  va v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* One tap for npix pixels x nc columns: acc[2 j + c] += w * x over the cin
 * input channels.  x points at the tap's input value for pixel 0, channel
 * 0; pixels are pstep floats apart, input blocks bstep; pin is the input's
 * pack (1 for planar NCHW).  w points at this tap's [cin][NN_A] weights of
 * the first column, wcstep floats before the second's. */
NN_INLINE void
acc_tap (va *acc, int npix, int nc, const float *x, int pstep, size_t bstep,
    int cin, int pin, const float *w, size_t wcstep)
{
  int in_blocks = (cin + pin - 1) / pin;
  for (int cb = 0; cb < in_blocks; cb++) {
    const float *xb = x + cb * bstep;
    int lanes = cin - cb * pin < pin ? cin - cb * pin : pin;
    for (int l = 0; l < lanes; l++) {
      va w0 = ld_col (w);
      va w1 = nc > 1 ? ld_col (w + wcstep) : w0;
#pragma GCC unroll 16
      for (int j = 0; j < npix; j++) {
        float s = xb[j * pstep + l];
        acc[2 * j] += w0 * s;
        if (nc > 1)
          acc[2 * j + 1] += w1 * s;
      }
      w += NN_A;
    }
  }
}

/* acc + bias, activated, into npix consecutive output pixels from dst
 * (pixel 0 of column col's first block; blocks are bstep floats apart);
 * only blocks in [b0, b1) are written. */
NN_INLINE void
store_tile (const va *acc, int npix, int nc, const float *bias, int col,
    const NnConv *conv, float *dst, size_t bstep, int b0, int b1, NnAct act)
{
#pragma GCC unroll 16
  for (int j = 0; j < npix; j++) {
    for (int c = 0; c < nc; c++) {
      int cc = col + c;
      va v = acc[2 * j + c] + ld_col (bias + (size_t) cc * NN_A);
      int valid = conv->cout - cc * NN_A;
      nn_store_col (dst + (size_t) c * NN_ACC_BLOCKS * bstep + (size_t) j * P,
          bstep, v, act, valid, cc * NN_ACC_BLOCKS, b0, b1);
    }
  }
}

NN_INLINE void
tile_1x1 (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int col, int nc, size_t p0, int npix, int b0, int b1,
    NnAct act)
{
  size_t hw = (size_t) in->h * in->w;
  size_t col_w = (size_t) conv->cin * NN_A;
  const float *w = packed + out_cols (conv) * NN_A + col * col_w;
  va acc[2 * NN_TILE] = { 0 };

  acc_tap (acc, npix, nc, in->data + p0 * P, P, hw * P, conv->cin, P, w, col_w);
  store_tile (acc, npix, nc, packed, col, conv,
      out->data + ((size_t) col * NN_ACC_BLOCKS * hw + p0) * P, hw * P, b0, b1,
      act);
}

/* stmt with N_ the constant n (1 <= n < NN_TILE), so each remainder tile
 * is its own fully unrolled register tile.  (clang-format does not keep
 * these lines stable.) */
/* clang-format off */
#define NN_PIX_CASE(n, stmt) \
  case n: { \
    enum { N_ = (n) < NN_TILE ? (n) : 1 }; \
    stmt; \
    break; \
  }
#define NN_PIX_SWITCH(n, stmt) \
  do { \
    switch (n) { \
      NN_PIX_CASE (1, stmt) NN_PIX_CASE (2, stmt) NN_PIX_CASE (3, stmt) \
      NN_PIX_CASE (4, stmt) NN_PIX_CASE (5, stmt) NN_PIX_CASE (6, stmt) \
      NN_PIX_CASE (7, stmt) NN_PIX_CASE (8, stmt) NN_PIX_CASE (9, stmt) \
      NN_PIX_CASE (10, stmt) NN_PIX_CASE (11, stmt) \
      default: break; \
    } \
  } while (0)
/* clang-format on */

/* Columns holding blocks [b0, b1), two at a time while two are left. */
#define FOR_COLUMNS(col, nc, b0, b1)                                           \
  for (int col = (b0) / NN_ACC_BLOCKS,                                         \
           col_end_ = ((b1) -1) / NN_ACC_BLOCKS + 1,                           \
           nc = col_end_ - col >= 2 ? 2 : 1;                                   \
       col < col_end_; col += nc, nc = col_end_ - col >= 2 ? 2 : 1)

NN_INLINE void
conv1x1_rows (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int b0, int b1, int y0, int y1, NnAct act)
{
  size_t p_end = (size_t) y1 * in->w;

  FOR_COLUMNS (col, nc, b0, b1)
  {
    size_t p = (size_t) y0 * in->w;
    for (; p + NN_TILE <= p_end; p += NN_TILE) {
      if (nc == 2)
        tile_1x1 (conv, packed, in, out, col, 2, p, NN_TILE, b0, b1, act);
      else
        tile_1x1 (conv, packed, in, out, col, 1, p, NN_TILE, b0, b1, act);
    }
    if (p < p_end) {
      int r = (int) (p_end - p);
      if (nc == 2)
        NN_PIX_SWITCH (r,
            tile_1x1 (conv, packed, in, out, col, 2, p, N_, b0, b1, act));
      else
        NN_PIX_SWITCH (r,
            tile_1x1 (conv, packed, in, out, col, 1, p, N_, b0, b1, act));
    }
  }
}

void
NN_SYM (nn_conv1x1) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1)
{
  if (b0 >= b1)
    return;
  NN_ACT_DISPATCH (
      conv1x1_rows (conv, packed, in, out, b0, b1, y0, y1, (NnAct) ACT_));
}

/* npix pixels of output row oy from ox0, all of whose taps are inside the
 * input (border == false), or one pixel whose outside taps are skipped
 * (border == true: skipping adds nothing the interior path would not add
 * as 0 * w, so an output's value does not depend on which path made it). */
NN_INLINE void
tile_direct (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int col, int nc, int oy, int ox0, int npix, int pin,
    int border, int b0, int b1, NnAct act)
{
  int k = conv->k, s = conv->stride;
  size_t ohw = (size_t) out->h * out->w;
  size_t tap_w = (size_t) conv->cin * NN_A; /* one tap's weights */
  size_t col_w = (size_t) k * k * tap_w; /* one column's */
  const float *w = packed + out_cols (conv) * NN_A + col * col_w;
  size_t bstep = (size_t) in->h * in->w * pin;
  va acc[2 * NN_TILE] = { 0 };

  for (int ky = 0; ky < k; ky++) {
    int iy = oy * s - conv->pad + ky;
    if (border && (iy < 0 || iy >= in->h))
      continue;
    for (int kx = 0; kx < k; kx++) {
      int ix = ox0 * s - conv->pad + kx;
      if (border && (ix < 0 || ix >= in->w))
        continue;
      acc_tap (acc, npix, nc, in->data + ((size_t) iy * in->w + ix) * pin,
          s * pin, bstep, conv->cin, pin, w + (ky * k + kx) * tap_w, col_w);
    }
  }
  store_tile (acc, npix, nc, packed, col, conv,
      out->data
          + ((size_t) col * NN_ACC_BLOCKS * ohw + (size_t) oy * out->w + ox0)
              * P,
      ohw * P, b0, b1, act);
}

/* The row loop for one input pack (a constant after inlining): on rows
 * whose windows are inside vertically, the outputs [lo, hi) whose windows
 * are inside horizontally go in register tiles (the last one shorter),
 * the few at the borders one by one. */
NN_INLINE void
direct_rows (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int b0, int b1, int y0, int y1, int pin, NnAct act)
{
  int k = conv->k, s = conv->stride, pad = conv->pad;
  int lo = (pad + s - 1) / s;
  int hi = in->w + pad - k >= 0 ? (in->w + pad - k) / s + 1 : 0;

  if (hi > out->w)
    hi = out->w;
  if (lo > hi)
    lo = hi;
  FOR_COLUMNS (col, nc, b0, b1)
  {
    for (int oy = y0; oy < y1; oy++) {
      int iy0 = oy * s - pad;
      int row_inside = iy0 >= 0 && iy0 + k <= in->h;
      int ox = 0;
      while (ox < out->w) {
        int r = row_inside && ox >= lo && ox < hi ? hi - ox : 0;
        if (r >= NN_TILE) {
          if (nc == 2)
            tile_direct (conv, packed, in, out, col, 2, oy, ox, NN_TILE, pin, 0,
                b0, b1, act);
          else
            tile_direct (conv, packed, in, out, col, 1, oy, ox, NN_TILE, pin, 0,
                b0, b1, act);
          ox += NN_TILE;
        } else if (r > 1) {
          if (nc == 2)
            NN_PIX_SWITCH (r,
                tile_direct (conv, packed, in, out, col, 2, oy, ox, N_, pin, 0,
                    b0, b1, act));
          else
            NN_PIX_SWITCH (r,
                tile_direct (conv, packed, in, out, col, 1, oy, ox, N_, pin, 0,
                    b0, b1, act));
          ox += r;
        } else {
          if (nc == 2)
            tile_direct (conv, packed, in, out, col, 2, oy, ox, 1, pin, 1, b0,
                b1, act);
          else
            tile_direct (conv, packed, in, out, col, 1, oy, ox, 1, pin, 1, b0,
                b1, act);
          ox++;
        }
      }
    }
  }
}

void
NN_SYM (nn_conv_direct) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1)
{
  if (b0 >= b1)
    return;
  if (in->pack == 1)
    NN_ACT_DISPATCH (
        direct_rows (conv, packed, in, out, b0, b1, y0, y1, 1, (NnAct) ACT_));
  else
    NN_ACT_DISPATCH (
        direct_rows (conv, packed, in, out, b0, b1, y0, y1, P, (NnAct) ACT_));
}
