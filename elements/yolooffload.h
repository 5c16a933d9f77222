#ifndef YOLOSWITCH_YOLOOFFLOAD_H
#define YOLOSWITCH_YOLOOFFLOAD_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "session.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_OFFLOAD (gst_yolo_offload_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloOffload, gst_yolo_offload, GST, YOLO_OFFLOAD,
    GstElement)

typedef enum {
  GST_YOLO_OFFLOAD_MODE_SYNC,
  GST_YOLO_OFFLOAD_MODE_ASYNC,
} GstYoloOffloadMode;

struct _GstYoloOffload {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* protected by object lock */
  gchar *server;
  gchar *token;
  gchar *tls_ca_file;
  gchar *model;
  YsCodec codec;
  gchar *hw_encoder;
  gdouble scale;
  gint width, height;
  gint bitrate;
  gint max_in_flight;
  gint latency_budget_ms;
  GstYoloOffloadMode mode;
  guint stats_interval_ms;

  /* Streaming thread (plus start/stop). */
  YsSession *session; /* also read by the src task */
  GstVideoInfo info;
  gboolean have_info;
  gint64 last_stats_us;
  gboolean first_frame_done;
  YsOutcome scratch;

  /* Sync mode: frames (and serialized events) waiting for their result,
   * pushed in order by the src pad task.  Protected by queue_lock. */
  GMutex queue_lock;
  GCond queue_cond;
  GQueue held; /* HeldItem * */
  gboolean flushing;
  GstFlowReturn src_flow; /* last downstream flow, for the chain */
  YsOutcome task_scratch; /* src task only */
};

GST_ELEMENT_REGISTER_DECLARE (yolooffload);

G_END_DECLS

#endif
