/* A video frame as every yoloswitch library sees it: a pixel layout, a size
 * and up to three planes with their strides, pointing into the caller's
 * memory (no copy).  And the stamp that says which frame it is, carried
 * from the moment a frame is handed to a detector to the analysis that
 * answers it.
 *
 * Plain C with no dependencies: the codec library (offload/), the model
 * (yolo/model.c) and the pipeline all take frames without linking each
 * other. */
#ifndef YOLOSWITCH_YOLO_FRAME_H
#define YOLOSWITCH_YOLO_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  YOLO_PIXEL_RGB, /* packed 24-bit R,G,B */
  YOLO_PIXEL_BGR,
  YOLO_PIXEL_RGBX, /* packed 32-bit R,G,B,x (x: padding or alpha, ignored) */
  YOLO_PIXEL_BGRX,
  YOLO_PIXEL_XRGB,
  YOLO_PIXEL_XBGR,
  YOLO_PIXEL_I420, /* planar Y, U, V; chroma halved both ways; BT.601 limited range */
  YOLO_PIXEL_NV12, /* planar Y, interleaved UV */
} YoloPixelFormat;

typedef struct {
  YoloPixelFormat format;
  int width, height;
  const uint8_t *planes[3];
  int strides[3]; /* bytes per row of each plane */
} YoloFrame;

const char *yolo_pixel_format_name (YoloPixelFormat format);

/* Rows of plane `plane` of a frame `height` rows high (0: no such plane). */
int yolo_frame_plane_rows (YoloPixelFormat format, int plane, int height);

#define YOLO_PTS_NONE UINT64_MAX

/* Which frame: given with a frame to any detector and returned, unchanged,
 * in the analysis of that frame, so a result is never put on another frame
 * without saying how old it is (PRIOR_ART.md point 4). */
typedef struct {
  uint64_t sequence; /* the caller's count of frames, from 0 */
  uint64_t pts; /* the caller's presentation time (ns); YOLO_PTS_NONE */
  /* The caller's time of the frame for ages and tracking: its pts when it
   * has one, else its arrival, in microseconds. */
  int64_t time_us;
  int64_t arrival_us; /* monotonic clock, when the frame reached us */
} YoloFrameStamp;

/* A stamp for a frame that arrived at arrival_us with pts (YOLO_PTS_NONE
 * when the stream has none). */
void yolo_frame_stamp_init (YoloFrameStamp *stamp, uint64_t sequence,
    uint64_t pts, int64_t arrival_us);

/* How far frame `older` lies behind frame `newer`, in milliseconds: by
 * their pts when both have one, else by arrival. */
double yolo_frame_stamp_age_ms (const YoloFrameStamp *older,
    const YoloFrameStamp *newer);

#ifdef __cplusplus
}
#endif
#endif
