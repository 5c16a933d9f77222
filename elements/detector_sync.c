/* Sync delivery: every frame leaves in order with its own analysis, or a
 * record saying why there is none, within latency-budget-ms.
 *
 * The streaming thread submits each frame to the switcher and queues it
 * (with the serialized events between frames, so their order holds); the
 * src pad task takes the oldest, waits for its analysis
 * (ys_switcher_wait_own, bounded by the frame's budget), attaches it and
 * pushes.  The queue is bounded: a slow downstream holds the chain, never
 * memory. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include "detector_attach.h"

#include <string.h>

#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)

struct _YsHeldItem {
  GstBuffer *buffer;
  GstEvent *event;
  YoloFrameStamp stamp;
  gboolean sent;
  guint32 backend_id;
  const char *source; /* the path it went (or was meant) to */
  const char *reason; /* when not sent */
};

static void
held_item_free (YsHeldItem *item)
{
  gst_clear_buffer (&item->buffer);
  gst_clear_event (&item->event);
  g_free (item);
}

/* Frames waiting at most: what the paths may have in hand, and two more
 * so the next frame is submitted while the oldest is pushed. */
static guint
held_limit (GstYoloDetector *self)
{
  gint in_flight;
  GST_OBJECT_LOCK (self);
  in_flight = self->settings.max_in_flight;
  GST_OBJECT_UNLOCK (self);
  return (guint) MAX (in_flight, 4) + 2;
}

GstFlowReturn
ys_detector_sync_chain (GstYoloDetector *self, GstBuffer *buf,
    const YoloFrame *frame, const YoloFrameStamp *stamp, GstVideoFrame *mapped)
{
  guint limit = held_limit (self);
  YsHeldItem *item;
  GstFlowReturn ret;

  g_mutex_lock (&self->queue_lock);
  while (!self->flushing && self->src_flow == GST_FLOW_OK
      && g_queue_get_length (&self->held) >= limit)
    g_cond_wait (&self->queue_cond, &self->queue_lock);
  ret = self->flushing ? GST_FLOW_FLUSHING : self->src_flow;
  g_mutex_unlock (&self->queue_lock);
  if (ret != GST_FLOW_OK) {
    gst_video_frame_unmap (mapped);
    gst_buffer_unref (buf);
    return ret;
  }

  item = g_new0 (YsHeldItem, 1);
  item->stamp = *stamp;
  item->sent = ys_switcher_submit (self->switcher, frame, stamp,
      &item->backend_id, &item->source, &item->reason);
  gst_video_frame_unmap (mapped);
  item->buffer = buf;
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " %s%s", stamp->sequence,
      item->sent ? "sent to " : "not sent: ",
      item->sent ? item->source : item->reason);

  g_mutex_lock (&self->queue_lock);
  ret = self->flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  if (ret == GST_FLOW_OK) {
    g_queue_push_tail (&self->held, item);
    g_cond_broadcast (&self->queue_cond);
  }
  g_mutex_unlock (&self->queue_lock);
  if (ret != GST_FLOW_OK)
    held_item_free (item);
  return ret;
}

/* Src task: one more frame delivered, without its own result when reason
 * is set. */
static void
count_answer (GstYoloDetector *self, const char *reason)
{
  guint k;

  self->answered++;
  if (reason == NULL)
    return;
  self->missing++;
  for (k = 0; k < YS_MISSING_REASONS - 1; k++) {
    if (self->missing_by_reason[k].reason == NULL)
      self->missing_by_reason[k].reason = reason;
    if (g_strcmp0 (self->missing_by_reason[k].reason, reason) == 0)
      break;
  }
  /* The last slot takes whatever did not fit. */
  if (k == YS_MISSING_REASONS - 1)
    self->missing_by_reason[k].reason = "other";
  self->missing_by_reason[k].count++;
}

/* Src task, before EOS leaves: frames that went without their own result
 * make the job incomplete, which on-missing-result says how to tell.  At
 * EOS only: during the stream a lost server is a warning and the frames
 * keep flowing (a live camera must not stop for a server restart); at the
 * end of a file job the exit code is what a script reads. */
static void
report_missing (GstYoloDetector *self)
{
  GString *why;
  gchar *text;

  if (self->missing == 0
      || self->on_missing == GST_YOLO_DETECTOR_ON_MISSING_IGNORE)
    return;
  why = g_string_new (NULL);
  for (guint k = 0; k < YS_MISSING_REASONS; k++)
    if (self->missing_by_reason[k].count > 0)
      g_string_append_printf (why, "%s%s: %" G_GUINT64_FORMAT,
          why->len > 0 ? ", " : "", self->missing_by_reason[k].reason,
          self->missing_by_reason[k].count);
  text = g_strdup_printf ("%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                          " frames got no result of their own (%s): the "
                          "job is incomplete",
      self->missing, self->answered, why->str);
  g_string_free (why, TRUE);
  if (self->on_missing == GST_YOLO_DETECTOR_ON_MISSING_ERROR)
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", text),
        ("each frame's record in the metas or results-location says why; "
         "see the warnings before (server lost, refused), check the server, "
         "raise latency-budget-ms, or set on-missing-result=warn to accept "
         "gaps"));
  else
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("%s", text),
        ("each frame's record in the metas or results-location says why"));
  g_free (text);
}

/* Src task: what the oldest frame gets. */
static gboolean
answer (GstYoloDetector *self, YsHeldItem *item)
{
  const YoloAnalysis *own;

  item->buffer = gst_buffer_make_writable (item->buffer);
  if (item->sent) {
    gint64 until = self->budget_ms > 0
        ? item->stamp.arrival_us + (gint64) self->budget_ms * 1000
        : G_MAXINT64;
    if (!ys_switcher_wait_own (self->switcher, item->stamp.sequence, until,
            &own))
      return FALSE; /* interrupted: a flush or a stop */
    ys_attach_own (item->buffer, own, &item->stamp, item->backend_id);
    ys_detector_log_result (self, own, &item->stamp);
    count_answer (self,
        own->status == YOLO_ANALYSIS_OK
            ? NULL
            : (own->reason != NULL ? own->reason : "no-result"));
    /* The inference just measured may be the slowest yet. */
    ys_detector_check_latency (self);
  } else if (g_strcmp0 (item->reason, "not-due") == 0) {
    /* The inference interval skipped it: the newest boxes, with age. */
    ys_attach_newest (item->buffer, ys_switcher_newest (self->switcher),
        &item->stamp, &self->task_scratch);
    count_answer (self, NULL); /* skipped on purpose: not missing */
  } else {
    ys_attach_not_sent (item->buffer, item->source, &item->stamp, item->reason);
    count_answer (self, item->reason != NULL ? item->reason : "not-sent");
  }
  return TRUE;
}

static void
sync_loop (gpointer data)
{
  GstYoloDetector *self = data;
  YsHeldItem *item;
  GstFlowReturn ret;

  g_mutex_lock (&self->queue_lock);
  while (!self->flushing && g_queue_is_empty (&self->held))
    g_cond_wait (&self->queue_cond, &self->queue_lock);
  if (self->flushing)
    goto pause;
  item = g_queue_peek_head (&self->held);
  g_mutex_unlock (&self->queue_lock);

  if (item->buffer != NULL && !answer (self, item))
    return; /* the next round sees the flush */

  g_mutex_lock (&self->queue_lock);
  if (self->flushing)
    goto pause;
  g_queue_pop_head (&self->held);
  g_cond_broadcast (&self->queue_cond);
  g_mutex_unlock (&self->queue_lock);

  if (item->event != NULL) {
    GstEvent *event = item->event;
    item->event = NULL;
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
      ys_detector_post_final_stats (self); /* every frame answered */
      /* Before EOS leaves, so an application sees the error first (and
       * gst-launch-1.0 exits with it rather than with EOS). */
      report_missing (self);
    }
    gst_pad_push_event (self->srcpad, event);
    held_item_free (item);
    return;
  }
  ret = gst_pad_push (self->srcpad, item->buffer);
  item->buffer = NULL;
  held_item_free (item);

  g_mutex_lock (&self->queue_lock);
  self->src_flow = ret;
  g_cond_broadcast (&self->queue_cond);
  if (ret == GST_FLOW_OK) {
    g_mutex_unlock (&self->queue_lock);
    return;
  }
  GST_DEBUG_OBJECT (self, "pausing: %s", gst_flow_get_name (ret));
  if (ret <= GST_FLOW_NOT_NEGOTIATED || ret == GST_FLOW_NOT_LINKED)
    GST_ELEMENT_FLOW_ERROR (self, ret);
pause:
  g_mutex_unlock (&self->queue_lock);
  gst_pad_pause_task (self->srcpad);
}

static void
set_flushing (GstYoloDetector *self, gboolean flushing)
{
  g_mutex_lock (&self->queue_lock);
  self->flushing = flushing;
  if (!flushing) {
    g_queue_clear_full (&self->held, (GDestroyNotify) held_item_free);
    self->src_flow = GST_FLOW_OK;
  }
  g_cond_broadcast (&self->queue_cond);
  g_mutex_unlock (&self->queue_lock);
}

gboolean
ys_detector_sync_flush_start (GstYoloDetector *self, GstEvent *event)
{
  set_flushing (self, TRUE);
  gst_pad_push_event (self->srcpad, event);
  gst_pad_pause_task (self->srcpad);
  return TRUE;
}

gboolean
ys_detector_sync_flush_stop (GstYoloDetector *self, GstEvent *event)
{
  set_flushing (self, FALSE);
  gst_pad_push_event (self->srcpad, event);
  return gst_pad_start_task (self->srcpad, sync_loop, self, NULL);
}

gboolean
ys_detector_sync_queue_event (GstYoloDetector *self, GstEvent *event)
{
  YsHeldItem *item = g_new0 (YsHeldItem, 1);
  gboolean ok;

  item->event = event;
  g_mutex_lock (&self->queue_lock);
  ok = !self->flushing;
  if (ok) {
    g_queue_push_tail (&self->held, item);
    g_cond_broadcast (&self->queue_cond);
  }
  g_mutex_unlock (&self->queue_lock);
  if (!ok)
    held_item_free (item);
  return ok;
}

gboolean
ys_detector_sync_activate (GstYoloDetector *self, gboolean active)
{
  if (active) {
    set_flushing (self, FALSE);
    if (self->switcher != NULL)
      ys_switcher_interrupt (self->switcher, FALSE);
    return gst_pad_start_task (self->srcpad, sync_loop, self, NULL);
  }
  /* Wake the task wherever it waits: the queue, or a frame's analysis. */
  set_flushing (self, TRUE);
  if (self->switcher != NULL)
    ys_switcher_interrupt (self->switcher, TRUE);
  return gst_pad_stop_task (self->srcpad);
}

void
ys_detector_sync_clear (GstYoloDetector *self)
{
  g_mutex_lock (&self->queue_lock);
  g_queue_clear_full (&self->held, (GDestroyNotify) held_item_free);
  g_mutex_unlock (&self->queue_lock);
}
