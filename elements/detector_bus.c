/* What the detector elements tell the bus: the paths' sentences as
 * warnings, every counter in one stats structure (periodic and at EOS),
 * LATENCY when what a frame may wait grew, and the switcher's decisions.
 * Never under a lock of ours. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include "clock.h"

#include <string.h>

#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)
#define CLASS(self) GST_YOLO_DETECTOR_GET_CLASS (self)

/* Report a new latency when it grew by this much. */
#define LATENCY_GROWTH 1.2

/* ---- the bus -------------------------------------------------------------------- */

/* Streaming thread: sentences the paths collected (server lost, back,
 * refused; an inference failed).  Never under a lock. */
void
ys_detector_post_notices (GstYoloDetector *self, YsSwitcher *switcher)
{
  bool warning;
  char *text;

  while ((text = ys_switcher_take_notice (switcher, &warning)) != NULL) {
    if (warning)
      GST_ELEMENT_WARNING (self, RESOURCE, READ, ("%s", text),
          ("frames keep flowing meanwhile"));
    else
      /* gst-launch-1.0 prints an INFO's debug text only: the sentence
       * goes there too. */
      GST_ELEMENT_INFO (self, RESOURCE, READ, ("%s", text), ("%s", text));
    g_free (text);
  }
}

YsPathKind
ys_detector_link_path (YsSwitcher *switcher)
{
  return ys_switcher_path (switcher, YS_PATH_EDGE) == NULL
          && ys_switcher_path (switcher, YS_PATH_SPLIT) != NULL
      ? YS_PATH_SPLIT
      : YS_PATH_EDGE;
}

/* Every counter the switcher and its paths have, in one structure:
 * "yoloswitch-stats" (yoloswitch, at EOS) or the periodic message. */
void
ys_detector_post_stats (GstYoloDetector *self, YsSwitcher *switcher,
    const char *name)
{
  YsSwitcherStats st;
  YsPathStats local, edge;
  GstStructure *s;

  ys_switcher_stats (switcher, &st);
  ys_switcher_path_stats (switcher, YS_PATH_LOCAL, &local);
  ys_switcher_path_stats (switcher, ys_detector_link_path (switcher), &edge);
  s = gst_structure_new (name, "frames", G_TYPE_UINT64, st.frames,
      "frames-without-boxes", G_TYPE_UINT64, st.frames_without_boxes,
      "frames-without-own-result", G_TYPE_UINT64, st.own_missing, "decisions",
      G_TYPE_UINT64, st.decisions, "labels", G_TYPE_UINT64, st.labels,
      "stand-ins", G_TYPE_UINT64, st.stand_ins, "local-correction",
      G_TYPE_DOUBLE, st.local_correction, NULL);
  for (int k = 0; k < YS_PATH_KINDS; k++) {
    gchar *field = g_strdup_printf ("%s-results", ys_path_name (k));
    gst_structure_set (s, field, G_TYPE_UINT64, st.results[k], NULL);
    g_free (field);
  }
  if (ys_switcher_path (switcher, YS_PATH_LOCAL) != NULL)
    gst_structure_set (s, "local-replaced", G_TYPE_UINT64, local.replaced,
        "inference-ms", G_TYPE_DOUBLE, local.infer_ms, NULL);
  if (ys_switcher_path (switcher, ys_detector_link_path (switcher)) != NULL)
    gst_structure_set (s, "connected", G_TYPE_BOOLEAN,
        (gboolean) edge.connected, "bandwidth-bps", G_TYPE_DOUBLE,
        edge.bandwidth_bps, "throughput-bps", G_TYPE_DOUBLE,
        edge.throughput_bps, "rtt-ms", G_TYPE_DOUBLE, edge.rtt_ms, "rtt-min-ms",
        G_TYPE_DOUBLE, edge.rtt_min_ms, "server-ms", G_TYPE_DOUBLE,
        edge.server_ms, "in-flight", G_TYPE_INT, edge.in_flight, "frames-sent",
        G_TYPE_UINT64, edge.frames_sent, "edge-frames-sent", G_TYPE_UINT64,
        edge.frames_sent, "results", G_TYPE_UINT64, edge.results, "drops",
        G_TYPE_UINT64, edge.drops, "edge-drops", G_TYPE_UINT64, edge.drops,
        "edge-drops-deadline", G_TYPE_UINT64, edge.drops_deadline,
        "edge-drops-overload", G_TYPE_UINT64, edge.drops_overload,
        "labels-refused", G_TYPE_UINT64, edge.labels_refused,
        "frames-without-result", G_TYPE_UINT64, edge.missing + edge.refused,
        "bytes-sent", G_TYPE_UINT64, edge.bytes_sent, "encode-ms",
        G_TYPE_DOUBLE, edge.encode_ms, "width", G_TYPE_INT, edge.width,
        "height", G_TYPE_INT, edge.height, "bitrate", G_TYPE_INT64,
        edge.bitrate, "encoder", G_TYPE_STRING,
        edge.encoder != NULL ? edge.encoder : "", NULL);
  /* With both link paths, the fields above are the edge path's: the
   * split path's own follow (alone, it has the fields above). */
  if (ys_switcher_path (switcher, YS_PATH_SPLIT) != NULL
      && ys_detector_link_path (switcher) != YS_PATH_SPLIT) {
    YsPathStats split;
    ys_switcher_path_stats (switcher, YS_PATH_SPLIT, &split);
    gst_structure_set (s, "split-connected", G_TYPE_BOOLEAN,
        (gboolean) split.connected, "split-frames-sent", G_TYPE_UINT64,
        split.frames_sent, "split-bytes-sent", G_TYPE_UINT64, split.bytes_sent,
        "split-drops", G_TYPE_UINT64, split.drops,
        "split-frames-without-result", G_TYPE_UINT64,
        split.missing + split.refused, "split-rtt-ms", G_TYPE_DOUBLE,
        split.rtt_ms, "split-server-ms", G_TYPE_DOUBLE, split.server_ms,
        "split-head-ms", G_TYPE_DOUBLE, split.encode_ms, NULL);
  }
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

const char *
ys_detector_final_stats_name (GstYoloDetector *self)
{
  return CLASS (self)->periodic_stats != NULL ? CLASS (self)->periodic_stats
                                              : "yoloswitch-stats";
}

/* Streaming thread: the periodic message, when the subclass has one. */
void
ys_detector_maybe_post_periodic (GstYoloDetector *self, gint64 now_us)
{
  guint interval_ms;

  if (CLASS (self)->periodic_stats == NULL)
    return;
  GST_OBJECT_LOCK (self);
  interval_ms = self->settings.stats_interval_ms;
  GST_OBJECT_UNLOCK (self);
  if (now_us - self->last_stats_us < (gint64) interval_ms * 1000)
    return;
  if (self->last_stats_us != 0)
    ys_detector_post_stats (self, self->switcher, CLASS (self)->periodic_stats);
  self->last_stats_us = now_us;
}

/* Streaming thread: a LATENCY message when what a frame may wait here
 * grew (a slower model), so a live pipeline re-queries. */
void
ys_detector_check_latency (GstYoloDetector *self)
{
  GstClockTime now
      = (GstClockTime) (ys_switcher_latency_ms (self->switcher) * GST_MSECOND);
  gboolean grew;

  GST_OBJECT_LOCK (self);
  grew = now > self->reported_latency * LATENCY_GROWTH;
  if (grew)
    self->reported_latency = now;
  GST_OBJECT_UNLOCK (self);
  if (grew)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
}

/* The switcher's tick thread: a decision changed. */
void
ys_detector_on_decision (const YsSwitchEvent *ev, void *user)
{
  GstYoloDetector *self = user;
  const YsDecision *d = &ev->decision;
  const YsEstimates *e = &ev->estimates;
  GstStructure *s;

  s = gst_structure_new ("yoloswitch-decision", "path", G_TYPE_STRING,
      ys_path_name (d->path), "config", G_TYPE_STRING, ev->config,
      "config-index", G_TYPE_INT, d->config, "reason", G_TYPE_STRING, d->reason,
      "probing", G_TYPE_BOOLEAN, (gboolean) d->probing, "probe-config",
      G_TYPE_STRING, ev->probe, "expected-fps", G_TYPE_DOUBLE, d->fps,
      "expected-latency-ms", G_TYPE_DOUBLE, d->latency_ms, "expected-accuracy",
      G_TYPE_DOUBLE, d->accuracy, "expected-device-ms", G_TYPE_DOUBLE,
      d->device_ms, "explanation", G_TYPE_STRING, d->explanation, "connected",
      G_TYPE_BOOLEAN, (gboolean) e->connected, "bandwidth-bps", G_TYPE_DOUBLE,
      e->bandwidth_bps, "rtt-ms", G_TYPE_DOUBLE, e->rtt_ms, "rtt-var-ms",
      G_TYPE_DOUBLE, e->rtt_var_ms, "rtt-min-ms", G_TYPE_DOUBLE, e->rtt_min_ms,
      "path-rtt-ms", G_TYPE_DOUBLE, e->path_rtt_ms, "oldest-unacked-ms",
      G_TYPE_DOUBLE,
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
