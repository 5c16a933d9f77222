/* Depthwise convolution (groups == cin == cout) on packed tensors, compiled
 * once per ISA (kernels_isa.h).  A pixel's P channels are one vector, so
 * each tap is one FMA across P channels with the tap's weight vector: no
 * shuffles, no padded copies of planes.  Interior pixels go NN_DW_TILE at
 * a time with the k x k weight vectors held across the tile; pixels whose
 * window crosses the border go one by one and skip the outside taps (what
 * the interior path would add there is 0 * w).  Each output sums its taps
 * in (ky, kx) order from 0 and adds the bias last, on either path. */
#include "kernels_isa.h"

#define NN_DW_TILE 4
/* Held on the stack; nn_conv_fn refuses larger depthwise kernels. */
#define NN_DW_MAX_K 7

/* NN_DW_TILE outputs from (oy, ox) of block b, every tap inside. */
NN_INLINE void
dw_tile (const NnConv *conv, const vf *wt, vf bias, const NnTensor *in,
    float *dst, int b, int oy, int ox, int k)
{
  int s = conv->stride;
  vf acc[NN_DW_TILE] = { 0 };
  const float *x0 = nn_tensor_at (in, b, oy * s - conv->pad, ox * s - conv->pad);
  for (int ky = 0; ky < k; ky++) {
    const float *row = x0 + (size_t) ky * in->w * P;
    for (int kx = 0; kx < k; kx++) {
      vf w = wt[ky * k + kx];
#pragma GCC unroll 8
      for (int j = 0; j < NN_DW_TILE; j++)
        acc[j] += w * nn_ld (row + (size_t) (j * s + kx) * P);
    }
  }
  for (int j = 0; j < NN_DW_TILE; j++)
    nn_store_act (dst + (size_t) j * P, acc[j] + bias, conv->act,
        nn_valid_lanes (conv->cout, b));
}

/* One output whose window may cross the border. */
NN_INLINE void
dw_pixel (const NnConv *conv, const vf *wt, vf bias, const NnTensor *in,
    float *dst, int b, int oy, int ox, int k)
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
  nn_store_act (dst, acc + bias, conv->act, nn_valid_lanes (conv->cout, b));
}

/* k is a constant after inlining for the common sizes. */
NN_INLINE void
dw_rows (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int b0, int b1, int y0, int y1, int k)
{
  int s = conv->stride, pad = conv->pad;
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
      while (ox < out->w) {
        int last = ox + NN_DW_TILE - 1;
        if (row_inside && last < out->w && ox * s - pad >= 0
            && last * s - pad + k <= in->w) {
          dw_tile (conv, wt, bias, in, dst + (size_t) ox * P, b, oy, ox, k);
          ox += NN_DW_TILE;
        } else {
          dw_pixel (conv, wt, bias, in, dst + (size_t) ox * P, b, oy, ox, k);
          ox++;
        }
      }
    }
  }
}

void
NN_SYM (nn_depthwise) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1)
{
  if (conv->k == 3)
    dw_rows (conv, packed, in, out, b0, b1, y0, y1, 3);
  else if (conv->k == 5)
    dw_rows (conv, packed, in, out, b0, b1, y0, y1, 5);
  else
    dw_rows (conv, packed, in, out, b0, b1, y0, y1, conv->k);
}
