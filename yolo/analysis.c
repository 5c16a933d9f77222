/* Analysis records; see analysis.h. */
#include "analysis.h"

#include <string.h>

void
yolo_analysis_init (YoloAnalysis *a)
{
  memset (a, 0, sizeof (*a));
  a->frame.pts = YOLO_PTS_NONE;
  yolo_detections_init (&a->detections);
}

void
yolo_analysis_clear (YoloAnalysis *a)
{
  yolo_detections_free (&a->detections);
  yolo_analysis_init (a);
}

bool
yolo_analysis_copy (YoloAnalysis *dst, const YoloAnalysis *src)
{
  YoloDetections keep = dst->detections;

  if (dst == src)
    return true;
  *dst = *src;
  dst->detections = keep;
  return yolo_detections_copy (&dst->detections, &src->detections);
}

void
yolo_analysis_move (YoloAnalysis *dst, YoloAnalysis *src)
{
  if (dst == src)
    return;
  yolo_detections_free (&dst->detections);
  *dst = *src;
  yolo_analysis_init (src);
}

void
yolo_analysis_set_model (YoloAnalysis *a, const char *model, size_t length)
{
  if (model == NULL)
    length = 0;
  if (length > YOLO_MAX_MODEL_NAME)
    length = YOLO_MAX_MODEL_NAME;
  if (length > 0)
    memcpy (a->model, model, length);
  a->model[length] = '\0';
}

const char *
yolo_analysis_status_name (YoloAnalysisStatus status)
{
  return status == YOLO_ANALYSIS_OK ? "ok" : "none";
}
