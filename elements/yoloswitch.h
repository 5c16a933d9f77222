#ifndef YOLOSWITCH_YOLOSWITCH_H
#define YOLOSWITCH_YOLOSWITCH_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <stdio.h>

#include "decision.h"
#include "profile.h"
#include "switcher.h"

G_BEGIN_DECLS

/* Baselines for the evaluation (bench/adaptation.py): the same element
 * behaving like an earlier system, so comparisons share everything else. */
typedef enum {
  GST_YOLO_SWITCH_EMULATE_NONE,
  GST_YOLO_SWITCH_EMULATE_DEEPDECISION,
} GstYoloSwitchEmulate;

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
  gint emulate; /* GstYoloSwitchEmulate */
  gchar *results_location;
  gchar *last_decision; /* read-only "decision" property */

  /* Streaming thread (plus start/stop). */
  YsProfile *profile;
  YsSwitcher *switcher;
  YoloDetections scratch;
  FILE *results_file; /* results-location, or NULL */
  GString *line;
};

GST_ELEMENT_REGISTER_DECLARE (yoloswitch);

G_END_DECLS

#endif
