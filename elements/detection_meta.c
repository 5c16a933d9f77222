#include "detection_meta.h"

#include <math.h>

static guint
to_pixels (float v)
{
  return v <= 0 ? 0 : (guint) lrintf (v);
}

void
ys_detection_meta_add (GstBuffer * buffer, const YoloDetections * dets,
    const YsDetectionOrigin * origin)
{
  for (gsize i = 0; i < dets->count; i++) {
    const YoloDetection *d = &dets->items[i];
    GstVideoRegionOfInterestMeta *meta;
    GstStructure *s;

    meta = gst_buffer_add_video_region_of_interest_meta (buffer, d->label,
        to_pixels (d->x), to_pixels (d->y), to_pixels (d->w),
        to_pixels (d->h));
    meta->id = (gint) i;
    s = gst_structure_new (YS_DETECTION_PARAM,
        "label", G_TYPE_STRING, d->label,
        "class-id", G_TYPE_INT, d->class_id,
        "confidence", G_TYPE_DOUBLE, (double) d->confidence,
        "source", G_TYPE_STRING, origin->source,
        "model", G_TYPE_STRING, origin->model,
        "frame-pts", G_TYPE_UINT64, (guint64) origin->frame_pts,
        "age-ms", G_TYPE_DOUBLE, origin->age_ms, NULL);
    /* The meta takes ownership of the structure. */
    gst_video_region_of_interest_meta_add_param (meta, s);
  }
}

gboolean
ys_detection_meta_next (GstBuffer * buffer, gpointer * state,
    YsDetectionView * view)
{
  GstMeta *meta = gst_buffer_iterate_meta_filtered (buffer, state,
      GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);
  GstVideoRegionOfInterestMeta *roi;
  GstStructure *s;
  guint64 pts = GST_CLOCK_TIME_NONE;

  if (meta == NULL)
    return FALSE;
  roi = (GstVideoRegionOfInterestMeta *) meta;
  view->x = roi->x;
  view->y = roi->y;
  view->w = roi->w;
  view->h = roi->h;
  view->label = g_quark_to_string (roi->roi_type);
  view->class_id = -1;
  view->confidence = -1;
  view->source = "unknown";
  view->model = "unknown";
  view->frame_pts = GST_CLOCK_TIME_NONE;
  view->age_ms = 0;

  s = gst_video_region_of_interest_meta_get_param (roi, YS_DETECTION_PARAM);
  if (s != NULL) {
    const char *str;
    if ((str = gst_structure_get_string (s, "label")) != NULL)
      view->label = str;
    if ((str = gst_structure_get_string (s, "source")) != NULL)
      view->source = str;
    if ((str = gst_structure_get_string (s, "model")) != NULL)
      view->model = str;
    gst_structure_get_int (s, "class-id", &view->class_id);
    gst_structure_get_double (s, "confidence", &view->confidence);
    gst_structure_get_double (s, "age-ms", &view->age_ms);
    if (gst_structure_get_uint64 (s, "frame-pts", &pts))
      view->frame_pts = pts;
  }
  return TRUE;
}

guint
ys_detection_meta_count (GstBuffer * buffer)
{
  gpointer state = NULL;
  YsDetectionView view;
  guint n = 0;

  while (ys_detection_meta_next (buffer, &state, &view))
    n++;
  return n;
}
