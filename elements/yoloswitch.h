#ifndef YOLOSWITCH_YOLOSWITCH_H
#define YOLOSWITCH_YOLOSWITCH_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

#include "decision.h"
#include "profile.h"
#include "switcher.h"

G_BEGIN_DECLS

#define GST_TYPE_YOLO_SWITCH (gst_yolo_switch_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloSwitch, gst_yolo_switch, GST, YOLO_SWITCH,
    GstVideoFilter)

struct _GstYoloSwitch {
  GstVideoFilter parent;

  /* protected by object lock */
  YsTargets targets;
  gchar *priority;
  gchar *server, *token, *tls_ca_file;
  gchar *local_model, *edge_model, *model_dir;
  gchar *profile_path;
  guint threads;
  gchar *last_decision; /* read-only "decision" property */

  /* Streaming thread (plus start/stop). */
  YsProfile *profile;
  YsSwitcher *switcher;
  YoloDetections scratch;
};

GST_ELEMENT_REGISTER_DECLARE (yoloswitch);

G_END_DECLS

#endif
