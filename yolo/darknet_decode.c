/* The Darknet backend's box decoding: Darknet's YOLO/region decoding
 * (get_network_boxes) over the detection layers' outputs, then NMS, boxes
 * scaled to the source frame. */
#include "darknet_backend.h"

#include "status.h"

#include <math.h>

/* NaN in a detection layer's output (NaN weights, or Inf - Inf on the way)
 * is read as 0 before Darknet decodes it: in its source,
 * get_network_boxes() counts the boxes with "objectness > thresh" but
 * fills them skipping "objectness <= thresh", so a NaN objectness is
 * filled without being counted and the fill writes past the boxes it
 * allocated (whether a build does depends on its compiler flags); NaN
 * scores would also reach Darknet's NMS sort.  The outputs are changed in place,
 * so a handover after decoding reads the zeros too. */
static void
zero_nan_outputs (network *net)
{
  for (int i = 0; i < net->n; i++) {
    layer *l = &net->layers[i];
    if (l->type != YOLO && l->type != REGION)
      continue;
    for (int j = 0; j < l->outputs; j++)
      if (isnan (l->output[j]))
        l->output[j] = 0;
  }
}

static float
clampf (float v, float lo, float hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

bool
darknet_backend_decode (YoloBackendModel *b, const YoloDecodeRequest *request,
    YoloDetections *out, YoloStatus *status)
{
  const YoloInferOptions *options = request->options;
  network *net = b->net;
  int nboxes = 0;
  detection *dets;
  float sw = (float) request->source_width;
  float sh = (float) request->source_height;

  zero_nan_outputs (net);
  /* With a plain resize the boxes must not be "un-letterboxed": asking for
   * them relative to the network size makes Darknet's correction a no-op. */
  if (request->letterbox)
    dets = get_network_boxes (net, request->source_width,
        request->source_height, options->threshold, 0.5f, NULL, 1, &nboxes);
  else
    dets = get_network_boxes (net, net->w, net->h, options->threshold, 0.5f,
        NULL, 1, &nboxes);
  /* Stock from end to end, as the reference. */
  if (options->nms > 0)
    do_nms_sort (dets, nboxes, b->classes, options->nms);

  yolo_detections_clear (out);
  for (int i = 0; i < nboxes; i++) {
    box r = dets[i].bbox;
    float x0 = clampf ((r.x - r.w / 2) * sw, 0, sw);
    float y0 = clampf ((r.y - r.h / 2) * sh, 0, sh);
    float x1 = clampf ((r.x + r.w / 2) * sw, 0, sw);
    float y1 = clampf ((r.y + r.h / 2) * sh, 0, sh);
    /* Not "x1 <= x0": a NaN box (Inf x 0 from an anchor of 0) fails
     * every comparison and would pass. */
    if (!(x1 > x0) || !(y1 > y0))
      continue;
    for (int j = 0; j < b->classes; j++) {
      if (dets[i].prob[j] > options->threshold) {
        YoloDetection d = {
          .class_id = j,
          .label = request->labels[j],
          .confidence = dets[i].prob[j],
          .x = x0,
          .y = y0,
          .w = x1 - x0,
          .h = y1 - y0,
        };
        if (!yolo_detections_append (out, &d)) {
          free_detections (dets, nboxes);
          return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
        }
      }
    }
  }
  free_detections (dets, nboxes);
  return true;
}
