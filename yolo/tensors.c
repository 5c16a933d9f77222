#include "tensors.h"

#include <stdlib.h>
#include <string.h>

void
yolo_handover_init (YoloHandover *h)
{
  memset (h, 0, sizeof (*h));
}

void
yolo_handover_free (YoloHandover *h)
{
  for (size_t i = 0; i < h->count; i++)
    free (h->tensors[i].data);
  free (h->tensors);
  yolo_handover_init (h);
}
