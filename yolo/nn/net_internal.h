/* Internal to yolo/nn/net_*.c: what a built network is made of.
 *
 * How a layer runs is chosen once at load (nn_layer_choose(), net_build.c)
 * and kept as an NnImpl: in plain C on NCHW tensors (net_conv.c,
 * net_layers.c), or on packed tensors with the kernels (net_packed.c:
 * nn_packed_choose() decides, convolutions keep their packed weights in
 * NnLayer.impl_state).  NnLayer.packed says which layout the layer's
 * output has in the arena; nn_net_forward() converts a plain layer's
 * input when its previous layer's output is packed, packed convolutions
 * pack an NCHW input themselves. */
#ifndef YOLOSWITCH_YOLO_NN_NET_INTERNAL_H
#define YOLOSWITCH_YOLO_NN_NET_INTERNAL_H

#include "net.h"

#include "threadpool.h"

typedef struct NnLayer NnLayer;

typedef struct {
  const char *name;
  /* in: the layer's input (the previous layer's output, c x h x w as in
   * the cfg); out: its output in the arena.  Other layers' outputs
   * (route, shortcut) are read through net. */
  void (*run) (NnNet *net, const NnLayer *l, const float *in, float *out);
} NnImpl;

struct NnLayer {
  CfgLayer p; /* the cfg's parameters; refs/mask/anchors owned here */
  const NnImpl *impl;
  void *impl_state; /* packed convolutions: NnPackedConv (net_packed.c) */
  bool packed; /* the output is NCHWc with the net's kernels' pack */
  /* Convolutional, connected: batch-norm folded in (net_weights.c),
   * weights [filters][in_c / groups * size * size] (connected: [out][in]).
   * Batchnorm layers: per channel scale in weights, shift in bias. */
  float *weights, *bias;
  /* Memory plan (net_plan.c). */
  int slot;
  size_t offset; /* floats into the arena */
  int last_use; /* the last layer that reads this output; layer_count: decoding */
};

struct NnNet {
  int width, height, channels, classes;
  int layer_count;
  NnLayer *layers;
  YoloPool *pool;
  bool owns_pool;
  float *arena;
  size_t arena_floats, outputs_floats;
  float *workspace;
  size_t workspace_floats;
  size_t weight_floats;
  const NnKernels *kernels; /* NULL: every layer plain C */
  /* Layout conversions at the edges between packed and plain layers:
   * a plain layer's packed input unpacked (unpack_a; unpack_b for a
   * shortcut's other input), an NCHW input packed for a kernel that only
   * reads packed ones (pack_in).  Sized at load for the largest need. */
  float *unpack_a, *unpack_b, *pack_in;
  size_t unpack_a_floats, unpack_b_floats, pack_in_floats;
  float **unpacked; /* per layer: nn_net_output()'s NCHW copy, or NULL */
  bool keep_outputs;
  /* A slot is one output's (or an in-place chain's) place in the arena;
   * slots whose outputs never live at the same time overlap. */
  int slot_count;
  int *slot_owner; /* the layer whose output a slot holds now, or -1 */
  size_t *slot_offset, *slot_size; /* floats */
  unsigned long *slot_stamp, stamp; /* when each slot was last written */
  bool *computed; /* per layer: ran (or was set) since its range began */
  /* Box decoding scratch, grown when a frame has more boxes. */
  void *dets, *probs, *candidates;
  size_t det_capacity;
};

static inline size_t
nn_layer_outputs (const NnLayer *l)
{
  return (size_t) l->p.out_c * l->p.out_h * l->p.out_w;
}

/* Floats the layer's output takes in the arena, in its layout. */
static inline size_t
nn_layer_floats (const NnNet *net, const NnLayer *l)
{
  if (!l->packed)
    return nn_layer_outputs (l);
  return nn_tensor_floats (l->p.out_c, l->p.out_h, l->p.out_w,
      net->kernels->pack);
}

static inline size_t
nn_layer_inputs (const NnLayer *l)
{
  return (size_t) l->p.in_c * l->p.in_h * l->p.in_w;
}

static inline float *
nn_output_of (NnNet *net, int layer)
{
  return net->arena + net->layers[layer].offset;
}

/* net_weights.c: reads and folds every layer's weights. */
bool nn_weights_load (NnNet *net, const CfgNetwork *cfg, const char *path,
    YoloStatus *status);

/* net_plan.c: slots and offsets for every layer output, allocates the
 * arena. */
bool nn_plan_build (NnNet *net, YoloStatus *status);
bool nn_output_valid (const NnNet *net, int layer);
/* Layer `layer`'s output has just been written (run or set). */
void nn_plan_written (NnNet *net, int layer);
/* Whether layer i's output takes its input's slot (written in place). */
bool nn_plan_in_place (const NnNet *net, int i);

/* A yolo layer after a packed one gets its input unpacked straight into
 * its output and runs in place (no conversion buffer, no copy). */
static inline bool
nn_unpacks_in_place (const NnLayer *l)
{
  return l->p.type == CFG_LAYER_YOLO;
}

/* net_packed.c: which layers run packed (after the layers are copied,
 * before the weights load), their weights packed (after), each layer's
 * packed output as a tensor, the conversions' sizes. */
void nn_packed_choose (NnNet *net);
bool nn_packed_weights (NnNet *net);
void nn_packed_free (NnLayer *l);
size_t nn_packed_weight_floats (const NnLayer *l);
NnTensor nn_layer_tensor (const NnNet *net, int layer);
void nn_packed_scratch_sizes (NnNet *net);
/* Layer `layer`'s output as NCHW: the arena itself when plain, else
 * unpacked into scratch (nn_layer_outputs() floats). */
const float *nn_nchw_of (NnNet *net, int layer, float *scratch);

/* net_build.c */
void nn_layer_choose (NnLayer *l);
/* The largest im2col workspace a layer needs, in floats. */
size_t nn_conv_workspace (const NnLayer *l);

/* net_conv.c, net_layers.c: the plain-C NCHW implementations. */
extern const NnImpl nn_impl_conv_gemm, nn_impl_conv_1x1, nn_impl_conv_depthwise,
    nn_impl_connected;
extern const NnImpl nn_impl_maxpool, nn_impl_avgpool, nn_impl_route,
    nn_impl_shortcut, nn_impl_upsample, nn_impl_reorg, nn_impl_softmax,
    nn_impl_yolo, nn_impl_region, nn_impl_copy, nn_impl_batchnorm;

void nn_net_activate (float *x, size_t n, CfgActivation a);

#endif
