/* Darknet .cfg reading and shape inference, done by us before Darknet sees
 * the files: Darknet exit()s on unreadable files and loads truncated weights
 * silently, so every check that can fail with a readable message lives here.
 * The per-layer shapes are also what layer-range execution and split
 * inference will need. */
#ifndef YOLOSWITCH_YOLO_CFG_H
#define YOLOSWITCH_YOLO_CFG_H

#include "yolo.h"

#include <stdint.h>

/* What a cfg may ask for.  A cfg is read like bytes from the network: these
 * bound the memory and the arithmetic of checking it and of what Darknet
 * then allocates for it.  Every key's accepted range is in
 * docs/MODEL_FILES.md (and at the top of cfg_check.c). */
#define CFG_MAX_FILE_BYTES (1 << 20) /* real cfgs are under 64 KiB */
#define CFG_MAX_LINE 1100 /* characters per line */
#define CFG_MAX_LAYERS 4096 /* sections after [net] */
#define CFG_MAX_OPTIONS 64 /* key=value lines per section */
#define CFG_MAX_INPUT_SIDE 8192 /* [net] width and height */
/* Any one tensor: a layer's output, its weights, its im2col workspace.
 * Below 2^31 because Darknet counts them in int. */
#define CFG_MAX_TENSOR_FLOATS ((uint64_t) 1 << 28) /* 1 GiB */
/* All layer outputs together (Darknet keeps every one). */
#define CFG_MAX_NETWORK_FLOATS ((uint64_t) 1 << 29) /* 2 GiB */
/* All weights together: what the .weights file holds. */
#define CFG_MAX_WEIGHT_FLOATS ((uint64_t) 1 << 28) /* 1 GiB */

typedef enum {
  CFG_LAYER_CONVOLUTIONAL,
  CFG_LAYER_MAXPOOL,
  CFG_LAYER_AVGPOOL,
  CFG_LAYER_ROUTE,
  CFG_LAYER_SHORTCUT,
  CFG_LAYER_UPSAMPLE,
  CFG_LAYER_DROPOUT,
  CFG_LAYER_YOLO,
  CFG_LAYER_REGION,
  CFG_LAYER_REORG,
  CFG_LAYER_CONNECTED,
  CFG_LAYER_BATCHNORM,
  CFG_LAYER_SOFTMAX,
} CfgLayerType;

/* Darknet's activations, all of them: the checker refuses other names. */
typedef enum {
  CFG_ACT_LOGISTIC,
  CFG_ACT_LOGGY,
  CFG_ACT_RELU,
  CFG_ACT_ELU,
  CFG_ACT_SELU,
  CFG_ACT_RELIE,
  CFG_ACT_PLSE,
  CFG_ACT_HARDTAN,
  CFG_ACT_LHTAN,
  CFG_ACT_LINEAR,
  CFG_ACT_RAMP,
  CFG_ACT_LEAKY,
  CFG_ACT_TANH,
  CFG_ACT_STAIR,
} CfgActivation;

typedef struct {
  CfgLayerType type;
  int line; /* line of the section header, for messages */
  int in_c, in_h, in_w;
  int out_c, out_h, out_w;
  size_t weight_floats; /* floats this layer reads from .weights */
  /* Convolutional layers: how those floats are laid out (biases, then with
   * batch_normalize scales, means, variances, each `filters` long, then the
   * kernels). */
  int filters;
  bool batch_normalize;
  int classes; /* yolo/region only, else 0 */

  /* What the layer needs to run without Darknet (yolo/nn/), read by the
   * same rules and with Darknet's defaults.  Unused fields stay 0. */
  CfgActivation activation; /* conv, connected, shortcut */
  int size, stride, padding; /* conv; maxpool; reorg and upsample: stride */
  int groups; /* conv; softmax */
  bool reverse; /* reorg; upsample with a negative stride (sum-pools) */
  float scale; /* upsample */
  float alpha, beta; /* shortcut: out = alpha * input + beta * from */
  float temperature; /* softmax */
  int from; /* shortcut: absolute layer index */
  int ref_count; /* route: how many layers it concatenates */
  int *refs; /* route: their absolute indexes, in order */
  int num; /* yolo: anchors in anchors=; region: anchors per cell */
  int mask_count; /* yolo: anchors this layer predicts (its mask=) */
  int *mask; /* yolo: mask_count indexes into anchors */
  float *anchors; /* yolo, region: 2 x num (Darknet's .5 when absent) */
  int coords; /* region */
  bool softmax, background; /* region */
} CfgLayer;

typedef struct {
  int width, height, channels; /* network input */
  int layer_count;
  CfgLayer *layers;
  int classes; /* of the detection layers (all must agree) */
  size_t weight_floats; /* sum over layers */
  /* The cfg as Darknet gets it: [net] reduced to width, height, channels,
   * batch=1, subdivisions=1 (training keys there crash or abort Darknet),
   * every other section as written.  NUL-terminated. */
  char *darknet_text;
} CfgNetwork;

/* Parses path and infers every layer's shape.  false with status set on a
 * missing file, bad syntax, unknown or unsupported layers, or shapes that do
 * not fit. */
bool cfg_network_load (const char *path, CfgNetwork *net, YoloStatus *status);
/* The same with the input size replaced (0, 0: the cfg's own). */
bool cfg_network_load_sized (const char *path, int width, int height,
    CfgNetwork *net, YoloStatus *status);
/* The same from a cfg in memory: len bytes (a NUL among them is refused
 * like in a file), called name in messages.  For fuzzing and for cfgs that
 * never were files. */
bool cfg_network_parse (const char *name, const char *text, size_t len,
    int width, int height, CfgNetwork *net, YoloStatus *status);
void cfg_network_clear (CfgNetwork *net);

/* Bytes a .weights file must have for this network, given the header's
 * version (the "seen" counter is 8 bytes from version 0.2 on, else 4). */
size_t cfg_weights_bytes (const CfgNetwork *net, int major, int minor);

/* Reads the .weights header and checks the file size exactly. */
bool cfg_check_weights (const CfgNetwork *net, const char *path,
    YoloStatus *status);

/* Counts non-empty lines of a labels file; -1 if unreadable. */
int cfg_count_labels (const char *path);

#endif
