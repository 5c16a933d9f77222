/* Max-pool, upsample and shortcut on packed tensors, and the ops table,
 * compiled once per ISA (kernels_isa.h).  Whole pixels (P channels) per
 * vector operation; padding lanes stay zero because every op maps zeros
 * to zero (max of zeros, a * 0 + b * 0) or stores them as zero. */
#include "kernels_isa.h"

#include <float.h>

/* Darknet's semantics: the window of output (oy, ox) starts at
 * (oy * stride - pad / 2, ox * stride - pad / 2); cells outside the input
 * are ignored (Darknet reads them as -FLT_MAX).  Max is exact, so the
 * order of the window's cells cannot change the result. */
void
NN_SYM (nn_maxpool) (const NnTensor *in, NnTensor *out, int size, int stride,
    int pad, int b0, int b1, int y0, int y1)
{
  int off = -(pad / 2);

  for (int b = b0; b < b1; b++) {
    for (int oy = y0; oy < y1; oy++) {
      int iy0 = oy * stride + off;
      int ky0 = iy0 < 0 ? -iy0 : 0;
      int ky1 = in->h - iy0 < size ? in->h - iy0 : size;
      for (int ox = 0; ox < out->w; ox++) {
        int ix0 = ox * stride + off;
        int kx0 = ix0 < 0 ? -ix0 : 0;
        int kx1 = in->w - ix0 < size ? in->w - ix0 : size;
        vf m = nn_splat (-FLT_MAX);
        for (int ky = ky0; ky < ky1; ky++) {
          /* From the first cell inside: a pointer before the tensor's
           * data (ix0 < 0 in block 0, row 0) is undefined behaviour. */
          const float *row = nn_tensor_at (in, b, iy0 + ky, ix0 + kx0);
          for (int kx = kx0; kx < kx1; kx++)
            m = nn_max (m, nn_ld (row + (size_t) (kx - kx0) * P));
        }
        nn_st (nn_tensor_at (out, b, oy, ox), m);
      }
    }
  }
}

void
NN_SYM (nn_upsample) (const NnTensor *in, NnTensor *out, int stride,
    float scale, int b0, int b1, int y0, int y1)
{
  for (int b = b0; b < b1; b++) {
    for (int oy = y0; oy < y1; oy++) {
      const float *src = nn_tensor_at (in, b, oy / stride, 0);
      float *dst = nn_tensor_at (out, b, oy, 0);
      for (int ox = 0; ox < out->w; ox++)
        nn_st (dst + (size_t) ox * P,
            nn_ld (src + (size_t) (ox / stride) * P) * scale);
    }
  }
}

void
NN_SYM (nn_shortcut) (const NnTensor *x, const NnTensor *y, float a, float b,
    NnAct act, NnTensor *out, int b0, int b1, int y0, int y1)
{
  for (int blk = b0; blk < b1; blk++) {
    int valid = nn_valid_lanes (out->c, blk);
    const float *px = nn_tensor_at (x, blk, y0, 0);
    const float *py = nn_tensor_at (y, blk, y0, 0);
    float *po = nn_tensor_at (out, blk, y0, 0);
    size_t n = (size_t) (y1 - y0) * out->w;
    for (size_t i = 0; i < n; i++)
      nn_store_act (po + i * P, nn_ld (px + i * P) * a + nn_ld (py + i * P) * b,
          act, valid);
  }
}

#define NN_STR2(x) #x
#define NN_STR(x) NN_STR2 (x)

const NnKernels NN_SYM (nn_kernels) = {
  .name = NN_STR (NN_ISA),
  .pack = P,
  .conv_packed_floats = NN_SYM (nn_conv_packed_floats),
  .conv_pack = NN_SYM (nn_conv_pack),
  .conv1x1 = NN_SYM (nn_conv1x1),
  .conv_direct = NN_SYM (nn_conv_direct),
  .depthwise = NN_SYM (nn_depthwise),
  .maxpool = NN_SYM (nn_maxpool),
  .upsample = NN_SYM (nn_upsample),
  .shortcut = NN_SYM (nn_shortcut),
};
