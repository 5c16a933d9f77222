/* Darknet's do_nms_sort(), visiting only the boxes that have the class.
 *
 * do_nms_sort() sorts every box once per class, so its cost grows with
 * boxes x classes even when a class has no candidate at all; on yolov3-tiny
 * at 416 with 80 classes it took 3 ms a frame.  Darknet's decoding sets
 * prob[k] to 0 for boxes under the threshold, and a zero never suppresses
 * anything, so sorting only the non-zero ones and applying the same test
 * (box_iou() > thresh, strongest first) zeroes exactly the same
 * probabilities.  Ties in confidence are broken by box index, where
 * Darknet's qsort leaves the order unspecified. */
#include "nms.h"

#include <stdlib.h>

/* One box's probability for the class being suppressed. */
typedef struct {
  float prob;
  int index;
} Candidate;

static int
strongest_first (const void *a, const void *b)
{
  const Candidate *x = a, *y = b;

  if (x->prob != y->prob)
    return x->prob < y->prob ? 1 : -1;
  return x->index - y->index;
}

void
yolo_nms_scratch_free (YoloNmsScratch *scratch)
{
  free (scratch->items);
  scratch->items = NULL;
  scratch->capacity = 0;
}

bool
yolo_nms_darknet (detection *dets, int total, int classes, float thresh,
    YoloNmsScratch *scratch)
{
  Candidate *candidates;

  if (total > scratch->capacity) {
    void *grown = realloc (scratch->items, sizeof (Candidate) * (size_t) total);
    if (grown == NULL)
      return false;
    scratch->items = grown;
    scratch->capacity = total;
  }
  candidates = scratch->items;
  for (int k = 0; k < classes; k++) {
    int n = 0;

    for (int i = 0; i < total; i++)
      if (dets[i].prob[k] != 0)
        candidates[n++] = (Candidate){ dets[i].prob[k], i };
    /* Before any box, candidates is NULL: qsort() must not see it. */
    if (n > 1)
      qsort (candidates, (size_t) n, sizeof (Candidate), strongest_first);
    for (int i = 0; i < n; i++) {
      box a = dets[candidates[i].index].bbox;

      if (dets[candidates[i].index].prob[k] == 0)
        continue;
      for (int j = i + 1; j < n; j++) {
        detection *d = &dets[candidates[j].index];
        if (d->prob[k] != 0 && box_iou (a, d->bbox) > thresh)
          d->prob[k] = 0;
      }
    }
  }
  return true;
}
