/* The detector elements' properties (detector_settings.h's table): a set
 * stores the value and sends a change made while running where it has to
 * go (the local model's options, the interval, the encoding, a hot swap);
 * a get reads a setting or one of the running figures. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include <string.h>

#define CLASS(self) GST_YOLO_DETECTOR_GET_CLASS (self)

/* A change while running reaches the switcher (outside the object lock). */
static void
apply_change (GstYoloDetector *self, YsApply apply)
{
  YsDetectorSettings st;

  /* Its own thread looks the model up; never under backend_lock (that
   * thread takes it after swap_lock). */
  if (apply == YS_APPLY_MODEL) {
    ys_detector_swap_model (self);
    return;
  }
  g_mutex_lock (&self->backend_lock);
  if (self->switcher == NULL || apply == YS_APPLY_AT_START
      || apply == YS_APPLY_READ_EACH_TIME)
    goto done;
  GST_OBJECT_LOCK (self);
  ys_detector_settings_copy (&st, &self->settings);
  GST_OBJECT_UNLOCK (self);
  if (apply == YS_APPLY_INFER) {
    YoloInferOptions options;
    yolo_infer_options_init (&options);
    options.threshold = st.threshold;
    options.nms = st.nms;
    options.letterbox = st.letterbox;
    ys_switcher_set_infer_options (self->switcher, &options);
  } else if (apply == YS_APPLY_INTERVAL) {
    ys_switcher_set_interval (self->switcher, (int) st.inference_interval);
  } else if (apply == YS_APPLY_ENCODING && CLASS (self)->encoding != NULL) {
    YsProfileConfig config;
    memset (&config, 0, sizeof (config));
    CLASS (self)->encoding (self, &st, &config);
    ys_switcher_set_fixed (self->switcher, &config);
  }
  ys_detector_settings_clear (&st);
done:
  g_mutex_unlock (&self->backend_lock);
}

void
ys_detector_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (object);
  YsApply apply = YS_APPLY_AT_START;
  gboolean known;

  GST_OBJECT_LOCK (self);
  known = ys_detector_settings_set (&self->settings, prop_id, value, &apply);
  GST_OBJECT_UNLOCK (self);
  if (!known) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  apply_change (self, apply);
}

static void
read_figures (GstYoloDetector *self, YsDetectorReadings *rd)
{
  YsPathStats local, edge;
  YsSwitcherStats st;

  memset (rd, 0, sizeof (*rd));
  g_mutex_lock (&self->backend_lock);
  if (self->switcher != NULL) {
    ys_switcher_stats (self->switcher, &st);
    ys_switcher_path_stats (self->switcher, YS_PATH_LOCAL, &local);
    ys_switcher_path_stats (self->switcher,
        ys_detector_link_path (self->switcher), &edge);
    rd->inference_ms = local.infer_ms;
    rd->load_ms = local.load_ms;
    rd->inference_count = local.results;
    rd->frames_not_inferred = local.replaced;
    rd->connected = edge.connected;
    rd->bandwidth = edge.bandwidth_bps;
    rd->throughput = edge.throughput_bps;
    rd->rtt_ms = edge.rtt_ms;
    rd->rtt_min_ms = edge.rtt_min_ms;
    rd->server_ms = edge.server_ms;
    rd->in_flight = edge.in_flight;
    rd->frames_sent = edge.frames_sent;
    rd->results = edge.results;
    rd->frames_without_result = edge.missing + edge.refused;
    /* What the latency query would add now (get_property takes the
     * larger of this and what was reported). */
    rd->latency_ms = ys_switcher_latency_ms (self->switcher);
  }
  g_mutex_unlock (&self->backend_lock);
}

void
ys_detector_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstYoloDetector *self = GST_YOLO_DETECTOR (object);
  YsDetectorReadings rd;
  gboolean known;

  if (ys_detector_is_reading (prop_id)) {
    read_figures (self, &rd);
    GST_OBJECT_LOCK (self);
    /* What the next latency query adds (src_query): what a frame may wait
     * now, never less than what was reported before.  Not stored: only a
     * query or a LATENCY message tells the pipeline. */
    rd.latency_ms
        = MAX (rd.latency_ms, (double) self->reported_latency / GST_MSECOND);
    rd.decision = self->last_decision;
    ys_detector_readings_get (&rd, prop_id, value);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  GST_OBJECT_LOCK (self);
  known = ys_detector_settings_get (&self->settings, prop_id, value);
  GST_OBJECT_UNLOCK (self);
  if (!known)
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}
