/* yoloswitch: the yolo/ library.
 *
 * Loads a Darknet YOLO model (cfg + weights + labels), validates it before
 * any engine sees it (Darknet exit()s on many bad inputs), runs it on video
 * frames of any pixel layout and stride, and returns detections in
 * source-frame pixels after NMS.  Also the accuracy metrics shared by the
 * profiler and the switcher (yolo_metrics.h).
 *
 * Plain C: no GStreamer types, so everything here is unit-testable and usable
 * by the edge server and the command-line tools alike.  The vocabulary the
 * other libraries share without linking Darknet (frames, detections,
 * analyses, the clock, the metrics) is in its own headers and library
 * (frame.h, detections.h, analysis.h, clock.h, metrics.h: yolo_base).
 *
 * Threads: a YoloModel may be used by one thread at a time.  Different models
 * may run concurrently.
 */
#ifndef YOLOSWITCH_YOLO_H
#define YOLOSWITCH_YOLO_H

#include "clock.h"
#include "detections.h"
#include "frame.h"
#include "tensors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  YOLO_OK = 0,
  YOLO_ERR_MODEL_NOT_FOUND, /* a model name matched no cfg in any model dir */
  YOLO_ERR_CFG_MISSING, /* the cfg file does not exist or is unreadable */
  YOLO_ERR_WEIGHTS_MISSING, /* the weights file does not exist or is unreadable */
  YOLO_ERR_LABELS_MISSING, /* no labels file given or found */
  YOLO_ERR_CFG_INVALID, /* cfg syntax or values are wrong */
  YOLO_ERR_CFG_UNSUPPORTED, /* a layer type this build cannot run */
  YOLO_ERR_WEIGHTS_SIZE, /* weights file size differs from what the cfg needs */
  YOLO_ERR_LABELS_COUNT, /* label count differs from the cfg's classes */
  YOLO_ERR_LOAD, /* the engine could not build or run the network */
  YOLO_ERR_INPUT, /* a frame or argument is unusable */
} YoloError;

/* Filled by every call that can fail: a code to branch on and a sentence for
 * a person that says what is wrong and what to do. */
typedef struct {
  YoloError code;
  char message[768];
} YoloStatus;

const char *yolo_error_name (YoloError code);

/* ---- models ------------------------------------------------------------ */

/* How the network runs.
 *  - "fast" (the default): our own network (yolo/nn/), in-process: layers
 *    built from the checked cfg, weights read from the memory-mapped file
 *    with batch-norm folded, layer outputs in one planned arena, our own
 *    box decoding and NMS, on the model's thread pool.  Neither libdarknet
 *    nor any BLAS is loaded: a process that runs only this engine maps
 *    neither.
 *  - "darknet": stock libdarknet, forward functions and box decoding
 *    unchanged: the reference the fast engine is tested against.  Loaded
 *    (with OpenBLAS, OpenCV and GDAL behind it) on first use, from the
 *    module yoloswitch-darknet.so.
 * Both give the same detections (within 0.5 px and 1e-3 confidence). */
typedef enum {
  YOLO_ENGINE_FAST = 0,
  YOLO_ENGINE_DARKNET,
} YoloEngine;

const char *yolo_engine_name (YoloEngine engine);
/* Parses "fast" or "darknet"; false for anything else. */
bool yolo_engine_from_name (const char *name, YoloEngine *engine);

/* Where a model comes from: either a name looked up in the model dirs, or
 * explicit paths.  Explicit paths win over the name for each file. */
typedef struct {
  const char *name; /* e.g. "yolo-fastest-1.1"; NULL: use the paths */
  const char *model_dir; /* first dir searched; NULL: skip */
  const char *cfg_path;
  const char *weights_path;
  const char *labels_path;
  YoloEngine engine; /* default (0): fast */
  int threads; /* inference threads; 0: every core the process may use
                  * (its affinity mask, its cgroup CPU quota) */
  /* Keep every layer's output readable after a run
   * (yolo_model_layer_output() on any layer: layer-by-layer comparisons,
   * debugging).  Default false: the fast engine reuses an output's memory
   * once no later layer reads it (the outputs a handover needs are always
   * kept), which is most of what the network's tensors would take.  The
   * darknet engine keeps every output either way. */
  bool keep_layer_outputs;
  /* Network input size instead of the cfg's (multiples of 32); 0: the
   * cfg's.  Smaller is faster and less accurate: the profiler's ladder. */
  int input_width, input_height;
} YoloModelSpec;

#define YOLO_DEFAULT_LOCAL_MODEL "yolo-fastest-1.1"
#define YOLO_DEFAULT_EDGE_MODEL "yolo-fastest-1.1-xl"

/* The resolved files of a model, before loading. */
typedef struct {
  char name[256];
  char cfg_path[4096];
  char weights_path[4096];
  char labels_path[4096];
} YoloModelFiles;

/* Resolves a spec to three file paths.  Model dir search order: spec->model_dir,
 * $YOLOSWITCH_MODEL_DIR, ../shared/models beside the source tree, the
 * installed data dir.  Does not check the files' contents. */
bool yolo_model_resolve (const YoloModelSpec *spec, YoloModelFiles *files,
    YoloStatus *status);

/* Writes the model dirs searched, in order, separated by ':' (for messages). */
void yolo_model_search_path (const char *model_dir, char *out, size_t outlen);

typedef struct YoloModel YoloModel;

/* Resolves, validates and loads a model.  NULL on failure with status set. */
YoloModel *yolo_model_open (const YoloModelSpec *spec, YoloStatus *status);
void yolo_model_close (YoloModel *model);

const char *yolo_model_name (const YoloModel *model);
const YoloModelFiles *yolo_model_files (const YoloModel *model);
int yolo_model_input_width (const YoloModel *model);
int yolo_model_input_height (const YoloModel *model);
int yolo_model_class_count (const YoloModel *model);
const char *yolo_model_label (const YoloModel *model, int class_id);
double yolo_model_load_ms (const YoloModel *model);
YoloEngine yolo_model_engine (const YoloModel *model);
int yolo_model_threads (const YoloModel *model);
int yolo_model_layer_count (const YoloModel *model);

/* ---- inference ---------------------------------------------------------- */

typedef struct {
  float threshold; /* minimum class confidence, 0..1 */
  float nms; /* IoU above which a weaker same-class box is suppressed */
  bool letterbox; /* keep aspect ratio with grey bars (default: plain resize) */
} YoloInferOptions;

#define YOLO_DEFAULT_THRESHOLD 0.5f
#define YOLO_DEFAULT_NMS 0.45f

void yolo_infer_options_init (YoloInferOptions *options);

/* A frame scaled to the network input, ready to run.  Separate from running
 * so a streaming thread can prepare the newest frame while a worker thread
 * runs the previous one, and so that the tensor can later be sent elsewhere. */
typedef struct {
  int width, height; /* network input size */
  float *data; /* 3 x height x width, RGB planes, 0..1 */
  int source_width, source_height;
  bool letterbox;
} YoloInput;

YoloInput *yolo_input_new (const YoloModel *model);
void yolo_input_free (YoloInput *input);
bool yolo_input_fill (YoloInput *input, const YoloFrame *frame, bool letterbox,
    YoloStatus *status);

/* Runs the network on a prepared input; replaces the contents of out. */
bool yolo_model_run (YoloModel *model, const YoloInput *input,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status);

/* Prepares and runs in one call, reusing a model-owned input buffer. */
bool yolo_model_detect (YoloModel *model, const YoloFrame *frame,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status);

/* ---- running a range of layers ------------------------------------------ */

/* A read-only view of layer `layer`'s output after the last run (data
 * owned by the model, valid until the next run); false if there is no such
 * layer, before any run, or when the engine no longer holds it (the fast
 * engine without keep_layer_outputs holds only what later layers and box
 * decoding read: the last layer's and the detection layers' outputs after
 * a full run). */
bool yolo_model_layer_output (const YoloModel *model, int layer,
    YoloTensor *view);

/* A 64-bit hash of the model's cfg and weights files and its input size,
 * the same on every machine (split inference: both ends must run the same
 * network).  Reads both files the first time (tens of ms for tens of MB),
 * then answers from memory; false with status set if a file cannot be
 * read. */
bool yolo_model_hash (YoloModel *model, uint64_t *hash, YoloStatus *status);

/* The tensors a handover at `cut` holds, in order, with their shapes and
 * no data (data NULL): what a receiver checks a handover against before
 * it allocates anything.  Fills out (freed first). */
bool yolo_model_handover_layout (const YoloModel *model, int cut,
    YoloHandover *out, YoloStatus *status);

/* Runs layers [from, to).  from == 0 reads `input`; from > 0 reads `in`,
 * which must have cut == from.  to < layer count fills `out` with the
 * handover for cut `to`; to == layer count decodes detections into `dets`
 * (options apply then).  Unused arguments may be NULL. */
bool yolo_model_run_layers (YoloModel *model, int from, int to,
    const YoloInput *input, const YoloHandover *in,
    const YoloInferOptions *options, YoloHandover *out, YoloDetections *dets,
    YoloStatus *status);

/* ---- where the time goes -------------------------------------------------- */

typedef enum {
  YOLO_PROFILE_CONV_1X1, /* 1x1 convolutions (one GEMM) */
  YOLO_PROFILE_CONV_GEMM, /* k x k convolutions (im2col + GEMM) */
  YOLO_PROFILE_CONV_DEPTHWISE, /* depthwise convolutions (direct) */
  YOLO_PROFILE_CONV_GROUPED, /* other grouped convolutions */
  YOLO_PROFILE_MAXPOOL,
  YOLO_PROFILE_ROUTE,
  YOLO_PROFILE_SHORTCUT,
  YOLO_PROFILE_UPSAMPLE,
  YOLO_PROFILE_DETECTION, /* yolo/region layers */
  YOLO_PROFILE_OTHER,
  YOLO_PROFILE_DECODE, /* boxes and NMS */
  YOLO_PROFILE_KINDS
} YoloProfileKind;

typedef struct {
  double ms[YOLO_PROFILE_KINDS];
  long layers[YOLO_PROFILE_KINDS]; /* layer runs counted */
  long runs; /* full network runs */
} YoloProfile;

const char *yolo_profile_kind_name (YoloProfileKind kind);
/* Time per kind accumulated since the model opened or the last reset. */
void yolo_model_profile (const YoloModel *model, YoloProfile *profile);
void yolo_model_profile_reset (YoloModel *model);

/* Each layer's time in ms on this machine, smoothed over the runs that ran
 * it (each new run weighs a fifth); 0 for a layer that has not run since
 * the model opened or the last profile reset.  What split inference
 * predicts each cut's cost from (docs/SPLIT.md).  Fills the first
 * min(n, layers) entries of ms; returns the layer count. */
int yolo_model_layer_times (const YoloModel *model, double *ms, int n);

#ifdef __cplusplus
}
#endif
#endif
