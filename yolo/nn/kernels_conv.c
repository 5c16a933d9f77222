/* Convolutions with groups == 1 on packed tensors, and the packing of every
 * convolution's weights (compiled once per ISA: kernels_isa.h).
 *
 * Packed weights: the bias first, [ceil (cout / P)][P]; then for groups == 1
 * [cout block][ky][kx][cin][P] (one vector of P output channels per input
 * channel and tap: the micro-kernel's one load per FMA column), for
 * depthwise [block][ky][kx][P].  Lanes beyond cout are zero, so padding
 * output lanes come out as act (0).
 *
 * The micro-kernel keeps NN_TILE output pixels x two output blocks of
 * accumulators in registers and walks the input channels, one broadcast of
 * an input value and two FMAs per (pixel, input channel): the loads of
 * weights are shared by NN_TILE pixels and the broadcasts by 2 P output
 * channels.  Each output's sum runs over taps (ky, kx) and then input
 * channels in order, from 0, with the bias added last, whatever tile or
 * slice it falls in, so results do not depend on the slicing. */
#include "kernels_isa.h"

static size_t
out_blocks (const NnConv *conv)
{
  return (size_t) (conv->cout + P - 1) / P;
}

size_t
NN_SYM (nn_conv_packed_floats) (const NnConv *conv)
{
  size_t nb = out_blocks (conv);
  size_t taps = (size_t) conv->k * conv->k;
  if (conv->groups == 1)
    return nb * P + nb * taps * (size_t) conv->cin * P;
  return nb * P + nb * taps * P;
}

void
NN_SYM (nn_conv_pack) (const NnConv *conv, const float *weights,
    const float *bias, float *packed)
{
  size_t nb = out_blocks (conv);
  int kk = conv->k * conv->k;
  int cin_g = conv->cin / conv->groups;
  float *w = packed + nb * P;

  memset (packed, 0, NN_SYM (nn_conv_packed_floats) (conv) * sizeof (float));
  for (int co = 0; co < conv->cout; co++)
    packed[co] = bias ? bias[co] : 0.f;
  for (int co = 0; co < conv->cout; co++) {
    size_t ob = co / P;
    int lane = co % P;
    for (int ci = 0; ci < cin_g; ci++) {
      for (int t = 0; t < kk; t++) {
        float v = weights[((size_t) co * cin_g + ci) * kk + t];
        size_t at;
        if (conv->groups == 1)
          at = ((ob * kk + t) * conv->cin + ci) * P + lane;
        else
          at = (ob * kk + t) * P + lane;
        w[at] = v;
      }
    }
  }
}

/* One tap for npix pixels x nb output blocks: acc[2 j + b] += w * x over
 * the cin input channels.  x points at the tap's input value for pixel 0,
 * channel 0; pixels are pstep floats apart, input blocks bstep; pin is
 * the input's pack (1 for planar NCHW).  w points at this tap's [cin][P]
 * weights of the first block, wbstep floats before the second's. */
NN_INLINE void
acc_tap (vf *acc, int npix, int nb, const float *x, int pstep, size_t bstep,
    int cin, int pin, const float *w, size_t wbstep)
{
  int in_blocks = (cin + pin - 1) / pin;
  for (int cb = 0; cb < in_blocks; cb++) {
    const float *xb = x + cb * bstep;
    int lanes = cin - cb * pin < pin ? cin - cb * pin : pin;
    for (int l = 0; l < lanes; l++) {
      vf w0 = nn_ld (w);
      vf w1 = nb > 1 ? nn_ld (w + wbstep) : w0;
#pragma GCC unroll 16
      for (int j = 0; j < npix; j++) {
        float s = xb[j * pstep + l];
        acc[2 * j] += w0 * s;
        if (nb > 1)
          acc[2 * j + 1] += w1 * s;
      }
      w += P;
    }
  }
}

/* acc + bias, activated, into npix consecutive output pixels from dst
 * (block ob; the next block is bstep floats on). */
NN_INLINE void
store_tile (const vf *acc, int npix, int nb, const float *bias, int ob,
    const NnConv *conv, float *dst, size_t bstep)
{
#pragma GCC unroll 16
  for (int j = 0; j < npix; j++) {
    for (int b = 0; b < nb; b++) {
      vf v = acc[2 * j + b] + nn_ld (bias + (size_t) (ob + b) * P);
      nn_store_act (dst + b * bstep + (size_t) j * P, v, conv->act,
          nn_valid_lanes (conv->cout, ob + b));
    }
  }
}

NN_INLINE void
tile_1x1 (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int ob, int nb, size_t p0, int npix)
{
  size_t hw = (size_t) in->h * in->w;
  const float *bias = packed;
  const float *w = packed + out_blocks (conv) * P + ob * (size_t) conv->cin * P;
  vf acc[2 * NN_TILE] = { 0 };

  acc_tap (acc, npix, nb, in->data + p0 * P, P, hw * P, conv->cin, P, w,
      (size_t) conv->cin * P);
  store_tile (acc, npix, nb, bias, ob, conv,
      out->data + (ob * hw + p0) * P, hw * P);
}

void
NN_SYM (nn_conv1x1) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1)
{
  size_t p_end = (size_t) y1 * in->w;

  for (int ob = b0; ob < b1; ob += 2) {
    int nb = b1 - ob >= 2 ? 2 : 1;
    size_t p = (size_t) y0 * in->w;
    for (; p + NN_TILE <= p_end; p += NN_TILE) {
      if (nb == 2)
        tile_1x1 (conv, packed, in, out, ob, 2, p, NN_TILE);
      else
        tile_1x1 (conv, packed, in, out, ob, 1, p, NN_TILE);
    }
    for (; p < p_end; p++) {
      if (nb == 2)
        tile_1x1 (conv, packed, in, out, ob, 2, p, 1);
      else
        tile_1x1 (conv, packed, in, out, ob, 1, p, 1);
    }
  }
}

/* npix pixels of output row oy from ox0, all of whose taps are inside the
 * input (border == false), or one pixel whose outside taps are skipped
 * (border == true: skipping adds nothing the interior path would not add
 * as 0 * w, so an output's value does not depend on which path made it). */
NN_INLINE void
tile_direct (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int ob, int nb, int oy, int ox0, int npix, int pin,
    int border)
{
  int k = conv->k, s = conv->stride;
  size_t ohw = (size_t) out->h * out->w;
  size_t taps_w = (size_t) conv->cin * P; /* one tap's weights */
  size_t block_w = (size_t) k * k * taps_w; /* one output block's */
  const float *w = packed + out_blocks (conv) * P + ob * block_w;
  size_t bstep = (size_t) in->h * in->w * pin;
  vf acc[2 * NN_TILE] = { 0 };

  for (int ky = 0; ky < k; ky++) {
    int iy = oy * s - conv->pad + ky;
    if (border && (iy < 0 || iy >= in->h))
      continue;
    for (int kx = 0; kx < k; kx++) {
      int ix = ox0 * s - conv->pad + kx;
      if (border && (ix < 0 || ix >= in->w))
        continue;
      acc_tap (acc, npix, nb, in->data + ((size_t) iy * in->w + ix) * pin,
          s * pin, bstep, conv->cin, pin, w + (ky * k + kx) * taps_w,
          block_w);
    }
  }
  store_tile (acc, npix, nb, packed, ob, conv,
      out->data + (ob * ohw + (size_t) oy * out->w + ox0) * P, ohw * P);
}

/* The row loop for one input pack (a constant after inlining). */
NN_INLINE void
direct_rows (const NnConv *conv, const float *packed, const NnTensor *in,
    NnTensor *out, int b0, int b1, int y0, int y1, int pin)
{
  int k = conv->k, s = conv->stride, pad = conv->pad;

  for (int ob = b0; ob < b1; ob += 2) {
    int nb = b1 - ob >= 2 ? 2 : 1;
    for (int oy = y0; oy < y1; oy++) {
      int iy0 = oy * s - pad;
      int row_inside = iy0 >= 0 && iy0 + k <= in->h;
      int ox = 0;
      while (ox < out->w) {
        int last = ox + NN_TILE - 1;
        if (row_inside && last < out->w && ox * s - pad >= 0
            && last * s - pad + k <= in->w) {
          if (nb == 2)
            tile_direct (conv, packed, in, out, ob, 2, oy, ox, NN_TILE, pin, 0);
          else
            tile_direct (conv, packed, in, out, ob, 1, oy, ox, NN_TILE, pin, 0);
          ox += NN_TILE;
        } else {
          if (nb == 2)
            tile_direct (conv, packed, in, out, ob, 2, oy, ox, 1, pin, 1);
          else
            tile_direct (conv, packed, in, out, ob, 1, oy, ox, 1, pin, 1);
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
  if (in->pack == 1)
    direct_rows (conv, packed, in, out, b0, b1, y0, y1, 1);
  else
    direct_rows (conv, packed, in, out, b0, b1, y0, y1, P);
}
