/* Depthwise convolution (groups == cin == cout) on packed tensors, compiled
 * once per ISA (kernels_isa.h).  A pixel's P channels are one vector, so
 * each tap is one FMA across P channels with the tap's weight vector: no
 * shuffles, no padded copies of planes.  Interior pixels go NN_DW_TILE at
 * a time with the k x k weight vectors held across the tile; pixels whose
 * window crosses the border go one by one and skip the outside taps (what
 * the interior path would add there is 0 * w).  Each output sums its taps
 * in (ky, kx) order from 0 and adds the bias last, on either path. */
#include "kernels_isa.h"

/* Outputs per interior tile: their accumulators and the row of inputs they
 * share fit the 16 vector registers of SSE/AVX2 at 4, the 32 of AVX-512
 * and AArch64 at 8. */
#if NN_TILE >= 12
#define NN_DW_TILE 8
#else
#define NN_DW_TILE 4
#endif
/* Held on the stack; nn_conv_fn refuses larger depthwise kernels. */
#define NN_DW_MAX_K 7

/* NN_DW_TILE outputs from (oy, ox) of block b, every tap inside.  Each
 * input row's pixels are loaded once into registers and used by every tap
 * and output that needs them (k + (T - 1) s loads for T k FMAs); k and s
 * are constants here, so the offsets are too. */
NN_INLINE void
dw_tile (const NnConv *conv, const vf *wt, vf bias, const NnTensor *in,
    float *dst, int b, int oy, int ox, int k, int s, NnAct act)
{
  enum { SPAN = (NN_DW_TILE - 1) * 2 + NN_DW_MAX_K };
  int span = (NN_DW_TILE - 1) * s + k;
  vf acc[NN_DW_TILE] = { 0 };
  const float *x0
      = nn_tensor_at (in, b, oy * s - conv->pad, ox * s - conv->pad);
  for (int ky = 0; ky < k; ky++) {
    const float *row = x0 + (size_t) ky * in->w * P;
    vf x[SPAN];
#pragma GCC unroll 32
    for (int i = 0; i < span; i++)
      x[i] = nn_ld (row + (size_t) i * P);
#pragma GCC unroll 8
    for (int kx = 0; kx < k; kx++) {
      vf w = wt[ky * k + kx];
#pragma GCC unroll 8
      for (int j = 0; j < NN_DW_TILE; j++)
        acc[j] += w * x[j * s + kx];
    }
  }
  for (int j = 0; j < NN_DW_TILE; j++)
    nn_store_act (dst + (size_t) j * P, acc[j] + bias, act,
        nn_valid_lanes (conv->cout, b));
}

/* The same for two output rows, oy and oy + 1, both inside vertically:
 * 2 NN_DW_TILE accumulators, enough independent sums to keep both FMA
 * pipes busy, and the input rows the two windows share (k - s of them)
 * loaded once.  Input row r feeds tap row r of output row 0 and tap row
 * r - s of output row 1, in increasing order for both, so each output sums
 * its taps in the same (ky, kx) order as dw_tile's. */
NN_INLINE void
dw_tile2 (const NnConv *conv, const vf *wt, vf bias, const NnTensor *in,
    float *dst0, float *dst1, int b, int oy, int ox, int k, int s, NnAct act)
{
  enum { SPAN = (NN_DW_TILE - 1) * 2 + NN_DW_MAX_K };
  int span = (NN_DW_TILE - 1) * s + k;
  vf acc0[NN_DW_TILE] = { 0 }, acc1[NN_DW_TILE] = { 0 };
  const float *x0
      = nn_tensor_at (in, b, oy * s - conv->pad, ox * s - conv->pad);
#pragma GCC unroll 9
  for (int r = 0; r < k + s; r++) {
    const float *row = x0 + (size_t) r * in->w * P;
    vf x[SPAN];
#pragma GCC unroll 32
    for (int i = 0; i < span; i++)
      x[i] = nn_ld (row + (size_t) i * P);
    if (r < k) {
#pragma GCC unroll 8
      for (int kx = 0; kx < k; kx++) {
        vf w = wt[r * k + kx];
#pragma GCC unroll 8
        for (int j = 0; j < NN_DW_TILE; j++)
          acc0[j] += w * x[j * s + kx];
      }
    }
    if (r >= s) {
#pragma GCC unroll 8
      for (int kx = 0; kx < k; kx++) {
        vf w = wt[(r - s) * k + kx];
#pragma GCC unroll 8
        for (int j = 0; j < NN_DW_TILE; j++)
          acc1[j] += w * x[j * s + kx];
      }
    }
  }
  for (int j = 0; j < NN_DW_TILE; j++) {
    nn_store_act (dst0 + (size_t) j * P, acc0[j] + bias, act,
        nn_valid_lanes (conv->cout, b));
    nn_store_act (dst1 + (size_t) j * P, acc1[j] + bias, act,
        nn_valid_lanes (conv->cout, b));
  }
}

/* One output whose window may cross the border. */
NN_INLINE void
dw_pixel (const NnConv *conv, const vf *wt, vf bias, const NnTensor *in,
    float *dst, int b, int oy, int ox, int k, NnAct act)
{
  int s = conv->stride;
  vf acc = { 0 };
  for (int ky = 0; ky < k; ky++) {
    int iy = oy * s - conv->pad + ky;
    if (iy < 0 || iy >= in->h)
      continue;
    for (int kx = 0; kx < k; kx++) {
      int ix = ox * s - conv->pad + kx;
      if (ix < 0 || ix >= in->w)
        continue;
      acc += wt[ky * k + kx] * nn_ld (nn_tensor_at (in, b, iy, ix));
    }
  }
  nn_store_act (dst, acc + bias, act, nn_valid_lanes (conv->cout, b));
}

/* k and s are constants after inlining for the common cases. */
NN_INLINE void
dw_rows (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int b0, int b1, int y0, int y1, int k, int s, NnAct act)
{
  int pad = conv->pad;
  size_t nb = (size_t) (conv->cout + P - 1) / P;
  vf wt[NN_DW_MAX_K * NN_DW_MAX_K];

  for (int b = b0; b < b1; b++) {
    const float *w = packed + nb * P + (size_t) b * k * k * P;
    vf bias = nn_ld (packed + (size_t) b * P);
    for (int t = 0; t < k * k; t++)
      wt[t] = nn_ld (w + (size_t) t * P);
    for (int oy = y0; oy < y1; oy++) {
      int iy0 = oy * s - pad;
      int row_inside = iy0 >= 0 && iy0 + k <= in->h;
      float *dst = nn_tensor_at (out, b, oy, 0);
      int ox = 0;
      if (row_inside && s <= 2 && oy + 1 < y1 && iy0 + s + k <= in->h) {
        /* Two rows at once: pairs of tiles in the middle, both rows'
         * border pixels one by one. */
        float *dst1 = nn_tensor_at (out, b, oy + 1, 0);
        while (ox < out->w) {
          int last = ox + NN_DW_TILE - 1;
          if (last < out->w && ox * s - pad >= 0
              && last * s - pad + k <= in->w) {
            dw_tile2 (conv, wt, bias, in, dst + (size_t) ox * P,
                dst1 + (size_t) ox * P, b, oy, ox, k, s, act);
            ox += NN_DW_TILE;
          } else {
            dw_pixel (conv, wt, bias, in, dst + (size_t) ox * P, b, oy, ox, k,
                act);
            dw_pixel (conv, wt, bias, in, dst1 + (size_t) ox * P, b, oy + 1, ox,
                k, act);
            ox++;
          }
        }
        oy++;
        continue;
      }
      while (ox < out->w) {
        int last = ox + NN_DW_TILE - 1;
        if (row_inside && s <= 2 && last < out->w && ox * s - pad >= 0
            && last * s - pad + k <= in->w) {
          dw_tile (conv, wt, bias, in, dst + (size_t) ox * P, b, oy, ox, k, s,
              act);
          ox += NN_DW_TILE;
        } else {
          dw_pixel (conv, wt, bias, in, dst + (size_t) ox * P, b, oy, ox, k,
              act);
          ox++;
        }
      }
    }
  }
}

/* k, s and the activation are constants after inlining for the common
 * cases. */
void
NN_SYM (nn_depthwise) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1)
{
  int k = conv->k, s = conv->stride;
  if (k == 3 && s == 1)
    NN_ACT_DISPATCH (
        dw_rows (conv, packed, in, out, b0, b1, y0, y1, 3, 1, (NnAct) ACT_));
  else if (k == 3 && s == 2)
    NN_ACT_DISPATCH (
        dw_rows (conv, packed, in, out, b0, b1, y0, y1, 3, 2, (NnAct) ACT_));
  else if (k == 5 && s == 1)
    NN_ACT_DISPATCH (
        dw_rows (conv, packed, in, out, b0, b1, y0, y1, 5, 1, (NnAct) ACT_));
  else if (k == 5 && s == 2)
    NN_ACT_DISPATCH (
        dw_rows (conv, packed, in, out, b0, b1, y0, y1, 5, 2, (NnAct) ACT_));
  else
    dw_rows (conv, packed, in, out, b0, b1, y0, y1, k, s, conv->act);
}
