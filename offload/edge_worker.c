/* yoloswitch-edge inference workers; see edge_server.h for the design.
 *
 * A worker takes one client off the ready queue and its frames up to the
 * oldest one still wanting a result, decodes them in order (H.264 frames
 * are references for the next ones, so frames already answered with DROP
 * "overload" are still decoded) and runs the model on the newest live
 * picture that came out.  While it does, another worker may decode the
 * same client's next frame, so one client can keep several workers busy.
 * Which frames are dropped is decided when they arrive (edge_conn.c,
 * latest frame wins).
 *
 * B-frames (edge_decode.c): pictures come out of the decoder in display
 * order, maybe after later packets went in; when a client stops sending
 * while pictures are held, a worker drains its decoder and analyses them.
 *
 * Deadlines bound the end of inference: a frame is dropped when the start
 * plus the worker's expected inference time (the median of its recent
 * ones) is past its deadline.
 *
 * A model swap (edge_reload.c): each worker takes the server's new model
 * up between two frames.  A result of the old model for a client already
 * told of the new one still goes when the two have the same labels (a
 * new version of the same classes: the frame was taken before the swap);
 * otherwise it is a DROP "model-changed", so no box after a HELLO has a
 * label other than the one it announced. */
#include "edge_internal.h"
#include "edge_log.h"
#include "split_codec.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* Deadline misses in a row after which one frame is analysed anyway: the
 * expected time comes from analysed frames only, and one slow outlier
 * must not refuse everything for ever. */
#define PROBE_AFTER_MISSES 4

struct EdgeWorker {
  EdgeServer *server;
  GThread *thread;
  int index; /* its copy in an EdgeModel */
  /* worker thread only (read by it under `lock` when it changes): the
   * model it runs, models[index] of it, and split FRAMEs' tail runner */
  EdgeModel *set;
  YoloModel *model;
  EdgeSplit *split;
  YsPicture picture;
  YoloDetections detections;
  YsDetection *wire; /* RESULT detections, YS_MAX_DETECTIONS */
  /* worker thread only: recent whole-model inference times; deadline
   * misses in a row */
  EdgeRecentTimes recent;
  int misses;
};

/* Worker thread, lock held by the caller. */
void
edge_schedule_locked (EdgeServer *server, EdgeConn *conn)
{
  if (conn->scheduled || conn->decoding || conn->closed || conn->refused
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

/* ---- inference ------------------------------------------------------------ */

static int
compare_us (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

gint64
edge_recent_median (const EdgeRecentTimes *recent)
{
  gint64 sorted[EDGE_RECENT_TIMES];

  if (recent->count < 3)
    return 0;
  memcpy (sorted, recent->us, sizeof (gint64) * recent->count);
  qsort (sorted, recent->count, sizeof (gint64), compare_us);
  return sorted[recent->count / 2];
}

void
edge_recent_note (EdgeRecentTimes *recent, gint64 us)
{
  recent->us[recent->next] = us;
  recent->next = (recent->next + 1) % EDGE_RECENT_TIMES;
  recent->count = MIN (recent->count + 1, EDGE_RECENT_TIMES);
}

/* Worker thread, no lock: runs the model on w->picture (a split frame:
 * its tail on p's tensors) and queues RESULT, or DROP "deadline" when the
 * inference could not end in time.  Frees p. */
static void
infer_and_answer (EdgeWorker *w, EdgeConn *conn, EdgePending *p,
    gint64 picked_us)
{
  EdgeServer *server = w->server;
  gboolean split = p->codec == YS_CODEC_TENSOR;
  YoloFrame frame = { YOLO_PIXEL_RGB, w->picture.width, w->picture.height,
    { w->picture.rgb, NULL, NULL }, { w->picture.width * 3, 0, 0 } };
  /* A split frame's tail takes its own time, per cut. */
  EdgeRecentTimes *recent
      = split ? edge_split_recent (w->split, p) : &w->recent;
  YoloInferOptions options;
  YoloStatus status;
  YsMessage msg;
  gint64 t0 = g_get_monotonic_time (), expected = edge_recent_median (recent);
  gint64 infer_us;
  gboolean unread;
  int count;

  /* Boxes are normalized to the camera frame: a split packet's source
   * size is the FRAME header's. */
  if (split) {
    frame.width = p->width;
    frame.height = p->height;
  }

  /* A client that leaves its answers unread (reading from it has stopped,
   * edge_guard.c) gets no more of the model's time: what it sent before
   * the stop would otherwise still take a worker for every frame. */
  g_mutex_lock (&server->lock);
  unread = conn->closed || edge_guard_send_full_locked (conn);
  g_mutex_unlock (&server->lock);
  if (unread) {
    edge_metrics_add (&server->metrics.refused_unread, 1);
    edge_drop_once (conn, p, YS_DROP_OVERLOAD, 0);
    edge_pending_free (p);
    return;
  }
  if (t0 > p->deadline_us
      || (t0 + expected > p->deadline_us && w->misses < PROBE_AFTER_MISSES)) {
    if (t0 <= p->deadline_us) {
      edge_metrics_add (&server->metrics.refused_expected_finish, 1);
      w->misses++;
    }
    edge_drop_once (conn, p, YS_DROP_DEADLINE, 0);
    edge_pending_free (p);
    return;
  }
  w->misses = 0;
  yolo_infer_options_init (&options);
  /* Cut from the model this worker ran before a swap: its tail is not
   * this model's (the client was told of the new one and stops). */
  if (split
      && ys_split_packet_hash (p->packet, p->packet_len) != w->set->hash) {
    edge_drop_once (conn, p, YS_DROP_MODEL_CHANGED, 0);
    edge_pending_free (p);
    return;
  }
  if (split) {
    if (!edge_split_finish (w->split, conn, p, &options, &w->detections)) {
      edge_pending_free (p); /* answered, or the client refused */
      return;
    }
  } else if (!yolo_model_detect (w->model, &frame, &options, &w->detections,
                 &status)) {
    edge_log (EDGE_LOG_ERROR, "%s: frame %u: %s", conn->peer,
        p->header.frame_id, status.message);
    edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
    edge_pending_free (p);
    return;
  }
  /* A split frame's dequantization is its decoding (decode_us). */
  infer_us = g_get_monotonic_time () - t0 - (split ? p->decode_us : 0);
  edge_recent_note (recent, infer_us);
  edge_metrics_observe_inference (&server->metrics, infer_us);
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
    o->label = edge_wire_label (d->label);
  }
  memset (&msg, 0, sizeof (msg));
  msg.header = p->header;
  msg.header.type = YS_MSG_RESULT;
  msg.header.flags = 0;
  msg.u.result.queue_us
      = (uint32_t) CLAMP (picked_us - p->receive_us, 0, G_MAXUINT32);
  msg.u.result.decode_us = (uint32_t) MIN (p->decode_us, G_MAXUINT32);
  msg.u.result.infer_us = (uint32_t) MIN (infer_us, G_MAXUINT32);
  msg.u.result.model = ys_str (w->set->name);
  msg.u.result.width = (uint16_t) frame.width;
  msg.u.result.height = (uint16_t) frame.height;
  msg.u.result.count = (uint16_t) count;
  msg.u.result.detections = w->wire;
  g_mutex_lock (&server->lock);
  if (conn->model_generation == w->set->generation
      || (conn->model_generation == server->model->generation
          && edge_model_same_labels (w->set, server->model)))
    edge_conn_queue_locked (conn, &msg, FALSE);
  else
    edge_conn_drop_locked (conn, &p->header, YS_DROP_MODEL_CHANGED, 0);
  p->dropped = TRUE; /* answered */
  g_mutex_unlock (&server->lock);
  edge_pending_free (p);
}

/* ---- draining a reordering decoder ---------------------------------------- */

/* EdgeLiveFunc of a drain: every picture is analysed. */
static void
infer_each (EdgeConn *conn, EdgePending *p, void *user)
{
  EdgeWorker *w = user;

  infer_and_answer (w, conn, p, g_get_monotonic_time ());
}

/* Lock held: a client whose drain is due, or NULL and the earliest time
 * one will be (0: none).  Forgets clients that need none any more. */
static EdgeConn *
take_due_drain_locked (EdgeServer *server, gint64 *next_us)
{
  gint64 now = g_get_monotonic_time ();
  GList *l = server->drains.head;

  *next_us = 0;
  while (l != NULL) {
    EdgeConn *conn = l->data;
    GList *next = l->next;

    if (conn->closed || conn->refused || conn->drain_at_us == 0) {
      g_queue_delete_link (&server->drains, l);
      conn->drain_listed = FALSE;
      conn->drain_at_us = 0;
      edge_conn_unref (conn);
    } else if (!conn->decoding && !conn->scheduled) {
      if (conn->drain_at_us <= now) {
        g_queue_delete_link (&server->drains, l);
        conn->drain_listed = FALSE;
        conn->drain_at_us = 0;
        return conn; /* with the list's reference */
      }
      *next_us = *next_us == 0 ? conn->drain_at_us
                               : MIN (*next_us, conn->drain_at_us);
    }
    l = next;
  }
  return NULL;
}

/* ---- the worker loop ---------------------------------------------------------- */

/* Lock held, returns with it held: one client's batch, or its drain. */
static void
serve (EdgeWorker *w, EdgeConn *conn, gboolean drain)
{
  EdgeServer *server = w->server;
  GQueue batch = G_QUEUE_INIT;
  EdgePending *picked = NULL, *tensors = NULL;
  gint64 picked_us, due = 0;

  conn->decoding = TRUE;
  conn->drain_at_us = 0;
  server->busy_workers++;
  /* Frames in order up to the oldest live one: the decode-only
   * references before it, then it.  Later ones stay for the next pick,
   * by this worker or another. */
  while (!drain) {
    EdgePending *p = g_queue_pop_head (&conn->pending);
    if (p == NULL)
      break;
    conn->pending_bytes -= p->packet_len;
    g_queue_push_tail (&batch, p);
    if (!p->dropped)
      break;
  }
  g_atomic_int_add (&server->metrics.queue_depth, -(gint) batch.length);
  g_mutex_unlock (&server->lock);

  /* A split frame is not decoded: the video frames before it (references
   * of a client that sends both) are, then its tail runs. */
  if (!g_queue_is_empty (&batch)
      && ((EdgePending *) g_queue_peek_tail (&batch))->codec == YS_CODEC_TENSOR)
    tensors = g_queue_pop_tail (&batch);
  picked_us = g_get_monotonic_time ();
  if (drain)
    edge_decode_drain (conn, &w->picture, infer_each, w,
        edge_recent_median (&w->recent));
  else
    picked = edge_decode_batch (conn, &batch, &w->picture);
  due = edge_decode_drain_due (conn, edge_recent_median (&w->recent));

  /* Decoding done: the client's next frames may go to another worker
   * while this one runs the model. */
  g_mutex_lock (&server->lock);
  conn->decoding = FALSE;
  conn->drain_at_us = due;
  if (due != 0 && !conn->drain_listed) {
    conn->drain_listed = TRUE;
    g_queue_push_tail (&server->drains, edge_conn_ref (conn));
  }
  edge_schedule_locked (server, conn);
  /* A waiting worker recomputes when it must wake for a drain. */
  g_cond_signal (&server->work);
  g_mutex_unlock (&server->lock);

  if (picked != NULL)
    infer_and_answer (w, conn, picked, picked_us);
  if (tensors != NULL)
    infer_and_answer (w, conn, tensors, picked_us);
  wake_service (server);
  edge_conn_unref (conn);

  g_mutex_lock (&server->lock);
  server->busy_workers--;
}

/* Lock held, returns with it held: the server's model, when it changed
 * (the old one closed without the lock once no worker runs it). */
static void
take_up_model (EdgeWorker *w)
{
  EdgeServer *server = w->server;
  EdgeModel *old = w->set;

  if (w->set == server->model)
    return;
  w->set = edge_model_ref (server->model);
  w->model = w->set->models[w->index];
  w->split = w->set->splits[w->index];
  /* Its recent times were of the old model. */
  memset (&w->recent, 0, sizeof (w->recent));
  w->misses = 0;
  g_mutex_unlock (&server->lock);
  edge_model_unref (old);
  g_mutex_lock (&server->lock);
}

static gpointer
worker_main (gpointer data)
{
  EdgeWorker *w = data;
  EdgeServer *server = w->server;

  g_mutex_lock (&server->lock);
  for (;;) {
    EdgeConn *conn = NULL;
    gint64 next_us = 0;

    take_up_model (w);
    while (!server->stopping && g_queue_is_empty (&server->ready)
        && w->set == server->model
        && (conn = take_due_drain_locked (server, &next_us)) == NULL) {
      if (next_us != 0)
        g_cond_wait_until (&server->work, &server->lock, next_us);
      else
        g_cond_wait (&server->work, &server->lock);
    }
    if (conn != NULL) {
      serve (w, conn, TRUE);
      continue;
    }
    if (w->set != server->model && !server->stopping)
      continue;
    if (g_queue_is_empty (&server->ready))
      break;
    conn = g_queue_pop_head (&server->ready); /* its reference is ours now */
    conn->scheduled = FALSE;
    serve (w, conn, FALSE);
  }
  g_mutex_unlock (&server->lock);
  return NULL;
}

/* Main thread: the model, one copy per worker, loaded before the port
 * opens, so a missing model fails the start with the library's
 * sentence. */
gboolean
edge_workers_start (EdgeServer *server, GError **error)
{
  const EdgeConfig *c = &server->config;

  server->model = edge_model_load (c, c->workers, 1, NULL, error);
  if (server->model == NULL)
    return FALSE;
  edge_metrics_set (&server->metrics.model_generation, 1);
  edge_metrics_set (&server->metrics.model_load_us,
      (gint64) (server->model->load_ms * 1000));
  server->workers = g_new0 (EdgeWorker, c->workers);
  for (int i = 0; i < c->workers; i++) {
    EdgeWorker *w = &server->workers[i];
    w->server = server;
    w->index = i;
    w->set = edge_model_ref (server->model);
    w->model = w->set->models[i];
    w->split = w->set->splits[i];
    yolo_detections_init (&w->detections);
    w->wire = g_new0 (YsDetection, YS_MAX_DETECTIONS);
  }
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
  if (server->workers == NULL) {
    g_clear_pointer (&server->model, edge_model_unref);
    return;
  }
  g_mutex_lock (&server->lock);
  server->stopping = TRUE;
  g_cond_broadcast (&server->work);
  g_mutex_unlock (&server->lock);
  for (int i = 0; i < server->config.workers; i++)
    if (server->workers[i].thread != NULL)
      g_thread_join (server->workers[i].thread);
  /* Clients left on the queues (drain timed out) hold a reference each. */
  g_queue_clear_full (&server->ready, (GDestroyNotify) edge_conn_unref);
  g_queue_clear_full (&server->drains, (GDestroyNotify) edge_conn_unref);
  for (int i = 0; i < server->config.workers; i++) {
    EdgeWorker *w = &server->workers[i];
    edge_model_unref (w->set);
    yolo_detections_free (&w->detections);
    free (w->picture.rgb); /* grown by the decoder with realloc */
    g_free (w->wire);
  }
  g_free (server->workers);
  server->workers = NULL;
  g_clear_pointer (&server->model, edge_model_unref);
}
