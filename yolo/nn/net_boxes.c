/* Darknet's box decoding and NMS without Darknet.
 *
 * Candidates are gathered as get_network_boxes() gathers them, layer by
 * layer: a yolo layer gives one per cell and anchor whose objectness is
 * above the threshold (cell-major), a region layer one per anchor and cell
 * (anchor-major), objectness gated by the threshold, every class
 * probability objectness x class, zeroed at or under the threshold.  Boxes
 * are corrected for letterboxing as correct_yolo_boxes() and
 * correct_region_boxes() do (the same formula), then suppressed with
 * do_nms_sort()'s rules (nn_nms(), visiting only the boxes that have the
 * class), then written out like model_decode(). */
#include "net_internal.h"

#include "boxes_nms.h"

#include "status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Darknet's box.c: overlap, intersection, union, in float. */
static float
overlap (float x1, float w1, float x2, float w2)
{
  float l1 = x1 - w1 / 2, l2 = x2 - w2 / 2;
  float left = l1 > l2 ? l1 : l2;
  float r1 = x1 + w1 / 2, r2 = x2 + w2 / 2;
  float right = r1 < r2 ? r1 : r2;

  return right - left;
}

static float
box_iou (NnBox a, NnBox b)
{
  float w = overlap (a.x, a.w, b.x, b.w), h = overlap (a.y, a.h, b.y, b.h);
  float inter = w < 0 || h < 0 ? 0 : w * h;

  return inter / (a.w * a.h + b.w * b.h - inter);
}

/* How many candidates the detection layers give at this threshold. */
static size_t
count_candidates (const NnNet *net, float thresh)
{
  size_t total = 0;

  for (int i = 0; i < net->layer_count; i++) {
    const NnLayer *l = &net->layers[i];
    size_t plane = (size_t) l->p.out_h * l->p.out_w;
    const float *o = net->arena + l->offset;
    if (l->p.type == CFG_LAYER_REGION)
      total += plane * l->p.num;
    if (l->p.type != CFG_LAYER_YOLO)
      continue;
    for (int n = 0; n < l->p.mask_count; n++)
      for (size_t c = 0; c < plane; c++)
        total += o[n * plane * (5 + l->p.classes) + 4 * plane + c] > thresh;
  }
  return total;
}

static bool
grow (NnNet *net, size_t total)
{
  void *d, *p, *c;

  if (total <= net->det_capacity)
    return true;
  d = realloc (net->dets, sizeof (NnDet) * total);
  if (d != NULL)
    net->dets = d;
  p = realloc (net->probs, sizeof (float) * total * (size_t) net->classes);
  if (p != NULL)
    net->probs = p;
  c = realloc (net->candidates, sizeof (NnCandidate) * total);
  if (c != NULL)
    net->candidates = c;
  if (d == NULL || p == NULL || c == NULL)
    return false;
  net->det_capacity = total;
  return true;
}

static size_t
yolo_candidates (const NnNet *net, const NnLayer *l, float thresh, NnDet *dets)
{
  const float *o = net->arena + l->offset;
  int lw = l->p.out_w, lh = l->p.out_h, classes = l->p.classes;
  size_t plane = (size_t) lw * lh, per = plane * (5 + (size_t) classes);
  size_t count = 0;

  for (size_t i = 0; i < plane; i++) {
    int row = (int) (i / lw), col = (int) (i % lw);
    for (int n = 0; n < l->p.mask_count; n++) {
      const float *e = o + n * per + i;
      float objectness = e[4 * plane];
      int a = l->p.mask[n];
      NnDet *d = &dets[count];
      /* Counted with the same test as count_candidates(): Darknet's
       * "<= thresh" lets a NaN objectness (from NaN weights) through here
       * but not there, and writes past its boxes. */
      if (!(objectness > thresh))
        continue;
      d->box.x = (col + e[0]) / lw;
      d->box.y = (row + e[plane]) / lh;
      d->box.w = exp (e[2 * plane]) * l->p.anchors[2 * a] / net->width;
      d->box.h = exp (e[3 * plane]) * l->p.anchors[2 * a + 1] / net->height;
      for (int j = 0; j < classes; j++) {
        float prob = objectness * e[(5 + (size_t) j) * plane];
        d->prob[j] = prob > thresh ? prob : 0;
      }
      count++;
    }
  }
  return count;
}

static size_t
region_candidates (const NnNet *net, const NnLayer *l, float thresh,
    NnDet *dets)
{
  const CfgLayer *p = &l->p;
  const float *o = net->arena + l->offset;
  int lw = p->out_w, lh = p->out_h;
  size_t plane = (size_t) lw * lh;
  size_t per = plane * (size_t) (p->coords + p->classes + 1);

  for (size_t i = 0; i < plane; i++) {
    int row = (int) (i / lw), col = (int) (i % lw);
    for (int n = 0; n < p->num; n++) {
      const float *e = o + n * per + i;
      NnDet *d = &dets[n * plane + i];
      float scale = p->background ? 1 : e[p->coords * plane];
      float objectness = scale > thresh ? scale : 0;
      d->box.x = (col + e[0]) / lw;
      d->box.y = (row + e[plane]) / lh;
      d->box.w = exp (e[2 * plane]) * p->anchors[2 * n] / lw;
      d->box.h = exp (e[3 * plane]) * p->anchors[2 * n + 1] / lh;
      for (int j = 0; j < p->classes; j++) {
        float prob = scale * e[(size_t) (p->coords + 1 + j) * plane];
        d->prob[j] = objectness != 0 && prob > thresh ? prob : 0;
      }
    }
  }
  return plane * p->num;
}

/* correct_yolo_boxes() / correct_region_boxes(), relative: from the
 * letterboxed input back to the source frame (w, h); with w, h the
 * network's size it changes nothing. */
static void
correct_boxes (NnDet *dets, size_t n, int w, int h, int netw, int neth)
{
  int new_w, new_h;

  if ((float) netw / w < (float) neth / h) {
    new_w = netw;
    new_h = (h * netw) / w;
  } else {
    new_h = neth;
    new_w = (w * neth) / h;
  }
  for (size_t i = 0; i < n; i++) {
    NnBox *b = &dets[i].box;
    b->x = (b->x - (netw - new_w) / 2. / netw) / ((float) new_w / netw);
    b->y = (b->y - (neth - new_h) / 2. / neth) / ((float) new_h / neth);
    b->w *= (float) netw / new_w;
    b->h *= (float) neth / new_h;
  }
}

static int
strongest_first (const void *a, const void *b)
{
  const NnCandidate *x = a, *y = b;

  if (x->prob != y->prob)
    return x->prob < y->prob ? 1 : -1;
  return x->index - y->index;
}

void
nn_nms (NnDet *dets, size_t total, int classes, float thresh, NnCandidate *cand)
{
  for (int k = 0; k < classes; k++) {
    size_t n = 0;
    for (size_t i = 0; i < total; i++)
      if (dets[i].prob[k] != 0)
        cand[n++] = (NnCandidate){ dets[i].prob[k], (int) i };
    if (n > 1)
      qsort (cand, n, sizeof (NnCandidate), strongest_first);
    for (size_t i = 0; i < n; i++) {
      NnBox a = dets[cand[i].index].box;
      if (dets[cand[i].index].prob[k] == 0)
        continue;
      for (size_t j = i + 1; j < n; j++) {
        NnDet *d = &dets[cand[j].index];
        if (d->prob[k] != 0 && box_iou (a, d->box) > thresh)
          d->prob[k] = 0;
      }
    }
  }
}

static float
clampf (float v, float lo, float hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

static int
by_confidence (const void *a, const void *b)
{
  const YoloDetection *x = a, *y = b;

  if (x->confidence != y->confidence)
    return x->confidence < y->confidence ? 1 : -1;
  return x->class_id - y->class_id;
}

bool
nn_net_boxes (NnNet *net, int source_width, int source_height, bool letterbox,
    float threshold, float nms_thresh, const char *const *labels,
    YoloDetections *out, YoloStatus *status)
{
  float sw = (float) source_width, sh = (float) source_height;
  size_t total, n = 0;
  NnDet *dets;

  /* Bounded so that correct_boxes()'s products stay within int (frames
   * are at most 16384 a side, preprocess.c). */
  if (source_width < 1 || source_height < 1 || source_width > 65536
      || source_height > 65536)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Source frame size %dx%d is outside 1x1 .. 65536x65536.", source_width,
        source_height);
  for (int i = 0; i < net->layer_count; i++) {
    CfgLayerType t = net->layers[i].p.type;
    if ((t == CFG_LAYER_YOLO || t == CFG_LAYER_REGION)
        && !nn_output_valid (net, i))
      return yolo_fail (status, YOLO_ERR_INPUT,
          "NnBox decoding reads layer %d's output, which this network does "
          "not hold: run the whole network first.",
          i);
  }
  total = count_candidates (net, threshold);
  /* At least one: with no candidate, dets + n below would offset NULL. */
  if (!grow (net, total > 0 ? total : 1))
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  dets = net->dets;
  for (size_t i = 0; i < total; i++)
    dets[i].prob = (float *) net->probs + i * (size_t) net->classes;
  /* No candidates: dets may be NULL, and even dets + 0 is undefined. */
  for (int i = 0; total > 0 && i < net->layer_count; i++) {
    const NnLayer *l = &net->layers[i];
    size_t got = 0;
    if (l->p.type == CFG_LAYER_YOLO)
      got = yolo_candidates (net, l, threshold, dets + n);
    else if (l->p.type == CFG_LAYER_REGION)
      got = region_candidates (net, l, threshold, dets + n);
    correct_boxes (dets + n, got, letterbox ? source_width : net->width,
        letterbox ? source_height : net->height, net->width, net->height);
    n += got;
  }
  if (nms_thresh > 0)
    nn_nms (dets, n, net->classes, nms_thresh, net->candidates);

  yolo_detections_clear (out);
  for (size_t i = 0; i < n; i++) {
    NnBox b = dets[i].box;
    float x0 = clampf ((b.x - b.w / 2) * sw, 0, sw);
    float y0 = clampf ((b.y - b.h / 2) * sh, 0, sh);
    float x1 = clampf ((b.x + b.w / 2) * sw, 0, sw);
    float y1 = clampf ((b.y + b.h / 2) * sh, 0, sh);
    /* Not "x1 <= x0": a NaN box (NaN weights, Inf x 0) fails every
     * comparison and would pass. */
    if (!(x1 > x0) || !(y1 > y0))
      continue;
    for (int j = 0; j < net->classes; j++) {
      YoloDetection d = {
        .class_id = j,
        .label = labels != NULL ? labels[j] : "?",
        .confidence = dets[i].prob[j],
        .x = x0,
        .y = y0,
        .w = x1 - x0,
        .h = y1 - y0,
      };
      if (dets[i].prob[j] <= threshold)
        continue;
      if (!yolo_detections_append (out, &d))
        return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    }
  }
  if (out->count > 1)
    qsort (out->items, out->count, sizeof (YoloDetection), by_confidence);
  yolo_status_ok (status);
  return true;
}
