/* How a detection rides on a buffer, for other plugins: one
 * GstVideoRegionOfInterestMeta per box (roi type = label, the convention of
 * DL Streamer and the gst-plugins-bad analytics elements), with a "detection"
 * GstStructure param saying where it came from.
 *
 * For us: the same detections also travel in one YsDetectionMeta per buffer,
 * because GStreamer 1.22's videoconvert drops the params of region metas
 * whenever it converts (its scale transform copies only the boxes).  Our
 * meta copies and rescales itself, so yolojson and yolooverlay see the full
 * origin after any converter or scaler.  Readers prefer it and fall back to
 * plain region metas from other plugins.
 *
 * Every yoloswitch element writes and reads detections through these
 * functions only, so the schema lives in one place.
 *
 * "detection" fields:
 *   label       string   class name
 *   class-id    int      index in the model's labels
 *   confidence  double   0..1
 *   source      string   "local" (yolodetect, yoloswitch), "edge" (yolooffload, yoloswitch)
 *                        or "split" (yolosplit)
 *   model       string   model name
 *   frame-pts   uint64   pts of the frame the inference saw (GST_CLOCK_TIME_NONE if unknown)
 *   age-ms      double   how far that frame lies behind this one, in stream time
 *   width, height int    what the analysis saw: local, the network input;
 *                        edge, the encoded frame (absent: unknown)
 *   bitrate     int64    edge: the encoder's bit rate, bits/s (absent: none)
 *   cut         int      split: layers of the edge model run on the device
 *                        before the rest ran on the server (absent: none)
 *   tracked     boolean  the box was moved by yoloswitch's tracker from the
 *                        analysed frame to this one
 */
#ifndef YOLOSWITCH_DETECTION_META_H
#define YOLOSWITCH_DETECTION_META_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "yolo.h"

G_BEGIN_DECLS

#define YS_DETECTION_PARAM "detection"

typedef struct {
  const char *source;
  const char *model;
  GstClockTime frame_pts;
  double age_ms;
  /* yolooffload's frame ids (from 1): this frame's, and the one the result
   * was computed on.  0: none (yolodetect). */
  guint64 frame_id;
  guint64 result_frame_id;
  /* How long the analysis took, from the analysed frame's arrival to its
   * result (edge: capture to RESULT, network included).  0: unknown. */
  double latency_ms;
  /* What the analysis saw (0: unknown), the edge encoder's bit rate (0:
   * none), and whether a tracker moved the boxes onto this frame. */
  int width, height;
  gint64 bitrate;
  int cut; /* split: layers of the edge model run on the device; 0: none */
  gboolean tracked;
} YsDetectionOrigin;

/* Adds one region meta per detection (boxes rounded to whole pixels) and
 * one YsDetectionMeta holding them all, with a result record saying which
 * analysis they came from (also when it found nothing). */
void ys_detection_meta_add (GstBuffer *buffer, const YoloDetections *dets,
    const YsDetectionOrigin *origin);

/* Marks a frame an analysis did not answer: a result record with status
 * "none" and why ("deadline", "disconnected", "overload", ...). */
void ys_detection_meta_add_no_result (GstBuffer *buffer,
    const YsDetectionOrigin *origin, const char *reason);

/* A result that arrived with this frame but whose boxes a newer result
 * replaced before any frame carried them (yoloswitch, two results within
 * one frame interval): status "superseded", so every result is still
 * accounted for. */
void ys_detection_meta_add_superseded (GstBuffer *buffer,
    const YsDetectionOrigin *origin, guint detections);

/* One analysis a frame went through, read back. */
typedef struct {
  const char *source;
  const char *model;
  const char *status; /* "ok", "none" or "superseded" */
  const char *reason; /* NULL when status is "ok" */
  guint64 frame_id, result_frame_id;
  GstClockTime frame_pts;
  double age_ms;
  double latency_ms; /* 0: unknown */
  int width, height; /* 0: unknown */
  gint64 bitrate; /* 0: none */
  int cut; /* split: the cut; 0: none */
  gboolean tracked;
  guint detections;
} YsResultView;

/* Copies up to max result records of the buffer into out; returns how
 * many the buffer has. */
guint ys_detection_meta_results (GstBuffer *buffer, YsResultView *out,
    guint max);

/* A detection read back from a buffer.  Strings point into the meta and live
 * as long as the buffer. */
typedef struct {
  const char *label;
  int class_id;
  double confidence;
  const char *source;
  const char *model;
  GstClockTime frame_pts;
  double age_ms;
  int width, height; /* what the analysis saw; 0: unknown */
  gint64 bitrate; /* 0: none */
  int cut; /* split: the cut; 0: none */
  gboolean tracked;
  guint x, y, w, h;
} YsDetectionView;

/* Iterates the buffer's detections, allocating nothing:
 *   YsDetectionIter it;
 *   ys_detection_iter_init (&it, buffer);
 *   while (ys_detection_iter_next (&it, &view)) ...
 * A buffer with yoloswitch detections yields those only.  A buffer without
 * them yields the region metas other plugins put there (we cannot tell
 * theirs from ours once a converter stripped our params); one without a
 * "detection" param has its roi type as label, class-id -1, confidence -1. */
typedef struct {
  GstBuffer *buffer;
  gpointer ours; /* our meta, or NULL */
  guint next;
  gpointer roi_state;
} YsDetectionIter;

void ys_detection_iter_init (YsDetectionIter *it, GstBuffer *buffer);
gboolean ys_detection_iter_next (YsDetectionIter *it, YsDetectionView *view);

guint ys_detection_meta_count (GstBuffer *buffer);

G_END_DECLS

#endif
