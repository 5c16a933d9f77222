/* The fast engine's core without libdarknet: the network graph built from
 * a checked cfg (cfg.h), the weights read from a memory-mapped .weights
 * file with batch-norm folded, every layer output in one planned arena, an
 * executor of every layer type the cfg checker accepts, and Darknet's box
 * decoding and NMS.
 *
 * Layers the packed kernels (kernels.h) cover run on NCHWc tensors that
 * stay packed from one such layer to the next; the rest run in plain C on
 * NCHW, with conversions only where the two meet (net_packed.c).  The
 * kernels table is chosen at load (cpu.h: the best the CPU runs, or
 * YOLOSWITCH_ISA), or given; without one every layer runs in plain C.
 *
 * Results match stock Darknet's (tests/unit/test_nn_net.c): the same
 * layer outputs to ~1e-3 and the same detections.  Nothing here includes
 * darknet.h or links libdarknet.
 *
 * Threads: an NnNet is used by one thread at a time; convolutions and the
 * packed layers run on its pool, in more tasks than threads (handed out as
 * threads come free, so one descheduled thread does not hold up a layer),
 * and results do not depend on the thread count, bit for bit. */
#ifndef YOLOSWITCH_YOLO_NN_NET_H
#define YOLOSWITCH_YOLO_NN_NET_H

#include "cfg.h"
#include "detections.h"
#include "kernels.h"
#include "threadpool.h"
#include "yolo.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct NnNet NnNet;

/* A layer's output as it lies in the arena: c x h x w floats, NCHW. */
typedef struct {
  int c, h, w;
  const float *data;
} NnTensorView;

/* Where the memory goes. */
typedef struct {
  size_t weight_bytes; /* folded weights and biases the net keeps */
  size_t arena_bytes; /* every layer output, with the plan's reuse */
  size_t outputs_bytes; /* the sum of all outputs: the arena without reuse */
  size_t workspace_bytes; /* im2col columns and layout conversions */
} NnNetBytes;

/* How to build a net (nn_net_new_with()); nn_net_options_init() fills the
 * defaults: 1 thread, own pool, outputs reused, kernels chosen by cpu.h. */
typedef struct {
  int threads; /* counting the caller, when pool is NULL */
  YoloPool *pool; /* the caller's (must outlive the net), or NULL */
  bool keep_outputs;
  /* false: nn_kernels_select() (YOLOSWITCH_ISA, else the best runnable;
   * YOLOSWITCH_ISA=plain: none).  true: `kernels` as given, NULL meaning
   * the plain-C NCHW path for every layer (tests, references). */
  bool kernels_given;
  const NnKernels *kernels;
} NnNetOptions;

/* Builds the network of cfg (which may be cleared afterwards) and reads
 * weights_path, whose size must be exactly what cfg needs.  threads counts
 * the caller (1: no extra thread).  keep_outputs keeps every layer's output
 * after a run (layer-by-layer comparison, split inference); otherwise an
 * output's memory is reused once no later layer and no box decoding reads
 * it.  NULL with status set on a missing, short or corrupt file. */
NnNet *nn_net_new (const CfgNetwork *cfg, const char *weights_path, int threads,
    bool keep_outputs, YoloStatus *status);
/* The same on a pool the caller owns (the model's, shared with whatever
 * else it runs); it must outlive the net. */
NnNet *nn_net_new_pooled (const CfgNetwork *cfg, const char *weights_path,
    YoloPool *pool, bool keep_outputs, YoloStatus *status);
void nn_net_options_init (NnNetOptions *options);
/* What nn_net_new() and nn_net_new_pooled() do, with every choice given:
 * also NULL with status set when YOLOSWITCH_ISA names kernels this build
 * or CPU does not have (a silent fallback would have a benchmark measure
 * something else). */
NnNet *nn_net_new_with (const CfgNetwork *cfg, const char *weights_path,
    const NnNetOptions *options, YoloStatus *status);
void nn_net_free (NnNet *net);

int nn_net_layer_count (const NnNet *net);
void nn_net_bytes (const NnNet *net, NnNetBytes *bytes);
/* The implementation a layer runs with, chosen at load ("conv_gemm"...;
 * packed ones end in "_packed"). */
const char *nn_net_layer_impl (const NnNet *net, int layer);
/* The kernels table's name ("avx2"...), or "plain" without one. */
const char *nn_net_isa (const NnNet *net);

/* Runs layers [from, to).  input is layer from's input (the network input
 * for from == 0, 3 x height x width planes); for from > 0 it may be NULL
 * when layer from-1's output is still held from an earlier call.  Every
 * earlier output a layer in the range reads must be held (or given with
 * nn_net_set_output()): false with status naming it otherwise. */
bool nn_net_forward (NnNet *net, int from, int to, const float *input,
    YoloStatus *status);

/* Layer `layer`'s output after the last run; false when there is no such
 * layer or its memory has since been reused (or it never ran).  Packed
 * outputs are unpacked on each call into a buffer the net owns (one per
 * layer asked for), valid until the next call for that layer or the next
 * run. */
bool nn_net_output (const NnNet *net, int layer, NnTensorView *view);
/* Copies in a layer's output computed elsewhere (the other side of a split:
 * c x h x w floats as nn_net_output() gives them), packing it when the
 * layer's output is packed. */
bool nn_net_set_output (NnNet *net, int layer, const float *data);

/* Whether layer `layer` (< cut) is read once layers [0, cut) have run: by
 * a layer at or after the cut (the one just before it, routes, shortcuts)
 * or by box decoding (yolo/region outputs).  Exactly what a split at `cut`
 * hands over: nn_net_output() on one side, nn_net_set_output() on the
 * other. */
bool nn_net_reads_across (const NnNet *net, int cut, int layer);

/* Darknet's decoding of every yolo/region layer's output, boxes corrected
 * for a source frame of the given size (letterbox: the input was
 * letterboxed, else plain-resized), class probabilities above threshold,
 * then NMS (nms <= 0: none).  out is replaced, in source-frame pixels,
 * clamped and sorted like model_decode() (yolo/model.c); labels[class] names
 * each detection (labels may be NULL: "?"). */
bool nn_net_boxes (NnNet *net, int source_width, int source_height,
    bool letterbox, float threshold, float nms, const char *const *labels,
    YoloDetections *out, YoloStatus *status);

#endif
