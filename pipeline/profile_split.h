/* yoloswitch-profile's split rungs (issue 15): a cut of the edge model and
 * a bit depth, measured on the profile's frames as the split path runs
 * them: the head, the packet, its dequantization and the tail, every box
 * scored against the reference (the edge model on the raw frames). */
#ifndef YOLOSWITCH_PIPELINE_PROFILE_SPLIT_H
#define YOLOSWITCH_PIPELINE_PROFILE_SPLIT_H

#include "profile.h"
#include "yolo.h"

#include <glib.h>
#include <stdbool.h>

/* The scored frames and their reference detections, n of each. */
typedef struct {
  const YoloFrame *const *frames;
  const YoloDetections *reference;
  int n;
  const YoloInferOptions *infer;
} YsSplitProfileFrames;

/* Fills c (path split, the model's name and input size, cut, bits,
 * bytes_per_frame the packet's mean, encode_ms the head and quantization,
 * decode_ms the dequantization, infer_ms the tail, accuracy against the
 * reference); false with error set when the model cannot run it. */
bool ys_profile_measure_split (YoloModel *model, const YsSplitProfileFrames *f,
    int cut, int bits, YsProfileConfig *c, GError **error);

#endif
