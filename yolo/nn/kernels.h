/* The nn kernels: convolutions, pools and elementwise ops on packed tensors
 * (tensor.h), one ops table per instruction set, picked at run time by
 * what the CPU can do (cpu.h).  The same source (kernels_conv.c,
 * kernels_dw.c, kernels_misc.c) is compiled once per ISA with its own pack
 * width and flags; nothing here depends on Darknet, BLAS or GLib.
 *
 * Every op computes a slice of its output, blocks [b0, b1) x rows [y0, y1),
 * so an executor can split a layer over threads; each output value is
 * computed by the same sequence of operations whatever the slicing, so
 * results do not depend on the thread count.
 *
 * Convolution weights are packed once at load (conv_pack) from folded
 * Darknet/NCHW weights [cout][cin / groups][k][k] and a bias [cout]. */
#ifndef YOLOSWITCH_NN_KERNELS_H
#define YOLOSWITCH_NN_KERNELS_H

#include "tensor.h"

/* Activations fused into the kernels' stores.  Darknet's formulas: leaky is
 * x > 0 ? x : 0.1 x, relu x * (x > 0), logistic 1 / (1 + exp (-x)). */
typedef enum {
  NN_ACT_LINEAR,
  NN_ACT_LEAKY,
  NN_ACT_RELU,
  NN_ACT_LOGISTIC,
  /* Not fused: run nn_activate () over the output after a LINEAR op. */
  NN_ACT_RELU6,
  NN_ACT_TANH,
  NN_ACT_ELU,
  NN_ACT_SELU,
  NN_ACT_SWISH,
  NN_ACT_MISH,
  NN_ACT_HARDTAN,
  NN_ACT_LHTAN,
  NN_ACT_RAMP,
  NN_ACT_RELIE,
  NN_ACT_PLSE,
  NN_ACT_LOGGY,
  NN_ACT_STAIR,
  NN_ACT_GELU,
} NnAct;

#define NN_ACT_FUSED_LAST NN_ACT_LOGISTIC

typedef struct {
  int cin, cout;
  int k; /* square kernel side */
  int stride;
  int pad; /* Darknet's: k / 2 when the cfg says pad=1 */
  int groups; /* 1, or cin == cout == groups (depthwise) */
  NnAct act; /* <= NN_ACT_FUSED_LAST */
} NnConv;

/* Output side of a convolution along one axis (Darknet's formula). */
static inline int
nn_conv_out_side (int in, int k, int stride, int pad)
{
  return (in + 2 * pad - k) / stride + 1;
}

/* Darknet's max-pool output side: pad is the cfg's padding (default
 * size - 1), the window starts at -pad / 2. */
static inline int
nn_maxpool_out_side (int in, int size, int stride, int pad)
{
  return (in + pad - size) / stride + 1;
}

typedef struct {
  const char *name; /* "avx512", "avx2", "sse4", "neon", "generic" */
  int pack;

  /* Floats conv_pack writes for this convolution (weights + bias, padded
   * to whole blocks), and the packing itself into an NN_ALIGN-aligned
   * buffer of that size. */
  size_t (*conv_packed_floats) (const NnConv *conv);
  void (*conv_pack) (const NnConv *conv, const float *weights,
      const float *bias, float *packed);

  /* groups == 1, k == 1, stride 1, pad 0: register-blocked over pixels of
   * the whole plane (rows [y0, y1) of it). */
  void (*conv1x1) (const NnConv *conv, const float *packed, const NnTensor *in,
      NnTensor *out, int b0, int b1, int y0, int y1);
  /* groups == 1, any k, stride, pad; in may have pack 1 (planar NCHW: the
   * network input of the first layer) or the table's pack. */
  void (*conv_direct) (const NnConv *conv, const float *packed,
      const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);
  /* groups == cin == cout > 1 (one channel is groups == 1: conv_direct),
   * k 3 or 5 (fast paths; any k <= 7 works), any stride. */
  void (*depthwise) (const NnConv *conv, const float *packed,
      const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);

  /* Darknet max-pool: size, stride, pad as in nn_maxpool_out_side; cells
   * outside the input are ignored. */
  void (*maxpool) (const NnTensor *in, NnTensor *out, int size, int stride,
      int pad, int b0, int b1, int y0, int y1);
  /* Nearest upsampling by an integer stride, times scale (Darknet's). */
  void (*upsample) (const NnTensor *in, NnTensor *out, int stride, float scale,
      int b0, int b1, int y0, int y1);
  /* out = act (a * x + b * y), all three the same shape; out may be x. */
  void (*shortcut) (const NnTensor *x, const NnTensor *y, float a, float b,
      NnAct act, NnTensor *out, int b0, int b1, int y0, int y1);
} NnKernels;

/* Picks the op among conv1x1 / conv_direct / depthwise that fits conv;
 * NULL when none does (groups other than 1 or depthwise, depthwise k > 7). */
typedef void (*NnConvFn) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);
NnConvFn nn_conv_fn (const NnKernels *k, const NnConv *conv);

/* Any Darknet activation, in place, over rows [y0, y1) of blocks [b0, b1);
 * plain C, for the activations the kernels do not fuse.  Padding lanes are
 * left zero. */
void nn_activate (NnTensor *t, NnAct act, int b0, int b1, int y0, int y1);
/* The scalar formula, shared with the tests' references. */
float nn_activate_one (float x, NnAct act);

#endif
