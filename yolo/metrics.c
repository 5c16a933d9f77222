#include "metrics.h"

#include <stdlib.h>

double
yolo_box_iou (const YoloDetection *a, const YoloDetection *b)
{
  double ix0 = a->x > b->x ? a->x : b->x;
  double iy0 = a->y > b->y ? a->y : b->y;
  double ix1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
  double iy1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
  double inter, uni;

  if (a->w <= 0 || a->h <= 0 || b->w <= 0 || b->h <= 0)
    return 0;
  if (ix1 <= ix0 || iy1 <= iy0)
    return 0;
  inter = (ix1 - ix0) * (iy1 - iy0);
  uni = (double) a->w * a->h + (double) b->w * b->h - inter;
  return uni > 0 ? inter / uni : 0;
}

typedef struct {
  double iou;
  size_t r, p;
} Pair;

static int
by_iou_desc (const void *a, const void *b)
{
  const Pair *x = a, *y = b;
  if (x->iou != y->iou)
    return x->iou < y->iou ? 1 : -1;
  /* Stable tie-break so scores never depend on qsort's order. */
  if (x->r != y->r)
    return x->r < y->r ? -1 : 1;
  return x->p < y->p ? -1 : (x->p > y->p);
}

void
yolo_score_frame (const YoloDetection *ref, size_t nref,
    const YoloDetection *pred, size_t npred, YoloFrameScore *s)
{
  Pair *pairs = NULL;
  size_t npairs = 0;
  unsigned char *ref_used = NULL, *pred_used = NULL;
  double matched = 0;
  size_t denom = nref > npred ? nref : npred;

  s->reference_count = (int) nref;
  s->predicted_count = (int) npred;
  s->true_positives = 0;
  if (nref == 0 && npred == 0) {
    s->iou_accuracy = 1.0;
    s->f1 = 1.0;
    return;
  }

  if (nref > 0 && npred > 0) {
    pairs = malloc (nref * npred * sizeof (Pair));
    ref_used = calloc (nref, 1);
    pred_used = calloc (npred, 1);
  }
  if (pairs != NULL && ref_used != NULL && pred_used != NULL) {
    for (size_t r = 0; r < nref; r++)
      for (size_t p = 0; p < npred; p++) {
        double iou;
        if (ref[r].class_id != pred[p].class_id)
          continue;
        iou = yolo_box_iou (&ref[r], &pred[p]);
        if (iou > 0)
          pairs[npairs++] = (Pair){ iou, r, p };
      }
    qsort (pairs, npairs, sizeof (Pair), by_iou_desc);
    for (size_t i = 0; i < npairs; i++) {
      if (ref_used[pairs[i].r] || pred_used[pairs[i].p])
        continue;
      ref_used[pairs[i].r] = pred_used[pairs[i].p] = 1;
      matched += pairs[i].iou;
      if (pairs[i].iou >= 0.5)
        s->true_positives++;
    }
  }
  free (pairs);
  free (ref_used);
  free (pred_used);

  s->iou_accuracy = matched / (double) denom;
  /* F1 = 2TP / (#ref + #pred), the same as 2PR/(P+R) without dividing by 0. */
  s->f1 = 2.0 * s->true_positives / (double) (nref + npred);
}

void
yolo_score_totals_add (YoloScoreTotals *t, const YoloFrameScore *s)
{
  t->frames++;
  t->iou_accuracy_sum += s->iou_accuracy;
  t->true_positives += s->true_positives;
  t->reference_count += s->reference_count;
  t->predicted_count += s->predicted_count;
}

double
yolo_score_totals_iou_accuracy (const YoloScoreTotals *t)
{
  return t->frames > 0 ? t->iou_accuracy_sum / t->frames : 1.0;
}

double
yolo_score_totals_f1 (const YoloScoreTotals *t)
{
  long denom = t->reference_count + t->predicted_count;
  return denom > 0 ? 2.0 * t->true_positives / (double) denom : 1.0;
}
