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

#include "detector_private.h"

/* One configuration, for good: the model at its cfg's input size. */
static gboolean
gst_yolo_detect_prepare (GstYoloDetector *base, const YsDetectorSettings *st,
    YsSwitcherOptions *o, YsProfile **profile)
{
  int width, height;

  if (!ys_detector_input_size (st->input_size, &width, &height)) {
    GST_ELEMENT_ERROR (base, RESOURCE, SETTINGS,
        ("input-size \"%s\" is not WIDTHxHEIGHT in multiples of 32 from 32 "
         "to 4096 (e.g. 256x256)",
            st->input_size),
        (NULL));
    return FALSE;
  }
  *profile = ys_detector_single_profile (YS_PATH_LOCAL, st->local_model);
  o->paths[YS_PATH_LOCAL] = ys_detector_local_path (base, st, width, height);
  if (o->paths[YS_PATH_LOCAL] == NULL)
    return FALSE;
  ys_detector_fixed_delivery (o, *profile, st);
  o->inference_interval = (int) st->inference_interval;
  return TRUE;
}

YS_DETECTOR_DEFINE (GstYoloDetect, gst_yolo_detect, yolodetect,
    GST_TYPE_YOLO_DETECT, YS_FOR_DETECT, gst_yolo_detect_prepare, NULL)
