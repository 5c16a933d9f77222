/**
 * SECTION:element-yolosplit
 * @title: yolosplit
 *
 * Split inference (docs/SPLIT.md): runs the first `cut` layers of the edge
 * model on this machine, quantizes what they hand over (8 bits per value
 * by default, a range per channel) and sends it to a yoloswitch-edge
 * server running the same model, which runs the rest and answers with the
 * detections (source "split", and the cut, in the metas and yolojson's
 * records).  The camera's pixels never leave the machine.
 *
 * The server must load the same cfg, weights and input size: its HELLO
 * names its model's hash, and a server with another is refused (a warning
 * says both hashes; frames pass with no result, as with a server that
 * cannot be reached).  cut=0 takes the cut whose handover is smallest.
 *
 * Everything else is yolooffload's: frames pipelined up to max-in-flight,
 * mode=sync (each frame in order with its own result or a record saying
 * why not, and on-missing-result at EOS) or async, a lost server never
 * stops the stream, the "yoloswitch-offload-stats" messages (encoder
 * "split", encode-ms the head's time).  The head runs on the streaming
 * thread, as yolooffload's encoder does; the server finishes a frame while
 * the head of the next one runs.
 *
 * ## Example launch line
 * |[
 * yoloswitch-edge --port 8765 &
 * gst-launch-1.0 filesrc location=../shared/data/vtest.avi ! decodebin ! \
 *     videoconvert ! yolosplit server=ws://127.0.0.1:8765/ ! \
 *     yolojson location=split.jsonl ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "yolosplit.h"

/* The configuration the properties ask for. */
static void
gst_yolo_split_config (GstYoloDetector *base, const YsDetectorSettings *st,
    YsProfileConfig *c)
{
  c->path = YS_PATH_SPLIT;
  c->pareto = true;
  c->cut = st->cut;
  c->bits = st->bits;
}

static gboolean
gst_yolo_split_prepare (GstYoloDetector *base, const YsDetectorSettings *st,
    YsSwitcherOptions *o, YsProfile **profile)
{
  if (st->bits != 4 && st->bits != 6 && st->bits != 8) {
    GST_ELEMENT_ERROR (base, RESOURCE, SETTINGS,
        ("bits=%d: a handover value takes 4, 6 or 8 bits", st->bits), (NULL));
    return FALSE;
  }
  /* Every frame offered goes (no pacing), as yolooffload's. */
  o->paths[YS_PATH_SPLIT]
      = ys_detector_split_path (base, st, 0, st->latency_budget_ms, 0);
  if (o->paths[YS_PATH_SPLIT] == NULL)
    return FALSE;
  *profile = ys_detector_single_profile (YS_PATH_SPLIT, st->edge_model);
  gst_yolo_split_config (base, st, &(*profile)->configs[0]);
  ys_detector_fixed_delivery (o, *profile, st);
  return TRUE;
}

YS_DETECTOR_DEFINE (GstYoloSplit, gst_yolo_split, yolosplit,
    GST_TYPE_YOLO_SPLIT, YS_FOR_SPLIT, gst_yolo_split_prepare, NULL)
