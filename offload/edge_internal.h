/* Internal to yoloswitch-edge: the state shared between the service thread
 * (edge_server.c) and the inference workers (edge_worker.c).
 *
 * Locking: one server-wide mutex, `lock`, guards every field marked
 * "locked" below.  Nothing slow runs under it: decoding and inference
 * happen after the worker took its frames out of the queue. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_EDGE_INTERNAL_H

#include "decoder.h"
#include "edge_budget.h"
#include "edge_config.h"
#include "edge_metrics.h"
#include "edge_model.h"
#include "edge_server.h"
#include "edge_throttle.h"
#include "protocol.h"
#include "yolo.h"

#include <glib.h>

typedef struct EdgeConn EdgeConn;

/* Recent inference times, a ring: their median is what a frame is
 * expected to take (the deadline check, edge_worker.c). */
#define EDGE_RECENT_TIMES 15
typedef struct {
  gint64 us[EDGE_RECENT_TIMES];
  int count, next;
} EdgeRecentTimes;

/* A FRAME waiting for a worker, then (H.264 with B-frames) for its
 * picture to come out of the decoder. */
typedef struct {
  YsHeader header; /* of the FRAME: echoed in its ACK, RESULT or DROP */
  uint8_t codec;
  gboolean keyframe;
  uint16_t width,
      height; /* the FRAME header's, checked against the bitstream */
  uint8_t *packet;
  uint32_t packet_len;
  gint64 receive_us; /* monotonic */
  gint64 deadline_us; /* inference must finish before this */
  gboolean dropped; /* DROP already sent: decode only, as a reference */
  gint64 decode_seq; /* the decoder's tag for it (its pts), once sent */
  gint64 decode_us; /* time its packet took to decode */
  EdgeConn *owner; /* charged for `packet` (edge_budget.c) */
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
#define EDGE_CLOSE_CODE_MEMORY_BUDGET 4004

/* The largest message before HELLO: a HELLO is a few hundred bytes, and a
 * stranger must not make the server buffer --max-message-bytes before
 * saying who it is. */
#define EDGE_PRE_HELLO_MAX_PAYLOAD 16384

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
  gboolean unmasked; /* it sent an unmasked frame: close with 1002 */

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

  /* The FRAME path (edge_conn.c receive side, edge_worker.c). */
  /* locked: packet bytes of the frames in `pending` */
  gint64 pending_bytes;
  /* locked: a worker refused the client (ERROR queued): nothing more of
   * it is decoded */
  gboolean refused;
  /* owned with `decoder`: frames whose packets the decoder took and whose
   * pictures have not come out yet (reordering), oldest first; the
   * decoder's tag of the next packet */
  GQueue in_decoder;
  gint64 next_seq;
  gint64 last_packet_us; /* with `decoder`: when the last packet went in */
  /* with `decoder`: when the last one decoded had arrived, and the usual
   * gap between arrivals (edge_decode.c: when a silent client is drained) */
  gint64 last_receive_us, packet_gap_us;
  guint keyframe_waits; /* with `decoder`: packets refused in a row, no IDR */
  /* locked: when a worker drains the decoder of a client that stopped
   * sending while pictures were held (0: not due); whether the client is
   * on the server's `drains` list */
  gint64 drain_at_us;
  gboolean drain_listed;
  /* locked: the generation of the model the client was last told of in
   * a HELLO (0: none yet); a RESULT of another is not sent */
  guint model_generation;
  /* service thread only: the hash of that model, and of the one it was
   * told of before (0: none): a split FRAME cut from that one, sent
   * before the client saw the swap, is DROP model-changed, not an ERROR */
  guint64 told_hash, previous_hash;
  /* service thread only: the HELLO's codec list */
  uint8_t hello_codecs[YS_MAX_CODECS];
  uint8_t hello_codec_count;
  guint backlog_logged; /* service thread only: DROP backlog lines logged */

  /* The memory budget (edge_budget.c), under server->budget_lock: what
   * this connection holds of it; chosen to be closed to give it back. */
  gint64 budget_charged;
  gboolean budget_victim;
};

typedef struct EdgeWorker EdgeWorker;

struct EdgeServer {
  EdgeConfig config;
  struct lws_context *context;
  int port;
  EdgeMetrics metrics;
  /* The model clients are told of (HELLO) and split FRAMEs are checked
   * against (a packet names its hash and a cut in 1 .. layer_count - 1).
   * Replaced by the service thread only (edge_reload.c), under `lock`:
   * the service thread reads it without, workers under `lock`. */
  EdgeModel *model;
  /* A reload (SIGHUP, edge_reload.c): asked for (atomic, from the signal
   * handler); its loader thread; what it loaded (locked: the model, or
   * why not, and whether it ended); asked again while loading. */
  gint reload_requested;
  gint reload_cancel; /* atomic: stopping, the load ends */
  GThread *reload_thread;
  EdgeModel *reload_loaded;
  char *reload_error;
  gboolean reload_done;
  gboolean reload_again;
  /* GET /models (edge_http.c); NULL: --catalog-dir none */
  struct EdgeCatalog *catalog;
  int downloads; /* service thread only: model files being sent */
  GHashTable *downloads_by_peer; /* service thread only: address -> count */

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
  /* locked: EdgeConn * (a reference each) with a decoder drain to do at
   * their drain_at_us, see edge_worker.c */
  GQueue drains;
  gint stop_requested; /* atomic; set from a signal handler */
  gint64 drain_deadline_us; /* service thread only; 0 while serving */

  /* The memory budget all clients share (edge_budget.c): its own lock,
   * taken alone, for what is charged, by how many connections, and
   * whether a charge went past the budget (victims to close). */
  GMutex budget_lock;
  gint64 budget_used;
  gint64 budget_wanted; /* refused under rule 2: room to make */
  int budget_holders;
  gboolean budget_over;
};

/* ---- edge_server.c ---- */
/* edge_conn.c, service thread: bytes of a WebSocket message arrived;
 * the connection may be written to; it closed. */
void edge_conn_on_receive (EdgeConn *conn, const uint8_t *in, size_t len,
    gboolean binary, gboolean final);
gboolean edge_conn_write_one (EdgeConn *conn, struct lws *wsi);
void edge_conn_on_closed (EdgeConn *conn);
/* edge_conn.c, service thread: the client's name for log lines; ERROR
 * queued and reading stopped (the connection closes once it is out). */
const char *edge_conn_who (const EdgeConn *conn);
void edge_conn_send_error (EdgeConn *conn, YsErrorCode code, const char *text);
/* Whether this server takes FRAMEs of the codec (decodes video, finishes
 * split tensors). */
gboolean edge_codec_accepted (uint8_t codec);
/* edge_frame_in.c, service thread: a FRAME arrived. */
void edge_conn_on_frame (EdgeConn *conn, const YsMessage *m);
/* Service thread, a connection being closed for the memory budget: its
 * waiting frames and (unless a worker is decoding it) its decoder are
 * freed now, not when the client answers the close. */
void edge_conn_give_back_memory (EdgeConn *conn);
EdgeConn *edge_conn_ref (EdgeConn *conn);
void edge_conn_unref (EdgeConn *conn);

/* Any thread, lock held: queues a message for the connection (dropped if
 * it closed).  The caller wakes the service thread afterwards with
 * lws_cancel_service() when it is not the service thread. */
void edge_conn_queue_locked (EdgeConn *conn, const YsMessage *msg,
    gboolean urgent);

/* Lock held: the server's HELLO for model, to the client (urgent: ahead
 * of RESULTs, the first one; else in order with them, a model change),
 * which from then on gets RESULTs of that model only. */
void edge_conn_queue_hello_locked (EdgeConn *conn, const EdgeModel *model,
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
/* An unmasked frame came (edge_wire_check.c): closed from its timer. */
void edge_guard_refuse_unmasked (EdgeConn *conn);
/* After reading or writing: stops or resumes reading from the client as
 * its send queue fills and empties. */
void edge_guard_update_flow (EdgeConn *conn, struct lws *wsi);
/* Lock held: TRUE while the send queue is at its limit (PINGs unanswered). */
gboolean edge_guard_send_full_locked (const EdgeConn *conn);

/* ---- edge_worker.c ---- */
void edge_recent_note (EdgeRecentTimes *recent, gint64 us);
/* The median, or 0 until there are three. */
gint64 edge_recent_median (const EdgeRecentTimes *recent);

gboolean edge_workers_start (EdgeServer *server, GError **error);
void edge_workers_stop (EdgeServer *server);

/* ---- edge_reload.c: SIGHUP loads the model again (edge_model.h) ---- */
/* Any thread, signal handlers included. */
void edge_reload_request (EdgeServer *server);
/* Service thread, each round: starts a requested load; puts a loaded
 * model in place, telling every client. */
void edge_reload_poll (EdgeServer *server);
/* Main thread, at free: waits for a load running. */
void edge_reload_stop (EdgeServer *server);

/* Lock held: puts a connection with pending frames on the ready queue
 * unless it is there or being decoded. */
void edge_schedule_locked (EdgeServer *server, EdgeConn *conn);

/* ---- edge_decode.c: a worker that owns conn's decoder (conn->decoding) ---- */

/* The decoder and the frames held in it; the last unref calls it. */
void edge_conn_clear_decoder (EdgeConn *conn);

/* No lock held: ERROR for what the client sends (a stream it must
 * change): the connection closes once it is out, nothing more of it is
 * analysed. */
void edge_conn_refuse (EdgeConn *conn, YsErrorCode code, const char *text);

/* No lock held: a DROP for p unless one was sent. */
void edge_drop_once (EdgeConn *conn, EdgePending *p, YsDropReason reason,
    uint16_t flags);

/* A live frame whose picture came out, in *picture; takes p. */
typedef void (*EdgeLiveFunc) (EdgeConn *conn, EdgePending *p, void *user);

/* Sends the batch to the decoder (decode-only references, then the one
 * live frame at its end) and empties it; returns the frame of the newest
 * live picture that came out, that picture in *picture, or NULL. */
EdgePending *edge_decode_batch (EdgeConn *conn, GQueue *batch,
    YsPicture *picture);

/* When frames held in the decoder need a worker (0: no live one is
 * held): the client went silent (then edge_decode_drain drains the
 * decoder and hands on every picture), or one of them can no longer end
 * in time (then it gets DROP deadline). */
gint64 edge_decode_drain_due (const EdgeConn *conn, gint64 expected_us);
void edge_decode_drain (EdgeConn *conn, YsPicture *picture,
    EdgeLiveFunc on_live, void *user, gint64 expected_us);

/* ---- edge_split.c: split FRAMEs (codec 16), one per worker ---- */
typedef struct EdgeSplit EdgeSplit;
/* For the worker's model, whose yolo_model_hash() is hash. */
EdgeSplit *edge_split_new (YoloModel *model, guint64 hash);
void edge_split_free (EdgeSplit *split);
/* The tail times at p's cut. */
EdgeRecentTimes *edge_split_recent (EdgeSplit *split, const EdgePending *p);
/* Worker thread, no lock: p's handover dequantized (p->decode_us) and the
 * tail run into dets; FALSE when p got DROP or the client ERROR instead. */
gboolean edge_split_finish (EdgeSplit *split, EdgeConn *conn, EdgePending *p,
    const YoloInferOptions *options, YoloDetections *dets);

#endif
