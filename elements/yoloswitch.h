#ifndef YOLOSWITCH_YOLOSWITCH_H
#define YOLOSWITCH_YOLOSWITCH_H

#include "detector.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_SWITCH (gst_yolo_switch_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloSwitch, gst_yolo_switch, GST, YOLO_SWITCH,
    GstYoloDetector)

GST_ELEMENT_REGISTER_DECLARE (yoloswitch);

G_END_DECLS

#endif
