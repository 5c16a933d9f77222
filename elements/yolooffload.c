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
 * A server that cannot be reached or goes away does not stop the stream:
 * frames keep flowing with "no result", a warning goes to the bus, the
 * element reconnects with backoff, and results resume when the server is
 * back.  In mode=sync the job is then incomplete, which EOS tells as
 * on-missing-result says: error (the default) posts an error such as
 * "15 of 200 frames got no result of their own (disconnected: 15): the
 * job is incomplete", so gst-launch-1.0 exits non-zero and a script sees
 * it; warn posts it as a warning (a live camera where gaps are expected
 * and a server restart must not fail the recording); ignore leaves it to
 * the per-frame records and the stats.  Only at EOS: a lost server never
 * stops a running pipeline.
 *
 * The server is not trusted: its strings are bounded by the protocol's
 * limits (docs/PROTOCOL.md), a box's label is kept only if it is
 * printable UTF-8 and among the first max-labels distinct ones (default
 * 1000; each is kept for the life of the process, as metas point to it),
 * else it is named "unknown", counted in labels-refused and warned about
 * once; results are recorded under the model the server's HELLO
 * announced.  A server whose HELLO lists its model's labels (yoloswitch-edge
 * does) gets only those: a box whose label is not the list's for its class
 * is "unknown" the same way, and a list that is not printable or has more
 * than max-labels names closes the connection, saying why.
 *
 * libwebsockets' and libav's own logs (x264's banner among them) go to
 * the debug categories yoloswitch-lws, yoloswitch-libav and
 * yoloswitch-client, never straight to stderr.
 *
 * Every stats-interval-ms a "yoloswitch-offload-stats" element message
 * carries: connected (boolean), bandwidth-bps, throughput-bps, rtt-ms,
 * rtt-min-ms, server-ms (doubles), in-flight (int), frames-sent, results,
 * drops, frames-without-result, labels-refused, bytes-sent (uint64),
 * encode-ms (double),
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

/* The encoder's rate until the caps give the stream's own (a variable
 * rate, 0/1, keeps it): x264's rate control spreads the bit rate over
 * this many frames a second. */
#define NOMINAL_FPS 30

/* The encoding the properties ask for: width x height when both are set,
 * else the scale of the frame. */
static void
gst_yolo_offload_encoding (GstYoloDetector *base, const YsDetectorSettings *st,
    YsProfileConfig *c)
{
  c->path = YS_PATH_EDGE;
  c->pareto = true;
  c->bitrate = st->bitrate;
  if (st->width > 0 && st->height > 0) {
    c->scale = 0;
    c->width = st->width;
    c->height = st->height;
  } else {
    c->scale = st->scale;
  }
}

static gboolean
gst_yolo_offload_prepare (GstYoloDetector *base, const YsDetectorSettings *st,
    YsSwitcherOptions *o, YsProfile **profile)
{
  *profile = ys_detector_single_profile (YS_PATH_EDGE, st->edge_model);
  gst_yolo_offload_encoding (base, st, &(*profile)->configs[0]);
  /* Every frame offered goes (no pacing): the camera's rate is the rate. */
  o->paths[YS_PATH_EDGE] = ys_detector_edge_path (base, st, st->codec, 0,
      NOMINAL_FPS, st->latency_budget_ms, 0);
  if (o->paths[YS_PATH_EDGE] == NULL)
    return FALSE;
  ys_detector_fixed_delivery (o, *profile, st);
  return TRUE;
}

YS_DETECTOR_DEFINE (GstYoloOffload, gst_yolo_offload, yolooffload,
    GST_TYPE_YOLO_OFFLOAD, YS_FOR_OFFLOAD, gst_yolo_offload_prepare,
    gst_yolo_offload_encoding)
