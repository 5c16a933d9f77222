#ifndef YOLOSWITCH_YOLODETECT_H
#define YOLOSWITCH_YOLODETECT_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

#include "yolo.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_DETECT (gst_yolo_detect_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloDetect, gst_yolo_detect, GST, YOLO_DETECT,
    GstVideoFilter)

typedef enum {
  GST_YOLO_DETECT_MODE_SYNC,
  GST_YOLO_DETECT_MODE_ASYNC,
} GstYoloDetectMode;

/* Results of one inference and the frame it saw. */
typedef struct {
  YoloDetections dets;
  GstClockTime frame_pts;
  gint64 frame_wall_us; /* monotonic time the frame arrived */
  double latency_ms; /* arrival to result */
  gboolean valid;
} GstYoloDetectResult;

struct _GstYoloDetect {
  GstVideoFilter parent;

  /* protected by object lock */
  gchar *model_name;
  gchar *config_path;
  gchar *weights_path;
  gchar *labels_path;
  gchar *model_dir;
  YoloInferOptions options;
  guint inference_interval;
  GstYoloDetectMode mode;
  YoloEngine engine;
  guint threads;

  /* Streaming thread only (plus start/stop). */
  YoloModel *model;
  gchar *model_label; /* model name as reported in metas */
  guint64 frame_count;
  GstClockTime reported_latency;
  YoloDetections scratch;

  /* Shared with the async worker: protected by worker_lock. */
  GMutex worker_lock;
  GCond worker_cond;
  GThread *worker;
  gboolean worker_stop;
  YoloInput *staging; /* streaming thread fills it outside the lock */
  YoloInput *pending; /* newest frame waiting for the worker */
  YoloInput *working; /* the frame the worker is running on */
  gboolean pending_valid;
  GstClockTime pending_pts, working_pts;
  guint64 epoch; /* bumped on flush and caps change */
  guint64 pending_epoch, working_epoch;
  gint64 pending_wall_us, working_wall_us;
  YoloInferOptions pending_options, working_options;
  GstYoloDetectResult newest; /* sync mode uses it without the worker */

  /* Counters: protected by worker_lock, read by the read-only properties. */
  guint64 inference_count;
  guint64
      frames_not_inferred; /* async: replaced by a newer frame before the worker took it */
  gdouble last_inference_ms;
  gdouble load_ms;
};

GST_ELEMENT_REGISTER_DECLARE (yolodetect);

G_END_DECLS

#endif
