/**
 * SECTION:element-yoloswitch
 * @title: yoloswitch
 *
 * Detects objects with the small model on this machine or with the big
 * one on an edge server, switching between them (and between input sizes,
 * resolutions and bit rates) as the network and the scene change, so that
 * the targets hold: target-fps results per second, max-latency-ms from
 * frame to result, and the best accuracy (IoU against the edge model on
 * undegraded frames) it can get within them, target-iou wanted.
 *
 * Both paths stay warm: the local model is loaded at start and runs once a
 * second on a frame the edge also analyses (which keeps a running estimate
 * of its accuracy on this scene), and the WebSocket to the server stays
 * open with heartbeats while the local path is in force.  Choices come
 * from a profile (configs/vtest.profile.json by default, or one made for
 * your camera with yoloswitch-profile) and live estimates, every 20 ms.
 * A step up is probed before it is taken: frames then go to both paths.
 *
 * Frames never wait for a result: each one leaves at once, with the boxes
 * of the newest results moved onto it by a tracker, so no frame goes out
 * without boxes while objects are present, across switches included.
 * Each box says which analysis it came from (path, model, resolution, bit
 * rate, the frame it ran on, its age, and whether the tracker moved it).
 * For a file, put `clocksync` before the element so frames arrive at the
 * camera's pace.
 *
 * Bus messages:
 *  - "yoloswitch-decision" (element message) on every change: path,
 *    config, config-index, reason, probing, probe-config, expected-fps,
 *    expected-latency-ms, expected-accuracy, missed, explanation and the
 *    estimates it used (connected, bandwidth-bps, rtt-ms, rtt-var-ms,
 *    rtt-min-ms, path-rtt-ms, oldest-unacked-ms, oldest-unacked-bytes,
 *    last-bandwidth-bps, server-ms, local-infer-ms, local-correction);
 *  - a warning naming the missed target and why, when one cannot be met;
 *  - "yoloswitch-stats" at EOS: frames, frames-without-boxes,
 *    local-results, edge-results, edge-frames-sent, edge-drops (and of
 *    them edge-drops-deadline, edge-drops-overload), stand-ins (frames the
 *    edge was due but full for, run locally), decisions, labels,
 *    local-correction.
 *
 * results-location names a JSON-lines file that gets every result as it is
 * applied, with the boxes as the model found them on the frame it ran on
 * (before any tracking): source, model, frame_pts, arrival_pts (the frame
 * it arrived with), latency_ms, resolution, bitrate, detections.  For
 * monitoring that wants the models' own output, and for the evaluation.
 *
 * ## Example launch line
 * |[
 * yoloswitch-edge --port 8765 &
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! \
 *     videoconvert ! clocksync ! \
 *     yoloswitch server=ws://127.0.0.1:8765/ target-fps=10 target-iou=0.8 ! \
 *     yolooverlay ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yoloswitch.h"

#include "detection_meta.h"
#include "json_text.h"
#include "video_frames.h"

#include <errno.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_yolo_switch_debug);
#define GST_CAT_DEFAULT gst_yolo_switch_debug

#define DEFAULT_PRIORITY "fps,latency,accuracy"
#define DEFAULT_PROFILE_NAME "vtest.profile.json"

enum {
  PROP_0,
  PROP_TARGET_FPS,
  PROP_TARGET_IOU,
  PROP_MAX_LATENCY_MS,
  PROP_MAX_BITRATE,
  PROP_PRIORITY,
  PROP_POLICY,
  PROP_SERVER,
  PROP_TOKEN,
  PROP_TLS_CA_FILE,
  PROP_LOCAL_MODEL,
  PROP_EDGE_MODEL,
  PROP_MODEL_DIR,
  PROP_PROFILE,
  PROP_THREADS,
  PROP_EMULATE,
  PROP_RESULTS_LOCATION,
  PROP_DECISION,
};

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));

G_DEFINE_TYPE (GstYoloSwitch, gst_yolo_switch, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (yoloswitch, "yoloswitch", GST_RANK_NONE,
    GST_TYPE_YOLO_SWITCH);

#define GST_TYPE_YOLO_SWITCH_POLICY (gst_yolo_switch_policy_get_type ())
static GType
gst_yolo_switch_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { YS_POLICY_AUTO, "Choose the path and configuration to hold the targets",
        "auto" },
    { YS_POLICY_LOCAL, "Local model only (input size still adapts)", "local" },
    { YS_POLICY_EDGE, "Edge server only (resolution and bit rate adapt)",
        "edge" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstYoloSwitchPolicy", values));
  return type;
}

#define GST_TYPE_YOLO_SWITCH_EMULATE (gst_yolo_switch_emulate_get_type ())
static GType
gst_yolo_switch_emulate_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_YOLO_SWITCH_EMULATE_NONE, "yoloswitch itself", "none" },
    { GST_YOLO_SWITCH_EMULATE_DEEPDECISION,
        "DeepDecision-style baseline: a decision once a second without "
        "hold or probe, stop-and-wait offload, a 1 s gap on every path "
        "switch (its app restart)",
        "deepdecision" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstYoloSwitchEmulate", values));
  return type;
}

/* The DeepDecision controller (PRIOR_ART.md): a per-second decision from
 * its table, one frame in flight, a restart to switch.  It has no stall
 * detector: a dead link shows at the next decision, as no bandwidth. */
static void
emulate_deepdecision (YsSwitcherOptions *o)
{
  o->tick_ms = 1000;
  o->max_in_flight = 1;
  o->switch_pause_ms = 1000;
  o->no_stand_in = true;
  o->targets.hold_ms = 1;
  o->targets.probe_ms = 1;
  o->targets.min_stall_ms = 1000;
}

/* ---- settings ----------------------------------------------------------------- */

/* "fps,latency,accuracy" in any order: NULL, or why not. */
static const char *
parse_priority (const char *text, YsTarget out[3])
{
  gchar **names = g_strsplit (text, ",", -1);
  const char *error = NULL;
  gboolean seen[3] = { FALSE, FALSE, FALSE };

  if (g_strv_length (names) != 3)
    error = "priority must name fps, latency and accuracy once each, "
            "separated by commas (e.g. \"fps,latency,accuracy\")";
  for (int i = 0; error == NULL && i < 3; i++) {
    const char *n = g_strstrip (names[i]);
    YsTarget t;
    if (g_str_equal (n, "fps"))
      t = YS_TARGET_FPS;
    else if (g_str_equal (n, "latency"))
      t = YS_TARGET_LATENCY;
    else if (g_str_equal (n, "accuracy"))
      t = YS_TARGET_ACCURACY;
    else {
      error = "priority names are fps, latency and accuracy";
      break;
    }
    if (seen[t])
      error = "priority names each target once";
    seen[t] = TRUE;
    out[i] = t;
  }
  g_strfreev (names);
  return error;
}

/* The shipped profile: beside the sources, then where it is installed. */
static gchar *
default_profile_path (void)
{
  const char *candidates[] = {
    YOLOSWITCH_SOURCE_DIR "/configs/" DEFAULT_PROFILE_NAME,
    YOLOSWITCH_DATA_INSTALL_DIR "/" DEFAULT_PROFILE_NAME,
  };
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_REGULAR))
      return g_strdup (candidates[i]);
  return g_strdup (candidates[G_N_ELEMENTS (candidates) - 1]);
}

/* ---- bus ------------------------------------------------------------------------ */

/* The switcher's tick thread: a decision changed. */
static void
on_decision (const YsSwitchEvent *ev, void *user)
{
  GstYoloSwitch *self = user;
  const YsDecision *d = &ev->decision;
  const YsEstimates *e = &ev->estimates;
  GstStructure *s;

  s = gst_structure_new ("yoloswitch-decision", "path", G_TYPE_STRING,
      ys_path_name (d->path), "config", G_TYPE_STRING, ev->config,
      "config-index", G_TYPE_INT, d->config, "reason", G_TYPE_STRING, d->reason,
      "probing", G_TYPE_BOOLEAN, (gboolean) d->probing, "probe-config",
      G_TYPE_STRING, ev->probe, "expected-fps", G_TYPE_DOUBLE, d->fps,
      "expected-latency-ms", G_TYPE_DOUBLE, d->latency_ms, "expected-accuracy",
      G_TYPE_DOUBLE, d->accuracy, "explanation", G_TYPE_STRING, d->explanation,
      "connected", G_TYPE_BOOLEAN, (gboolean) e->connected, "bandwidth-bps",
      G_TYPE_DOUBLE, e->bandwidth_bps, "rtt-ms", G_TYPE_DOUBLE, e->rtt_ms,
      "rtt-var-ms", G_TYPE_DOUBLE, e->rtt_var_ms, "rtt-min-ms", G_TYPE_DOUBLE,
      e->rtt_min_ms, "path-rtt-ms", G_TYPE_DOUBLE, e->path_rtt_ms,
      "oldest-unacked-ms", G_TYPE_DOUBLE,
      e->oldest_unacked_us > 0 ? (e->now_us - e->oldest_unacked_us) / 1000.0
                               : 0.0,
      "oldest-unacked-bytes", G_TYPE_DOUBLE, e->oldest_unacked_bytes,
      "last-bandwidth-bps", G_TYPE_DOUBLE, e->last_bandwidth_bps, "server-ms",
      G_TYPE_DOUBLE, e->server_ms, "local-infer-ms", G_TYPE_DOUBLE,
      e->local_infer_ms, "monotonic-us", G_TYPE_INT64, e->now_us, NULL);
  if (d->missed != NULL)
    gst_structure_set (s, "missed", G_TYPE_STRING, d->missed, NULL);
  GST_INFO_OBJECT (self, "decision: %s", d->explanation);
  GST_OBJECT_LOCK (self);
  g_free (self->last_decision);
  self->last_decision = g_strdup (d->explanation);
  GST_OBJECT_UNLOCK (self);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (ev->missed_changed && d->missed != NULL)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("%s", d->explanation),
        ("change the targets (target-fps, max-latency-ms, target-iou), the "
         "priority, or give the link more bandwidth"));
  else if (ev->missed_changed)
    GST_ELEMENT_INFO (self, STREAM, FAILED,
        ("every target holds again: %s", d->explanation), (NULL));
}

static void
post_notices (GstYoloSwitch *self)
{
  bool warning;
  char *text;

  while ((text = ys_switcher_take_notice (self->switcher, &warning)) != NULL) {
    if (warning)
      GST_ELEMENT_WARNING (self, RESOURCE, READ, ("%s", text),
          ("the local model carries on meanwhile"));
    else
      GST_ELEMENT_INFO (self, RESOURCE, READ, ("%s", text), (NULL));
    g_free (text);
  }
}

static void
post_stats (GstYoloSwitch *self)
{
  YsSwitcherStats st;
  GstStructure *s;

  ys_switcher_stats (self->switcher, &st);
  s = gst_structure_new ("yoloswitch-stats", "frames", G_TYPE_UINT64, st.frames,
      "frames-without-boxes", G_TYPE_UINT64, st.frames_without_boxes,
      "local-results", G_TYPE_UINT64, st.local_results, "edge-results",
      G_TYPE_UINT64, st.edge_results, "edge-frames-sent", G_TYPE_UINT64,
      st.edge_frames_sent, "edge-drops", G_TYPE_UINT64, st.edge_drops,
      "edge-drops-deadline", G_TYPE_UINT64, st.edge_drops_deadline,
      "edge-drops-overload", G_TYPE_UINT64, st.edge_drops_overload, "stand-ins",
      G_TYPE_UINT64, st.stand_ins, "decisions", G_TYPE_UINT64, st.decisions,
      "labels", G_TYPE_UINT64, st.labels, "local-correction", G_TYPE_DOUBLE,
      st.local_correction, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* ---- streaming ------------------------------------------------------------------ */

static void
fill_origin (const YsAnalysis *a, GstClockTime pts, YsDetectionOrigin *o)
{
  memset (o, 0, sizeof (*o));
  o->source = ys_path_name (a->path);
  o->model = a->model;
  o->frame_pts = (GstClockTime) a->frame_us * GST_USECOND;
  o->age_ms = GST_CLOCK_TIME_IS_VALID (pts)
      ? GST_CLOCK_DIFF (o->frame_pts, pts) / 1e6
      : 0;
  o->result_frame_id = a->edge_frame_id;
  o->latency_ms = a->latency_ms;
  o->width = a->width;
  o->height = a->height;
  o->bitrate = a->bitrate;
  o->tracked = o->age_ms != 0;
}

/* The boxes go on the buffer grouped by the analysis that last saw them,
 * so each group's result record says where it came from. */
static void
attach (GstYoloSwitch *self, GstBuffer *buf, const YsTrackedBox *boxes,
    int count, int newest)
{
  GstClockTime pts = GST_BUFFER_PTS (buf);
  gboolean *done = g_newa (gboolean, MAX (count, 1));
  YsDetectionOrigin origin;
  const int *applied;
  int n_applied;

  memset (done, 0, sizeof (gboolean) * MAX (count, 1));
  for (int i = 0; i < count; i++) {
    if (done[i])
      continue;
    yolo_detections_clear (&self->scratch);
    for (int j = i; j < count; j++)
      if (!done[j] && boxes[j].origin == boxes[i].origin
          && boxes[j].seen_us == boxes[i].seen_us) {
        yolo_detections_append (&self->scratch, &boxes[j].box);
        done[j] = TRUE;
      }
    fill_origin (ys_switcher_analysis (self->switcher, boxes[i].origin), pts,
        &origin);
    ys_detection_meta_add (buf, &self->scratch, &origin);
  }
  /* Results that arrived with this frame but whose boxes a newer one
   * already replaced: recorded, so every result is accounted for. */
  applied = ys_switcher_applied (self->switcher, &n_applied);
  for (int k = 0; k < n_applied; k++) {
    gboolean shown = FALSE;
    const YsAnalysis *a;
    for (int i = 0; i < count && !shown; i++)
      shown = boxes[i].origin == applied[k];
    if (shown || (count == 0 && applied[k] == newest))
      continue;
    a = ys_switcher_analysis (self->switcher, applied[k]);
    fill_origin (a, pts, &origin);
    ys_detection_meta_add_superseded (buf, &origin, (guint) a->detections);
  }
  if (count > 0)
    return;
  /* No boxes: say which analysis found nothing, or that none came yet. */
  if (newest >= 0) {
    yolo_detections_clear (&self->scratch);
    fill_origin (ys_switcher_analysis (self->switcher, newest), pts, &origin);
    ys_detection_meta_add (buf, &self->scratch, &origin);
  } else {
    memset (&origin, 0, sizeof (origin));
    origin.source = "switch";
    origin.model = "";
    origin.frame_pts = GST_CLOCK_TIME_NONE;
    ys_detection_meta_add_no_result (buf, &origin, "no result yet");
  }
}

/* results-location: the analyses applied with this frame, boxes as found. */
static void
log_results (GstYoloSwitch *self, GstClockTime pts)
{
  int n;
  const int *applied = ys_switcher_applied (self->switcher, &n);

  for (int k = 0; k < n; k++) {
    const YsAnalysis *a = ys_switcher_analysis (self->switcher, applied[k]);
    GString *s = self->line;
    g_string_truncate (s, 0);
    g_string_append (s, "{\"source\":");
    ys_json_append_string (s, ys_path_name (a->path));
    g_string_append (s, ",\"model\":");
    ys_json_append_string (s, a->model);
    g_string_append_printf (s,
        ",\"frame_pts\":%" G_GINT64_FORMAT ",\"arrival_pts\":%" G_GINT64_FORMAT
        ",\"latency_ms\":",
        a->frame_us * 1000,
        GST_CLOCK_TIME_IS_VALID (pts) ? (gint64) pts : (gint64) -1);
    ys_json_append_double (s, "%.1f", a->latency_ms);
    g_string_append_printf (s,
        ",\"resolution\":\"%dx%d\",\"bitrate\":%" G_GINT64_FORMAT
        ",\"detections\":[",
        a->width, a->height, a->bitrate);
    for (size_t i = 0; i < a->dets.count; i++) {
      const YoloDetection *d = &a->dets.items[i];
      g_string_append (s, i == 0 ? "{\"label\":" : ",{\"label\":");
      ys_json_append_string (s, d->label);
      g_string_append_printf (s,
          ",\"class_id\":%d,\"confidence\":", d->class_id);
      ys_json_append_double (s, "%.4f", d->confidence);
      g_string_append (s, ",\"x\":");
      ys_json_append_double (s, "%.1f", d->x);
      g_string_append (s, ",\"y\":");
      ys_json_append_double (s, "%.1f", d->y);
      g_string_append (s, ",\"w\":");
      ys_json_append_double (s, "%.1f", d->w);
      g_string_append (s, ",\"h\":");
      ys_json_append_double (s, "%.1f", d->h);
      g_string_append_c (s, '}');
    }
    g_string_append (s, "]}\n");
    fwrite (s->str, 1, s->len, self->results_file);
  }
}

static GstFlowReturn
gst_yolo_switch_transform_frame_ip (GstVideoFilter *filter,
    GstVideoFrame *vframe)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (filter);
  GstBuffer *buf = vframe->buffer;
  GstClockTime pts = GST_BUFFER_PTS (buf);
  YoloFrame frame;
  const YsTrackedBox *boxes;
  int count;
  int64_t frame_us = GST_CLOCK_TIME_IS_VALID (pts)
      ? (int64_t) (pts / GST_USECOND)
      : g_get_monotonic_time ();

  /* The caps allow only formats yolo/ reads. */
  ys_video_frame_to_yolo (vframe, &frame);
  boxes = ys_switcher_process (self->switcher, &frame, frame_us, &count);
  attach (self, buf, boxes, count,
      ys_switcher_newest_analysis (self->switcher));
  if (self->results_file != NULL)
    log_results (self, pts);
  post_notices (self);
  return GST_FLOW_OK;
}

static gboolean
gst_yolo_switch_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      if (self->switcher != NULL)
        ys_switcher_flush (self->switcher);
      break;
    case GST_EVENT_EOS:
      if (self->switcher != NULL) {
        ys_switcher_drain (self->switcher, 2000);
        post_stats (self);
      }
      if (self->results_file != NULL)
        fflush (self->results_file);
      break;
    default: break;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_yolo_switch_parent_class)
      ->sink_event (trans, event);
}

/* ---- start and stop --------------------------------------------------------------- */

static gboolean
gst_yolo_switch_start (GstBaseTransform *trans)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (trans);
  YsSwitcherOptions o = { 0 };
  GError *gerror = NULL;
  char *error = NULL;
  const char *bad_priority;
  gchar *profile_path;
  gchar *copies[6];
  gboolean results_failed;

  GST_OBJECT_LOCK (self);
  profile_path = self->profile_path != NULL ? g_strdup (self->profile_path)
                                            : default_profile_path ();
  o.targets = self->targets;
  bad_priority = parse_priority (self->priority, o.targets.priority);
  GST_OBJECT_UNLOCK (self);
  if (bad_priority != NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", bad_priority), (NULL));
    g_free (profile_path);
    return FALSE;
  }
  self->profile = ys_profile_load (profile_path, &gerror);
  if (self->profile == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", gerror->message),
        ("profile property: %s", profile_path));
    g_error_free (gerror);
    g_free (profile_path);
    return FALSE;
  }
  g_free (profile_path);

  /* Copies: the switcher reports its first decision from ys_switcher_new,
   * and the report takes the object lock. */
  GST_OBJECT_LOCK (self);
  o.local_model.name = copies[0] = g_strdup (self->local_model);
  o.local_model.model_dir = copies[1] = g_strdup (self->model_dir);
  o.server = copies[2] = g_strdup (self->server);
  o.token = copies[3] = g_strdup (self->token);
  o.tls_ca_file = copies[4] = g_strdup (self->tls_ca_file);
  o.edge_model = copies[5] = g_strdup (self->edge_model);
  o.local_model.threads = (int) self->threads;
  if (self->emulate == GST_YOLO_SWITCH_EMULATE_DEEPDECISION)
    emulate_deepdecision (&o);
  GST_OBJECT_UNLOCK (self);
  o.profile = self->profile;
  yolo_infer_options_init (&o.infer);
  o.client_name = GST_OBJECT_NAME (self);
  o.on_decision = on_decision;
  o.user = self;
  self->switcher = ys_switcher_new (&o, &error);
  for (guint i = 0; i < G_N_ELEMENTS (copies); i++)
    g_free (copies[i]);
  if (self->switcher == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error), (NULL));
    g_free (error);
    ys_profile_free (self->profile);
    self->profile = NULL;
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  if (self->results_location != NULL)
    self->results_file = fopen (self->results_location, "w");
  results_failed = self->results_location != NULL && self->results_file == NULL;
  GST_OBJECT_UNLOCK (self);
  if (results_failed) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write results-location: %s", g_strerror (errno)),
        ("check the folder exists and is writable"));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_yolo_switch_stop (GstBaseTransform *trans)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (trans);

  ys_switcher_free (self->switcher);
  self->switcher = NULL;
  ys_profile_free (self->profile);
  self->profile = NULL;
  if (self->results_file != NULL)
    fclose (self->results_file);
  self->results_file = NULL;
  return TRUE;
}

/* ---- properties ------------------------------------------------------------------ */

static void
replace_string (gchar **slot, const GValue *value)
{
  g_free (*slot);
  *slot = g_value_dup_string (value);
}

static void
gst_yolo_switch_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TARGET_FPS: self->targets.fps = g_value_get_double (value); break;
    case PROP_TARGET_IOU: self->targets.iou = g_value_get_double (value); break;
    case PROP_MAX_LATENCY_MS:
      self->targets.max_latency_ms = g_value_get_double (value);
      break;
    case PROP_MAX_BITRATE:
      self->targets.max_bitrate = (double) g_value_get_int64 (value);
      break;
    case PROP_PRIORITY: replace_string (&self->priority, value); break;
    case PROP_POLICY: self->targets.policy = g_value_get_enum (value); break;
    case PROP_SERVER: replace_string (&self->server, value); break;
    case PROP_TOKEN: replace_string (&self->token, value); break;
    case PROP_TLS_CA_FILE: replace_string (&self->tls_ca_file, value); break;
    case PROP_LOCAL_MODEL: replace_string (&self->local_model, value); break;
    case PROP_EDGE_MODEL: replace_string (&self->edge_model, value); break;
    case PROP_MODEL_DIR: replace_string (&self->model_dir, value); break;
    case PROP_PROFILE: replace_string (&self->profile_path, value); break;
    case PROP_THREADS: self->threads = g_value_get_uint (value); break;
    case PROP_EMULATE: self->emulate = g_value_get_enum (value); break;
    case PROP_RESULTS_LOCATION:
      replace_string (&self->results_location, value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_switch_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TARGET_FPS: g_value_set_double (value, self->targets.fps); break;
    case PROP_TARGET_IOU: g_value_set_double (value, self->targets.iou); break;
    case PROP_MAX_LATENCY_MS:
      g_value_set_double (value, self->targets.max_latency_ms);
      break;
    case PROP_MAX_BITRATE:
      g_value_set_int64 (value, (gint64) self->targets.max_bitrate);
      break;
    case PROP_PRIORITY: g_value_set_string (value, self->priority); break;
    case PROP_POLICY: g_value_set_enum (value, self->targets.policy); break;
    case PROP_SERVER: g_value_set_string (value, self->server); break;
    case PROP_TOKEN: g_value_set_string (value, self->token); break;
    case PROP_TLS_CA_FILE: g_value_set_string (value, self->tls_ca_file); break;
    case PROP_LOCAL_MODEL: g_value_set_string (value, self->local_model); break;
    case PROP_EDGE_MODEL: g_value_set_string (value, self->edge_model); break;
    case PROP_MODEL_DIR: g_value_set_string (value, self->model_dir); break;
    case PROP_PROFILE: g_value_set_string (value, self->profile_path); break;
    case PROP_THREADS: g_value_set_uint (value, self->threads); break;
    case PROP_EMULATE: g_value_set_enum (value, self->emulate); break;
    case PROP_RESULTS_LOCATION:
      g_value_set_string (value, self->results_location);
      break;
    case PROP_DECISION: g_value_set_string (value, self->last_decision); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_switch_finalize (GObject *object)
{
  GstYoloSwitch *self = GST_YOLO_SWITCH (object);

  ys_switcher_free (self->switcher);
  ys_profile_free (self->profile);
  yolo_detections_free (&self->scratch);
  g_free (self->priority);
  g_free (self->server);
  g_free (self->token);
  g_free (self->tls_ca_file);
  g_free (self->local_model);
  g_free (self->edge_model);
  g_free (self->model_dir);
  g_free (self->profile_path);
  g_free (self->last_decision);
  g_free (self->results_location);
  if (self->results_file != NULL)
    fclose (self->results_file);
  g_string_free (self->line, TRUE);
  G_OBJECT_CLASS (gst_yolo_switch_parent_class)->finalize (object);
}

static void
gst_yolo_switch_class_init (GstYoloSwitchClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags ready
      = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  YsTargets defaults;

  GST_DEBUG_CATEGORY_INIT (gst_yolo_switch_debug, "yoloswitch", 0,
      "yoloswitch local/edge switcher");
  ys_targets_init (&defaults);

  gobject_class->set_property = gst_yolo_switch_set_property;
  gobject_class->get_property = gst_yolo_switch_get_property;
  gobject_class->finalize = gst_yolo_switch_finalize;

  g_object_class_install_property (gobject_class, PROP_TARGET_FPS,
      g_param_spec_double ("target-fps", "Target frame rate",
          "Results per second wanted", 0.1, 240, defaults.fps, ready));
  g_object_class_install_property (gobject_class, PROP_TARGET_IOU,
      g_param_spec_double ("target-iou", "Target accuracy",
          "IoU accuracy wanted against the edge model on undegraded frames "
          "(0..1); the switcher takes the most accurate configuration that "
          "holds the other targets either way",
          0, 1, defaults.iou, ready));
  g_object_class_install_property (gobject_class, PROP_MAX_LATENCY_MS,
      g_param_spec_double ("max-latency-ms", "Maximum latency",
          "Frame to result, in milliseconds", 1, 60000, defaults.max_latency_ms,
          ready));
  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_int64 ("max-bitrate", "Maximum bit rate",
          "Bits per second the edge path may use, a hard limit; 0: no limit", 0,
          G_MAXINT64, 0, ready));
  g_object_class_install_property (gobject_class, PROP_PRIORITY,
      g_param_spec_string ("priority", "Priority",
          "Which target to keep when they conflict, first to last "
          "(fps, latency, accuracy in any order)",
          DEFAULT_PRIORITY, ready));
  g_object_class_install_property (gobject_class, PROP_POLICY,
      g_param_spec_enum ("policy", "Policy",
          "auto: switch paths; local or edge: stay on one path (its "
          "configuration still adapts)",
          GST_TYPE_YOLO_SWITCH_POLICY, YS_POLICY_AUTO, ready));
  g_object_class_install_property (gobject_class, PROP_SERVER,
      g_param_spec_string ("server", "Edge server",
          "ws:// or wss:// URL of a yoloswitch-edge server; NULL: local only",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "Token the server asks for (its --token); NULL: none", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "wss://: PEM certificates to trust for the server; NULL: the "
          "system's",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_LOCAL_MODEL,
      g_param_spec_string ("local-model", "Local model",
          "Model run on this machine (looked up like yolodetect's model)",
          YOLO_DEFAULT_LOCAL_MODEL, ready));
  g_object_class_install_property (gobject_class, PROP_EDGE_MODEL,
      g_param_spec_string ("edge-model", "Edge model",
          "Model the server must run; NULL: whatever it runs",
          YOLO_DEFAULT_EDGE_MODEL, ready));
  g_object_class_install_property (gobject_class, PROP_MODEL_DIR,
      g_param_spec_string ("model-dir", "Model directory",
          "Folder searched first for the local model", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_PROFILE,
      g_param_spec_string ("profile", "Profile",
          "Profile JSON from yoloswitch-profile; NULL: the shipped "
          "configs/" DEFAULT_PROFILE_NAME,
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads",
          "Local inference threads; 0 = one per core", 0, 256, 0, ready));
  g_object_class_install_property (gobject_class, PROP_EMULATE,
      g_param_spec_enum ("emulate", "Emulate",
          "Behave like an earlier system, for comparisons (bench/)",
          GST_TYPE_YOLO_SWITCH_EMULATE, GST_YOLO_SWITCH_EMULATE_NONE, ready));
  g_object_class_install_property (gobject_class, PROP_RESULTS_LOCATION,
      g_param_spec_string ("results-location", "Results file",
          "JSON-lines file getting every result as the model found it "
          "(before tracking); NULL: none",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_DECISION,
      g_param_spec_string ("decision", "Decision",
          "The decision in force, explained", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "YOLO detector switching between local and edge", "Filter/Analyzer/Video",
      "Runs a small YOLO model here or a big one on an edge server, choosing "
      "the path, resolution and bit rate to hold frame-rate, latency and "
      "accuracy targets; a tracker puts boxes on every frame",
      "yoloswitch developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_yolo_switch_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_yolo_switch_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_yolo_switch_sink_event);
  filter_class->transform_frame_ip
      = GST_DEBUG_FUNCPTR (gst_yolo_switch_transform_frame_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_SWITCH_POLICY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_SWITCH_EMULATE, 0);
}

static void
gst_yolo_switch_init (GstYoloSwitch *self)
{
  ys_targets_init (&self->targets);
  self->priority = g_strdup (DEFAULT_PRIORITY);
  self->local_model = g_strdup (YOLO_DEFAULT_LOCAL_MODEL);
  self->edge_model = g_strdup (YOLO_DEFAULT_EDGE_MODEL);
  yolo_detections_init (&self->scratch);
  self->line = g_string_new (NULL);
  /* Metas are attached, so buffers must be writable: never passthrough. */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* Every frame is accounted for: never drop one for QoS. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
