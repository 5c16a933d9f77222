/* Internal to yolo/: what a loaded model is made of, shared by model.c
 * (loading and running) and handover.c (running a range of layers and
 * handing the tensors across a cut).  Only these include darknet.h. */
#ifndef YOLOSWITCH_YOLO_MODEL_INTERNAL_H
#define YOLOSWITCH_YOLO_MODEL_INTERNAL_H

#include "yolo.h"

#include "cfg.h"
#include "engine.h"
#include "nms.h"

#include <darknet.h>

struct YoloModel {
  YoloModelFiles files;
  network *net;
  CfgNetwork cfg;
  char **labels;
  int label_count;
  double load_ms;
  YoloInput *input; /* for yolo_model_detect() */
  YoloEngine engine;
  int threads;
  FastEngine *fast; /* NULL with the darknet engine */
  YoloNmsScratch nms;
  YoloProfile profile;
};

/* Runs layers [from, to) on `input`, the input of layer `from`, with the
 * model's engine. */
void model_forward_range (YoloModel *m, int from, int to, float *input);

/* Darknet's YOLO/region decoding and NMS over the detection layers'
 * outputs, boxes scaled to a source frame of the given size. */
bool model_decode (YoloModel *m, int source_width, int source_height,
    bool letterbox, const YoloInferOptions *options, YoloDetections *out,
    YoloStatus *status);

#endif
