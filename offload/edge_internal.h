/* Internal to yoloswitch-edge: the state shared between the service thread
 * (edge_server.c) and the inference workers (edge_worker.c).
 *
 * Locking: one server-wide mutex, `lock`, guards every field marked
 * "locked" below.  Nothing slow runs under it: decoding and inference
 * happen after the worker took its frames out of the queue. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_EDGE_INTERNAL_H

#include "decoder.h"
#include "edge_config.h"
#include "edge_metrics.h"
#include "edge_server.h"
#include "edge_throttle.h"
#include "protocol.h"
#include "yolo.h"

#include <glib.h>

/* A FRAME waiting for a worker. */
typedef struct {
  YsHeader header; /* of the FRAME: echoed in its ACK, RESULT or DROP */
  uint8_t codec;
  gboolean keyframe;
  uint8_t *packet;
  uint32_t packet_len;
  gint64 receive_us; /* monotonic */
  gint64 deadline_us; /* inference must start before this */
  gboolean dropped; /* DROP already sent: decode only, as a reference */
} EdgePending;

/* A message to send, with libwebsockets' LWS_PRE bytes of headroom. */
typedef struct {
  uint8_t *buffer;
  size_t length; /* after the headroom */
  gboolean closes; /* an ERROR: close the connection once it is written */
} EdgeOutgoing;

/* What one queued message counts against --send-queue-bytes: its bytes
 * and its bookkeeping, so a flood of small PONGs is counted near what it
 * really takes. */
#define EDGE_OUTGOING_COST(o)                                                  \
  ((gsize) LWS_PRE + (o)->length + sizeof (EdgeOutgoing) + sizeof (GList))

/* WebSocket close codes of the server's own closes (docs/PROTOCOL.md):
 * after an ERROR it sent 1008, after the client's ERROR 1000. */
#define EDGE_CLOSE_CODE_HELLO_TIMEOUT 4001
#define EDGE_CLOSE_CODE_IDLE_TIMEOUT 4002
#define EDGE_CLOSE_CODE_SEND_STALLED 4003

typedef struct EdgeConn EdgeConn;

struct EdgeConn {
  gint refs; /* atomic: the service thread's, one per queued schedule */
  EdgeServer *server;
  struct lws *wsi; /* service thread only; NULL once closed */
  char peer[64];
  char *client_name; /* from HELLO */
  YsParser *parser; /* service thread only */
  gboolean hello_done; /* service thread only */
  guint32 default_deadline_ms; /* service thread only */
  gboolean stop_reading; /* service thread only: an ERROR is on its way */
  /* service thread only: when the first bytes of the WebSocket message
   * being received came, for the ACK's receive span; 0 between messages */
  gint64 message_first_us;

  /* Connection limits (edge_guard.c), service thread only. */
  gint64 established_us;
  gint64 last_rx_us; /* any bytes: the idle timeout */
  gint64 full_since_us; /* the send queue filled; 0 while it has room */
  gboolean reading_paused; /* lws_rx_flow_control off */
  gboolean authenticated; /* counted under max-clients, not unauthenticated */
  gboolean evicted; /* no HELLO yet, and a newer connection took its slot */
  gboolean close_now; /* the client sent ERROR: close after this read */

  /* locked */
  gsize out_bytes; /* out_urgent + out_normal, EDGE_OUTGOING_COST each */
  GQueue pending; /* EdgePending *, oldest first */
  GQueue out_urgent; /* HELLO, ACK, PONG, ERROR: ahead of results */
  GQueue out_normal; /* RESULT, DROP */
  gboolean scheduled; /* in server->ready */
  gboolean decoding; /* a worker owns `decoder` and decodes */
  gboolean closed; /* the socket is gone: results are discarded */
  gboolean skip_to_keyframe; /* frames were lost: wait for a keyframe */

  YsDecoder *decoder; /* owned by the worker that set `decoding` */
};

typedef struct EdgeWorker EdgeWorker;

struct EdgeServer {
  EdgeConfig config;
  struct lws_context *context;
  int port;
  EdgeMetrics metrics;
  char *model_name;
  int net_width, net_height;

  GMutex lock;
  GCond work; /* signalled when `ready` gains a client or on stop */
  GQueue ready; /* locked: EdgeConn * with frames and no worker decoding */
  int busy_workers; /* locked */
  gboolean stopping; /* locked: workers exit */
  GList *conns; /* service thread only: every open connection */
  int unauthenticated, authenticated; /* service thread only: of conns */
  int evicting; /* service thread only: of unauthenticated, being closed */
  EdgeThrottle *throttle; /* service thread only: wrong tokens */

  EdgeWorker *workers;
  gint stop_requested; /* atomic; set from a signal handler */
  gint64 drain_deadline_us; /* service thread only; 0 while serving */
};

/* ---- edge_server.c ---- */
/* edge_conn.c, service thread: bytes of a WebSocket message arrived;
 * the connection may be written to; it closed. */
void edge_conn_on_receive (EdgeConn *conn, const uint8_t *in, size_t len,
    gboolean binary, gboolean final);
gboolean edge_conn_write_one (EdgeConn *conn, struct lws *wsi);
void edge_conn_on_closed (EdgeConn *conn);
EdgeConn *edge_conn_ref (EdgeConn *conn);
void edge_conn_unref (EdgeConn *conn);

/* Any thread, lock held: queues a message for the connection (dropped if
 * it closed).  The caller wakes the service thread afterwards with
 * lws_cancel_service() when it is not the service thread. */
void edge_conn_queue_locked (EdgeConn *conn, const YsMessage *msg,
    gboolean urgent);

/* Any thread, lock held: DROP for a frame, counted. */
void edge_conn_drop_locked (EdgeConn *conn, const YsHeader *frame,
    YsDropReason reason, uint16_t extra_flags);

void edge_pending_free (EdgePending *pending);

/* ---- edge_guard.c: what a connection may hold, service thread ---- */
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on; 1 when it
 * was answered with an HTTP error (subprotocol, capacity, draining). */
int edge_guard_confirm_upgrade (EdgeServer *server, struct lws *wsi,
    const char *upgrade);
/* A WebSocket connection was set up / closed: counts, timers. */
void edge_guard_established (EdgeConn *conn);
void edge_guard_closed (EdgeConn *conn);
/* HELLO with a token: 0, or the ms the address must still wait (the token
 * is then not checked); then the outcome of the check. */
gint64 edge_guard_token_wait_ms (EdgeConn *conn);
void edge_guard_token_checked (EdgeConn *conn, gboolean right);
/* A valid HELLO: moves the connection under max-clients; FALSE (and a
 * sentence in *why, to free) when that is full. */
gboolean edge_guard_authenticate (EdgeConn *conn, char **why);
/* LWS_CALLBACK_TIMER: FALSE when the connection must close now (its close
 * code and reason are set). */
gboolean edge_guard_on_timer (EdgeConn *conn, struct lws *wsi);
/* After reading or writing: stops or resumes reading from the client as
 * its send queue fills and empties. */
void edge_guard_update_flow (EdgeConn *conn, struct lws *wsi);
/* Lock held: TRUE while the send queue is at its limit (PINGs unanswered). */
gboolean edge_guard_send_full_locked (const EdgeConn *conn);

/* ---- edge_worker.c ---- */
gboolean edge_workers_start (EdgeServer *server, GError **error);
void edge_workers_stop (EdgeServer *server);

/* Lock held: puts a connection with pending frames on the ready queue
 * unless it is there or being decoded. */
void edge_schedule_locked (EdgeServer *server, EdgeConn *conn);

#endif
