/* The detector base class: pads, streaming, events, queries, state and
 * properties; see detector.h.  The bus is detector_bus.c, building paths
 * detector_paths.c, sync delivery detector_sync.c, metas
 * detector_attach.c, the property table detector_settings.c. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector.h"

#include "clock.h"
#include "detector_attach.h"
#include "detector_private.h"
#include "video_frames.h"

#include <errno.h>
#include <string.h>

/* Every function here that logs has `self`: its element's category. */
#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)

/* EOS: how long the paths may take to finish the frames they have. */
#define DRAIN_TIMEOUT_MS 2000

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (YS_VIDEO_FORMATS)));

G_DEFINE_ABSTRACT_TYPE (GstYoloDetector, gst_yolo_detector, GST_TYPE_ELEMENT);

#define CLASS(self) GST_YOLO_DETECTOR_GET_CLASS (self)

/* ---- results-location ------------------------------------------------------------ */

void
ys_detector_log_result (GstYoloDetector *self, const YoloAnalysis *a,
    const YoloFrameStamp *arrival)
{
  if (self->results_file == NULL)
    return;
  ys_results_line (self->line, a, arrival);
  fwrite (self->line->str, 1, self->line->len, self->results_file);
}

/* ---- streaming ------------------------------------------------------------------- */

/* Streaming thread, async delivery: the frame passes at once. */
static GstFlowReturn
process_async (GstYoloDetector *self, GstBuffer *buf, const YoloFrame *frame,
    const YoloFrameStamp *stamp, GstVideoFrame *mapped)
{
  YsFrameBoxes boxes;

  ys_switcher_process (self->switcher, frame, stamp, &boxes);
  gst_video_frame_unmap (mapped);
  buf = gst_buffer_make_writable (buf);
  ys_attach_boxes (buf, self->switcher, &boxes, stamp, &self->scratch);
  for (int k = 0; k < boxes.applied_count; k++)
    ys_detector_log_result (self,
        ys_switcher_analysis (self->switcher, boxes.applied[k]), stamp);
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %d boxes%s%s",
      stamp->sequence, boxes.count,
      boxes.not_sent != NULL ? ", not sent: " : "",
      boxes.not_sent != NULL ? boxes.not_sent : "");
  return gst_pad_push (self->srcpad, buf);
}

static GstFlowReturn
gst_yolo_detector_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (parent);
  GstVideoFrame mapped;
  YoloFrame frame;
  YoloFrameStamp stamp;
  gint64 now = yolo_now_us ();
  GstFlowReturn ret;

  if (!self->have_info)
    goto not_negotiated;
  yolo_frame_stamp_init (&stamp, self->frame_count++,
      GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) : YOLO_PTS_NONE,
      now);
  /* The pixels are only read: a shared buffer gets a new buffer for the
   * metas, never a copy of its memory. */
  if (!gst_video_frame_map (&mapped, &self->info, buf, GST_MAP_READ))
    goto map_failed;
  if (!ys_video_frame_to_yolo (&mapped, &frame)) {
    gst_video_frame_unmap (&mapped);
    goto not_negotiated;
  }
  if (self->sync)
    ret = ys_detector_sync_chain (self, buf, &frame, &stamp, &mapped);
  else
    ret = process_async (self, buf, &frame, &stamp, &mapped);
  ys_detector_post_notices (self, self->switcher);
  ys_detector_maybe_post_periodic (self, now);
  ys_detector_check_latency (self);
  return ret;

  /* ERRORS */
not_negotiated:
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
      ("no caps, or a format the caps do not allow"));
  gst_buffer_unref (buf);
  return GST_FLOW_NOT_NEGOTIATED;
map_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not read a video frame"),
      ("the buffer does not match the negotiated caps"));
  gst_buffer_unref (buf);
  return GST_FLOW_ERROR;
}

static gboolean
set_caps (GstYoloDetector *self, GstCaps *caps)
{
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  /* Results of another frame size describe other frames; the first frame
   * of the new size is analysed at once. */
  if (self->have_info
      && (GST_VIDEO_INFO_WIDTH (&info) != GST_VIDEO_INFO_WIDTH (&self->info)
          || GST_VIDEO_INFO_HEIGHT (&info)
              != GST_VIDEO_INFO_HEIGHT (&self->info))
      && self->switcher != NULL)
    ys_switcher_flush (self->switcher);
  self->info = info;
  self->have_info = TRUE;
  /* The encoder's rate control spreads `bitrate` over the frames it will
   * get, not a nominal 30 a second (0/1: a variable rate, nominal kept). */
  if (self->switcher != NULL && GST_VIDEO_INFO_FPS_N (&info) > 0
      && GST_VIDEO_INFO_FPS_D (&info) > 0)
    ys_switcher_set_source_rate (self->switcher,
        (double) GST_VIDEO_INFO_FPS_N (&info) / GST_VIDEO_INFO_FPS_D (&info));
  return TRUE;
}

static gboolean
gst_yolo_detector_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      if (self->switcher != NULL)
        ys_switcher_interrupt (self->switcher, TRUE);
      if (self->sync)
        return ys_detector_sync_flush_start (self, event);
      break;
    case GST_EVENT_FLUSH_STOP:
      /* After a seek, results from before it describe other frames. */
      if (self->switcher != NULL) {
        ys_switcher_flush (self->switcher);
        ys_switcher_interrupt (self->switcher, FALSE);
      }
      self->frame_count = 0;
      if (self->sync)
        return ys_detector_sync_flush_stop (self, event);
      break;
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      if (!set_caps (self, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      break;
    }
    case GST_EVENT_EOS:
      if (self->switcher != NULL) {
        /* What encoders hold goes out, the last frames get answered. */
        ys_switcher_drain (self->switcher, DRAIN_TIMEOUT_MS);
        ys_detector_post_notices (self, self->switcher);
        if (!self->sync)
          ys_detector_post_stats (self, self->switcher,
              ys_detector_final_stats_name (self));
      }
      if (self->results_file != NULL)
        fflush (self->results_file);
      break;
    default: break;
  }
  if (self->sync && GST_EVENT_IS_SERIALIZED (event))
    return ys_detector_sync_queue_event (self, event);
  return gst_pad_event_default (pad, parent, event);
}

/* Called by sync delivery when it pushes EOS: every frame is answered. */
void
ys_detector_post_final_stats (GstYoloDetector *self)
{
  if (self->switcher != NULL)
    ys_detector_post_stats (self, self->switcher,
        ys_detector_final_stats_name (self));
}

static gboolean
gst_yolo_detector_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, ours;

    if (!gst_pad_peer_query (self->sinkpad, query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    /* What a frame may wait here: sync, its budget (or its inference);
     * async, the bounded wait for its own local result (or nothing).
     * Any thread asks (a bin, on a LATENCY message): the switcher is read
     * under backend_lock, as property reads do. */
    g_mutex_lock (&self->backend_lock);
    ours = self->switcher != NULL
        ? (GstClockTime) (ys_switcher_latency_ms (self->switcher) * GST_MSECOND)
        : 0;
    g_mutex_unlock (&self->backend_lock);
    GST_OBJECT_LOCK (self);
    if (ours > self->reported_latency)
      self->reported_latency = ours;
    ours = self->reported_latency;
    GST_OBJECT_UNLOCK (self);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    GST_DEBUG_OBJECT (self, "latency: adding %" GST_TIME_FORMAT,
        GST_TIME_ARGS (ours));
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* ---- start and stop --------------------------------------------------------------- */

static gboolean
start (GstYoloDetector *self)
{
  YsDetectorSettings st;
  YsSwitcherOptions o;
  YsProfile *profile = NULL;
  YsSwitcher *switcher = NULL;
  char *why = NULL;

  /* The model cache is the swaps' while playing; start has it first.  A
   * model set from here on starts a swap (allowed before the copy), which
   * waits for start and compares with what start read. */
  g_mutex_lock (&self->swap_lock);
  ys_detector_swaps_allow (self);
  g_atomic_int_set (&self->swap_retry, 0);
  /* A copy: building paths loads models and starts threads, never under
   * the object lock (the session's thread, a property read...). */
  GST_OBJECT_LOCK (self);
  ys_detector_settings_copy (&st, &self->settings);
  self->reported_latency = 0;
  GST_OBJECT_UNLOCK (self);

  g_free (self->swap_model);
  g_free (self->swap_input_size);
  self->swap_model = g_strdup (st.local_model);
  self->swap_input_size = g_strdup (st.input_size);
  memset (&o, 0, sizeof (o));
  ys_targets_init (&o.targets);
  o.on_decision = ys_detector_on_decision;
  o.user = self;
  if (!CLASS (self)->prepare (self, &st, &o, &profile))
    goto prepare_failed;
  switcher = ys_switcher_new (&o, &why); /* owns the paths from here on */
  memset (o.paths, 0, sizeof (o.paths));
  if (switcher == NULL)
    goto switcher_failed;

  if (st.results_location != NULL) {
    self->results_file = fopen (st.results_location, "w");
    if (self->results_file == NULL)
      goto results_failed;
  }

  self->sync = st.mode == GST_YOLO_DETECTOR_MODE_SYNC;
  self->budget_ms = st.latency_budget_ms;
  /* yolodetect has no such property: a local model's missing result is
   * a failed inference, already an error of its own. */
  self->on_missing
      = CLASS (self)->element & (YS_FOR_OFFLOAD | YS_FOR_SWITCH | YS_FOR_SPLIT)
      ? st.on_missing_result
      : GST_YOLO_DETECTOR_ON_MISSING_IGNORE;
  self->answered = self->missing = 0;
  memset (self->missing_by_reason, 0, sizeof (self->missing_by_reason));
  self->frame_count = 0;
  self->last_stats_us = 0;
  self->have_info = FALSE;
  g_mutex_lock (&self->backend_lock);
  self->switcher = switcher;
  self->profile = profile;
  g_mutex_unlock (&self->backend_lock);
  ys_detector_settings_clear (&st);
  g_mutex_unlock (&self->swap_lock);
  ys_detector_check_latency (self);
  GST_INFO_OBJECT (self, "started, %s delivery", self->sync ? "sync" : "async");
  return TRUE;

  /* ERRORS */
prepare_failed:
  /* prepare posted the error */
  for (int k = 0; k < YS_PATH_KINDS; k++)
    ys_path_free (o.paths[k]);
  goto fail;
switcher_failed:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", why), (NULL));
  g_free (why);
  goto fail;
results_failed:
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
      ("Cannot write results-location %s: %s", st.results_location,
          g_strerror (errno)),
      ("check the folder exists and is writable"));
  goto fail;
fail:
  /* Nothing keeps running after a failed start: stop() is not called. */
  ys_switcher_free (switcher);
  ys_profile_free (profile);
  ys_detector_cache_release_stopped (self);
  ys_detector_cache_release (self);
  ys_detector_settings_clear (&st);
  g_mutex_unlock (&self->swap_lock);
  return FALSE;
}

static void
stop (GstYoloDetector *self)
{
  YsSwitcher *switcher;
  YsProfile *profile;

  /* A model change still being looked up or fetched ends first (a fetch
   * is cancelled); one loading on the worker's thread ends with the
   * switcher. */
  ys_detector_swaps_wait (self);
  g_mutex_lock (&self->backend_lock);
  switcher = self->switcher;
  profile = self->profile;
  self->switcher = NULL;
  self->profile = NULL;
  g_mutex_unlock (&self->backend_lock);
  ys_switcher_free (switcher);
  ys_profile_free (profile);
  ys_detector_cache_release_stopped (self);
  ys_detector_cache_release (self);
  if (self->results_file != NULL)
    fclose (self->results_file);
  self->results_file = NULL;
  ys_detector_sync_clear (self);
}

static GstStateChangeReturn
gst_yolo_detector_change_state (GstElement *element, GstStateChange transition)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start (self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (gst_yolo_detector_parent_class)
            ->change_state (element, transition);
  /* After the parent: the pads are deactivated, the src task stopped. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || (transition == GST_STATE_CHANGE_READY_TO_PAUSED
          && ret == GST_STATE_CHANGE_FAILURE))
    stop (self);
  return ret;
}

static gboolean
gst_yolo_detector_src_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  /* Only sync delivery has a task: async pushes from the chain. */
  if (!self->sync)
    return TRUE;
  return ys_detector_sync_activate (self, active);
}

/* ---- the type -------------------------------------------------------------------- */

static void
gst_yolo_detector_finalize (GObject *object)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (object);

  stop (self);
  ys_detector_settings_clear (&self->settings);
  g_free (self->last_decision);
  yolo_detections_free (&self->scratch);
  yolo_detections_free (&self->task_scratch);
  g_string_free (self->line, TRUE);
  g_mutex_clear (&self->backend_lock);
  g_mutex_clear (&self->swap_lock);
  g_mutex_clear (&self->swap_state_lock);
  g_cond_clear (&self->swap_cond);
  g_async_queue_unref (self->cache_releases);
  g_free (self->swap_model);
  g_free (self->swap_input_size);
  g_mutex_clear (&self->queue_lock);
  g_cond_clear (&self->queue_cond);
  G_OBJECT_CLASS (gst_yolo_detector_parent_class)->finalize (object);
}

/* The three elements' names and texts, in one table as their properties
 * are: what gst-inspect-1.0 shows, and the debug category's name. */
typedef struct {
  YsElementMask element;
  const char *name; /* the element's, and its debug category's */
  const char *long_name, *description;
  const char *debug_description;
  const char *periodic_stats; /* see the class's field; NULL: none */
} YsDetectorMetadata;

static const YsDetectorMetadata metadata[] = {
  { YS_FOR_DETECT, "yolodetect", "YOLO object detector (local)",
      "Detects objects with a Darknet YOLO model on this machine and "
      "attaches them as region-of-interest metadata",
      "Local YOLO object detection", NULL },
  { YS_FOR_OFFLOAD, "yolooffload", "YOLO edge offload",
      "Detects objects on a yoloswitch-edge server: frames are encoded, "
      "pipelined over WebSockets and tagged with the detections",
      "YOLO edge offload", "yoloswitch-offload-stats" },
  { YS_FOR_SPLIT, "yolosplit", "YOLO split inference",
      "Runs the first layers of the edge model here and sends their "
      "quantized tensors (never the pixels) to a yoloswitch-edge server, "
      "which runs the rest; tags frames with the detections",
      "YOLO split inference", "yoloswitch-offload-stats" },
  { YS_FOR_SWITCH, "yoloswitch",
      "YOLO detector switching between local and edge",
      "Runs a small YOLO model here or a big one on an edge server, choosing "
      "the path, resolution and bit rate to hold frame-rate, latency and "
      "accuracy targets; a tracker puts boxes on every frame",
      "yoloswitch local/edge switcher", NULL },
};

static const YsDetectorMetadata *
metadata_of (YsElementMask element)
{
  for (size_t i = 0; i < G_N_ELEMENTS (metadata); i++)
    if (metadata[i].element == element)
      return &metadata[i];
  g_assert_not_reached ();
  return NULL;
}

void
ys_detector_class_setup (GstYoloDetectorClass *klass,
    const YsDetectorDescription *d)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  const YsDetectorMetadata *m = metadata_of (d->element);

  GST_DEBUG_CATEGORY_INIT (klass->debug, m->name, 0, m->debug_description);
  klass->element = d->element;
  klass->periodic_stats = m->periodic_stats;
  klass->prepare = d->prepare;
  klass->encoding = d->encoding;
  gst_element_class_set_static_metadata (element_class, m->long_name,
      "Filter/Analyzer/Video", m->description, "yoloswitch developers");

  /* GObject gives every class its own property functions (they are not
   * inherited): ours read the one table. */
  gobject_class->set_property = ys_detector_set_property;
  gobject_class->get_property = ys_detector_get_property;
  ys_detector_install_properties (G_OBJECT_CLASS (klass), klass->element);
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
}

static void
gst_yolo_detector_class_init (GstYoloDetectorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_yolo_detector_finalize;
  element_class->change_state
      = GST_DEBUG_FUNCPTR (gst_yolo_detector_change_state);
  gst_type_mark_as_plugin_api (GST_TYPE_YOLO_DETECTOR, 0);
  gst_type_mark_as_plugin_api (gst_yolo_detector_mode_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_detector_on_missing_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_detector_engine_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_offload_codec_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_switch_policy_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_switch_emulate_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_yolo_switch_privacy_get_type (), 0);
}

static void
gst_yolo_detector_init (GstYoloDetector *self)
{
  yolo_detections_init (&self->scratch);
  yolo_detections_init (&self->task_scratch);
  self->line = g_string_new (NULL);
  g_mutex_init (&self->backend_lock);
  g_mutex_init (&self->swap_lock);
  g_mutex_init (&self->swap_state_lock);
  g_cond_init (&self->swap_cond);
  self->cache_releases = g_async_queue_new_full (g_free);
  g_mutex_init (&self->queue_lock);
  g_cond_init (&self->queue_cond);
  g_queue_init (&self->held);
  self->src_flow = GST_FLOW_OK;
}

void
ys_detector_instance_setup (GstYoloDetector *self)
{
  GstYoloDetectorClass *klass = CLASS (self);
  GstElementClass *element_class = GST_ELEMENT_GET_CLASS (self);

  self->sinkpad = gst_pad_new_from_template (
      gst_element_class_get_pad_template (element_class, "sink"), "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_yolo_detector_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_yolo_detector_sink_event));
  /* Frames pass unchanged but for metas: caps and allocation are the
   * peers' to agree on. */
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_template (
      gst_element_class_get_pad_template (element_class, "src"), "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_yolo_detector_src_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_yolo_detector_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  ys_detector_settings_init (&self->settings, klass->element);
}
