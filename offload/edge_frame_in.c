/* yoloswitch-edge: a FRAME arriving on the service thread: its header
 * checked (codec in the HELLO's list, size within --max-frame-pixels), the
 * ACK at once, the latest-frame-wins queue (DROP overload), the backlog
 * (--max-pending-bytes: DROP backlog), the packet charged to the memory
 * budget, then handed to the workers (edge_worker.c). */
#include "edge_internal.h"
#include "edge_log.h"
#include "split_codec.h"

#include <string.h>

/* Frames (live or decode-only) one client may have waiting before all are
 * thrown away and decoding restarts at the next keyframe. */
#define MAX_PENDING_PER_CLIENT 64

/* Lock held: frames still wanting a result (not answered with DROP). */
static int
live_count_locked (const EdgeConn *conn)
{
  int live = 0;

  for (GList *l = conn->pending.head; l != NULL; l = l->next)
    live += !((EdgePending *) l->data)->dropped;
  return live;
}

/* Lock held: latest frame wins.  Beyond queue-depth live frames the oldest
 * gets DROP "overload"; an H.264 one stays queued, decode-only, because
 * later frames reference it. */
static void
make_room_locked (EdgeConn *conn)
{
  int depth = conn->server->config.queue_depth;
  int live = live_count_locked (conn);

  for (GList *l = conn->pending.head; l != NULL && live >= depth;) {
    EdgePending *p = l->data;
    GList *next = l->next;
    if (!p->dropped) {
      edge_conn_drop_locked (conn, &p->header, YS_DROP_OVERLOAD, 0);
      p->dropped = TRUE;
      live--;
      if (p->codec != YS_CODEC_H264) { /* no later frame references it */
        g_queue_delete_link (&conn->pending, l);
        g_atomic_int_add (&conn->server->metrics.queue_depth, -1);
        conn->pending_bytes -= p->packet_len;
        edge_pending_free (p);
      }
    }
    l = next;
  }
}

/* Lock held: the client sends faster than any worker can even decode
 * (too many frames waiting: `reason` overload; too many bytes: backlog).
 * Everything waiting goes, and decoding restarts at the next keyframe. */
static guint
flush_backlog_locked (EdgeConn *conn, YsDropReason reason)
{
  EdgePending *p;
  guint answered = 0;

  while ((p = g_queue_pop_head (&conn->pending)) != NULL) {
    if (!p->dropped) {
      edge_conn_drop_locked (conn, &p->header, reason, YS_FLAG_NEED_KEYFRAME);
      answered++;
    }
    g_atomic_int_add (&conn->server->metrics.queue_depth, -1);
    edge_pending_free (p);
  }
  conn->pending_bytes = 0;
  conn->skip_to_keyframe = TRUE;
  return answered;
}

/* Service thread: a split FRAME's packet header, read without parsing or
 * allocating: a packet cut from another model, or at a cut this model does
 * not have, is refused before it is ACKed (ERROR mismatch); its tensors'
 * shapes are checked by the worker (edge_split.c) against the model's own
 * handover at that cut.  One cut from the model this client was told of
 * before a swap passes, to be answered DROP model-changed. */
static gboolean
split_header_ok (EdgeConn *conn, const YsFrame *f)
{
  EdgeServer *server = conn->server;
  guint64 hash = ys_split_packet_hash (f->packet, f->packet_len);
  int cut = ys_split_packet_cut (f->packet, f->packet_len);
  char *text = NULL;
  gboolean ok;

  if (f->packet_len < YS_TENSOR_HEADER_SIZE) {
    text = g_strdup_printf ("a split FRAME of %u bytes is shorter than its "
                            "packet's %d-byte header (offload/tensor_packet.h)",
        f->packet_len, YS_TENSOR_HEADER_SIZE);
    edge_conn_send_error (conn, YS_ERR_MALFORMED, text);
  } else if (hash != server->model->hash
      && (hash != conn->previous_hash || hash == 0)) {
    text = g_strdup_printf (
        "split FRAME cut from model hash %016" G_GINT64_MODIFIER
        "x, but this server runs %s, hash %016" G_GINT64_MODIFIER
        "x (its HELLO's): load the same cfg, weights and "
        "input size on both sides",
        hash, server->model->name, server->model->hash);
    edge_conn_send_error (conn, YS_ERR_MISMATCH, text);
  } else if (hash == server->model->hash
      && (cut < 1 || cut >= server->model->layer_count)) {
    text = g_strdup_printf ("split FRAME at cut %d, but model %s has cuts 1 "
                            "to %d (its %d layers)",
        cut, server->model->name, server->model->layer_count - 1,
        server->model->layer_count);
    edge_conn_send_error (conn, YS_ERR_MISMATCH, text);
  }
  ok = text == NULL;
  g_free (text);
  return ok;
}

/* Service thread: refuses a FRAME before it is ACKed, for what its header
 * says; FALSE when refused (ERROR queued). */
static gboolean
frame_header_ok (EdgeConn *conn, const YsFrame *f)
{
  EdgeServer *server = conn->server;
  gint64 pixels = (gint64) f->width * f->height;
  gboolean listed = FALSE;
  char *text;

  if (!conn->hello_done) {
    edge_conn_send_error (conn, YS_ERR_SEQUENCE,
        "FRAME before HELLO: send HELLO first (docs/PROTOCOL.md)");
    return FALSE;
  }
  if (!edge_codec_accepted (f->codec)) {
    edge_conn_send_error (conn, YS_ERR_UNSUPPORTED,
        "unsupported codec: this server decodes h264 (1) and mjpeg (2) and "
        "finishes split tensors (16)");
    return FALSE;
  }
  for (int i = 0; i < conn->hello_codec_count; i++)
    listed |= conn->hello_codecs[i] == f->codec;
  if (!listed) {
    text = g_strdup_printf ("FRAME codec %s is not in this client's HELLO "
                            "codec list: list every codec it sends",
        ys_codec_name (f->codec));
    edge_conn_send_error (conn, YS_ERR_UNSUPPORTED, text);
    g_free (text);
    return FALSE;
  }
  if (pixels == 0) {
    edge_conn_send_error (conn, YS_ERR_MALFORMED,
        "FRAME width or height is 0: send the encoded picture's size");
    return FALSE;
  }
  if (pixels > server->config.max_frame_pixels) {
    edge_metrics_add (&server->metrics.refused_pixels, 1);
    text = g_strdup_printf ("a %ux%u frame is over this server's limit of "
                            "%" G_GINT64_FORMAT " pixels (--max-frame-pixels): "
                            "scale the video down before it is sent",
        f->width, f->height, server->config.max_frame_pixels);
    edge_conn_send_error (conn, YS_ERR_TOO_LARGE, text);
    g_free (text);
    return FALSE;
  }
  return f->codec != YS_CODEC_TENSOR || split_header_ok (conn, f);
}

/* Lock held: makes room for the frame in the client's backlog of packet
 * bytes by giving up what waits (DROP backlog); TRUE when it had to. */
static gboolean
limit_backlog_locked (EdgeConn *conn, const YsMessage *m)
{
  EdgeServer *server = conn->server;
  gint64 max = server->config.max_pending_bytes;
  guint frames = g_queue_get_length (&conn->pending);

  if (conn->pending_bytes + m->u.frame.packet_len <= max)
    return FALSE;
  /* A line per connection at first, then one in a hundred: a flood of
   * these must not become a flood of log lines. */
  if (conn->backlog_logged++ % 100 == 0)
    edge_log (EDGE_LOG_WARN,
        "%s %s: frame %u: %u frames (%" G_GINT64_FORMAT " bytes) waiting "
        "would pass --max-pending-bytes %" G_GINT64_FORMAT ": DROP backlog "
        "for them (the client sends faster than this server decodes)",
        conn->peer, edge_conn_who (conn), m->header.frame_id, frames,
        conn->pending_bytes, max);
  edge_metrics_add (&server->metrics.refused_pending_bytes,
      flush_backlog_locked (conn, YS_DROP_BACKLOG));
  return TRUE;
}

void
edge_conn_on_frame (EdgeConn *conn, const YsMessage *m)
{
  EdgeServer *server = conn->server;
  const YsFrame *f = &m->u.frame;
  gint64 now = g_get_monotonic_time ();
  /* Every JPEG and split packet stands alone, whatever the flag says. */
  gboolean keyframe
      = (m->header.flags & YS_FLAG_KEYFRAME) != 0 || f->codec != YS_CODEC_H264;
  gboolean over_backlog;
  guint32 deadline_ms;
  YsMessage ack;
  EdgePending *p;

  if (!frame_header_ok (conn, f))
    return;
  edge_metrics_add (&server->metrics.frames_received, 1);
  edge_metrics_add (&server->metrics.bytes_received, m->header.payload_len);

  g_mutex_lock (&server->lock);
  /* ACK first, before any decoding: the client's bandwidth and RTT
   * estimates must not include our queueing. */
  memset (&ack, 0, sizeof (ack));
  ack.header = m->header;
  ack.header.type = YS_MSG_ACK;
  ack.header.flags = 0;
  ack.u.ack.bytes = m->header.payload_len;
  ack.u.ack.receive_us = (uint64_t) now;
  ack.u.ack.receive_span_us = conn->message_first_us > 0
      ? (guint32) MIN (now - conn->message_first_us, G_MAXUINT32)
      : 0;
  ack.u.ack.queue_depth
      = (uint16_t) MIN (live_count_locked (conn), G_MAXUINT16);
  edge_conn_queue_locked (conn, &ack, TRUE);

  if (server->drain_deadline_us != 0) {
    edge_conn_drop_locked (conn, &m->header, YS_DROP_SHUTDOWN, 0);
    goto out;
  }
  if (conn->refused)
    goto out; /* an ERROR is on its way: the connection closes after it */
  /* Cut from the model before a swap, sent before the client saw the
   * HELLO: answered in order, the connection kept (docs/PROTOCOL.md). */
  if (f->codec == YS_CODEC_TENSOR
      && ys_split_packet_hash (f->packet, f->packet_len)
          != server->model->hash) {
    edge_conn_drop_locked (conn, &m->header, YS_DROP_MODEL_CHANGED, 0);
    goto out;
  }
  if (g_queue_get_length (&conn->pending) >= MAX_PENDING_PER_CLIENT)
    flush_backlog_locked (conn, YS_DROP_OVERLOAD);
  over_backlog = limit_backlog_locked (conn, m);
  if (conn->skip_to_keyframe && !keyframe) {
    edge_conn_drop_locked (conn, &m->header,
        over_backlog ? YS_DROP_BACKLOG : YS_DROP_DECODE_ERROR,
        YS_FLAG_NEED_KEYFRAME);
    edge_metrics_add (&server->metrics.refused_pending_bytes, over_backlog);
    goto out;
  }
  conn->skip_to_keyframe = FALSE;
  make_room_locked (conn);

  deadline_ms = f->deadline_ms != 0    ? f->deadline_ms
      : conn->default_deadline_ms != 0 ? conn->default_deadline_ms
                                       : (guint32) server->config.deadline_ms;
  /* Charged before it is copied; past the budget (and this client's
   * share) the frame is not kept. */
  if (!edge_budget_charge (f->packet_len, conn)) {
    gboolean h264 = f->codec == YS_CODEC_H264;
    edge_conn_drop_locked (conn, &m->header, YS_DROP_BACKLOG,
        h264 ? YS_FLAG_NEED_KEYFRAME : 0);
    conn->skip_to_keyframe = h264;
    goto out;
  }
  p = g_new0 (EdgePending, 1);
  p->owner = conn;
  p->header = m->header;
  p->codec = f->codec;
  p->keyframe = keyframe;
  p->width = f->width;
  p->height = f->height;
  p->packet = g_memdup2 (f->packet, f->packet_len);
  p->packet_len = f->packet_len;
  conn->pending_bytes += f->packet_len;
  p->receive_us = now;
  p->deadline_us = now + (gint64) deadline_ms * 1000;
  g_queue_push_tail (&conn->pending, p);
  g_atomic_int_inc (&server->metrics.queue_depth);
  edge_schedule_locked (server, conn);
out:
  g_mutex_unlock (&server->lock);
}
