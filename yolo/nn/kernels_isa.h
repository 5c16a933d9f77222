/* Internal to the per-ISA builds of kernels_conv.c, kernels_dw.c and
 * kernels_misc.c: each is compiled once per instruction set with
 * -DNN_PACK=<lanes> -DNN_ISA=<name> and that ISA's -m flags (meson.build),
 * so the kernels are written once, with GCC vector extensions, and the
 * compiler emits AVX-512, AVX2+FMA, SSE4.1, NEON or baseline code from
 * them.  FMA comes from -ffp-contract=fast where the target has it.  No
 * intrinsics and no ISA headers here: the generic build must compile for
 * any target GCC supports. */
#ifndef YOLOSWITCH_NN_KERNELS_ISA_H
#define YOLOSWITCH_NN_KERNELS_ISA_H

#include "kernels.h"

#include <math.h>
#include <string.h>

#if !defined(NN_PACK) || !defined(NN_ISA)
#error "kernels_isa.h is for the per-ISA builds: define NN_PACK and NN_ISA"
#endif

#define P NN_PACK

typedef float vf __attribute__ ((vector_size (NN_PACK * 4)));
typedef int vi __attribute__ ((vector_size (NN_PACK * 4)));

/* Per-ISA symbol names: conv1x1 -> nn_conv1x1_avx2. */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2 (a, b)
#define NN_SYM(name) NN_CAT (name, NN_ISA)

/* The convolutions' accumulators span NN_ACC_BLOCKS output blocks (a
 * "column" of NN_A = P * NN_ACC_BLOCKS output channels).  Usually 1; the
 * AVX-512 build keeps pack 8 and uses 2, so its 512-bit FMAs cover two
 * pack-8 blocks at once: pack 16 would have cost yolo-fastest-1.1 22 %
 * more multiply-adds and 41 % more activation memory (its 8, 24, 120 and
 * 136 channel layers; bench/kernels_bench.c prints this per model), for
 * nothing on -xl (+2 %).  So that this path is tested on machines
 * without AVX-512, the tests also link an AVX2 build with P = 4 and
 * columns of 2 (meson.build: nn_kernels_avx2x2, not in the dispatch). */
#ifndef NN_ACC_BLOCKS
#define NN_ACC_BLOCKS 1
#endif
#define NN_A (P * NN_ACC_BLOCKS)
typedef float va __attribute__ ((vector_size (NN_A * 4)));
typedef int vai __attribute__ ((vector_size (NN_A * 4)));

/* Pixels per register tile of the convolutions (times two columns of
 * accumulators): 12 accumulators + 2 weight vectors + 1 broadcast fill
 * the 16 vector registers of SSE/AVX2; AVX-512 and AArch64 have 32. */
#if defined(__AVX512F__) || defined(__aarch64__)
#define NN_TILE 12
#else
#define NN_TILE 6
#endif

#define NN_INLINE static inline __attribute__ ((always_inline))

/* Loads and stores through memcpy: no aliasing questions, and GCC emits a
 * single vector move (the data is aligned, so it is as fast as an aligned
 * one). */
NN_INLINE vf
nn_ld (const float *p)
{
  vf v;
  memcpy (&v, p, sizeof v);
  return v;
}

NN_INLINE void
nn_st (float *p, vf v)
{
  memcpy (p, &v, sizeof v);
}

NN_INLINE vf
nn_splat (float s)
{
  return (vf){ 0 } + s;
}

NN_INLINE vf
nn_select (vi mask, vf a, vf b)
{
  return (vf) ((mask & (vi) a) | (~mask & (vi) b));
}

/* Darknet's max-pool step: val > max ? val : max. */
NN_INLINE vf
nn_max (vf max, vf val)
{
  return nn_select (val > max, val, max);
}

/* Lanes of block b holding real channels of a c-channel tensor. */
NN_INLINE int
nn_valid_lanes (int c, int b)
{
  int v = c - b * P;
  return v < P ? v : P;
}

/* act (v) stored at dst; lanes >= valid are stored as 0 when act (0) != 0
 * (logistic), so padding stays zero. */
NN_INLINE void
nn_store_act (float *dst, vf v, NnAct act, int valid)
{
  switch (act) {
    case NN_ACT_LEAKY: v = nn_select (v > 0, v, v * 0.1f); break;
    case NN_ACT_RELU: v = (vf) ((v > 0) & (vi) v); break;
    case NN_ACT_LOGISTIC:
      for (int l = 0; l < P; l++)
        v[l] = l < valid ? 1.f / (1.f + expf (-v[l])) : 0.f;
      break;
    default: break;
  }
  nn_st (dst, v);
}

/* nn_store_act for a column: act (v), lanes >= valid zeroed for logistic,
 * then the column's blocks in [b0, b1) stored, block ob + q at
 * dst + q * bstep. */
NN_INLINE void
nn_store_col (float *dst, size_t bstep, va v, NnAct act, int valid, int ob,
    int b0, int b1)
{
  switch (act) {
    case NN_ACT_LEAKY:
      v = (va) (((v > 0) & (vai) v) | (~(v > 0) & (vai) (v * 0.1f)));
      break;
    case NN_ACT_RELU: v = (va) ((v > 0) & (vai) v); break;
    case NN_ACT_LOGISTIC:
      for (int l = 0; l < NN_A; l++)
        v[l] = l < valid ? 1.f / (1.f + expf (-v[l])) : 0.f;
      break;
    default: break;
  }
  for (int q = 0; q < NN_ACC_BLOCKS; q++)
    if (ob + q >= b0 && ob + q < b1)
      memcpy (dst + q * bstep, (const float *) &v + q * P, P * sizeof (float));
}

/* call_with_act with ACT_ the activation of conv: a constant for the ones
 * shipped models use (linear, leaky, relu), so the kernels' stores carry
 * no switch (one per stored vector cost the depthwise kernel a quarter of
 * its time and the 1x1 convolutions a sixth); other activations keep the
 * switch.  With NN_ACT_RUNTIME_ONLY (clang builds, yolo/nn/meson.build)
 * there is only that copy. */
#ifdef NN_ACT_RUNTIME_ONLY
#define NN_ACT_DISPATCH(call_with_act)                                         \
  do {                                                                         \
    const NnAct ACT_ = conv->act;                                              \
    call_with_act;                                                             \
  } while (0)
#else
#define NN_ACT_DISPATCH(call_with_act)                                         \
  do {                                                                         \
    if (conv->act == NN_ACT_LINEAR) {                                          \
      enum { ACT_ = NN_ACT_LINEAR };                                           \
      call_with_act;                                                           \
    } else if (conv->act == NN_ACT_LEAKY) {                                    \
      enum { ACT_ = NN_ACT_LEAKY };                                            \
      call_with_act;                                                           \
    } else if (conv->act == NN_ACT_RELU) {                                     \
      enum { ACT_ = NN_ACT_RELU };                                             \
      call_with_act;                                                           \
    } else {                                                                   \
      const NnAct ACT_ = conv->act;                                            \
      call_with_act;                                                           \
    }                                                                          \
  } while (0)
#endif

size_t NN_SYM (nn_conv_packed_floats) (const NnConv *conv);
void NN_SYM (nn_conv_pack) (const NnConv *conv, const float *weights,
    const float *bias, float *packed);
void NN_SYM (nn_conv1x1) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);
void NN_SYM (nn_conv_direct) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);
void NN_SYM (nn_depthwise) (const NnConv *conv, const float *packed,
    const NnTensor *in, NnTensor *out, int b0, int b1, int y0, int y1);
void NN_SYM (nn_maxpool) (const NnTensor *in, NnTensor *out, int size,
    int stride, int pad, int b0, int b1, int y0, int y1);
void NN_SYM (nn_upsample) (const NnTensor *in, NnTensor *out, int stride,
    float scale, int b0, int b1, int y0, int y1);
void NN_SYM (nn_shortcut) (const NnTensor *x, const NnTensor *y, float a,
    float b, NnAct act, NnTensor *out, int b0, int b1, int y0, int y1);

#endif
