/* Darknet's non-maximum suppression over our own boxes (net_boxes.c), in
 * a header of its own so that tests/unit/test_fast_engine.c can hold it
 * against Darknet's do_nms_sort() on crowded random boxes. */
#ifndef YOLOSWITCH_YOLO_NN_BOXES_NMS_H
#define YOLOSWITCH_YOLO_NN_BOXES_NMS_H

#include <stddef.h>

typedef struct {
  float x, y, w, h; /* centre and size, relative to the network input */
} NnBox;

typedef struct {
  NnBox box;
  float *prob; /* classes values, 0 where the box does not have the class */
} NnDet;

typedef struct {
  float prob;
  int index;
} NnCandidate;

/* do_nms_sort()'s result: per class, strongest first (ties by index), a
 * weaker box overlapping a kept one by more than thresh (IoU) loses the
 * class (its prob set to 0).  cand: scratch for total candidates. */
void nn_nms (NnDet *dets, size_t total, int classes, float thresh,
    NnCandidate *cand);

#endif
