/**
 * SECTION:element-yolooffload
 * @title: yolooffload
 *
 * Sends every frame, encoded (H.264 or MJPEG at a chosen size and bit
 * rate), to a yoloswitch-edge server over WebSockets and attaches the
 * detections it answers with (source "edge"), in the same metas as
 * yolodetect.  Frames are pipelined: up to max-in-flight frames are on the
 * wire or on the server at once; the element never waits for one result
 * before sending the next frame.
 *
 * mode=sync holds each frame until its result or until latency-budget-ms
 * after it arrived, then passes it on with the result or with a "no
 * result" record saying why (deadline, disconnected, overload,
 * decode-error, shutdown, in-flight-limit, link-backlog), in order.
 * mode=async never holds a frame: it passes at once with the newest result
 * so far, which says which frame (frame id and pts) it was computed on and
 * how old it is.
 *
 * A server that cannot be reached or goes away is not an error: frames
 * keep flowing with "no result", a warning goes to the bus, the element
 * reconnects with backoff, and results resume when the server is back.
 *
 * Every stats-interval-ms a "yoloswitch-offload-stats" element message
 * carries: connected (boolean), bandwidth-bps, throughput-bps, rtt-ms,
 * rtt-min-ms, server-ms (doubles), in-flight (int), frames-sent, results,
 * drops, frames-without-result, bytes-sent (uint64), encode-ms (double),
 * width, height (int, encoded size), bitrate (int64), encoder (string).
 * One more comes at EOS with the totals (sync: once every held frame has
 * been answered).
 *
 * ## Example launch line
 * |[
 * yoloswitch-edge --port 8765 &
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! \
 *     videoconvert ! yolooffload server=ws://127.0.0.1:8765/ ! \
 *     yolojson location=edge.jsonl ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yolooffload.h"

#include "detection_meta.h"
#include "video_frames.h"

#include <math.h>

GST_DEBUG_CATEGORY_STATIC (gst_yolo_offload_debug);
#define GST_CAT_DEFAULT gst_yolo_offload_debug

#define DEFAULT_SERVER NULL
#define DEFAULT_TOKEN NULL
#define DEFAULT_MODEL NULL
#define DEFAULT_CODEC YS_CODEC_H264
#define DEFAULT_HW_ENCODER NULL
#define DEFAULT_SCALE 1.0
#define DEFAULT_WIDTH 0
#define DEFAULT_HEIGHT 0
#define DEFAULT_BITRATE 1000000
#define DEFAULT_MAX_IN_FLIGHT 4
#define DEFAULT_LATENCY_BUDGET_MS 500
#define DEFAULT_MODE GST_YOLO_OFFLOAD_MODE_SYNC
#define DEFAULT_STATS_INTERVAL_MS 1000

enum {
  PROP_0,
  PROP_SERVER,
  PROP_TOKEN,
  PROP_TLS_CA_FILE,
  PROP_MODEL,
  PROP_CODEC,
  PROP_HW_ENCODER,
  PROP_SCALE,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_BITRATE,
  PROP_MAX_IN_FLIGHT,
  PROP_LATENCY_BUDGET_MS,
  PROP_MODE,
  PROP_STATS_INTERVAL_MS,
  PROP_CONNECTED,
  PROP_BANDWIDTH,
  PROP_THROUGHPUT,
  PROP_RTT_MS,
  PROP_RTT_MIN_MS,
  PROP_SERVER_MS,
  PROP_IN_FLIGHT,
  PROP_FRAMES_SENT,
  PROP_RESULTS,
  PROP_FRAMES_WITHOUT_RESULT,
};

/* A frame (or a serialized event) in sync mode's queue. */
typedef struct {
  GstBuffer *buffer;
  GstEvent *event;
  guint32 frame_id; /* 0: not sent */
  const char *reason; /* why not sent */
} HeldItem;

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));

G_DEFINE_TYPE (GstYoloOffload, gst_yolo_offload, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (yolooffload, "yolooffload", GST_RANK_NONE,
    GST_TYPE_YOLO_OFFLOAD);

#define GST_TYPE_YOLO_OFFLOAD_MODE (gst_yolo_offload_mode_get_type ())
static GType
gst_yolo_offload_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_YOLO_OFFLOAD_MODE_SYNC,
        "Hold each frame until its result or its deadline", "sync" },
    { GST_YOLO_OFFLOAD_MODE_ASYNC,
        "Never hold a frame; attach the newest result", "async" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstYoloOffloadMode", values));
  return type;
}

#define GST_TYPE_YOLO_OFFLOAD_CODEC (gst_yolo_offload_codec_get_type ())
static GType
gst_yolo_offload_codec_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { YS_CODEC_H264, "H.264 (libx264 or a hardware encoder)", "h264" },
    { YS_CODEC_MJPEG, "Motion JPEG", "mjpeg" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstYoloOffloadCodec", values));
  return type;
}

static void
held_item_free (HeldItem *item)
{
  gst_clear_buffer (&item->buffer);
  gst_clear_event (&item->event);
  g_free (item);
}

/* Streaming thread: bus notices the session collected (server lost, back,
 * refused).  Never under a lock. */
static void
post_notices (GstYoloOffload *self)
{
  bool warning;
  char *text;

  while ((text = ys_session_take_notice (self->session, &warning)) != NULL) {
    if (warning)
      GST_ELEMENT_WARNING (self, RESOURCE, READ, ("%s", text), (NULL));
    else
      GST_ELEMENT_INFO (self, RESOURCE, READ, ("%s", text), (NULL));
    g_free (text);
  }
}

static void
post_stats (GstYoloOffload *self)
{
  YsSessionStats st;
  GstStructure *s;

  ys_session_stats (self->session, &st);
  s = gst_structure_new ("yoloswitch-offload-stats", "connected",
      G_TYPE_BOOLEAN, (gboolean) st.connected, "bandwidth-bps", G_TYPE_DOUBLE,
      st.bandwidth_bps, "throughput-bps", G_TYPE_DOUBLE, st.throughput_bps,
      "rtt-ms", G_TYPE_DOUBLE, st.rtt_ms, "rtt-min-ms", G_TYPE_DOUBLE,
      st.rtt_min_ms, "server-ms", G_TYPE_DOUBLE, st.server_ms, "in-flight",
      G_TYPE_INT, st.in_flight, "frames-sent", G_TYPE_UINT64, st.frames_sent,
      "results", G_TYPE_UINT64, st.results, "drops", G_TYPE_UINT64, st.drops,
      "frames-without-result", G_TYPE_UINT64, st.no_results, "bytes-sent",
      G_TYPE_UINT64, st.bytes_sent, "encode-ms", G_TYPE_DOUBLE,
      st.last_encode_ms, "width", G_TYPE_INT, st.width, "height", G_TYPE_INT,
      st.height, "bitrate", G_TYPE_INT64, st.bitrate, "encoder", G_TYPE_STRING,
      st.encoder_name, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Attaches what the frame got: its result, the newest one (async), or a
 * "no result" record. */
static void
attach (GstYoloOffload *self, GstBuffer *buf, guint32 frame_id,
    const YsOutcome *outcome, gboolean have, const char *reason)
{
  YsDetectionOrigin origin
      = { "edge", NULL, GST_CLOCK_TIME_NONE, 0, frame_id, 0 };

  if (have && outcome->ok) {
    GstClockTime pts = GST_BUFFER_PTS (buf);
    origin.model = outcome->model;
    origin.frame_pts = (GstClockTime) outcome->result_user_pts;
    origin.result_frame_id = outcome->result_frame_id;
    origin.latency_ms = outcome->result_latency_ms;
    origin.width = outcome->encoded_width;
    origin.height = outcome->encoded_height;
    origin.bitrate = outcome->bitrate;
    if (GST_CLOCK_TIME_IS_VALID (pts)
        && GST_CLOCK_TIME_IS_VALID (origin.frame_pts))
      origin.age_ms = GST_CLOCK_DIFF (origin.frame_pts, pts) / 1e6;
    else
      origin.age_ms
          = (g_get_monotonic_time () - outcome->result_capture_us) / 1000.0;
    ys_detection_meta_add (buf, &outcome->detections, &origin);
  } else {
    origin.model = have && outcome->model[0] != '\0' ? outcome->model : "";
    ys_detection_meta_add_no_result (buf, &origin,
        have ? outcome->reason : reason);
  }
}

/* ---- streaming thread ------------------------------------------------------- */

static GstFlowReturn
gst_yolo_offload_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (parent);
  GstYoloOffloadMode mode;
  GstVideoFrame vframe;
  YoloFrame frame = { 0 };
  gint64 capture_us = g_get_monotonic_time ();
  const char *reason = NULL;
  guint32 frame_id = 0;
  gint width, height, bitrate, max_held, stats_ms, budget_ms;
  gdouble scale;

  if (!self->have_info)
    goto not_negotiated;

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  scale = self->scale;
  width = self->width;
  height = self->height;
  bitrate = self->bitrate;
  max_held = self->max_in_flight + 2;
  stats_ms = (gint) self->stats_interval_ms;
  budget_ms = self->latency_budget_ms;
  GST_OBJECT_UNLOCK (self);
  if (width <= 0 || height <= 0) {
    width = (gint) lround (GST_VIDEO_INFO_WIDTH (&self->info) * scale);
    height = (gint) lround (GST_VIDEO_INFO_HEIGHT (&self->info) * scale);
  }
  ys_session_set_encoding (self->session, width, height, bitrate);

  /* Sync: the very first frame may wait, within its budget, for the first
   * connection attempt, so a stream does not start with misses. */
  if (mode == GST_YOLO_OFFLOAD_MODE_SYNC && !self->first_frame_done)
    ys_session_wait_connected (self->session, budget_ms);
  self->first_frame_done = TRUE;

  if (!gst_video_frame_map (&vframe, &self->info, buf, GST_MAP_READ))
    goto map_failed;
  /* The caps allow only formats yolo/ reads. */
  ys_video_frame_to_yolo (&vframe, &frame);
  frame_id = ys_session_submit (self->session, &frame, GST_BUFFER_PTS (buf),
      capture_us, mode == GST_YOLO_OFFLOAD_MODE_SYNC, &reason);
  gst_video_frame_unmap (&vframe);
  GST_LOG_OBJECT (self, "frame %u %s", frame_id,
      frame_id != 0 ? "sent" : reason);

  post_notices (self);
  if (capture_us - self->last_stats_us >= (gint64) stats_ms * 1000) {
    if (self->last_stats_us != 0)
      post_stats (self);
    self->last_stats_us = capture_us;
  }

  if (mode == GST_YOLO_OFFLOAD_MODE_ASYNC) {
    gboolean have = ys_session_newest (self->session, &self->scratch);
    buf = gst_buffer_make_writable (buf);
    attach (self, buf, frame_id, &self->scratch, have,
        frame_id != 0 ? "no-result-yet" : reason);
    return gst_pad_push (self->srcpad, buf);
  } else {
    HeldItem *item = g_new0 (HeldItem, 1);
    GstFlowReturn ret;
    item->buffer = buf;
    item->frame_id = frame_id;
    item->reason = reason;
    g_mutex_lock (&self->queue_lock);
    /* Bounded: frames answered but not yet taken by a slow downstream
     * hold the chain here. */
    while (!self->flushing && self->src_flow == GST_FLOW_OK
        && (gint) g_queue_get_length (&self->held) >= max_held)
      g_cond_wait (&self->queue_cond, &self->queue_lock);
    ret = self->flushing ? GST_FLOW_FLUSHING : self->src_flow;
    if (ret == GST_FLOW_OK) {
      g_queue_push_tail (&self->held, item);
      g_cond_broadcast (&self->queue_cond);
    }
    g_mutex_unlock (&self->queue_lock);
    if (ret != GST_FLOW_OK)
      held_item_free (item);
    return ret;
  }

  /* ERRORS */
not_negotiated : {
  gst_buffer_unref (buf);
  return GST_FLOW_NOT_NEGOTIATED;
}
map_failed : {
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame"),
      (NULL));
  gst_buffer_unref (buf);
  return GST_FLOW_ERROR;
}
}

/* Src pad task, sync mode: pushes frames in order once each has its
 * outcome. */
static void
gst_yolo_offload_loop (gpointer data)
{
  GstYoloOffload *self = data;
  HeldItem *item;
  GstFlowReturn ret;

  g_mutex_lock (&self->queue_lock);
  while (!self->flushing && g_queue_is_empty (&self->held))
    g_cond_wait (&self->queue_cond, &self->queue_lock);
  if (self->flushing)
    goto pause;
  item = g_queue_peek_head (&self->held);
  g_mutex_unlock (&self->queue_lock);

  if (item->buffer != NULL && item->frame_id != 0
      && !ys_session_wait (self->session, item->frame_id,
          &self->task_scratch)) {
    return; /* interrupted: a flush; the next round sees it */
  }

  g_mutex_lock (&self->queue_lock);
  if (self->flushing)
    goto pause;
  g_queue_pop_head (&self->held);
  g_cond_broadcast (&self->queue_cond);
  g_mutex_unlock (&self->queue_lock);

  if (item->event != NULL) {
    GstEvent *event = item->event;
    item->event = NULL;
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
      post_stats (self); /* the totals, every held frame answered */
    gst_pad_push_event (self->srcpad, event);
    held_item_free (item);
    return;
  }
  item->buffer = gst_buffer_make_writable (item->buffer);
  attach (self, item->buffer, item->frame_id, &self->task_scratch,
      item->frame_id != 0, item->reason);
  ret = gst_pad_push (self->srcpad, item->buffer);
  item->buffer = NULL;
  held_item_free (item);

  g_mutex_lock (&self->queue_lock);
  self->src_flow = ret;
  g_cond_broadcast (&self->queue_cond);
  if (ret == GST_FLOW_OK) {
    g_mutex_unlock (&self->queue_lock);
    return;
  }
  GST_DEBUG_OBJECT (self, "pausing: %s", gst_flow_get_name (ret));
  if (ret <= GST_FLOW_NOT_NEGOTIATED || ret == GST_FLOW_NOT_LINKED)
    GST_ELEMENT_FLOW_ERROR (self, ret);
pause:
  g_mutex_unlock (&self->queue_lock);
  gst_pad_pause_task (self->srcpad);
}

static void
set_flushing (GstYoloOffload *self, gboolean flushing)
{
  g_mutex_lock (&self->queue_lock);
  self->flushing = flushing;
  if (flushing == FALSE) {
    g_queue_clear_full (&self->held, (GDestroyNotify) held_item_free);
    self->src_flow = GST_FLOW_OK;
  }
  g_cond_broadcast (&self->queue_cond);
  g_mutex_unlock (&self->queue_lock);
  if (self->session != NULL) {
    ys_session_interrupt (self->session, flushing);
    if (!flushing)
      ys_session_forget_all (self->session);
  }
}

static gboolean
gst_yolo_offload_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (parent);
  gboolean sync;

  GST_OBJECT_LOCK (self);
  sync = self->mode == GST_YOLO_OFFLOAD_MODE_SYNC;
  GST_OBJECT_UNLOCK (self);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      set_flushing (self, TRUE);
      gst_pad_push_event (self->srcpad, event);
      gst_pad_pause_task (self->srcpad);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      set_flushing (self, FALSE);
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, gst_yolo_offload_loop, self,
          NULL);
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      if (!gst_video_info_from_caps (&self->info, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      self->have_info = TRUE;
      break;
    }
    case GST_EVENT_EOS:
      if (!sync)
        post_stats (self); /* the totals; sync posts them after its frames */
      break;
    default: break;
  }
  if (sync && GST_EVENT_IS_SERIALIZED (event)) {
    /* In order with the frames held before it. */
    HeldItem *item = g_new0 (HeldItem, 1);
    gboolean ok;
    item->event = event;
    g_mutex_lock (&self->queue_lock);
    ok = !self->flushing;
    if (ok) {
      g_queue_push_tail (&self->held, item);
      g_cond_broadcast (&self->queue_cond);
    }
    g_mutex_unlock (&self->queue_lock);
    if (!ok)
      held_item_free (item);
    return ok;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_yolo_offload_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, budget;
    gboolean sync;

    if (!gst_pad_peer_query (self->sinkpad, query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    sync = self->mode == GST_YOLO_OFFLOAD_MODE_SYNC;
    budget = (GstClockTime) self->latency_budget_ms * GST_MSECOND;
    GST_OBJECT_UNLOCK (self);
    /* Sync mode may hold a frame for the whole budget. */
    if (sync) {
      min += budget;
      if (GST_CLOCK_TIME_IS_VALID (max))
        max += budget;
    }
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_yolo_offload_src_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    set_flushing (self, FALSE);
    return gst_pad_start_task (pad, gst_yolo_offload_loop, self, NULL);
  }
  set_flushing (self, TRUE);
  return gst_pad_stop_task (pad);
}

/* ---- start and stop ------------------------------------------------------- */

static gboolean
start (GstYoloOffload *self)
{
  YsSessionOptions o = { 0 };
  const char *error = NULL;

  GST_OBJECT_LOCK (self);
  o.server = self->server;
  o.token = self->token;
  o.tls_ca_file = self->tls_ca_file;
  o.model = self->model;
  o.client_name = GST_OBJECT_NAME (self);
  o.codec = self->codec;
  o.hw_encoder = self->hw_encoder;
  o.fps = 30;
  o.max_in_flight = self->max_in_flight;
  o.latency_budget_ms = self->latency_budget_ms;
  if (o.server == NULL) {
    GST_OBJECT_UNLOCK (self);
    goto no_server;
  }
  /* The session copies every string. */
  self->session = ys_session_new (&o, &error);
  GST_OBJECT_UNLOCK (self);
  if (self->session == NULL)
    goto session_failed;
  self->last_stats_us = 0;
  self->first_frame_done = FALSE;
  self->have_info = FALSE;
  return TRUE;

  /* ERRORS */
no_server : {
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("No edge server set: set server=ws://HOST:PORT/ (start one with "
       "yoloswitch-edge)"),
      (NULL));
  return FALSE;
}
session_failed : {
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error), (NULL));
  return FALSE;
}
}

static GstStateChangeReturn
gst_yolo_offload_change_state (GstElement *element, GstStateChange transition)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start (self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (gst_yolo_offload_parent_class)
            ->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || (transition == GST_STATE_CHANGE_READY_TO_PAUSED
          && ret == GST_STATE_CHANGE_FAILURE)) {
    g_mutex_lock (&self->queue_lock);
    g_queue_clear_full (&self->held, (GDestroyNotify) held_item_free);
    g_mutex_unlock (&self->queue_lock);
    ys_session_free (self->session);
    self->session = NULL;
  }
  return ret;
}

/* ---- properties --------------------------------------------------------------- */

static void
gst_yolo_offload_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SERVER:
      g_free (self->server);
      self->server = g_value_dup_string (value);
      break;
    case PROP_TOKEN:
      g_free (self->token);
      self->token = g_value_dup_string (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free (self->tls_ca_file);
      self->tls_ca_file = g_value_dup_string (value);
      break;
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_CODEC: self->codec = g_value_get_enum (value); break;
    case PROP_HW_ENCODER:
      g_free (self->hw_encoder);
      self->hw_encoder = g_value_dup_string (value);
      break;
    case PROP_SCALE: self->scale = g_value_get_double (value); break;
    case PROP_WIDTH: self->width = g_value_get_int (value); break;
    case PROP_HEIGHT: self->height = g_value_get_int (value); break;
    case PROP_BITRATE: self->bitrate = g_value_get_int (value); break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_int (value);
      break;
    case PROP_LATENCY_BUDGET_MS:
      self->latency_budget_ms = g_value_get_int (value);
      break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_STATS_INTERVAL_MS:
      self->stats_interval_ms = g_value_get_uint (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_offload_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (object);
  YsSessionStats st = { 0 };

  if (prop_id >= PROP_CONNECTED && self->session != NULL)
    ys_session_stats (self->session, &st);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SERVER: g_value_set_string (value, self->server); break;
    case PROP_TOKEN: g_value_set_string (value, self->token); break;
    case PROP_TLS_CA_FILE: g_value_set_string (value, self->tls_ca_file); break;
    case PROP_MODEL: g_value_set_string (value, self->model); break;
    case PROP_CODEC: g_value_set_enum (value, self->codec); break;
    case PROP_HW_ENCODER: g_value_set_string (value, self->hw_encoder); break;
    case PROP_SCALE: g_value_set_double (value, self->scale); break;
    case PROP_WIDTH: g_value_set_int (value, self->width); break;
    case PROP_HEIGHT: g_value_set_int (value, self->height); break;
    case PROP_BITRATE: g_value_set_int (value, self->bitrate); break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_int (value, self->max_in_flight);
      break;
    case PROP_LATENCY_BUDGET_MS:
      g_value_set_int (value, self->latency_budget_ms);
      break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_STATS_INTERVAL_MS:
      g_value_set_uint (value, self->stats_interval_ms);
      break;
    case PROP_CONNECTED: g_value_set_boolean (value, st.connected); break;
    case PROP_BANDWIDTH: g_value_set_double (value, st.bandwidth_bps); break;
    case PROP_THROUGHPUT: g_value_set_double (value, st.throughput_bps); break;
    case PROP_RTT_MS: g_value_set_double (value, st.rtt_ms); break;
    case PROP_RTT_MIN_MS: g_value_set_double (value, st.rtt_min_ms); break;
    case PROP_SERVER_MS: g_value_set_double (value, st.server_ms); break;
    case PROP_IN_FLIGHT: g_value_set_int (value, st.in_flight); break;
    case PROP_FRAMES_SENT: g_value_set_uint64 (value, st.frames_sent); break;
    case PROP_RESULTS: g_value_set_uint64 (value, st.results); break;
    case PROP_FRAMES_WITHOUT_RESULT:
      g_value_set_uint64 (value, st.no_results);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_offload_finalize (GObject *object)
{
  GstYoloOffload *self = GST_YOLO_OFFLOAD (object);

  ys_session_free (self->session);
  g_queue_clear_full (&self->held, (GDestroyNotify) held_item_free);
  ys_outcome_clear (&self->scratch);
  ys_outcome_clear (&self->task_scratch);
  g_mutex_clear (&self->queue_lock);
  g_cond_clear (&self->queue_cond);
  g_free (self->server);
  g_free (self->token);
  g_free (self->tls_ca_file);
  g_free (self->model);
  g_free (self->hw_encoder);
  G_OBJECT_CLASS (gst_yolo_offload_parent_class)->finalize (object);
}

static void
gst_yolo_offload_class_init (GstYoloOffloadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags playing = rw | GST_PARAM_MUTABLE_PLAYING;

  gobject_class->set_property = gst_yolo_offload_set_property;
  gobject_class->get_property = gst_yolo_offload_get_property;
  gobject_class->finalize = gst_yolo_offload_finalize;

  g_object_class_install_property (gobject_class, PROP_SERVER,
      g_param_spec_string ("server", "Server",
          "Edge server URL, ws://HOST:PORT/ or wss://HOST:PORT/ (required)",
          DEFAULT_SERVER, ready));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "Token the server asks for (its --token); NULL: none", DEFAULT_TOKEN,
          ready));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "wss:// only: PEM file of the certificates that signed the "
          "server's (e.g. its own self-signed one); NULL: the system's CAs",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model the server must run; NULL: whatever it runs", DEFAULT_MODEL,
          ready));
  g_object_class_install_property (gobject_class, PROP_CODEC,
      g_param_spec_enum ("codec", "Codec", "How frames are encoded",
          GST_TYPE_YOLO_OFFLOAD_CODEC, DEFAULT_CODEC, ready));
  g_object_class_install_property (gobject_class, PROP_HW_ENCODER,
      g_param_spec_string ("hw-encoder", "Hardware encoder",
          "FFmpeg hardware encoder to try first (h264_v4l2m2m, h264_vaapi); "
          "libx264 when it cannot open. NULL: software",
          DEFAULT_HW_ENCODER, ready));
  g_object_class_install_property (gobject_class, PROP_SCALE,
      g_param_spec_double ("scale", "Scale",
          "Encoded size as a fraction of the frame's, when width/height are 0",
          0.05, 1.0, DEFAULT_SCALE, playing));
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_int ("width", "Width",
          "Encoded width in pixels (0: use scale); a change makes a keyframe",
          0, YS_MAX_DIMENSION, DEFAULT_WIDTH, playing));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_int ("height", "Height",
          "Encoded height in pixels (0: use scale)", 0, YS_MAX_DIMENSION,
          DEFAULT_HEIGHT, playing));
  g_object_class_install_property (gobject_class, PROP_BITRATE,
      g_param_spec_int ("bitrate", "Bit rate",
          "Target bit rate in bits/s; changes take effect on the next frame "
          "without a keyframe",
          10000, 100000000, DEFAULT_BITRATE, playing));
  g_object_class_install_property (gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_int ("max-in-flight", "Max in flight",
          "Frames sent and not yet answered at most (1: stop-and-wait)", 1, 64,
          DEFAULT_MAX_IN_FLIGHT, ready));
  g_object_class_install_property (gobject_class, PROP_LATENCY_BUDGET_MS,
      g_param_spec_int ("latency-budget-ms", "Latency budget",
          "Milliseconds from a frame's arrival to its result; after that it "
          "is given up (sync mode passes it with no result)",
          1, 60000, DEFAULT_LATENCY_BUDGET_MS, ready));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "sync: frames wait for their result (up to the budget); async: "
          "frames never wait and carry the newest result",
          GST_TYPE_YOLO_OFFLOAD_MODE, DEFAULT_MODE, ready));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL_MS,
      g_param_spec_uint ("stats-interval-ms", "Stats interval",
          "Milliseconds between yoloswitch-offload-stats bus messages", 100,
          60000, DEFAULT_STATS_INTERVAL_MS, playing));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected",
          "Whether the server has answered our HELLO", FALSE, ro));
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH,
      g_param_spec_double ("bandwidth", "Bandwidth",
          "Bits/s the link delivers while busy (ACKs, last second)", 0,
          G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_THROUGHPUT,
      g_param_spec_double ("throughput", "Throughput",
          "Bits/s acknowledged over the last second", 0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_RTT_MS,
      g_param_spec_double ("rtt-ms", "RTT", "Smoothed round trip, ms", 0,
          G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_RTT_MIN_MS,
      g_param_spec_double ("rtt-min-ms", "RTT min",
          "Smallest round trip of the last 10 s, ms", 0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_SERVER_MS,
      g_param_spec_double ("server-ms", "Server time",
          "Smoothed queue + decode + inference time on the server, ms", 0,
          G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_IN_FLIGHT,
      g_param_spec_int ("in-flight", "In flight",
          "Frames sent and not yet answered", 0, G_MAXINT, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_SENT,
      g_param_spec_uint64 ("frames-sent", "Frames sent",
          "Frames handed to the socket", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_RESULTS,
      g_param_spec_uint64 ("results", "Results", "RESULT messages received", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_WITHOUT_RESULT,
      g_param_spec_uint64 ("frames-without-result", "Frames without result",
          "Frames that got no result (not sent, dropped, late, disconnected)",
          0, G_MAXUINT64, 0, ro));

  gst_element_class_set_static_metadata (element_class, "YOLO edge offload",
      "Filter/Analyzer/Video",
      "Detects objects on a yoloswitch-edge server: frames are encoded, "
      "pipelined over WebSockets and tagged with the detections",
      "yoloswitch developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->change_state
      = GST_DEBUG_FUNCPTR (gst_yolo_offload_change_state);
  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_OFFLOAD_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_OFFLOAD_CODEC, 0);
  GST_DEBUG_CATEGORY_INIT (gst_yolo_offload_debug, "yolooffload", 0,
      "YOLO edge offload");
}

static void
gst_yolo_offload_init (GstYoloOffload *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_yolo_offload_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_yolo_offload_sink_event));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_yolo_offload_src_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_yolo_offload_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->codec = DEFAULT_CODEC;
  self->scale = DEFAULT_SCALE;
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
  self->bitrate = DEFAULT_BITRATE;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->latency_budget_ms = DEFAULT_LATENCY_BUDGET_MS;
  self->mode = DEFAULT_MODE;
  self->stats_interval_ms = DEFAULT_STATS_INTERVAL_MS;
  g_mutex_init (&self->queue_lock);
  g_cond_init (&self->queue_cond);
  g_queue_init (&self->held);
  self->src_flow = GST_FLOW_OK;
  ys_outcome_init (&self->scratch);
  ys_outcome_init (&self->task_scratch);
}
