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
 * A profile with split rows (yoloswitch-profile measures them, issue 15)
 * adds a third path: split inference, the first layers of the edge model
 * here and their quantized tensors to the server for the rest; the
 * decision picks its cut and bit depth like any configuration (policy=split
 * keeps to it).  privacy=pixels-stay-local never sends a frame's pixels:
 * the edge path is not even opened, only local and split run, and
 * policy=edge is refused at start.
 *
 * mode=async (default, live video): frames never wait for the network:
 * each one leaves at once, with the boxes of the newest results moved onto
 * it by a tracker, so no frame goes out without boxes while objects are
 * present, across switches included.  A frame the local model took waits
 * for its own result at most twice the model's time (30 ms at most), which
 * the latency query reports (the stream's first frame, with no boxes yet
 * to carry, waits up to 1 s).  Each box says which analysis it came from
 * (path, model, resolution, bit rate, the frame it ran on, its age, and
 * whether the tracker moved it).  For a file, put `clocksync` before the
 * element so frames arrive at the camera's pace.
 *
 * mode=sync (monitoring, file jobs): every frame leaves in order with its
 * own result, from whichever path is in force when it arrives, or a record
 * saying why not ("deadline" after latency-budget-ms, "disconnected",
 * ...); the latency query reports the budget.  At EOS, frames that went
 * without their own result make the job incomplete: on-missing-result=error
 * (the default) posts an error counting them by reason, so gst-launch-1.0
 * exits non-zero; warn posts a warning, ignore nothing.  Frames the edge
 * path's pacing skipped on purpose do not count.  Labels and model names
 * from the server are bounded as in yolooffload (max-labels).
 *
 * Bus messages:
 *  - "yoloswitch-decision" (element message) on every change: path,
 *    config, config-index, reason, probing, probe-config, expected-fps,
 *    expected-latency-ms, expected-accuracy, missed, explanation and the
 *    estimates it used (connected, bandwidth-bps, rtt-ms, rtt-var-ms,
 *    rtt-min-ms, path-rtt-ms, oldest-unacked-ms, oldest-unacked-bytes,
 *    last-bandwidth-bps, server-ms, local-infer-ms, local-correction);
 *  - a warning naming the missed target and why, when one cannot be met;
 *  - "yoloswitch-stats" at EOS (sync: once every frame is answered):
 *    frames, frames-without-boxes, frames-without-own-result (sync),
 *    local-results, edge-results, edge-frames-sent, edge-drops (and of
 *    them edge-drops-deadline, edge-drops-overload), stand-ins (frames the
 *    edge was due but could not take, run locally), decisions, labels,
 *    local-correction, and the edge link's figures (connected,
 *    bandwidth-bps, rtt-ms, server-ms, bytes-sent, encoder...).
 *
 * results-location names a JSON-lines file that gets every result as it is
 * applied, with the boxes as the model found them on the frame it ran on
 * (before any tracking): source, model, status (and reason), frame (its
 * sequence number), frame_pts, arrival_pts (the frame it arrived with),
 * frame_id (edge), latency_ms, resolution, bitrate, detections.  For
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

#include "protocol.h"

#include <math.h>

/* Errors go to this element's category (every function logging has base). */
#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (base)->debug)

#define DEFAULT_PROFILE_NAME "vtest.profile.json"

/* "fps,latency,accuracy" in any order: NULL, or why not. */
static const char *
parse_priority (const char *text, YsTarget out[3])
{
  gchar **names = g_strsplit (text != NULL ? text : "", ",", -1);
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

/* The most accurate configuration of `kind` on the front; -1 when there
 * is none. */
static int
most_accurate (const YsProfile *p, YsPathKind kind)
{
  int best = -1;
  for (int i = 0; i < p->config_count; i++) {
    const YsProfileConfig *c = &p->configs[i];
    if (c->path == kind && c->pareto
        && (best < 0 || c->iou_accuracy > p->configs[best].iou_accuracy))
      best = i;
  }
  return best;
}

/* The DeepDecision controller (PRIOR_ART.md): a per-second decision from
 * its table, one frame in flight, a restart to switch.  It has no stall
 * detector: a dead link shows at the next decision, as no bandwidth. */
static void
emulate_deepdecision (YsSwitcherOptions *o, YsDetectorSettings *st)
{
  o->tick_ms = 1000;
  o->switch_pause_ms = 1000;
  o->no_stand_in = true;
  o->targets.hold_ms = 1;
  o->targets.probe_ms = 1;
  o->targets.min_stall_ms = 1000;
  st->max_in_flight = 1;
}

static gboolean
gst_yolo_switch_prepare (GstYoloDetector *base, const YsDetectorSettings *in,
    YsSwitcherOptions *o, YsProfile **profile)
{
  YsDetectorSettings st = *in; /* strings borrowed */
  gboolean sync = in->mode == GST_YOLO_DETECTOR_MODE_SYNC;
  const char *bad_priority;
  gchar *profile_path;
  GError *error = NULL;
  int local, edge, split;
  gboolean privacy = in->privacy == GST_YOLO_SWITCH_PRIVACY_PIXELS_STAY_LOCAL;

  bad_priority = parse_priority (st.priority, o->targets.priority);
  if (bad_priority != NULL)
    goto bad_priority;
  profile_path
      = st.profile != NULL ? g_strdup (st.profile) : default_profile_path ();
  *profile = ys_profile_load (profile_path, &error);
  g_free (profile_path);
  if (*profile == NULL)
    goto bad_profile;
  local = most_accurate (*profile, YS_PATH_LOCAL);
  edge = most_accurate (*profile, YS_PATH_EDGE);
  split = most_accurate (*profile, YS_PATH_SPLIT);
  if (local < 0)
    goto no_local;

  o->targets.fps = st.target_fps;
  o->targets.iou = st.target_iou;
  o->targets.max_latency_ms = st.max_latency_ms;
  o->targets.max_bitrate = (double) st.max_bitrate;
  o->targets.policy = (YsPolicy) st.policy;
  o->targets.privacy = privacy;
  o->no_stand_in = !st.stand_in;
  if (st.emulate == GST_YOLO_SWITCH_EMULATE_DEEPDECISION)
    emulate_deepdecision (o, &st);

  /* The local model at the input size the switcher starts with. */
  o->paths[YS_PATH_LOCAL] = ys_detector_local_path (base, &st,
      (*profile)->configs[local].width, (*profile)->configs[local].height);
  if (o->paths[YS_PATH_LOCAL] == NULL)
    return FALSE;
  if (st.server != NULL) {
    /* One session encodes with one codec: the front's best edge one. */
    int codec
        = edge >= 0 && g_strcmp0 ((*profile)->configs[edge].codec, "mjpeg") == 0
        ? YS_CODEC_MJPEG
        : YS_CODEC_H264;
    int target_ms = MAX (1, (int) st.max_latency_ms);
    int give_up_ms = sync ? st.latency_budget_ms : 2 * target_ms;
    /* The profile's bit rates are per second at the target rate.  Live,
     * a RESULT a little past the latency target is still the newest
     * thing known about the scene, so a frame is given up only at twice
     * the target (a file job gives it up at its budget); the link counts
     * as behind, and frames stand in locally, at the target itself.
     * Under privacy the edge path is not even opened: no code path can
     * then send a pixel. */
    if (!privacy) {
      o->paths[YS_PATH_EDGE]
          = ys_detector_edge_path (base, &st, codec, st.target_fps,
              MAX (1, (int) lround (st.target_fps)), give_up_ms, target_ms);
      if (o->paths[YS_PATH_EDGE] == NULL)
        return FALSE;
    }
    /* The split path when the profile has split rows: the head of their
     * model, starting at the most accurate one's cut and bits. */
    if (split >= 0) {
      st.edge_model = (*profile)->configs[split].model;
      st.cut = (*profile)->configs[split].cut;
      st.bits = (*profile)->configs[split].bits;
      o->paths[YS_PATH_SPLIT] = ys_detector_split_path (base, &st,
          st.target_fps, give_up_ms, target_ms);
      if (o->paths[YS_PATH_SPLIT] == NULL)
        return FALSE;
    }
  }
  o->profile = *profile;
  o->decide = true;
  /* Sync gives each frame its own result: nothing to carry. */
  o->track = !sync;
  o->delivery = sync ? YS_DELIVER_SYNC : YS_DELIVER_ASYNC;
  o->latency_budget_ms = st.latency_budget_ms;
  return TRUE;

  /* ERRORS */
bad_priority:
  GST_ELEMENT_ERROR (base, RESOURCE, SETTINGS, ("%s", bad_priority), (NULL));
  return FALSE;
bad_profile:
  GST_ELEMENT_ERROR (base, RESOURCE, SETTINGS, ("%s", error->message),
      ("profile property: %s", st.profile != NULL ? st.profile : "(default)"));
  g_error_free (error);
  return FALSE;
no_local:
  GST_ELEMENT_ERROR (base, RESOURCE, SETTINGS,
      ("The profile has no local configuration on its Pareto front: make one "
       "with yoloswitch-profile"),
      (NULL));
  return FALSE;
}

YS_DETECTOR_DEFINE (GstYoloSwitch, gst_yolo_switch, yoloswitch,
    GST_TYPE_YOLO_SWITCH, YS_FOR_SWITCH, gst_yolo_switch_prepare, NULL)
