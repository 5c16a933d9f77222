/* Detections: boxes in pixels of the frame they were found on, with a
 * class, its label and a confidence.  A growable list that every backend
 * fills and every consumer reads.  Plain C, no dependencies. */
#ifndef YOLOSWITCH_YOLO_DETECTIONS_H
#define YOLOSWITCH_YOLO_DETECTIONS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int class_id;
  /* Owned by the model that found it, or interned by the edge client
   * (bounded there): valid for the life of the process. */
  const char *label;
  float confidence;
  float x, y, w, h; /* pixels of the source frame, clipped to it */
} YoloDetection;

typedef struct {
  YoloDetection *items;
  size_t count;
  size_t capacity;
  double infer_ms; /* wall time of the network forward pass and decoding */
} YoloDetections;

void yolo_detections_init (YoloDetections *dets);
void yolo_detections_clear (YoloDetections *dets);
void yolo_detections_free (YoloDetections *dets);
bool yolo_detections_append (YoloDetections *dets, const YoloDetection *det);
bool yolo_detections_copy (YoloDetections *dst, const YoloDetections *src);

#ifdef __cplusplus
}
#endif
#endif
