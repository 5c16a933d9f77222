#include "video_frames.h"

#include <string.h>

static gboolean
pixel_format (GstVideoFormat format, YoloPixelFormat *out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB: *out = YOLO_PIXEL_RGB; return TRUE;
    case GST_VIDEO_FORMAT_BGR: *out = YOLO_PIXEL_BGR; return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA: *out = YOLO_PIXEL_RGBX; return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA: *out = YOLO_PIXEL_BGRX; return TRUE;
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_ARGB: *out = YOLO_PIXEL_XRGB; return TRUE;
    case GST_VIDEO_FORMAT_xBGR:
    case GST_VIDEO_FORMAT_ABGR: *out = YOLO_PIXEL_XBGR; return TRUE;
    case GST_VIDEO_FORMAT_I420: *out = YOLO_PIXEL_I420; return TRUE;
    case GST_VIDEO_FORMAT_NV12: *out = YOLO_PIXEL_NV12; return TRUE;
    default: return FALSE;
  }
}

gboolean
ys_video_frame_to_yolo (const GstVideoFrame *vframe, YoloFrame *out)
{
  memset (out, 0, sizeof (*out));
  if (!pixel_format (GST_VIDEO_FRAME_FORMAT (vframe), &out->format))
    return FALSE;
  out->width = GST_VIDEO_FRAME_WIDTH (vframe);
  out->height = GST_VIDEO_FRAME_HEIGHT (vframe);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (vframe) && p < 3; p++) {
    out->planes[p] = GST_VIDEO_FRAME_PLANE_DATA (vframe, p);
    out->strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (vframe, p);
  }
  return TRUE;
}
