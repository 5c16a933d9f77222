/* yolooverlay: draws the detections riding on each buffer (boxes, labels,
 * confidences and an optional stats corner) with cairo, in place. */
#ifndef YOLOSWITCH_YOLO_OVERLAY_H
#define YOLOSWITCH_YOLO_OVERLAY_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_YOLO_OVERLAY (gst_yolo_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloOverlay, gst_yolo_overlay, GST, YOLO_OVERLAY,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (yolooverlay);

G_END_DECLS

#endif
