#ifndef YOLOSWITCH_YOLOSPLIT_H
#define YOLOSWITCH_YOLOSPLIT_H

#include "detector.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_SPLIT (gst_yolo_split_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloSplit, gst_yolo_split, GST, YOLO_SPLIT,
    GstYoloDetector)

GST_ELEMENT_REGISTER_DECLARE (yolosplit);

G_END_DECLS

#endif
