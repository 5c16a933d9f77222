#ifndef YOLOSWITCH_YOLOJSON_H
#define YOLOSWITCH_YOLOJSON_H

#include <stdio.h>

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_YOLO_JSON (gst_yolo_json_get_type ())
G_DECLARE_FINAL_TYPE (GstYoloJson, gst_yolo_json, GST, YOLO_JSON,
    GstBaseTransform)

struct _GstYoloJson {
  GstBaseTransform parent;

  /* protected by object lock */
  gchar *location;

  /* streaming thread only (plus start/stop) */
  FILE *out;
  gboolean out_is_stdout;
  GString *line;
  gint width, height;
  guint64
      frames; /* written by the streaming thread; protected by object lock */
};

GST_ELEMENT_REGISTER_DECLARE (yolojson);

G_END_DECLS

#endif
