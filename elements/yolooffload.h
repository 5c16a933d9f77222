#ifndef YOLOSWITCH_YOLOOFFLOAD_H
#define YOLOSWITCH_YOLOOFFLOAD_H

#include "detector.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_OFFLOAD (gst_yolo_offload_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloOffload, gst_yolo_offload, GST, YOLO_OFFLOAD,
    GstYoloDetector)

GST_ELEMENT_REGISTER_DECLARE (yolooffload);

G_END_DECLS

#endif
