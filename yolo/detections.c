/* Detection lists; see detections.h. */
#include "detections.h"

#include <stdlib.h>
#include <string.h>

void
yolo_detections_init (YoloDetections *d)
{
  memset (d, 0, sizeof (*d));
}

void
yolo_detections_clear (YoloDetections *d)
{
  d->count = 0;
  d->infer_ms = 0;
}

void
yolo_detections_free (YoloDetections *d)
{
  free (d->items);
  yolo_detections_init (d);
}

bool
yolo_detections_append (YoloDetections *d, const YoloDetection *det)
{
  if (d->count == d->capacity) {
    size_t cap = d->capacity ? d->capacity * 2 : 16;
    YoloDetection *p = realloc (d->items, cap * sizeof (*p));
    if (p == NULL)
      return false;
    d->items = p;
    d->capacity = cap;
  }
  d->items[d->count++] = *det;
  return true;
}

bool
yolo_detections_copy (YoloDetections *dst, const YoloDetections *src)
{
  yolo_detections_clear (dst);
  for (size_t i = 0; i < src->count; i++)
    if (!yolo_detections_append (dst, &src->items[i]))
      return false;
  dst->infer_ms = src->infer_ms;
  return true;
}
