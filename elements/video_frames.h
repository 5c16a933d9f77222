/* Our GStreamer caps as yolo/ frames: one mapping for every element. */
#ifndef YOLOSWITCH_VIDEO_FRAMES_H
#define YOLOSWITCH_VIDEO_FRAMES_H

#include <gst/video/video.h>

#include "yolo.h"

G_BEGIN_DECLS

/* The raw formats every detector element accepts: what yolo/ and the
 * encoder read (packed RGB family, alpha ignored; I420; NV12). */
#define YS_VIDEO_FORMATS                                                       \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, NV12 }"

/* Points *out at a mapped frame's planes (no copy).  FALSE for a format
 * yolo/ cannot read. */
gboolean ys_video_frame_to_yolo (const GstVideoFrame *vframe, YoloFrame *out);

G_END_DECLS

#endif
