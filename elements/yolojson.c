/**
 * SECTION:element-yolojson
 * @title: yolojson
 *
 * Writes one JSON object per frame, on one line, as the frame passes: frame
 * number (from 0, contiguous), pts (ns, or null), width, height and the
 * frame's detections (label, class_id, confidence, x, y, w, h in pixels,
 * source, model, frame_pts, age_ms) and a "results" record per analysis
 * (source, status, reason, model, frame ids, age_ms, latency_ms: arrival
 * to result).  Frames pass unchanged; none is ever
 * dropped, so it can sit inline or at the end of a tee branch.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! \
 *     videoconvert ! yolodetect ! yolojson location=detections.jsonl ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yolojson.h"

#include <errno.h>
#include <string.h>

#include <gst/video/video.h>

#include "detection_meta.h"
#include "json_text.h"

GST_DEBUG_CATEGORY_STATIC (gst_yolo_json_debug);
#define GST_CAT_DEFAULT gst_yolo_json_debug

#define DEFAULT_LOCATION NULL

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_FRAMES,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));

#define gst_yolo_json_parent_class parent_class
G_DEFINE_TYPE (GstYoloJson, gst_yolo_json, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (yolojson, "yolojson", GST_RANK_NONE,
    GST_TYPE_YOLO_JSON);

static void
append_time (GString *s, GstClockTime t)
{
  if (GST_CLOCK_TIME_IS_VALID (t))
    g_string_append_printf (s, "%" G_GUINT64_FORMAT, (guint64) t);
  else
    g_string_append (s, "null");
}

/* What the analysis saw, when known: "resolution" (network input or
 * encoded frame), the edge encoder's "bitrate", the split path's "cut",
 * and "tracked" when a tracker moved the boxes from the analysed frame to
 * this one. */
static void
append_analysis (GString *s, int width, int height, gint64 bitrate, int cut,
    gboolean tracked)
{
  if (width > 0)
    g_string_append_printf (s, ",\"resolution\":\"%dx%d\"", width, height);
  if (bitrate > 0)
    g_string_append_printf (s, ",\"bitrate\":%" G_GINT64_FORMAT, bitrate);
  if (cut > 0)
    g_string_append_printf (s, ",\"cut\":%d", cut);
  if (tracked)
    g_string_append (s, ",\"tracked\":true");
}

/* "results": the analyses the frame went through (source, status "ok" or
 * "none" with a reason, the frame ids of yolooffload), when there are any. */
static void
append_results (GString *s, GstBuffer *buf)
{
  YsResultView results[8];
  guint n = ys_detection_meta_results (buf, results, G_N_ELEMENTS (results));

  if (n == 0)
    return;
  g_string_append (s, ",\"results\":[");
  for (guint i = 0; i < MIN (n, G_N_ELEMENTS (results)); i++) {
    const YsResultView *r = &results[i];
    g_string_append (s, i == 0 ? "{\"source\":" : ",{\"source\":");
    ys_json_append_string (s, r->source);
    g_string_append (s, ",\"status\":");
    ys_json_append_string (s, r->status);
    if (r->reason != NULL) {
      g_string_append (s, ",\"reason\":");
      ys_json_append_string (s, r->reason);
    }
    g_string_append (s, ",\"model\":");
    ys_json_append_string (s, r->model);
    if (r->frame_id != 0)
      g_string_append_printf (s, ",\"frame_id\":%" G_GUINT64_FORMAT,
          r->frame_id);
    if (r->result_frame_id != 0)
      g_string_append_printf (s, ",\"result_frame_id\":%" G_GUINT64_FORMAT,
          r->result_frame_id);
    g_string_append (s, ",\"frame_pts\":");
    append_time (s, r->frame_pts);
    g_string_append (s, ",\"age_ms\":");
    ys_json_append_double (s, "%.1f", r->age_ms);
    if (r->latency_ms > 0) {
      g_string_append (s, ",\"latency_ms\":");
      ys_json_append_double (s, "%.1f", r->latency_ms);
    }
    append_analysis (s, r->width, r->height, r->bitrate, r->cut, r->tracked);
    g_string_append_printf (s, ",\"detections\":%u}", r->detections);
  }
  g_string_append_c (s, ']');
}

/* Formats the frame's line in self->line. */
static void
format_frame (GstYoloJson *self, GstBuffer *buf)
{
  GString *s = self->line;
  YsDetectionIter it;
  YsDetectionView d;
  gboolean first = TRUE;

  g_string_truncate (s, 0);
  g_string_append_printf (s,
      "{\"frame\":%" G_GUINT64_FORMAT ",\"pts\":", self->frames);
  append_time (s, GST_BUFFER_PTS (buf));
  g_string_append_printf (s, ",\"width\":%d,\"height\":%d,\"detections\":[",
      self->width, self->height);
  ys_detection_iter_init (&it, buf);
  while (ys_detection_iter_next (&it, &d)) {
    g_string_append (s, first ? "{\"label\":" : ",{\"label\":");
    first = FALSE;
    ys_json_append_string (s, d.label);
    g_string_append_printf (s, ",\"class_id\":%d,\"confidence\":", d.class_id);
    ys_json_append_double (s, "%.4f", d.confidence);
    g_string_append_printf (s,
        ",\"x\":%u,\"y\":%u,\"w\":%u,\"h\":%u,\"source\":", d.x, d.y, d.w, d.h);
    ys_json_append_string (s, d.source);
    g_string_append (s, ",\"model\":");
    ys_json_append_string (s, d.model);
    g_string_append (s, ",\"frame_pts\":");
    append_time (s, d.frame_pts);
    g_string_append (s, ",\"age_ms\":");
    ys_json_append_double (s, "%.1f", d.age_ms);
    append_analysis (s, d.width, d.height, d.bitrate, d.cut, d.tracked);
    g_string_append_c (s, '}');
  }
  g_string_append_c (s, ']');
  append_results (s, buf);
  g_string_append (s, "}\n");
}

static GstFlowReturn
gst_yolo_json_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstYoloJson *self = GST_YOLO_JSON (trans);

  format_frame (self, buf);
  /* Flushed per line: a reader tailing the file sees each frame at once,
   * and a crash loses at most the frame being written. */
  if (fwrite (self->line->str, 1, self->line->len, self->out) != self->line->len
      || fflush (self->out) != 0)
    goto write_failed;
  GST_OBJECT_LOCK (self);
  self->frames++;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;

  /* ERRORS */
write_failed:
  GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
      ("Could not write detections: %s. Check free space and permissions "
       "of the location.",
          g_strerror (errno)),
      (NULL));
  return GST_FLOW_ERROR;
}

static gboolean
gst_yolo_json_set_caps (GstBaseTransform *trans, GstCaps *incaps,
    GstCaps *outcaps)
{
  GstYoloJson *self = GST_YOLO_JSON (trans);
  GstStructure *s = gst_caps_get_structure (incaps, 0);

  self->width = self->height = 0;
  gst_structure_get_int (s, "width", &self->width);
  gst_structure_get_int (s, "height", &self->height);
  return TRUE;
}

static gboolean
gst_yolo_json_start (GstBaseTransform *trans)
{
  GstYoloJson *self = GST_YOLO_JSON (trans);
  gchar *location;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);

  if (location == NULL || *location == '\0' || strcmp (location, "-") == 0) {
    self->out = stdout;
    self->out_is_stdout = TRUE;
  } else {
    self->out = fopen (location, "w");
    self->out_is_stdout = FALSE;
    if (self->out == NULL)
      goto open_failed;
  }
  GST_INFO_OBJECT (self, "writing to %s", location ? location : "stdout");
  g_free (location);
  GST_OBJECT_LOCK (self);
  self->frames = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;

  /* ERRORS */
open_failed:
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
      ("Could not open \"%s\" for writing: %s. Check that its folder exists "
       "and is writable.",
          location, g_strerror (errno)),
      (NULL));
  g_free (location);
  return FALSE;
}

static gboolean
gst_yolo_json_stop (GstBaseTransform *trans)
{
  GstYoloJson *self = GST_YOLO_JSON (trans);
  gboolean ok = TRUE;

  if (self->out != NULL && !self->out_is_stdout)
    ok = fclose (self->out) == 0;
  else if (self->out != NULL)
    fflush (self->out);
  self->out = NULL;
  if (!ok)
    GST_ELEMENT_ERROR (self, RESOURCE, CLOSE,
        ("Could not finish writing detections: %s", g_strerror (errno)),
        (NULL));
  return ok;
}

static void
gst_yolo_json_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstYoloJson *self = GST_YOLO_JSON (object);

  switch (prop_id) {
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      g_free (self->location);
      self->location = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
}

static void
gst_yolo_json_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloJson *self = GST_YOLO_JSON (object);

  switch (prop_id) {
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->location);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FRAMES:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->frames);
      GST_OBJECT_UNLOCK (self);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
}

static void
gst_yolo_json_finalize (GObject *object)
{
  GstYoloJson *self = GST_YOLO_JSON (object);

  g_free (self->location);
  g_string_free (self->line, TRUE);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_yolo_json_class_init (GstYoloJsonClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_yolo_json_debug, "yolojson", 0,
      "Detections as JSON lines");

  gobject_class->set_property = gst_yolo_json_set_property;
  gobject_class->get_property = gst_yolo_json_get_property;
  gobject_class->finalize = gst_yolo_json_finalize;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "File to write JSON lines to (truncated at start); unset or \"-\" "
          "writes to stdout",
          DEFAULT_LOCATION, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_FRAMES,
      g_param_spec_uint64 ("frames", "Frames written",
          "Lines written since start", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Detections to JSON lines", "Filter/Formatter/Metadata",
      "Writes each frame's detections as one JSON object per line and passes "
      "the frame on",
      "yoloswitch developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_yolo_json_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_yolo_json_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_yolo_json_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_yolo_json_transform_ip);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;
}

static void
gst_yolo_json_init (GstYoloJson *self)
{
  self->line = g_string_sized_new (4096);
  /* Only reads metadata: buffers pass untouched and need not be writable. */
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
