/* Internal to yolo/: what a model's engine does, so that model.c keeps
 * everything engine-independent (files, cfg checks, labels, the input
 * buffer, the public API) and libdarknet is loaded only by the engine that
 * needs it.
 *
 * A backend is a table of functions.  Two exist:
 *  - "fast" (backend_nn.c): our own network (yolo/nn/net.h), built into
 *    yolo/ itself: no loading, model.c's backend_for() returns its table;
 *  - "darknet" (darknet_backend.c), the reference: stock libdarknet in a
 *    separate shared module, yoloswitch-darknet.so, opened with dlopen by
 *    backend_load.c the first time a model asks for it, so a process that
 *    never opens such a model maps neither libdarknet nor OpenBLAS (nor
 *    OpenCV and GDAL behind them).
 *
 * The module and the library are built from the same tree, but an installed
 * module can outlive a rebuild: the entry point checks YOLO_BACKEND_ABI and
 * the sizes of the structs passed across (YOLO_BACKEND_LAYOUT).  Bump the
 * ABI whenever this file or the meaning of a struct it passes changes. */
#ifndef YOLOSWITCH_YOLO_BACKEND_H
#define YOLOSWITCH_YOLO_BACKEND_H

#include "cfg.h"
#include "yolo.h"

#define YOLO_BACKEND_ABI 2u

/* Changes when a struct the ops pass changes size: catches most mixes of
 * an old module with a new library that forgot to bump the ABI. */
#define YOLO_BACKEND_LAYOUT                                                    \
  ((unsigned) (sizeof (YoloModelFiles) + 3u * sizeof (CfgNetwork)              \
      + 5u * sizeof (CfgLayer) + 7u * sizeof (YoloStatus)                      \
      + 11u * sizeof (YoloDetections) + 13u * sizeof (YoloDetection)           \
      + 17u * sizeof (YoloProfile) + 19u * sizeof (YoloInferOptions)))

/* One opened model in a backend. */
typedef struct YoloBackendModel YoloBackendModel;

/* What box decoding needs besides the layer outputs. */
typedef struct {
  int source_width, source_height; /* boxes are scaled to this frame */
  bool letterbox; /* the input was letterboxed (else a plain resize) */
  const YoloInferOptions *options; /* threshold; nms 0: none */
  const char *const *labels; /* cfg->classes of them, owned by the model */
} YoloDecodeRequest;

typedef struct {
  unsigned abi; /* YOLO_BACKEND_ABI */
  const char *name; /* for messages */

  /* Builds the network from files the caller has checked against cfg
   * (shapes, weights size, labels): cfg's layers are what the backend must
   * make, layer for layer.  engine picks among the backend's variants if it
   * has several.  threads >= 1.  keep_outputs: every layer's output stays
   * readable after a run (YoloModelSpec.keep_layer_outputs); else a backend
   * may reuse an output's memory once nothing later reads it.  NULL with
   * status set on failure. */
  YoloBackendModel *(*open) (const YoloModelFiles *files, const CfgNetwork *cfg,
      YoloEngine engine, int threads, bool keep_outputs, YoloStatus *status);

  /* Runs layers [from, to).  input: for from == 0 the network input
   * (channels x height x width, the cfg's), else NULL: the engine reads
   * layer from-1's output and any earlier ones from its own buffers (left by
   * a previous run, or copied in by set_layer_output).  Time per layer kind
   * is added to profile.  false with status set when an output the range
   * reads is not held (a handover that lacked it: a bug). */
  bool (*forward) (YoloBackendModel *b, int from, int to, const float *input,
      YoloProfile *profile, YoloStatus *status);

  /* Layer `layer`'s output: cfg->layers[layer].out_c x out_h x out_w
   * floats, what the last run computed (or set_layer_output copied in).
   * NULL before any run, or once the engine reused the memory for a later
   * layer; never for the outputs that layers at or after the end of the run
   * still read (a handover's) nor, with keep_outputs, for any layer that
   * ran. */
  const float *(*layer_output) (YoloBackendModel *b, int layer);

  /* Copies in layer `layer`'s output computed elsewhere (the far side of a
   * cut), for a run that starts after it.  false when the engine keeps no
   * buffer there. */
  bool (*set_layer_output) (YoloBackendModel *b, int layer, const float *data);

  /* The detection layers' outputs of the last full run as detections in
   * source-frame pixels, clamped to it, NMS applied; replaces out's
   * contents, in any order (the caller sorts).  false with status set only
   * when memory runs out. */
  bool (*decode) (YoloBackendModel *b, const YoloDecodeRequest *request,
      YoloDetections *out, YoloStatus *status);

  void (*free) (YoloBackendModel *b);
} YoloBackendOps;

/* The one symbol a backend module exports: its table, or NULL when the
 * caller's abi or layout differ from the module's. */
#define YOLO_BACKEND_ENTRY "yoloswitch_backend_entry"
typedef const YoloBackendOps *(
    *YoloBackendEntry) (unsigned abi, unsigned layout);

/* The fast engine's table (backend_nn.c): in-process, nothing to load. */
const YoloBackendOps *yolo_backend_nn (void);

/* The Darknet module (backend_load.c): loaded on first use, then kept for
 * the life of the process (libdarknet cannot be unloaded safely: it keeps
 * global state).  NULL with status saying which file was tried, why it
 * failed and what to install.  Thread-safe. */
const YoloBackendOps *yolo_backend_darknet (YoloStatus *status);

/* The path yolo_backend_darknet() loads (or would load): $YOLOSWITCH_DARKNET_MODULE,
 * else the build tree's module when this code runs from the build tree,
 * else the installed one. */
void yolo_backend_darknet_path (char *out, size_t outlen);

#endif
