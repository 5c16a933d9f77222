/* Internal to yolo/: what a loaded model is made of, shared by model.c
 * (loading and running) and handover.c (running a range of layers and
 * handing the tensors across a cut).  Engine-independent: the engine is a
 * backend (backend.h), and nothing here includes darknet.h. */
#ifndef YOLOSWITCH_YOLO_MODEL_INTERNAL_H
#define YOLOSWITCH_YOLO_MODEL_INTERNAL_H

#include "yolo.h"

#include "backend.h"
#include "cfg.h"

struct YoloModel {
  YoloModelFiles files;
  CfgNetwork cfg; /* layer shapes, for handovers and views */
  char **labels;
  int label_count;
  double load_ms;
  YoloInput *input; /* for yolo_model_detect() */
  YoloEngine engine;
  int threads;
  bool keep_layer_outputs; /* YoloModelSpec's */
  const YoloBackendOps *backend;
  YoloBackendModel *impl; /* the backend's model */
  YoloProfile profile;
  /* per layer (cfg.layer_count): its time, smoothed (yolo_model_layer_times) */
  double *layer_ms;
  /* 8-bit weights while opening: the expanded float file, named in
   * files.weights_path until the hash is taken, and the file it came from */
  bool q8;
  int q8_fd;
  char q8_source[sizeof (((YoloModelFiles *) 0)->weights_path)];
  uint64_t hash; /* yolo_model_hash(), once hash_known */
  bool hash_known;
};

/* Runs layers [from, to) with the model's engine: from == 0 on `input`,
 * else on the engine's own buffers (see YoloBackendOps.forward).  false
 * with status set when an output the range reads is not held. */
bool model_forward_range (YoloModel *m, int from, int to, const float *input,
    YoloStatus *status);

/* The detection layers' outputs of the last full run as detections in
 * source-frame pixels, strongest first. */
bool model_decode (YoloModel *m, int source_width, int source_height,
    bool letterbox, const YoloInferOptions *options, YoloDetections *out,
    YoloStatus *status);

#endif
