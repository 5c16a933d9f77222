/* yoloswitch-edge: one client's connection on the service thread: its
 * messages parsed and answered (HELLO, PING, ERROR; FRAMEs go to
 * edge_frame_in.c), and what is written back one message per writeable
 * callback. */
#include "edge_internal.h"
#include "edge_log.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- connections --------------------------------------------------------- */

EdgeConn *
edge_conn_ref (EdgeConn *conn)
{
  g_atomic_int_inc (&conn->refs);
  return conn;
}

static void
outgoing_free (EdgeOutgoing *o)
{
  g_free (o->buffer);
  g_free (o);
}

void
edge_pending_free (EdgePending *p)
{
  if (p->owner != NULL)
    edge_budget_charge (-(int64_t) p->packet_len, p->owner);
  g_free (p->packet);
  g_free (p);
}

/* Any thread: the last reference frees; by then no worker holds it. */
void
edge_conn_unref (EdgeConn *conn)
{
  if (!g_atomic_int_dec_and_test (&conn->refs))
    return;
  ys_parser_free (conn->parser);
  edge_conn_clear_decoder (conn);
  g_queue_clear_full (&conn->pending, (GDestroyNotify) edge_pending_free);
  g_queue_clear_full (&conn->out_urgent, (GDestroyNotify) outgoing_free);
  g_queue_clear_full (&conn->out_normal, (GDestroyNotify) outgoing_free);
  g_free (conn->client_name);
  g_free (conn);
}

/* Any thread, lock held. */
void
edge_conn_queue_locked (EdgeConn *conn, const YsMessage *msg, gboolean urgent)
{
  size_t size = ys_message_size (msg);
  EdgeOutgoing *o;

  if (size == 0) {
    /* Our own bug (a field over a limit): said, never a silent loss. */
    edge_log (EDGE_LOG_ERROR,
        "%s: internal: a %s for frame %u is over the protocol's limits and "
        "was not sent",
        conn->peer, ys_msg_type_name (msg->header.type), msg->header.frame_id);
    return;
  }
  if (conn->closed)
    return;
  o = g_new0 (EdgeOutgoing, 1);
  o->buffer = g_malloc (LWS_PRE + size);
  o->length = ys_message_encode (msg, o->buffer + LWS_PRE);
  o->closes = msg->header.type == YS_MSG_ERROR;
  g_queue_push_tail (urgent ? &conn->out_urgent : &conn->out_normal, o);
  /* Counted here, bounded by the service thread: past send-queue-bytes it
   * stops reading this client (edge_guard.c), so nothing new arrives to
   * be answered. */
  conn->out_bytes += EDGE_OUTGOING_COST (o);
  edge_metrics_add (&conn->server->metrics.send_queue_bytes,
      (gint64) EDGE_OUTGOING_COST (o));
}

/* Lock held: the bookkeeping of a message leaving the send queue. */
static void
unqueued_locked (EdgeConn *conn, const EdgeOutgoing *o)
{
  conn->out_bytes -= EDGE_OUTGOING_COST (o);
  edge_metrics_add (&conn->server->metrics.send_queue_bytes,
      -(gint64) EDGE_OUTGOING_COST (o));
}

/* Any thread, lock held. */
void
edge_conn_drop_locked (EdgeConn *conn, const YsHeader *frame,
    YsDropReason reason, uint16_t extra_flags)
{
  YsMessage msg;

  memset (&msg, 0, sizeof (msg));
  msg.header = *frame;
  msg.header.type = YS_MSG_DROP;
  msg.header.flags = extra_flags;
  msg.u.drop.reason = reason;
  edge_metrics_add (&conn->server->metrics.dropped[reason], 1);
  edge_conn_queue_locked (conn, &msg, FALSE);
}

const char *
edge_conn_who (const EdgeConn *conn)
{
  return conn->client_name != NULL ? conn->client_name : "(no HELLO yet)";
}

/* Queues ERROR and stops reading: the connection closes once it is out.
 * Logged, because a person debugging a client wants to see why. */
void
edge_conn_send_error (EdgeConn *conn, YsErrorCode code, const char *text)
{
  EdgeServer *server = conn->server;
  YsMessage msg;

  edge_log (EDGE_LOG_INFO, "%s %s: closing: %s", conn->peer,
      edge_conn_who (conn), text);
  memset (&msg, 0, sizeof (msg));
  msg.header.type = YS_MSG_ERROR;
  msg.u.error.code = code;
  msg.u.error.text = ys_str_clip (ys_str (text), YS_MAX_ERROR_TEXT);
  if (code < EDGE_ERROR_CODES)
    edge_metrics_add (&server->metrics.errors_sent[code], 1);
  g_mutex_lock (&server->lock);
  edge_conn_queue_locked (conn, &msg, TRUE);
  g_mutex_unlock (&server->lock);
  conn->stop_reading = TRUE;
}

/* Constant time, so the token cannot be guessed byte by byte. */
static gboolean
token_matches (const char *expected, YsStr given)
{
  size_t n = strlen (expected);
  unsigned diff = (unsigned) (n ^ given.len);

  for (size_t i = 0; i < n; i++)
    diff |= (unsigned) expected[i]
        ^ (unsigned) (i < given.len ? given.ptr[i] : 0);
  return diff == 0;
}

gboolean
edge_codec_accepted (uint8_t codec)
{
  return codec == YS_CODEC_H264 || codec == YS_CODEC_MJPEG
      || codec == YS_CODEC_TENSOR;
}

/* The HELLO's codec list is the client's promise: FRAMEs use only those,
 * and one of them must be ours. */
static gboolean
hello_codecs_ok (EdgeConn *conn, const YsHello *h)
{
  gboolean any = FALSE;

  for (int i = 0; i < h->codec_count; i++)
    any |= edge_codec_accepted (h->codecs[i]);
  if (!any) {
    edge_conn_send_error (conn, YS_ERR_UNSUPPORTED,
        h->codec_count == 0
            ? "HELLO lists no codecs: list the ones the client sends (this "
              "server takes h264 = 1, mjpeg = 2 and tensor = 16)"
            : "HELLO lists no codec this server decodes: send h264 (1), "
              "mjpeg (2) or split tensors (16)");
    return FALSE;
  }
  memcpy (conn->hello_codecs, h->codecs, h->codec_count);
  conn->hello_codec_count = h->codec_count;
  return TRUE;
}

static void
on_hello (EdgeConn *conn, const YsMessage *m)
{
  EdgeServer *server = conn->server;
  const YsHello *h = &m->u.hello;
  char *wanted, *why = NULL;
  gint64 wait_ms;

  /* Only ever logged: kept escaped, so no name can forge a log line. */
  g_free (conn->client_name);
  conn->client_name = edge_log_escape (h->name.ptr, h->name.len, YS_MAX_NAME);
  if (server->config.token != NULL && h->token.len == 0) {
    edge_conn_send_error (conn, YS_ERR_UNAUTHORIZED,
        "this server needs a token: set the client's token property to the "
        "server's --token");
    return;
  }
  if (server->config.token != NULL) {
    /* Refused unchecked while the address waits: checking would tell a
     * guesser whether the guess was right. */
    if ((wait_ms = edge_guard_token_wait_ms (conn)) > 0) {
      why = g_strdup_printf ("too many wrong tokens from %s: HELLO refused "
                             "unchecked for %" G_GINT64_FORMAT " ms more "
                             "(--auth-backoff-ms)",
          conn->peer, wait_ms);
      edge_conn_send_error (conn, YS_ERR_UNAUTHORIZED, why);
      g_free (why);
      return;
    }
    if (!token_matches (server->config.token, h->token)) {
      edge_guard_token_checked (conn, FALSE);
      edge_conn_send_error (conn, YS_ERR_UNAUTHORIZED,
          "wrong token: set the client's token property to the server's "
          "--token");
      return;
    }
    edge_guard_token_checked (conn, TRUE);
  }
  wanted = g_strndup (h->model.ptr, h->model.len);
  if (wanted[0] != '\0' && strcmp (wanted, server->model->name) != 0) {
    char *text = g_strdup_printf ("this server runs model \"%s\", not \"%s\"; "
                                  "ask for it or leave the model empty",
        server->model->name, wanted);
    edge_conn_send_error (conn, YS_ERR_UNSUPPORTED, text);
    g_free (text);
    g_free (wanted);
    return;
  }
  g_free (wanted);
  if (!hello_codecs_ok (conn, h))
    return;
  if (!edge_guard_authenticate (conn, &why)) {
    edge_conn_send_error (conn, YS_ERR_SHUTDOWN, why);
    g_free (why);
    return;
  }
  conn->hello_done = TRUE;
  /* Known now: it may send frames as large as the server takes. */
  ys_parser_set_max_payload (conn->parser,
      (uint32_t) conn->server->config.max_message_bytes);
  conn->default_deadline_ms = h->deadline_ms;
  edge_log (EDGE_LOG_INFO, "%s %s: HELLO accepted (deadline %u ms)", conn->peer,
      edge_conn_who (conn), h->deadline_ms);

  g_mutex_lock (&server->lock);
  edge_conn_queue_hello_locked (conn, server->model, TRUE);
  g_mutex_unlock (&server->lock);
}

void
edge_conn_queue_hello_locked (EdgeConn *conn, const EdgeModel *model,
    gboolean urgent)
{
  EdgeServer *server = conn->server;
  YsMessage reply;

  memset (&reply, 0, sizeof (reply));
  reply.header.type = YS_MSG_HELLO;
  reply.header.flags = YS_FLAG_SERVER;
  reply.u.hello.name = ys_str (server->config.name);
  reply.u.hello.model = ys_str (model->name);
  reply.u.hello.codec_count = 4;
  reply.u.hello.codecs[0] = YS_CODEC_H264;
  reply.u.hello.codecs[1] = YS_CODEC_MJPEG;
  reply.u.hello.codecs[2] = YS_CODEC_TENSOR;
  reply.u.hello.codecs[3] = YS_CODEC_TENSOR_ZSTD;
  reply.u.hello.net_width = (uint16_t) model->net_width;
  reply.u.hello.net_height = (uint16_t) model->net_height;
  reply.u.hello.deadline_ms = (uint32_t) server->config.deadline_ms;
  reply.u.hello.queue_depth = (uint16_t) server->config.queue_depth;
  reply.u.hello.workers = (uint16_t) server->config.workers;
  reply.u.hello.label_count = (uint16_t) model->hello_label_count;
  reply.u.hello.labels = model->hello_labels;
  reply.u.hello.model_hash = model->hash;
  edge_conn_queue_locked (conn, &reply, urgent);
  conn->model_generation = model->generation;
  if (conn->told_hash != model->hash) {
    conn->previous_hash = conn->told_hash;
    conn->told_hash = model->hash;
  }
}

/* The parser's callback: one complete message. */
static bool
on_message (const YsMessage *m, void *user)
{
  EdgeConn *conn = user;
  YsMessage pong;

  switch (m->header.type) {
    case YS_MSG_HELLO:
      if (conn->hello_done)
        edge_conn_send_error (conn, YS_ERR_SEQUENCE,
            "a second HELLO on one connection");
      else
        on_hello (conn, m);
      break;
    case YS_MSG_FRAME: edge_conn_on_frame (conn, m); break;
    case YS_MSG_PING:
      /* Before HELLO, a PING would let anyone make the server write. */
      if (!conn->hello_done) {
        edge_conn_send_error (conn, YS_ERR_SEQUENCE,
            "PING before HELLO: send HELLO first (docs/PROTOCOL.md)");
        break;
      }
      memset (&pong, 0, sizeof (pong));
      pong.header = m->header;
      pong.header.type = YS_MSG_PONG;
      g_mutex_lock (&conn->server->lock);
      /* A client that does not read its PONGs gets no more of them. */
      if (edge_guard_send_full_locked (conn))
        edge_metrics_add (&conn->server->metrics.pings_ignored, 1);
      else
        edge_conn_queue_locked (conn, &pong, TRUE);
      g_mutex_unlock (&conn->server->lock);
      break;
    case YS_MSG_PONG: break;
    case YS_MSG_ERROR: {
      char *text = edge_log_escape (m->u.error.text.ptr, m->u.error.text.len,
          YS_MAX_ERROR_TEXT);
      edge_log (EDGE_LOG_INFO, "%s %s: client sent ERROR %u: %s", conn->peer,
          edge_conn_who (conn), m->u.error.code, text);
      g_free (text);
      /* It closes after its ERROR; we do not wait for that to free the
       * slot (edge_server.c closes once this read is done). */
      conn->stop_reading = TRUE;
      conn->close_now = TRUE;
      break;
    }
    default:
      edge_conn_send_error (conn, YS_ERR_SEQUENCE,
          "ACK, RESULT and DROP are server messages; a client must not send "
          "them");
      break;
  }
  return !conn->stop_reading;
}

void
edge_conn_on_receive (EdgeConn *conn, const uint8_t *in, size_t len,
    gboolean binary, gboolean final)
{
  const char *why = NULL;
  YsParseStatus s;
  char *text;

  if (conn->stop_reading)
    return;
  if (!binary) {
    edge_conn_send_error (conn, YS_ERR_MALFORMED,
        "text WebSocket message: yoloswitch.v2 messages are binary");
    return;
  }
  /* One protocol message per WebSocket message: its first bytes came now
   * if none of it had come before.  The parser holds the message until
   * the WebSocket message ends, so bytes after it (a second message, or a
   * payload_len that understates) fail it before it is acted on. */
  if (conn->message_first_us == 0)
    conn->message_first_us = g_get_monotonic_time ();
  s = ys_parser_feed (conn->parser, in, len, on_message, conn, &why);
  if (s == YS_PARSE_OK && final)
    s = ys_parser_end_unit (conn->parser, on_message, conn, &why);
  if (final)
    conn->message_first_us = 0;
  if (s == YS_PARSE_OK || s == YS_PARSE_STOPPED)
    return;
  if (s == YS_PARSE_TOO_LARGE && !conn->hello_done) {
    text = g_strdup_printf ("a large message before HELLO: until its HELLO "
                            "is accepted a client may send only a HELLO (%d "
                            "bytes at most); send HELLO first",
        EDGE_PRE_HELLO_MAX_PAYLOAD);
    edge_conn_send_error (conn, YS_ERR_SEQUENCE, text);
    g_free (text);
    return;
  }
  text = g_strdup_printf ("%s%s",
      s == YS_PARSE_NO_MEMORY ? "" : "malformed message: ", why);
  edge_conn_send_error (conn, ys_parse_error_code (s), text);
  g_free (text);
}

/* Writes one queued message; FALSE when the connection must close now. */
gboolean
edge_conn_write_one (EdgeConn *conn, struct lws *wsi)
{
  EdgeServer *server = conn->server;
  EdgeOutgoing *o;
  gboolean more, closes;

  g_mutex_lock (&server->lock);
  o = g_queue_pop_head (&conn->out_urgent);
  if (o == NULL)
    o = g_queue_pop_head (&conn->out_normal);
  if (o != NULL)
    unqueued_locked (conn, o);
  more = !g_queue_is_empty (&conn->out_urgent)
      || !g_queue_is_empty (&conn->out_normal);
  g_mutex_unlock (&server->lock);
  if (o == NULL)
    return TRUE;
  closes = o->closes;
  if (lws_write (wsi, o->buffer + LWS_PRE, o->length, LWS_WRITE_BINARY)
      < (int) o->length) {
    outgoing_free (o);
    return FALSE;
  }
  outgoing_free (o);
  if (closes) {
    lws_close_reason (wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
    return FALSE;
  }
  if (more)
    lws_callback_on_writable (wsi);
  return TRUE;
}

/* Lock held: the frames waiting, unanswered (the connection is going). */
static void
forget_pending_locked (EdgeConn *conn)
{
  g_atomic_int_add (&conn->server->metrics.queue_depth,
      -(gint) g_queue_get_length (&conn->pending));
  g_queue_clear_full (&conn->pending, (GDestroyNotify) edge_pending_free);
  conn->pending_bytes = 0;
}

void
edge_conn_give_back_memory (EdgeConn *conn)
{
  EdgeServer *server = conn->server;

  g_mutex_lock (&server->lock);
  conn->refused = TRUE; /* nothing more of it is decoded */
  forget_pending_locked (conn);
  if (!conn->decoding)
    edge_conn_clear_decoder (conn);
  g_mutex_unlock (&server->lock);
}

void
edge_conn_on_closed (EdgeConn *conn)
{
  EdgeServer *server = conn->server;

  g_mutex_lock (&server->lock);
  conn->closed = TRUE;
  conn->wsi = NULL;
  forget_pending_locked (conn);
  /* Nothing will be written any more: the queue's bytes are free now. */
  for (int i = 0; i < 2; i++) {
    GQueue *q = i == 0 ? &conn->out_urgent : &conn->out_normal;
    EdgeOutgoing *o;
    while ((o = g_queue_pop_head (q)) != NULL) {
      unqueued_locked (conn, o);
      outgoing_free (o);
    }
  }
  g_mutex_unlock (&server->lock);
  edge_guard_closed (conn);
  server->conns = g_list_remove (server->conns, conn);
  g_atomic_int_add (&server->metrics.clients, -1);
  edge_conn_unref (conn);
}
