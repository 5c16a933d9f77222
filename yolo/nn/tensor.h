/* The packed layout the nn kernels work on (NCHWc): C channels of H x W are
 * stored as ceil(C/P) blocks, each H x W x P floats, channel c in block c/P,
 * lane c%P.  One pixel's P channels are one SIMD vector, so a depthwise tap
 * or a 1x1 output pixel is one FMA across P channels with no shuffles, which
 * is where ncnn's speed over plane-by-plane code comes from.
 *
 * Invariants every kernel keeps: data is 64-byte aligned (one cache line,
 * and the widest vector we load); lanes beyond C in the last block are
 * exactly zero, so reductions over input channels may run over whole blocks
 * and concatenations of whole blocks stay correct.
 *
 * P = 1 is plain planar NCHW: the first layer reads the network input that
 * way without a copy.  No dependencies: plain C, no GLib. */
#ifndef YOLOSWITCH_NN_TENSOR_H
#define YOLOSWITCH_NN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#define NN_ALIGN 64

typedef struct {
  int c, h, w; /* logical channels and plane size */
  int pack; /* P: 1 (planar), 4 or 8 (the ISA tables'; kernels_isa.h) */
  int blocks; /* ceil (c / pack) */
  float *data; /* blocks * h * w * pack floats, NN_ALIGN-aligned */
} NnTensor;

/* Floats a packed tensor of this shape takes. */
size_t nn_tensor_floats (int c, int h, int w, int pack);
/* Fills the shape fields and allocates zeroed, aligned data; false when out
 * of memory or on a shape <= 0.  nn_tensor_clear frees (NULL-safe). */
bool nn_tensor_alloc (NnTensor *t, int c, int h, int w, int pack);
void nn_tensor_clear (NnTensor *t);
/* A 64-byte aligned, zeroed block of n floats (for packed weights); free
 * with nn_free. */
float *nn_alloc_floats (size_t n);
void nn_free (void *p);

/* Pointer to pixel (y, x) of block b: pack consecutive floats. */
static inline float *
nn_tensor_at (const NnTensor *t, int b, int y, int x)
{
  return t->data + (((size_t) b * t->h + y) * t->w + x) * t->pack;
}

/* NCHW floats (c * h * w of them) into t, padding lanes zeroed, and back. */
void nn_pack_nchw (const float *src, NnTensor *t);
void nn_unpack_nchw (const NnTensor *t, float *dst);

/* Route concatenation: copies all of src's channels into dst starting at
 * channel c0 (same h, w and pack).  Whole blocks are copied when c0 is a
 * multiple of the pack; otherwise lanes are shifted one by one.  Write the
 * parts of a concatenation in channel order: a whole-block copy also writes
 * src's zero padding lanes, which the next part then overwrites. */
void nn_concat_channels (NnTensor *dst, int c0, const NnTensor *src);

#endif
