#ifndef YOLOSWITCH_YOLODETECT_H
#define YOLOSWITCH_YOLODETECT_H

#include "detector.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_DETECT (gst_yolo_detect_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloDetect, gst_yolo_detect, GST, YOLO_DETECT,
    GstYoloDetector)

GST_ELEMENT_REGISTER_DECLARE (yolodetect);

G_END_DECLS

#endif
