/* yoloswitch-edge: a client's frames through its decoder, on the worker
 * that owns it (conn->decoding); see edge_worker.c for the design.
 *
 * B-frames.  The decoder gives pictures in display order, each tagged with
 * its packet's sequence number, so a packet's picture may come out only
 * after later packets went in: its frame waits in conn->in_decoder until
 * then.  A frame whose picture has not come out MAX_HELD_PACKETS packets
 * later never will (H.264 holds at most 16) and gets DROP decode-error.
 * When a client stops sending while frames wait there (the end of a
 * file), the worker drains the decoder (edge_decode_drain_due says when):
 * every picture comes out, and the decoder then waits for a keyframe.
 * "Stops" means silent for three of its usual gaps between packets (300
 * ms at least, 2 s before the first gap is known): a camera sending 2
 * frames a second is not drained between frames, which would cost it
 * every frame up to the next keyframe. */
#include "edge_internal.h"
#include "edge_log.h"

#include <string.h>

#define REORDER_IDLE_US (300 * G_TIME_SPAN_MILLISECOND)
#define REORDER_IDLE_MAX_US (5 * G_TIME_SPAN_SECOND)
#define REORDER_IDLE_FIRST_US (2 * G_TIME_SPAN_SECOND)

/* With `decoder`: how long without a packet means the client stopped. */
static gint64
idle_us (const EdgeConn *conn)
{
  if (conn->packet_gap_us == 0)
    return REORDER_IDLE_FIRST_US;
  return CLAMP (3 * conn->packet_gap_us, REORDER_IDLE_US, REORDER_IDLE_MAX_US);
}
#define MAX_HELD_PACKETS 16

/* Worker thread, no lock: a DROP for `p` unless one was sent. */
void
edge_drop_once (EdgeConn *conn, EdgePending *p, YsDropReason reason,
    uint16_t flags)
{
  EdgeServer *server = conn->server;

  g_mutex_lock (&server->lock);
  if (!p->dropped)
    edge_conn_drop_locked (conn, &p->header, reason, flags);
  p->dropped = TRUE;
  g_mutex_unlock (&server->lock);
}

void
edge_conn_refuse (EdgeConn *conn, YsErrorCode code, const char *text)
{
  EdgeServer *server = conn->server;
  YsMessage msg;

  memset (&msg, 0, sizeof (msg));
  msg.header.type = YS_MSG_ERROR;
  msg.u.error.code = code;
  msg.u.error.text = ys_str_clip (ys_str (text), YS_MAX_ERROR_TEXT);
  g_mutex_lock (&server->lock);
  if (!conn->refused) {
    conn->refused = TRUE;
    /* client_name is set once, at HELLO, before any frame. */
    edge_log (EDGE_LOG_INFO, "%s %s: closing: %s", conn->peer,
        conn->client_name != NULL ? conn->client_name : "?", text);
    edge_metrics_add (&server->metrics.errors_sent[code], 1);
    edge_conn_queue_locked (conn, &msg, TRUE);
  }
  g_mutex_unlock (&server->lock);
}

/* ---- the frames inside the decoder -------------------------------------- */

/* Owner of the decoder: every held frame is lost (the decoder dropped its
 * pictures); the client must send a keyframe. */
static void
lose_held (EdgeConn *conn)
{
  EdgePending *p;

  while ((p = g_queue_pop_head (&conn->in_decoder)) != NULL) {
    edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, YS_FLAG_NEED_KEYFRAME);
    edge_pending_free (p);
  }
}

/* Any thread, at the last reference: no worker owns the decoder. */
void
edge_conn_clear_decoder (EdgeConn *conn)
{
  ys_decoder_free (conn->decoder);
  conn->decoder = NULL;
  g_queue_clear_full (&conn->in_decoder, (GDestroyNotify) edge_pending_free);
}

static EdgePending *
take_held (EdgeConn *conn, gint64 seq)
{
  for (GList *l = conn->in_decoder.head; l != NULL; l = l->next) {
    EdgePending *p = l->data;
    if (p->decode_seq == seq) {
      g_queue_delete_link (&conn->in_decoder, l);
      return p;
    }
  }
  return NULL;
}

/* Frames whose pictures will not come out: too many packets went in after
 * them (H.264), or their packet gave none (JPEG has no delay). */
static void
give_up_stuck (EdgeConn *conn)
{
  EdgePending *p;

  while ((p = g_queue_peek_head (&conn->in_decoder)) != NULL
      && (p->codec != YS_CODEC_H264
          || p->decode_seq < conn->next_seq - MAX_HELD_PACKETS)) {
    g_queue_pop_head (&conn->in_decoder);
    if (!p->dropped) {
      edge_metrics_add (&conn->server->metrics.refused_stuck, 1);
      edge_log (EDGE_LOG_WARN, "%s: frame %u: its packet gave no picture%s",
          conn->peer, p->header.frame_id,
          p->codec == YS_CODEC_H264 ? " after 16 more packets" : "");
    }
    edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
    edge_pending_free (p);
  }
}

/* Owner of the decoder: collects the pictures ready, in display order. */
static void
collect (EdgeConn *conn, YsPicture *picture, EdgeLiveFunc on_live, void *user)
{
  EdgeServer *server = conn->server;

  for (;;) {
    gint64 t0 = g_get_monotonic_time (), tag;
    const char *why = NULL;
    YsDecodeResult r = ys_decoder_receive (conn->decoder, &tag, &why);
    EdgePending *p;

    if (r == YS_DECODE_NO_PICTURE)
      break;
    p = take_held (conn, tag);
    if (r != YS_DECODE_PICTURE) {
      edge_log (EDGE_LOG_WARN, "%s: frame %u: %s", conn->peer,
          p != NULL ? p->header.frame_id : 0, why);
      if (p != NULL) {
        edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, YS_FLAG_NEED_KEYFRAME);
        edge_pending_free (p);
      }
      lose_held (conn);
      continue;
    }
    edge_metrics_add (&server->metrics.frames_decoded, 1);
    conn->keyframe_waits = 0;
    if (p == NULL)
      continue; /* lost already (given up, or the decoder's own guess) */
    if (tag != conn->next_seq - 1)
      edge_metrics_add (&server->metrics.pictures_reordered, 1);
    if (p->dropped) {
      edge_pending_free (p);
      continue;
    }
    if (!ys_decoder_convert (conn->decoder, picture, &why)) {
      edge_log (EDGE_LOG_WARN, "%s: frame %u: %s", conn->peer,
          p->header.frame_id, why);
      edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
      edge_pending_free (p);
      continue;
    }
    p->decode_us += g_get_monotonic_time () - t0;
    edge_metrics_add (&server->metrics.decode_sum_us,
        g_get_monotonic_time () - t0);
    on_live (conn, p, user);
  }
}

/* Owner of the decoder: one for p's codec. */
static gboolean
ensure_decoder (EdgeConn *conn, EdgePending *p)
{
  const char *why = NULL;

  if (conn->decoder != NULL && ys_decoder_codec (conn->decoder) == p->codec)
    return TRUE;
  lose_held (conn);
  ys_decoder_free (conn->decoder);
  conn->decoder = ys_decoder_new_reordering (p->codec,
      conn->server->config.max_frame_pixels, &why);
  if (conn->decoder != NULL
      && !ys_decoder_set_memory_hook (conn->decoder, edge_budget_charge,
          conn)) {
    ys_decoder_free (conn->decoder);
    conn->decoder = NULL;
    why = "the server's memory for clients is taken (--memory-budget-bytes) "
          "and this client holds more than its share";
  }
  if (conn->decoder == NULL)
    edge_log (EDGE_LOG_ERROR, "%s: cannot decode %s: %s", conn->peer,
        ys_codec_name (p->codec), why);
  return conn->decoder != NULL;
}

/* LiveFunc of a batch: the newest live picture wins, and the frame of an
 * older one (only when a client is behind) gets DROP overload. */
static void
keep_newest (EdgeConn *conn, EdgePending *p, void *user)
{
  EdgePending **picked = user;

  if (*picked != NULL) {
    edge_drop_once (conn, *picked, YS_DROP_OVERLOAD, 0);
    edge_pending_free (*picked);
  }
  *picked = p;
}

/* Frames already answered (DROP on arrival) that come before a keyframe
 * of the same codec in the batch are references for nothing: the
 * keyframe starts over.  They are not decoded, so a client sending
 * faster than the server decodes costs one keyframe's decoding per batch,
 * not every frame's. */
static void
skip_superseded (EdgeConn *conn, GQueue *batch)
{
  GList *last_key = NULL;
  EdgePending *p;

  for (GList *l = batch->tail; l != NULL && last_key == NULL; l = l->prev)
    if (((EdgePending *) l->data)->keyframe)
      last_key = l;
  if (last_key == NULL)
    return;
  while ((p = g_queue_peek_head (batch)) != NULL && batch->head != last_key
      && p->dropped && p->codec == ((EdgePending *) last_key->data)->codec) {
    g_queue_pop_head (batch);
    edge_metrics_add (&conn->server->metrics.frames_skipped, 1);
    edge_pending_free (p);
  }
}

EdgePending *
edge_decode_batch (EdgeConn *conn, GQueue *batch, YsPicture *picture)
{
  EdgeServer *server = conn->server;
  EdgePending *picked = NULL, *p;

  skip_superseded (conn, batch);
  while ((p = g_queue_pop_head (batch)) != NULL) {
    const char *why = NULL;
    YsDecodeResult r;
    gint64 t0;

    if (!ensure_decoder (conn, p)) {
      edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
      edge_pending_free (p);
      continue;
    }
    p->decode_seq = conn->next_seq++;
    t0 = g_get_monotonic_time ();
    /* The usual gap between arrivals (a moving average of an eighth). */
    if (conn->last_receive_us != 0) {
      gint64 gap = CLAMP (p->receive_us - conn->last_receive_us, 1,
          REORDER_IDLE_MAX_US);
      if (conn->packet_gap_us == 0)
        conn->packet_gap_us = gap;
      else
        conn->packet_gap_us += (gap - conn->packet_gap_us) / 8;
    }
    conn->last_receive_us = p->receive_us;
    conn->last_packet_us = t0;
    r = ys_decoder_send (conn->decoder, p->packet, p->packet_len, p->width,
        p->height, p->decode_seq, &why);
    p->decode_us = g_get_monotonic_time () - t0;
    edge_metrics_add (&server->metrics.decode_sum_us, p->decode_us);
    if (r == YS_DECODE_TOO_LARGE || r == YS_DECODE_SIZE_MISMATCH) {
      edge_metrics_add (r == YS_DECODE_TOO_LARGE
              ? &server->metrics.refused_pixels
              : &server->metrics.refused_size_mismatch,
          1);
      edge_conn_refuse (conn,
          r == YS_DECODE_TOO_LARGE ? YS_ERR_TOO_LARGE : YS_ERR_MALFORMED, why);
      edge_pending_free (p);
      g_queue_clear_full (batch, (GDestroyNotify) edge_pending_free);
      break;
    }
    if (r == YS_DECODE_ERROR || r == YS_DECODE_NEED_KEYFRAME) {
      /* Waiting for a keyframe is said once, not once a frame. */
      if (r == YS_DECODE_ERROR)
        edge_log (EDGE_LOG_WARN, "%s: frame %u: %s", conn->peer,
            p->header.frame_id, why);
      else
        edge_log (conn->keyframe_waits++ == 0 ? EDGE_LOG_INFO : EDGE_LOG_DEBUG,
            "%s: frame %u: %s", conn->peer, p->header.frame_id, why);
      /* The client learns it must send a keyframe (after an H.264 error
       * the decoder waits for one too). */
      edge_drop_once (conn, p, YS_DROP_DECODE_ERROR,
          p->codec == YS_CODEC_H264 ? YS_FLAG_NEED_KEYFRAME : 0);
      edge_pending_free (p);
      if (r == YS_DECODE_ERROR)
        lose_held (conn);
      continue;
    }
    g_queue_push_tail (&conn->in_decoder, p);
    collect (conn, picture, keep_newest, &picked);
    give_up_stuck (conn);
  }
  return picked;
}

/* When a held frame can no longer end its inference in time. */
static gint64
last_start (const EdgePending *p, gint64 expected_us)
{
  return p->deadline_us - expected_us;
}

gint64
edge_decode_drain_due (const EdgeConn *conn, gint64 expected_us)
{
  gint64 due = 0;

  for (GList *l = conn->in_decoder.head; l != NULL; l = l->next) {
    const EdgePending *p = l->data;
    if (p->dropped)
      continue;
    if (due == 0)
      due = conn->last_packet_us + idle_us (conn);
    due = MIN (due, last_start (p, expected_us));
  }
  return due;
}

void
edge_decode_drain (EdgeConn *conn, YsPicture *picture, EdgeLiveFunc on_live,
    void *user, gint64 expected_us)
{
  gint64 now = g_get_monotonic_time ();

  if (conn->decoder == NULL)
    return;
  if (now < conn->last_packet_us + idle_us (conn)) {
    /* The client is still sending: the references stay, and only the held
     * frames that cannot make their deadlines any more are given up (their
     * pictures are ignored when they come out). */
    for (GList *l = conn->in_decoder.head; l != NULL; l = l->next) {
      EdgePending *p = l->data;
      if (p->dropped || last_start (p, expected_us) > now)
        continue;
      if (now <= p->deadline_us)
        edge_metrics_add (&conn->server->metrics.refused_expected_finish, 1);
      edge_drop_once (conn, p, YS_DROP_DEADLINE, 0);
    }
    return;
  }
  edge_log (EDGE_LOG_DEBUG,
      "%s: no frame for %d ms: draining the %u pictures held for reordering",
      conn->peer, (int) (idle_us (conn) / 1000), conn->in_decoder.length);
  ys_decoder_drain (conn->decoder);
  collect (conn, picture, on_live, user);
  lose_held (conn);
}
