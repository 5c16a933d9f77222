/**
 * SECTION:element-yolodetect
 * @title: yolodetect
 *
 * Runs a Darknet YOLO model on every frame (or every Nth) on this machine and
 * attaches each detection as a #GstVideoRegionOfInterestMeta (roi type = label)
 * with a "detection" structure: label, class-id, confidence, source ("local"),
 * model, frame-pts (the frame the inference actually saw) and age-ms (how far
 * that frame lies behind the one carrying the meta, in stream time).
 *
 * mode=sync: a frame leaves after its own inference, and the element adds
 * the measured inference time to the latency query so live sources do not
 * drop frames.  mode=async: inference runs on a worker thread on the newest
 * frame; frames never wait and carry the newest results with their age.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! \
 *     videoconvert ! yolodetect model=yolo-fastest-1.1 ! yolojson ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yolodetect.h"

#include <string.h>

#include <gst/video/video.h>

#include "detection_meta.h"
#include "video_frames.h"

GST_DEBUG_CATEGORY_STATIC (gst_yolo_detect_debug);
#define GST_CAT_DEFAULT gst_yolo_detect_debug

#define DEFAULT_MODEL YOLO_DEFAULT_LOCAL_MODEL
#define DEFAULT_THRESHOLD YOLO_DEFAULT_THRESHOLD
#define DEFAULT_NMS YOLO_DEFAULT_NMS
#define DEFAULT_INFERENCE_INTERVAL 1
#define DEFAULT_MODE GST_YOLO_DETECT_MODE_SYNC
#define DEFAULT_LETTERBOX FALSE
#define DEFAULT_ENGINE YOLO_ENGINE_FAST
#define DEFAULT_THREADS 0

/* Report a new latency when inference got this much slower than reported. */
#define LATENCY_GROWTH 1.2

enum {
  PROP_0,
  PROP_MODEL,
  PROP_CONFIG,
  PROP_WEIGHTS,
  PROP_LABELS,
  PROP_MODEL_DIR,
  PROP_THRESHOLD,
  PROP_NMS,
  PROP_INFERENCE_INTERVAL,
  PROP_MODE,
  PROP_LETTERBOX,
  PROP_ENGINE,
  PROP_THREADS,
  PROP_INFERENCE_MS,
  PROP_LOAD_MS,
  PROP_INFERENCE_COUNT,
  PROP_FRAMES_NOT_INFERRED,
  PROP_LATENCY_MS,
};

#define VIDEO_FORMATS                                                          \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, NV12 }"

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

#define gst_yolo_detect_parent_class parent_class
G_DEFINE_TYPE (GstYoloDetect, gst_yolo_detect, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (yolodetect, "yolodetect", GST_RANK_NONE,
    GST_TYPE_YOLO_DETECT);

#define GST_TYPE_YOLO_DETECT_MODE (gst_yolo_detect_mode_get_type ())
static GType
gst_yolo_detect_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_YOLO_DETECT_MODE_SYNC, "Each frame waits for its own inference",
        "sync" },
    { GST_YOLO_DETECT_MODE_ASYNC,
        "Frames never wait; a worker infers the newest frame", "async" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstYoloDetectMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_YOLO_DETECT_ENGINE (gst_yolo_detect_engine_get_type ())
static GType
gst_yolo_detect_engine_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { YOLO_ENGINE_FAST,
        "Darknet's model and decoding, our kernels (OpenBLAS, direct "
        "depthwise) for the heavy layers",
        "fast" },
    { YOLO_ENGINE_DARKNET, "Stock libdarknet, the reference", "darknet" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstYoloDetectEngine", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- the async worker ---------------------------------------------------- */

/* Runs in the worker thread: infers the newest pending frame, again and
 * again, until told to stop. */
static gpointer
worker_main (gpointer data)
{
  GstYoloDetect *self = data;
  YoloDetections dets;
  YoloStatus status;

  yolo_detections_init (&dets);
  g_mutex_lock (&self->worker_lock);
  while (!self->worker_stop) {
    YoloInput *tmp;
    gboolean ok;

    if (!self->pending_valid) {
      g_cond_wait (&self->worker_cond, &self->worker_lock);
      continue;
    }
    tmp = self->working;
    self->working = self->pending;
    self->pending = tmp;
    self->working_pts = self->pending_pts;
    self->working_epoch = self->pending_epoch;
    self->working_wall_us = self->pending_wall_us;
    self->working_options = self->pending_options;
    self->pending_valid = FALSE;
    g_mutex_unlock (&self->worker_lock);

    ok = yolo_model_run (self->model, self->working, &self->working_options,
        &dets, &status);

    g_mutex_lock (&self->worker_lock);
    if (ok && self->working_epoch != self->epoch) {
      GST_DEBUG_OBJECT (self,
          "dropping a result from before a flush or caps "
          "change");
    } else if (ok) {
      yolo_detections_copy (&self->newest.dets, &dets);
      self->newest.frame_pts = self->working_pts;
      self->newest.frame_wall_us = self->working_wall_us;
      self->newest.latency_ms
          = (g_get_monotonic_time () - self->working_wall_us) / 1000.0;
      self->newest.valid = TRUE;
      self->inference_count++;
      self->last_inference_ms = dets.infer_ms;
      GST_LOG_OBJECT (self,
          "inferred frame %" GST_TIME_FORMAT ": %" G_GSIZE_FORMAT
          " detections in %.1f ms",
          GST_TIME_ARGS (self->working_pts), dets.count, dets.infer_ms);
    } else {
      GST_WARNING_OBJECT (self, "inference failed: %s", status.message);
    }
    g_cond_broadcast (&self->worker_cond);
  }
  g_mutex_unlock (&self->worker_lock);
  yolo_detections_free (&dets);
  return NULL;
}

static void
worker_stop (GstYoloDetect *self)
{
  if (self->worker == NULL)
    return;
  g_mutex_lock (&self->worker_lock);
  self->worker_stop = TRUE;
  g_cond_broadcast (&self->worker_cond);
  g_mutex_unlock (&self->worker_lock);
  g_thread_join (self->worker);
  /* The latency query reads it from the application thread. */
  GST_OBJECT_LOCK (self);
  self->worker = NULL;
  GST_OBJECT_UNLOCK (self);
}

/* ---- start / stop ------------------------------------------------------- */

static void
post_model_error (GstYoloDetect *self, const YoloStatus *status,
    const char *search)
{
  switch (status->code) {
    case YOLO_ERR_MODEL_NOT_FOUND:
    case YOLO_ERR_CFG_MISSING:
    case YOLO_ERR_WEIGHTS_MISSING:
    case YOLO_ERR_LABELS_MISSING:
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", status->message),
          ("yolo error %s; model search path: %s",
              yolo_error_name (status->code), search));
      break;
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s", status->message),
          ("yolo error %s; model search path: %s",
              yolo_error_name (status->code), search));
      break;
  }
}

static gboolean gst_yolo_detect_stop (GstBaseTransform *trans);

static gboolean
gst_yolo_detect_start (GstBaseTransform *trans)
{
  GstYoloDetect *self = GST_YOLO_DETECT (trans);
  YoloModelSpec spec = { 0 };
  YoloStatus status;
  YoloInferOptions options;
  GstYoloDetectMode mode;
  gchar *search;

  GST_OBJECT_LOCK (self);
  spec.name = g_strdup (self->model_name);
  spec.model_dir = g_strdup (self->model_dir);
  spec.cfg_path = g_strdup (self->config_path);
  spec.weights_path = g_strdup (self->weights_path);
  spec.labels_path = g_strdup (self->labels_path);
  spec.engine = self->engine;
  spec.threads = (int) self->threads;
  options = self->options;
  mode = self->mode;
  GST_OBJECT_UNLOCK (self);

  /* Explicit paths name the model; the name property only fills the rest. */
  if (spec.cfg_path != NULL && g_strcmp0 (spec.name, DEFAULT_MODEL) == 0) {
    g_free ((gchar *) spec.name);
    spec.name = NULL;
  }

  search = g_malloc (8192);
  yolo_model_search_path (spec.model_dir, search, 8192);
  self->model = yolo_model_open (&spec, &status);
  g_free ((gchar *) spec.name);
  g_free ((gchar *) spec.model_dir);
  g_free ((gchar *) spec.cfg_path);
  g_free ((gchar *) spec.weights_path);
  g_free ((gchar *) spec.labels_path);
  if (self->model == NULL) {
    post_model_error (self, &status, search);
    g_free (search);
    return FALSE;
  }
  g_free (search);

  self->model_label = g_strdup (yolo_model_name (self->model));
  self->staging = yolo_input_new (self->model);
  self->pending = yolo_input_new (self->model);
  self->working = yolo_input_new (self->model);
  if (self->staging == NULL || self->pending == NULL || self->working == NULL)
    goto no_memory;

  /* One inference on a blank frame: warms caches and gives a real latency
   * figure for the first latency query, before any frame arrives. */
  self->staging->source_width = self->staging->width;
  self->staging->source_height = self->staging->height;
  if (!yolo_model_run (self->model, self->staging, &options, &self->scratch,
          &status))
    goto warm_up_failed;

  GST_OBJECT_LOCK (self);
  self->reported_latency
      = (GstClockTime) (self->scratch.infer_ms * GST_MSECOND);
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->worker_lock);
  self->load_ms = yolo_model_load_ms (self->model);
  self->last_inference_ms = self->scratch.infer_ms;
  self->inference_count = 0;
  self->frames_not_inferred = 0;
  self->newest.valid = FALSE;
  self->pending_valid = FALSE;
  self->worker_stop = FALSE;
  g_mutex_unlock (&self->worker_lock);
  self->frame_count = 0;

  GST_INFO_OBJECT (self,
      "model %s loaded in %.1f ms, %dx%d input, "
      "first inference %.1f ms, mode %s",
      self->model_label, yolo_model_load_ms (self->model),
      yolo_model_input_width (self->model),
      yolo_model_input_height (self->model), self->scratch.infer_ms,
      mode == GST_YOLO_DETECT_MODE_SYNC ? "sync" : "async");

  if (mode == GST_YOLO_DETECT_MODE_ASYNC) {
    GThread *worker = g_thread_new ("yolodetect-worker", worker_main, self);
    GST_OBJECT_LOCK (self);
    self->worker = worker;
    GST_OBJECT_UNLOCK (self);
  }
  return TRUE;

  /* ERRORS */
no_memory:
  GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
      ("Out of memory allocating model inputs"), (NULL));
  /* stop() is not called after a failed start: release here. */
  gst_yolo_detect_stop (trans);
  return FALSE;
warm_up_failed:
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Model %s failed its first inference: %s", self->model_label,
          status.message),
      (NULL));
  gst_yolo_detect_stop (trans);
  return FALSE;
}

static gboolean
gst_yolo_detect_stop (GstBaseTransform *trans)
{
  GstYoloDetect *self = GST_YOLO_DETECT (trans);

  worker_stop (self);
  yolo_input_free (self->staging);
  yolo_input_free (self->pending);
  yolo_input_free (self->working);
  self->staging = self->pending = self->working = NULL;
  yolo_model_close (self->model);
  self->model = NULL;
  g_clear_pointer (&self->model_label, g_free);
  g_mutex_lock (&self->worker_lock);
  self->newest.valid = FALSE;
  yolo_detections_clear (&self->newest.dets);
  g_mutex_unlock (&self->worker_lock);
  return TRUE;
}

/* ---- streaming ---------------------------------------------------------- */

/* Streaming thread: sync mode's inference on this very frame. */
static GstFlowReturn
infer_now (GstYoloDetect *self, const YoloFrame *frame,
    const YoloInferOptions *options, GstClockTime pts)
{
  YoloStatus status;
  gboolean post_latency = FALSE;
  GstClockTime took;
  gint64 start_us = g_get_monotonic_time ();

  if (!yolo_input_fill (self->staging, frame, options->letterbox, &status)
      || !yolo_model_run (self->model, self->staging, options, &self->scratch,
          &status)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Inference failed on a %dx%d %s frame: %s", frame->width,
            frame->height, yolo_pixel_format_name (frame->format),
            status.message),
        (NULL));
    return GST_FLOW_ERROR;
  }

  g_mutex_lock (&self->worker_lock);
  yolo_detections_copy (&self->newest.dets, &self->scratch);
  self->newest.frame_pts = pts;
  self->newest.frame_wall_us = g_get_monotonic_time ();
  self->newest.latency_ms = (self->newest.frame_wall_us - start_us) / 1000.0;
  self->newest.valid = TRUE;
  self->inference_count++;
  self->last_inference_ms = self->scratch.infer_ms;
  g_mutex_unlock (&self->worker_lock);

  took = (GstClockTime) (self->scratch.infer_ms * GST_MSECOND);
  GST_OBJECT_LOCK (self);
  if (took > self->reported_latency * LATENCY_GROWTH) {
    self->reported_latency = took;
    post_latency = TRUE;
  }
  GST_OBJECT_UNLOCK (self);
  if (post_latency) {
    GST_INFO_OBJECT (self, "inference now takes %.1f ms: reporting latency",
        self->scratch.infer_ms);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
  }
  return GST_FLOW_OK;
}

/* Streaming thread: hands the frame to the worker; a frame still waiting
 * from before is replaced (latest frame wins) and counted. */
static GstFlowReturn
submit_to_worker (GstYoloDetect *self, const YoloFrame *frame,
    const YoloInferOptions *options, GstClockTime pts)
{
  YoloStatus status;
  YoloInput *tmp;

  if (!yolo_input_fill (self->staging, frame, options->letterbox, &status)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Cannot prepare a %dx%d %s frame: %s", frame->width, frame->height,
            yolo_pixel_format_name (frame->format), status.message),
        (NULL));
    return GST_FLOW_ERROR;
  }
  g_mutex_lock (&self->worker_lock);
  tmp = self->pending;
  self->pending = self->staging;
  self->staging = tmp;
  if (self->pending_valid)
    self->frames_not_inferred++;
  self->pending_valid = TRUE;
  self->pending_epoch = self->epoch;
  self->pending_pts = pts;
  self->pending_wall_us = g_get_monotonic_time ();
  self->pending_options = *options;
  g_cond_broadcast (&self->worker_cond);
  g_mutex_unlock (&self->worker_lock);
  return GST_FLOW_OK;
}

static void
attach_newest (GstYoloDetect *self, GstBuffer *buf)
{
  GstClockTime pts = GST_BUFFER_PTS (buf);
  YsDetectionOrigin origin
      = { "local", self->model_label, GST_CLOCK_TIME_NONE, 0 };
  gboolean valid;
  gint64 wall_us;

  g_mutex_lock (&self->worker_lock);
  valid = self->newest.valid;
  if (valid) {
    yolo_detections_copy (&self->scratch, &self->newest.dets);
    origin.frame_pts = self->newest.frame_pts;
    origin.latency_ms = self->newest.latency_ms;
    wall_us = self->newest.frame_wall_us;
  }
  g_mutex_unlock (&self->worker_lock);
  if (!valid)
    return;
  origin.width = yolo_model_input_width (self->model);
  origin.height = yolo_model_input_height (self->model);

  /* Age in stream time when both frames have timestamps, else wall time.
   * Never clamped: results from another segment are discarded (epoch), so a
   * negative age would be a bug to see, not to hide. */
  if (GST_CLOCK_TIME_IS_VALID (pts)
      && GST_CLOCK_TIME_IS_VALID (origin.frame_pts))
    origin.age_ms
        = GST_CLOCK_DIFF (origin.frame_pts, pts) / (double) GST_MSECOND;
  else
    origin.age_ms = (g_get_monotonic_time () - wall_us) / 1000.0;

  ys_detection_meta_add (buf, &self->scratch, &origin);
}

/* Streaming thread.  The pixels are only read, so the frame is mapped
 * read-only: a shared buffer gets a new buffer for the metas but never a
 * copy of its memory (GstVideoFilter's in-place path would map it
 * writable). */
static GstFlowReturn
gst_yolo_detect_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstYoloDetect *self = GST_YOLO_DETECT (trans);
  GstVideoFrame mapped, *vframe = &mapped;
  GstClockTime pts = GST_BUFFER_PTS (buf);
  YoloInferOptions options;
  YoloFrame frame;
  guint interval;
  gboolean run;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  options = self->options;
  interval = self->inference_interval;
  GST_OBJECT_UNLOCK (self);

  if (!gst_video_frame_map (&mapped, &GST_VIDEO_FILTER (self)->in_info, buf,
          GST_MAP_READ))
    goto map_failed;
  if (!ys_video_frame_to_yolo (vframe, &frame)) {
    gst_video_frame_unmap (&mapped);
    goto not_negotiated;
  }

  run = self->frame_count % interval == 0;
  self->frame_count++;
  GST_LOG_OBJECT (self,
      "frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT "%s",
      self->frame_count - 1, GST_TIME_ARGS (pts), run ? " infer" : "");

  if (run) {
    if (self->worker != NULL)
      ret = submit_to_worker (self, &frame, &options, pts);
    else
      ret = infer_now (self, &frame, &options, pts);
  }
  gst_video_frame_unmap (&mapped);
  if (ret == GST_FLOW_OK)
    attach_newest (self, buf);
  return ret;

  /* ERRORS */
map_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not read a video frame"),
      ("the buffer does not match the negotiated caps"));
  return GST_FLOW_ERROR;
not_negotiated:
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
      ("unsupported format %s",
          gst_video_format_to_string (
              GST_VIDEO_INFO_FORMAT (&GST_VIDEO_FILTER (self)->in_info))));
  return GST_FLOW_NOT_NEGOTIATED;
}

/* Streaming thread: results computed before a flush or a caps change
 * describe other frames (or another frame size).  The worker checks the
 * epoch before publishing, so a result still being computed is dropped
 * too. */
static void
new_epoch (GstYoloDetect *self)
{
  g_mutex_lock (&self->worker_lock);
  self->epoch++;
  self->newest.valid = FALSE;
  self->pending_valid = FALSE;
  g_mutex_unlock (&self->worker_lock);
}

static gboolean
gst_yolo_detect_set_info (GstVideoFilter *filter, GstCaps *incaps,
    GstVideoInfo *in_info, GstCaps *outcaps, GstVideoInfo *out_info)
{
  GST_DEBUG_OBJECT (filter, "caps %" GST_PTR_FORMAT, incaps);
  new_epoch (GST_YOLO_DETECT (filter));
  /* The first frame of the new size is inferred at once. */
  GST_YOLO_DETECT (filter)->frame_count = 0;
  return TRUE;
}

static gboolean
gst_yolo_detect_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstYoloDetect *self = GST_YOLO_DETECT (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    /* After a seek, results from before it describe other frames. */
    new_epoch (self);
    self->frame_count = 0;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_yolo_detect_query (GstBaseTransform *trans, GstPadDirection direction,
    GstQuery *query)
{
  GstYoloDetect *self = GST_YOLO_DETECT (trans);
  gboolean ret;

  ret = GST_BASE_TRANSFORM_CLASS (parent_class)
            ->query (trans, direction, query);
  if (ret && direction == GST_PAD_SRC
      && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, ours = 0;

    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    /* Async mode never holds a frame, so it adds nothing. */
    if (self->worker == NULL)
      ours = self->reported_latency;
    GST_OBJECT_UNLOCK (self);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    GST_DEBUG_OBJECT (self,
        "latency: adding %" GST_TIME_FORMAT ", total min %" GST_TIME_FORMAT,
        GST_TIME_ARGS (ours), GST_TIME_ARGS (min));
    gst_query_set_latency (query, live, min, max);
  }
  return ret;
}

/* ---- properties ---------------------------------------------------------- */

static void
gst_yolo_detect_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstYoloDetect *self = GST_YOLO_DETECT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_name);
      self->model_name = g_value_dup_string (value);
      break;
    case PROP_CONFIG:
      g_free (self->config_path);
      self->config_path = g_value_dup_string (value);
      break;
    case PROP_WEIGHTS:
      g_free (self->weights_path);
      self->weights_path = g_value_dup_string (value);
      break;
    case PROP_LABELS:
      g_free (self->labels_path);
      self->labels_path = g_value_dup_string (value);
      break;
    case PROP_MODEL_DIR:
      g_free (self->model_dir);
      self->model_dir = g_value_dup_string (value);
      break;
    case PROP_THRESHOLD:
      self->options.threshold = g_value_get_float (value);
      break;
    case PROP_NMS: self->options.nms = g_value_get_float (value); break;
    case PROP_INFERENCE_INTERVAL:
      self->inference_interval = g_value_get_uint (value);
      break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_LETTERBOX:
      self->options.letterbox = g_value_get_boolean (value);
      break;
    case PROP_ENGINE: self->engine = g_value_get_enum (value); break;
    case PROP_THREADS: self->threads = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_detect_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloDetect *self = GST_YOLO_DETECT (object);

  switch (prop_id) {
    case PROP_LATENCY_MS:
      GST_OBJECT_LOCK (self);
      g_value_set_double (value,
          self->worker == NULL ? (double) self->reported_latency / GST_MSECOND
                               : 0.0);
      GST_OBJECT_UNLOCK (self);
      return;
    case PROP_INFERENCE_MS:
    case PROP_LOAD_MS:
    case PROP_INFERENCE_COUNT:
    case PROP_FRAMES_NOT_INFERRED:
      g_mutex_lock (&self->worker_lock);
      if (prop_id == PROP_INFERENCE_MS)
        g_value_set_double (value, self->last_inference_ms);
      else if (prop_id == PROP_LOAD_MS)
        g_value_set_double (value, self->load_ms);
      else if (prop_id == PROP_INFERENCE_COUNT)
        g_value_set_uint64 (value, self->inference_count);
      else
        g_value_set_uint64 (value, self->frames_not_inferred);
      g_mutex_unlock (&self->worker_lock);
      return;
    default: break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL: g_value_set_string (value, self->model_name); break;
    case PROP_CONFIG: g_value_set_string (value, self->config_path); break;
    case PROP_WEIGHTS: g_value_set_string (value, self->weights_path); break;
    case PROP_LABELS: g_value_set_string (value, self->labels_path); break;
    case PROP_MODEL_DIR: g_value_set_string (value, self->model_dir); break;
    case PROP_THRESHOLD:
      g_value_set_float (value, self->options.threshold);
      break;
    case PROP_NMS: g_value_set_float (value, self->options.nms); break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, self->inference_interval);
      break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_LETTERBOX:
      g_value_set_boolean (value, self->options.letterbox);
      break;
    case PROP_ENGINE: g_value_set_enum (value, self->engine); break;
    case PROP_THREADS: g_value_set_uint (value, self->threads); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_yolo_detect_finalize (GObject *object)
{
  GstYoloDetect *self = GST_YOLO_DETECT (object);

  g_free (self->model_name);
  g_free (self->config_path);
  g_free (self->weights_path);
  g_free (self->labels_path);
  g_free (self->model_dir);
  yolo_detections_free (&self->scratch);
  yolo_detections_free (&self->newest.dets);
  g_mutex_clear (&self->worker_lock);
  g_cond_clear (&self->worker_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_yolo_detect_class_init (GstYoloDetectClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw_playing = rw | GST_PARAM_MUTABLE_PLAYING;
  /* Read when the element starts: changing them later has no effect until
   * the next start, which gst-inspect shows as "changeable only in NULL or
   * READY state". */
  const GParamFlags rw_ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  GST_DEBUG_CATEGORY_INIT (gst_yolo_detect_debug, "yolodetect", 0,
      "Local YOLO object detection");

  gobject_class->set_property = gst_yolo_detect_set_property;
  gobject_class->get_property = gst_yolo_detect_get_property;
  gobject_class->finalize = gst_yolo_detect_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model name, looked up as <name>.cfg/.weights in model-dir, "
          "$YOLOSWITCH_MODEL_DIR, ../shared/models beside the source tree, "
          "then the installed model dir. Read at start.",
          DEFAULT_MODEL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CONFIG,
      g_param_spec_string ("config", "Config file",
          "Darknet .cfg path; overrides the one found by model name. "
          "Read at start.",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_string ("weights", "Weights file",
          "Darknet .weights path; overrides the one found by model name. "
          "Read at start.",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels file",
          "Class names, one per line (.names); overrides the one found by "
          "model name. Read at start.",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MODEL_DIR,
      g_param_spec_string ("model-dir", "Model directory",
          "Folder searched first for the model by name. Read at start.", NULL,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Minimum confidence of a reported detection", 0.0f, 1.0f,
          DEFAULT_THRESHOLD, rw_playing));
  g_object_class_install_property (gobject_class, PROP_NMS,
      g_param_spec_float ("nms", "NMS IoU",
          "Overlap (IoU) above which a weaker box of the same class is "
          "suppressed",
          0.0f, 1.0f, DEFAULT_NMS, rw_playing));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint ("inference-interval", "Inference interval",
          "Run the model on every Nth frame; frames in between carry the "
          "newest results with their age",
          1, G_MAXINT, DEFAULT_INFERENCE_INTERVAL, rw_playing));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "sync: a frame leaves after its own inference (adds latency); "
          "async: a worker infers the newest frame and frames never wait. "
          "Read at start.",
          GST_TYPE_YOLO_DETECT_MODE, DEFAULT_MODE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_LETTERBOX,
      g_param_spec_boolean ("letterbox", "Letterbox",
          "Keep the aspect ratio with grey bars instead of stretching the "
          "frame to the network input",
          DEFAULT_LETTERBOX, rw_playing));
  g_object_class_install_property (gobject_class, PROP_ENGINE,
      g_param_spec_enum ("engine", "Engine",
          "How the network runs: fast (our kernels, default) or darknet "
          "(stock libdarknet). Read at start.",
          GST_TYPE_YOLO_DETECT_ENGINE, DEFAULT_ENGINE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads",
          "Inference threads of the fast engine; 0 = one per core. Read at "
          "start.",
          0, 256, DEFAULT_THREADS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_MS,
      g_param_spec_double ("inference-ms", "Inference time",
          "Duration of the last inference in milliseconds", 0, G_MAXDOUBLE, 0,
          ro));
  g_object_class_install_property (gobject_class, PROP_LOAD_MS,
      g_param_spec_double ("load-ms", "Model load time",
          "Time to validate and load the model in milliseconds", 0, G_MAXDOUBLE,
          0, ro));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_COUNT,
      g_param_spec_uint64 ("inference-count", "Inferences",
          "Inferences completed since start (the warm-up not counted)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_NOT_INFERRED,
      g_param_spec_uint64 ("frames-not-inferred", "Frames not inferred",
          "Async mode: frames due for inference that a newer frame replaced "
          "while the worker was busy",
          0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_LATENCY_MS,
      g_param_spec_double ("latency-ms", "Reported latency",
          "What this element adds to the pipeline latency, in milliseconds: "
          "the slowest inference seen in sync mode (first measured at start), "
          "0 in async mode",
          0, G_MAXDOUBLE, 0, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "YOLO object detector (local)", "Filter/Analyzer/Video",
      "Detects objects with a Darknet YOLO model on this machine and attaches "
      "them as region-of-interest metadata",
      "yoloswitch developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_yolo_detect_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_yolo_detect_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_yolo_detect_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_yolo_detect_query);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_yolo_detect_transform_ip);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_yolo_detect_set_info);

  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_DETECT_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_DETECT_ENGINE, 0);
}

static void
gst_yolo_detect_init (GstYoloDetect *self)
{
  self->model_name = g_strdup (DEFAULT_MODEL);
  yolo_infer_options_init (&self->options);
  self->options.threshold = DEFAULT_THRESHOLD;
  self->options.nms = DEFAULT_NMS;
  self->options.letterbox = DEFAULT_LETTERBOX;
  self->inference_interval = DEFAULT_INFERENCE_INTERVAL;
  self->mode = DEFAULT_MODE;
  self->engine = DEFAULT_ENGINE;
  self->threads = DEFAULT_THREADS;
  yolo_detections_init (&self->scratch);
  yolo_detections_init (&self->newest.dets);
  g_mutex_init (&self->worker_lock);
  g_cond_init (&self->worker_cond);
  /* Metas are attached, so buffers must be writable: never passthrough. */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* Every frame is accounted for: never drop a late frame for QoS (a late
   * frame is reported through the latency query instead). */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
