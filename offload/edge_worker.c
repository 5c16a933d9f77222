/* yoloswitch-edge inference workers; see edge_server.h for the design.
 *
 * A worker takes one client off the ready queue and its frames up to the
 * oldest one still wanting a result, decodes them in order (H.264 frames
 * are references for the next ones, so frames already answered with DROP
 * "overload" are still decoded) and runs the model on that one.  While it
 * does, another worker may decode the same client's next frame, so one
 * client can keep several workers busy.  Which frames are dropped is
 * decided when they arrive (edge_server.c, latest frame wins). */
#include "edge_internal.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

struct EdgeWorker {
  EdgeServer *server;
  GThread *thread;
  YoloModel *model;
  YsPicture picture;
  YoloDetections detections;
  YsDetection *wire; /* RESULT detections, YS_MAX_DETECTIONS */
};

/* Worker thread, lock held by the caller. */
void
edge_schedule_locked (EdgeServer *server, EdgeConn *conn)
{
  if (conn->scheduled || conn->decoding || conn->closed
      || g_queue_is_empty (&conn->pending))
    return;
  conn->scheduled = TRUE;
  g_queue_push_tail (&server->ready, edge_conn_ref (conn));
  g_cond_signal (&server->work);
}

static void
wake_service (EdgeServer *server)
{
  lws_cancel_service (server->context);
}

/* Worker thread, no lock: a DROP for `p` unless one was sent. */
static void
drop_once (EdgeConn *conn, EdgePending *p, YsDropReason reason, uint16_t flags)
{
  EdgeServer *server = conn->server;

  g_mutex_lock (&server->lock);
  if (!p->dropped)
    edge_conn_drop_locked (conn, &p->header, reason, flags);
  p->dropped = TRUE;
  g_mutex_unlock (&server->lock);
}

/* Worker thread: decodes the batch (decode-only references, then the one
 * live frame at its end); returns that frame, its picture in w->picture,
 * or NULL.  *decode_us gets its decoding time. */
static EdgePending *
decode_batch (EdgeWorker *w, EdgeConn *conn, GQueue *batch, gint64 *decode_us)
{
  EdgeServer *server = w->server;
  EdgePending *picked = NULL;

  for (GList *l = batch->head; l != NULL; l = l->next) {
    EdgePending *p = l->data;
    const char *why = NULL;
    YsDecodeResult r;
    gint64 t0;

    if (conn->decoder == NULL || ys_decoder_codec (conn->decoder) != p->codec) {
      ys_decoder_free (conn->decoder);
      conn->decoder = ys_decoder_new (p->codec, &why);
      if (conn->decoder == NULL) {
        g_printerr ("yoloswitch-edge: %s: cannot decode %s: %s\n", conn->peer,
            ys_codec_name (p->codec), why);
        drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
        continue;
      }
    }
    t0 = g_get_monotonic_time ();
    r = ys_decoder_decode (conn->decoder, p->packet, p->packet_len, !p->dropped,
        &w->picture, &why);
    edge_metrics_add (&server->metrics.decode_sum_us,
        g_get_monotonic_time () - t0);
    if (r == YS_DECODE_PICTURE) {
      edge_metrics_add (&server->metrics.frames_decoded, 1);
      if (!p->dropped) {
        picked = p;
        *decode_us = g_get_monotonic_time () - t0;
      }
    } else {
      if (r == YS_DECODE_ERROR)
        g_printerr ("yoloswitch-edge: %s: frame %u: %s\n", conn->peer,
            p->header.frame_id, why != NULL ? why : "decode error");
      /* The client learns it must send a keyframe (after an H.264 error
       * the decoder waits for one too); the decoder skips to it. */
      drop_once (conn, p, YS_DROP_DECODE_ERROR,
          r == YS_DECODE_NEED_KEYFRAME || p->codec == YS_CODEC_H264
              ? YS_FLAG_NEED_KEYFRAME
              : 0);
    }
  }
  return picked;
}

/* Worker thread, no lock: runs the model on w->picture and queues RESULT
 * (or DROP "deadline" when the frame waited too long). */
static void
infer_and_answer (EdgeWorker *w, EdgeConn *conn, EdgePending *p,
    gint64 picked_us, gint64 decode_us)
{
  EdgeServer *server = w->server;
  YoloFrame frame = { YOLO_PIXEL_RGB, w->picture.width, w->picture.height,
    { w->picture.rgb, NULL, NULL }, { w->picture.width * 3, 0, 0 } };
  YoloInferOptions options;
  YoloStatus status;
  YsMessage msg;
  gint64 t0 = g_get_monotonic_time ();
  int count;

  if (t0 > p->deadline_us) {
    drop_once (conn, p, YS_DROP_DEADLINE, 0);
    return;
  }
  yolo_infer_options_init (&options);
  if (!yolo_model_detect (w->model, &frame, &options, &w->detections,
          &status)) {
    g_printerr ("yoloswitch-edge: %s: frame %u: %s\n", conn->peer,
        p->header.frame_id, status.message);
    drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
    return;
  }
  edge_metrics_observe_inference (&server->metrics,
      g_get_monotonic_time () - t0);
  edge_metrics_add (&server->metrics.frames_inferred, 1);

  count = (int) MIN (w->detections.count, (size_t) YS_MAX_DETECTIONS);
  for (int i = 0; i < count; i++) {
    const YoloDetection *d = &w->detections.items[i];
    YsDetection *o = &w->wire[i];
    o->class_id = (uint16_t) d->class_id;
    o->confidence = d->confidence;
    o->x = d->x / frame.width;
    o->y = d->y / frame.height;
    o->w = d->w / frame.width;
    o->h = d->h / frame.height;
    o->label = ys_str (d->label);
    if (o->label.len > YS_MAX_NAME)
      o->label.len = YS_MAX_NAME;
  }
  memset (&msg, 0, sizeof (msg));
  msg.header = p->header;
  msg.header.type = YS_MSG_RESULT;
  msg.header.flags = 0;
  msg.u.result.queue_us
      = (uint32_t) MIN (picked_us - p->receive_us, G_MAXUINT32);
  msg.u.result.decode_us = (uint32_t) MIN (decode_us, G_MAXUINT32);
  msg.u.result.infer_us
      = (uint32_t) MIN (g_get_monotonic_time () - t0, G_MAXUINT32);
  msg.u.result.model = ys_str (server->model_name);
  msg.u.result.width = (uint16_t) frame.width;
  msg.u.result.height = (uint16_t) frame.height;
  msg.u.result.count = (uint16_t) count;
  msg.u.result.detections = w->wire;
  g_mutex_lock (&server->lock);
  p->dropped = TRUE; /* answered */
  edge_conn_queue_locked (conn, &msg, FALSE);
  g_mutex_unlock (&server->lock);
}

static gpointer
worker_main (gpointer data)
{
  EdgeWorker *w = data;
  EdgeServer *server = w->server;

  g_mutex_lock (&server->lock);
  for (;;) {
    EdgeConn *conn;
    GQueue batch = G_QUEUE_INIT;
    EdgePending *picked;
    gint64 picked_us, decode_us = 0;

    while (!server->stopping && g_queue_is_empty (&server->ready))
      g_cond_wait (&server->work, &server->lock);
    if (g_queue_is_empty (&server->ready))
      break;
    conn = g_queue_pop_head (&server->ready); /* its reference is ours now */
    conn->scheduled = FALSE;
    conn->decoding = TRUE;
    server->busy_workers++;
    /* Frames in order up to the oldest live one: the decode-only
     * references before it, then it.  Later ones stay for the next pick,
     * by this worker or another. */
    for (;;) {
      EdgePending *p = g_queue_pop_head (&conn->pending);
      if (p == NULL)
        break;
      g_queue_push_tail (&batch, p);
      if (!p->dropped)
        break;
    }
    g_atomic_int_add (&server->metrics.queue_depth, -(gint) batch.length);
    g_mutex_unlock (&server->lock);

    picked_us = g_get_monotonic_time ();
    picked = decode_batch (w, conn, &batch, &decode_us);

    /* Decoding done: the client's next frames may go to another worker
     * while this one runs the model. */
    g_mutex_lock (&server->lock);
    conn->decoding = FALSE;
    edge_schedule_locked (server, conn);
    g_mutex_unlock (&server->lock);

    if (picked != NULL)
      infer_and_answer (w, conn, picked, picked_us, decode_us);
    wake_service (server);
    g_queue_clear_full (&batch, (GDestroyNotify) edge_pending_free);
    edge_conn_unref (conn);

    g_mutex_lock (&server->lock);
    server->busy_workers--;
  }
  g_mutex_unlock (&server->lock);
  return NULL;
}

/* Main thread: one model per worker, loaded before the port opens, so a
 * missing model fails the start with the library's sentence. */
gboolean
edge_workers_start (EdgeServer *server, GError **error)
{
  const EdgeConfig *c = &server->config;

  server->workers = g_new0 (EdgeWorker, c->workers);
  for (int i = 0; i < c->workers; i++) {
    EdgeWorker *w = &server->workers[i];
    YoloModelSpec spec = { 0 };
    YoloStatus status;

    spec.name = c->model;
    spec.model_dir = c->model_dir;
    spec.engine = YOLO_ENGINE_FAST;
    spec.threads = c->threads;
    w->server = server;
    w->model = yolo_model_open (&spec, &status);
    if (w->model == NULL) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s",
          status.message);
      return FALSE;
    }
    yolo_detections_init (&w->detections);
    w->wire = g_new0 (YsDetection, YS_MAX_DETECTIONS);
  }
  server->model_name = g_strdup (yolo_model_name (server->workers[0].model));
  server->net_width = yolo_model_input_width (server->workers[0].model);
  server->net_height = yolo_model_input_height (server->workers[0].model);
  for (int i = 0; i < c->workers; i++)
    server->workers[i].thread
        = g_thread_new ("edge-worker", worker_main, &server->workers[i]);
  return TRUE;
}

/* Main thread, after the service loop ended: workers finish the frame in
 * hand and exit. */
void
edge_workers_stop (EdgeServer *server)
{
  if (server->workers == NULL)
    return;
  g_mutex_lock (&server->lock);
  server->stopping = TRUE;
  g_cond_broadcast (&server->work);
  g_mutex_unlock (&server->lock);
  for (int i = 0; i < server->config.workers; i++)
    if (server->workers[i].thread != NULL)
      g_thread_join (server->workers[i].thread);
  /* Clients left on the queue (drain timed out) hold a reference each. */
  g_queue_clear_full (&server->ready, (GDestroyNotify) edge_conn_unref);
  for (int i = 0; i < server->config.workers; i++) {
    EdgeWorker *w = &server->workers[i];
    yolo_model_close (w->model);
    yolo_detections_free (&w->detections);
    free (w->picture.rgb); /* grown by the decoder with realloc */
    g_free (w->wire);
  }
  g_free (server->workers);
  server->workers = NULL;
}
