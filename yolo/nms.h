/* Internal: non-maximum suppression with Darknet's rules, faster. */
#ifndef YOLOSWITCH_YOLO_NMS_H
#define YOLOSWITCH_YOLO_NMS_H

#include <darknet.h>
#include <stdbool.h>

/* Same result as do_nms_sort (dets, total, classes, thresh); false only when
 * memory runs out, dets untouched. */
bool yolo_nms_darknet (detection *dets, int total, int classes, float thresh);

#endif
