/* Frames and their stamps; see frame.h. */
#include "frame.h"

const char *
yolo_pixel_format_name (YoloPixelFormat format)
{
  switch (format) {
    case YOLO_PIXEL_RGB: return "RGB";
    case YOLO_PIXEL_BGR: return "BGR";
    case YOLO_PIXEL_RGBX: return "RGBx";
    case YOLO_PIXEL_BGRX: return "BGRx";
    case YOLO_PIXEL_XRGB: return "xRGB";
    case YOLO_PIXEL_XBGR: return "xBGR";
    case YOLO_PIXEL_I420: return "I420";
    case YOLO_PIXEL_NV12: return "NV12";
  }
  return "unknown";
}

int
yolo_frame_plane_rows (YoloPixelFormat format, int plane, int height)
{
  if (format == YOLO_PIXEL_I420)
    return plane == 0 ? height : (plane < 3 ? (height + 1) / 2 : 0);
  if (format == YOLO_PIXEL_NV12)
    return plane == 0 ? height : (plane == 1 ? (height + 1) / 2 : 0);
  return plane == 0 ? height : 0;
}

void
yolo_frame_stamp_init (YoloFrameStamp *stamp, uint64_t sequence, uint64_t pts,
    int64_t arrival_us)
{
  stamp->sequence = sequence;
  stamp->pts = pts;
  stamp->arrival_us = arrival_us;
  stamp->time_us = pts != YOLO_PTS_NONE ? (int64_t) (pts / 1000) : arrival_us;
}

double
yolo_frame_stamp_age_ms (const YoloFrameStamp *older,
    const YoloFrameStamp *newer)
{
  if (older->pts != YOLO_PTS_NONE && newer->pts != YOLO_PTS_NONE)
    return ((double) newer->pts - (double) older->pts) / 1e6;
  return (double) (newer->arrival_us - older->arrival_us) / 1e3;
}
