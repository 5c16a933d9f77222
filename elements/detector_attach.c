/* Analyses onto buffers; see detector_attach.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_attach.h"

#include "detection_meta.h"
#include "json_text.h"

#include <string.h>

static void
fill_origin (const YoloAnalysis *a, const YoloFrameStamp *me,
    guint32 backend_id, gboolean moved, YsDetectionOrigin *o)
{
  memset (o, 0, sizeof (*o));
  o->source = a->source != NULL ? a->source : "";
  o->model = a->model;
  o->frame_pts = a->frame.pts; /* YOLO_PTS_NONE is GST_CLOCK_TIME_NONE */
  /* By pts, or by arrival when the stream has none: a box from an older
   * frame always says how old it is. */
  o->age_ms = yolo_frame_stamp_age_ms (&a->frame, me);
  o->frame_id = backend_id;
  o->result_frame_id = a->backend_id;
  o->latency_ms = a->latency_ms;
  o->width = a->width;
  o->height = a->height;
  o->bitrate = a->bitrate;
  o->cut = a->cut;
  o->tracked = moved && a->frame.sequence != me->sequence;
}

void
ys_attach_boxes (GstBuffer *buf, YsSwitcher *switcher, const YsFrameBoxes *fb,
    const YoloFrameStamp *me, YoloDetections *scratch)
{
  gboolean *done = g_newa (gboolean, MAX (fb->count, 1));
  YsDetectionOrigin origin;

  memset (done, 0, sizeof (gboolean) * MAX (fb->count, 1));
  for (int i = 0; i < fb->count; i++) {
    if (done[i])
      continue;
    yolo_detections_clear (scratch);
    for (int j = i; j < fb->count; j++)
      if (!done[j] && fb->boxes[j].origin == fb->boxes[i].origin
          && fb->boxes[j].seen_us == fb->boxes[i].seen_us) {
        yolo_detections_append (scratch, &fb->boxes[j].box);
        done[j] = TRUE;
      }
    fill_origin (ys_switcher_analysis (switcher, fb->boxes[i].origin), me,
        fb->backend_id, fb->moved, &origin);
    ys_detection_meta_add (buf, scratch, &origin);
  }
  /* Results that arrived with this frame but whose boxes a newer one
   * already replaced: recorded, so every result is accounted for. */
  for (int k = 0; k < fb->applied_count; k++) {
    gboolean shown = FALSE;
    const YoloAnalysis *a;
    for (int i = 0; i < fb->count && !shown; i++)
      shown = fb->boxes[i].origin == fb->applied[k];
    if (shown || (fb->count == 0 && fb->applied[k] == fb->newest))
      continue;
    a = ys_switcher_analysis (switcher, fb->applied[k]);
    fill_origin (a, me, fb->backend_id, fb->moved, &origin);
    ys_detection_meta_add_superseded (buf, &origin,
        (guint) a->detections.count);
  }
  if (fb->count > 0)
    return;
  /* No boxes: say which analysis found nothing, or why none came yet. */
  if (fb->newest >= 0) {
    yolo_detections_clear (scratch);
    fill_origin (ys_switcher_analysis (switcher, fb->newest), me,
        fb->backend_id, fb->moved, &origin);
    ys_detection_meta_add (buf, scratch, &origin);
  } else {
    const char *reason
        = fb->not_sent != NULL && strcmp (fb->not_sent, "not-due") != 0
        ? fb->not_sent
        : "no-result-yet";
    /* Named for the path it was for, also when that path refused it
     * (in-flight-limit): the record is that path's account of the frame. */
    ys_attach_not_sent (buf, ys_path_name ((YsPathKind) fb->due_path), me,
        reason);
  }
}

void
ys_attach_own (GstBuffer *buf, const YoloAnalysis *a, const YoloFrameStamp *me,
    guint32 backend_id)
{
  YsDetectionOrigin origin;

  fill_origin (a, me, backend_id, FALSE, &origin);
  if (a->status == YOLO_ANALYSIS_OK) {
    ys_detection_meta_add (buf, &a->detections, &origin);
    return;
  }
  /* The record is about this very frame, whatever the path filled in;
   * with no result there is no latency to it (a flight the link lost
   * carries the time it was given up after). */
  origin.frame_pts = me->pts;
  origin.age_ms = 0;
  origin.latency_ms = 0;
  ys_detection_meta_add_no_result (buf, &origin,
      a->reason != NULL ? a->reason : "no-result");
}

void
ys_attach_newest (GstBuffer *buf, const YoloAnalysis *newest,
    const YoloFrameStamp *me, YoloDetections *scratch)
{
  YsDetectionOrigin origin;

  if (newest == NULL) {
    ys_attach_not_sent (buf, "", me, "no-result-yet");
    return;
  }
  fill_origin (newest, me, 0, FALSE, &origin);
  yolo_detections_copy (scratch, &newest->detections);
  ys_detection_meta_add (buf, scratch, &origin);
}

void
ys_attach_not_sent (GstBuffer *buf, const char *source,
    const YoloFrameStamp *me, const char *reason)
{
  YsDetectionOrigin origin;

  memset (&origin, 0, sizeof (origin));
  origin.source = source;
  origin.model = "";
  origin.frame_pts = me->pts;
  ys_detection_meta_add_no_result (buf, &origin, reason);
}

void
ys_results_line (GString *s, const YoloAnalysis *a,
    const YoloFrameStamp *arrival)
{
  g_string_truncate (s, 0);
  g_string_append (s, "{\"source\":");
  ys_json_append_string (s, a->source != NULL ? a->source : "");
  g_string_append (s, ",\"model\":");
  ys_json_append_string (s, a->model);
  g_string_append_printf (s, ",\"status\":\"%s\"",
      yolo_analysis_status_name (a->status));
  if (a->status != YOLO_ANALYSIS_OK) {
    g_string_append (s, ",\"reason\":");
    ys_json_append_string (s, a->reason != NULL ? a->reason : "");
  }
  g_string_append_printf (s,
      ",\"frame\":%" G_GUINT64_FORMAT ",\"frame_pts\":%" G_GINT64_FORMAT
      ",\"arrival_pts\":%" G_GINT64_FORMAT,
      a->frame.sequence,
      a->frame.pts != YOLO_PTS_NONE ? (gint64) a->frame.pts : (gint64) -1,
      arrival->pts != YOLO_PTS_NONE ? (gint64) arrival->pts : (gint64) -1);
  if (a->backend_id != 0)
    g_string_append_printf (s, ",\"frame_id\":%u", a->backend_id);
  g_string_append (s, ",\"latency_ms\":");
  ys_json_append_double (s, "%.1f", a->latency_ms);
  g_string_append_printf (s,
      ",\"resolution\":\"%dx%d\",\"bitrate\":%" G_GINT64_FORMAT, a->width,
      a->height, a->bitrate);
  if (a->cut > 0)
    g_string_append_printf (s, ",\"cut\":%d", a->cut);
  g_string_append (s, ",\"detections\":[");
  for (size_t i = 0; i < a->detections.count; i++) {
    const YoloDetection *d = &a->detections.items[i];
    g_string_append (s, i == 0 ? "{\"label\":" : ",{\"label\":");
    ys_json_append_string (s, d->label);
    g_string_append_printf (s, ",\"class_id\":%d,\"confidence\":", d->class_id);
    ys_json_append_double (s, "%.4f", d->confidence);
    g_string_append (s, ",\"x\":");
    ys_json_append_double (s, "%.1f", d->x);
    g_string_append (s, ",\"y\":");
    ys_json_append_double (s, "%.1f", d->y);
    g_string_append (s, ",\"w\":");
    ys_json_append_double (s, "%.1f", d->w);
    g_string_append (s, ",\"h\":");
    ys_json_append_double (s, "%.1f", d->h);
    g_string_append_c (s, '}');
  }
  g_string_append (s, "]}\n");
}
