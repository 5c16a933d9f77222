/* Packed tensors (tensor.h): allocation, NCHW <-> packed conversion and
 * route concatenation.  Plain C, compiled once: these run at the edges of
 * the network and around rare layers, not per tap. */
#include "tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t
nn_tensor_floats (int c, int h, int w, int pack)
{
  size_t blocks = (size_t) (c + pack - 1) / pack;
  return blocks * (size_t) h * w * pack;
}

float *
nn_alloc_floats (size_t n)
{
  void *p = NULL;
  size_t bytes = n * sizeof (float);
  if (n > SIZE_MAX / sizeof (float))
    return NULL;
  /* Rounded up to whole lines: aligned_alloc wants a multiple. */
  bytes = (bytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
  if (bytes == 0)
    bytes = NN_ALIGN;
  p = aligned_alloc (NN_ALIGN, bytes);
  if (p)
    memset (p, 0, bytes);
  return p;
}

void
nn_free (void *p)
{
  free (p);
}

bool
nn_tensor_alloc (NnTensor *t, int c, int h, int w, int pack)
{
  memset (t, 0, sizeof *t);
  if (c <= 0 || h <= 0 || w <= 0 || pack <= 0)
    return false;
  t->data = nn_alloc_floats (nn_tensor_floats (c, h, w, pack));
  if (!t->data)
    return false;
  t->c = c;
  t->h = h;
  t->w = w;
  t->pack = pack;
  t->blocks = (c + pack - 1) / pack;
  return true;
}

void
nn_tensor_clear (NnTensor *t)
{
  if (!t)
    return;
  nn_free (t->data);
  memset (t, 0, sizeof *t);
}

void
nn_pack_nchw (const float *src, NnTensor *t)
{
  size_t hw = (size_t) t->h * t->w;
  int p = t->pack;

  for (int b = 0; b < t->blocks; b++) {
    float *dst = t->data + (size_t) b * hw * p;
    for (size_t i = 0; i < hw; i++) {
      for (int l = 0; l < p; l++) {
        int c = b * p + l;
        dst[i * p + l] = c < t->c ? src[(size_t) c * hw + i] : 0.f;
      }
    }
  }
}

void
nn_unpack_nchw (const NnTensor *t, float *dst)
{
  size_t hw = (size_t) t->h * t->w;
  int p = t->pack;

  for (int c = 0; c < t->c; c++) {
    const float *src = t->data + (size_t) (c / p) * hw * p + c % p;
    for (size_t i = 0; i < hw; i++)
      dst[(size_t) c * hw + i] = src[i * p];
  }
}

void
nn_concat_channels (NnTensor *dst, int c0, const NnTensor *src)
{
  size_t hw = (size_t) dst->h * dst->w;
  int p = dst->pack;

  if (c0 % p == 0) {
    memcpy (dst->data + (size_t) (c0 / p) * hw * p, src->data,
        (size_t) src->blocks * hw * p * sizeof (float));
    return;
  }
  for (int c = 0; c < src->c; c++) {
    int d = c0 + c;
    const float *s = src->data + (size_t) (c / p) * hw * p + c % p;
    float *o = dst->data + (size_t) (d / p) * hw * p + d % p;
    for (size_t i = 0; i < hw; i++)
      o[i * p] = s[i * p];
  }
  /* The padding lanes of dst's last block, if this part reached it. */
  for (int d = c0 + src->c; d < dst->blocks * p; d++) {
    float *o = dst->data + (size_t) (d / p) * hw * p + d % p;
    if (d < dst->c)
      break;
    for (size_t i = 0; i < hw; i++)
      o[i * p] = 0.f;
  }
}
