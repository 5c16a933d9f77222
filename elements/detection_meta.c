#include "detection_meta.h"

#include <math.h>
#include <string.h>

/* One detection as YsDetectionMeta keeps it.  Strings are interned
 * (g_intern_string), so copies of the meta share them for free. */
typedef struct {
  const char *label;
  int class_id;
  double confidence;
  const char *source;
  const char *model;
  GstClockTime frame_pts;
  double age_ms;
  int width, height;
  gint64 bitrate;
  int cut;
  gboolean tracked;
  float x, y, w, h;
} YsDetectionRecord;

typedef struct {
  GstMeta meta;
  YsDetectionRecord *records;
  guint count;
  YsResultView *results; /* strings interned */
  guint result_count;
} YsDetectionMeta;

static GType ys_detection_meta_api_get_type (void);
static const GstMetaInfo *ys_detection_meta_get_info (void);
#define YS_DETECTION_META_API_TYPE (ys_detection_meta_api_get_type ())

static GType
ys_detection_meta_api_get_type (void)
{
  static GType type = 0;
  /* The same tags as region metas: it describes video geometry, so
   * converters and scalers keep it and let it transform itself. */
  static const gchar *tags[] = { GST_META_TAG_VIDEO_STR,
    GST_META_TAG_VIDEO_ORIENTATION_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL };
  /* A test program links this file and loads the plugin too: both copies
   * must end up with the one registered type. */
  if (g_once_init_enter (&type)) {
    GType t = g_type_from_name ("YsDetectionMetaAPI");
    if (t == 0)
      t = gst_meta_api_type_register ("YsDetectionMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
ys_detection_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  YsDetectionMeta *m = (YsDetectionMeta *) meta;
  m->records = NULL;
  m->count = 0;
  m->results = NULL;
  m->result_count = 0;
  return TRUE;
}

static void
ys_detection_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  YsDetectionMeta *m = (YsDetectionMeta *) meta;
  g_free (m->records);
  g_free (m->results);
  m->records = NULL;
  m->count = 0;
  m->results = NULL;
  m->result_count = 0;
}

static YsDetectionMeta *
add_meta (GstBuffer *buffer, const YsDetectionMeta *from)
{
  YsDetectionMeta *m = (YsDetectionMeta *) gst_buffer_add_meta (buffer,
      ys_detection_meta_get_info (), NULL);
  if (m == NULL)
    return NULL;
  m->records
      = g_memdup2 (from->records, sizeof (YsDetectionRecord) * from->count);
  m->count = from->count;
  m->results
      = g_memdup2 (from->results, sizeof (YsResultView) * from->result_count);
  m->result_count = from->result_count;
  return m;
}

/* Several producers (or calls) on one buffer share one meta. */
static void
append_records (GstBuffer *buffer, const YsDetectionRecord *records,
    guint count, const YsResultView *result)
{
  YsDetectionMeta *m = (YsDetectionMeta *) gst_buffer_get_meta (buffer,
      YS_DETECTION_META_API_TYPE);

  if (m == NULL) {
    YsDetectionMeta empty = { 0 };
    m = add_meta (buffer, &empty);
    if (m == NULL)
      return;
  }
  m->records = g_renew (YsDetectionRecord, m->records, m->count + count);
  if (count > 0)
    memcpy (m->records + m->count, records, sizeof (YsDetectionRecord) * count);
  m->count += count;
  m->results = g_renew (YsResultView, m->results, m->result_count + 1);
  m->results[m->result_count++] = *result;
}

static gboolean
ys_detection_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
    GQuark type, gpointer data)
{
  YsDetectionMeta *src = (YsDetectionMeta *) meta, *dst;

  if (GST_META_TRANSFORM_IS_COPY (type)) {
    return add_meta (dest, src) != NULL;
  } else if (GST_VIDEO_META_TRANSFORM_IS_SCALE (type)) {
    GstVideoMetaTransform *trans = data;
    double sx = (double) GST_VIDEO_INFO_WIDTH (trans->out_info)
        / GST_VIDEO_INFO_WIDTH (trans->in_info);
    double sy = (double) GST_VIDEO_INFO_HEIGHT (trans->out_info)
        / GST_VIDEO_INFO_HEIGHT (trans->in_info);

    dst = add_meta (dest, src);
    if (dst == NULL)
      return FALSE;
    for (guint i = 0; i < dst->count; i++) {
      dst->records[i].x *= sx;
      dst->records[i].w *= sx;
      dst->records[i].y *= sy;
      dst->records[i].h *= sy;
    }
    return TRUE;
  }
  /* Any other transform (crop, rotate...) would need geometry we do not
   * know: drop the meta rather than carry wrong boxes. */
  return FALSE;
}

static const GstMetaInfo *
ys_detection_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *mi = gst_meta_get_info ("YsDetectionMeta");
    if (mi == NULL)
      mi = gst_meta_register (YS_DETECTION_META_API_TYPE, "YsDetectionMeta",
          sizeof (YsDetectionMeta), ys_detection_meta_init,
          ys_detection_meta_free, ys_detection_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

static guint
to_pixels (double v)
{
  return v <= 0 ? 0 : (guint) lrint (v);
}

void
ys_detection_meta_add (GstBuffer *buffer, const YoloDetections *dets,
    const YsDetectionOrigin *origin)
{
  YsDetectionRecord *records;
  YsResultView result = {
    .source = g_intern_string (origin->source),
    .model = g_intern_string (origin->model),
    .status = g_intern_static_string ("ok"),
    .reason = NULL,
    .frame_id = origin->frame_id,
    .result_frame_id = origin->result_frame_id,
    .frame_pts = origin->frame_pts,
    .age_ms = origin->age_ms,
    .latency_ms = origin->latency_ms,
    .width = origin->width,
    .height = origin->height,
    .bitrate = origin->bitrate,
    .cut = origin->cut,
    .tracked = origin->tracked,
    .detections = (guint) dets->count,
  };

  records = g_new (YsDetectionRecord, MAX (dets->count, 1));
  for (gsize i = 0; i < dets->count; i++) {
    const YoloDetection *d = &dets->items[i];
    GstVideoRegionOfInterestMeta *roi;
    GstStructure *s;

    records[i] = (YsDetectionRecord){
      .label = g_intern_string (d->label),
      .class_id = d->class_id,
      .confidence = d->confidence,
      .source = g_intern_string (origin->source),
      .model = g_intern_string (origin->model),
      .frame_pts = origin->frame_pts,
      .age_ms = origin->age_ms,
      .width = origin->width,
      .height = origin->height,
      .bitrate = origin->bitrate,
      .cut = origin->cut,
      .tracked = origin->tracked,
      .x = d->x,
      .y = d->y,
      .w = d->w,
      .h = d->h,
    };

    roi = gst_buffer_add_video_region_of_interest_meta (buffer, d->label,
        to_pixels (d->x), to_pixels (d->y), to_pixels (d->w), to_pixels (d->h));
    roi->id = (gint) i;
    s = gst_structure_new (YS_DETECTION_PARAM, "label", G_TYPE_STRING, d->label,
        "class-id", G_TYPE_INT, d->class_id, "confidence", G_TYPE_DOUBLE,
        (double) d->confidence, "source", G_TYPE_STRING, origin->source,
        "model", G_TYPE_STRING, origin->model, "frame-pts", G_TYPE_UINT64,
        (guint64) origin->frame_pts, "age-ms", G_TYPE_DOUBLE, origin->age_ms,
        "tracked", G_TYPE_BOOLEAN, origin->tracked, NULL);
    if (origin->width > 0)
      gst_structure_set (s, "width", G_TYPE_INT, origin->width, "height",
          G_TYPE_INT, origin->height, NULL);
    if (origin->bitrate > 0)
      gst_structure_set (s, "bitrate", G_TYPE_INT64, origin->bitrate, NULL);
    if (origin->cut > 0)
      gst_structure_set (s, "cut", G_TYPE_INT, origin->cut, NULL);
    /* The meta takes ownership of the structure. */
    gst_video_region_of_interest_meta_add_param (roi, s);
  }
  append_records (buffer, records, (guint) dets->count, &result);
  g_free (records);
}

void
ys_detection_meta_add_no_result (GstBuffer *buffer,
    const YsDetectionOrigin *origin, const char *reason)
{
  YsResultView result = {
    .source = g_intern_string (origin->source),
    .model = g_intern_string (origin->model),
    .status = g_intern_static_string ("none"),
    .reason = g_intern_string (reason),
    .frame_id = origin->frame_id,
    .result_frame_id = origin->result_frame_id,
    .frame_pts = origin->frame_pts,
    .age_ms = origin->age_ms,
    .latency_ms = origin->latency_ms,
    .width = origin->width,
    .height = origin->height,
    .bitrate = origin->bitrate,
    .cut = origin->cut,
    .tracked = origin->tracked,
    .detections = 0,
  };

  append_records (buffer, NULL, 0, &result);
}

void
ys_detection_meta_add_superseded (GstBuffer *buffer,
    const YsDetectionOrigin *origin, guint detections)
{
  YsResultView result = {
    .source = g_intern_string (origin->source),
    .model = g_intern_string (origin->model),
    .status = g_intern_static_string ("superseded"),
    .reason = NULL,
    .frame_id = origin->frame_id,
    .result_frame_id = origin->result_frame_id,
    .frame_pts = origin->frame_pts,
    .age_ms = origin->age_ms,
    .latency_ms = origin->latency_ms,
    .width = origin->width,
    .height = origin->height,
    .bitrate = origin->bitrate,
    .cut = origin->cut,
    .tracked = FALSE,
    .detections = detections,
  };

  append_records (buffer, NULL, 0, &result);
}

guint
ys_detection_meta_results (GstBuffer *buffer, YsResultView *out, guint max)
{
  YsDetectionMeta *m = (YsDetectionMeta *) gst_buffer_get_meta (buffer,
      YS_DETECTION_META_API_TYPE);

  if (m == NULL)
    return 0;
  for (guint i = 0; i < m->result_count && i < max; i++)
    out[i] = m->results[i];
  return m->result_count;
}

static gboolean
next_region_meta (YsDetectionIter *it, YsDetectionView *view)
{
  GstMeta *meta = gst_buffer_iterate_meta_filtered (it->buffer, &it->roi_state,
      GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);
  GstVideoRegionOfInterestMeta *roi;
  GstStructure *s;
  guint64 pts;

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
  view->width = view->height = 0;
  view->bitrate = 0;
  view->cut = 0;
  view->tracked = FALSE;

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
    gst_structure_get_int (s, "width", &view->width);
    gst_structure_get_int (s, "height", &view->height);
    gst_structure_get_int64 (s, "bitrate", &view->bitrate);
    gst_structure_get_int (s, "cut", &view->cut);
    gst_structure_get_boolean (s, "tracked", &view->tracked);
    if (gst_structure_get_uint64 (s, "frame-pts", &pts))
      view->frame_pts = pts;
  }
  return TRUE;
}

void
ys_detection_iter_init (YsDetectionIter *it, GstBuffer *buffer)
{
  it->buffer = buffer;
  it->ours = gst_buffer_get_meta (buffer, YS_DETECTION_META_API_TYPE);
  it->next = 0;
  it->roi_state = NULL;
}

gboolean
ys_detection_iter_next (YsDetectionIter *it, YsDetectionView *view)
{
  YsDetectionMeta *ours = it->ours;
  const YsDetectionRecord *r;

  if (ours == NULL)
    return next_region_meta (it, view);
  if (it->next >= ours->count)
    return FALSE;
  r = &ours->records[it->next++];
  view->label = r->label;
  view->class_id = r->class_id;
  view->confidence = r->confidence;
  view->source = r->source;
  view->model = r->model;
  view->frame_pts = r->frame_pts;
  view->age_ms = r->age_ms;
  view->width = r->width;
  view->height = r->height;
  view->bitrate = r->bitrate;
  view->cut = r->cut;
  view->tracked = r->tracked;
  view->x = to_pixels (r->x);
  view->y = to_pixels (r->y);
  view->w = to_pixels (r->w);
  view->h = to_pixels (r->h);
  return TRUE;
}

guint
ys_detection_meta_count (GstBuffer *buffer)
{
  YsDetectionIter it;
  YsDetectionView view;
  guint n = 0;

  ys_detection_iter_init (&it, buffer);
  while (ys_detection_iter_next (&it, &view))
    n++;
  return n;
}
