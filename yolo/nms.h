/* Internal: non-maximum suppression with Darknet's rules, faster. */
#ifndef YOLOSWITCH_YOLO_NMS_H
#define YOLOSWITCH_YOLO_NMS_H

#include <darknet.h>
#include <stdbool.h>

/* Scratch kept between frames, so NMS allocates only when a frame has more
 * boxes than any before.  Zero-initialise; yolo_nms_scratch_free() at the
 * end. */
typedef struct {
  void *items;
  int capacity;
} YoloNmsScratch;

void yolo_nms_scratch_free (YoloNmsScratch *scratch);

/* Same result as do_nms_sort (dets, total, classes, thresh); false only when
 * memory runs out, dets untouched. */
bool yolo_nms_darknet (detection *dets, int total, int classes, float thresh,
    YoloNmsScratch *scratch);

#endif
