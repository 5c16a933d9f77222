/* yoloswitch-edge counters, rendered as Prometheus text for /metrics.
 * Any thread updates them (atomics); the service thread renders. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_METRICS_H
#define YOLOSWITCH_OFFLOAD_EDGE_METRICS_H

#include "protocol.h"

#include <glib.h>

#define EDGE_DROP_REASONS 7 /* indexed by YsDropReason, 0 unused */
#define EDGE_ERROR_CODES 10 /* indexed by YsErrorCode, 0 unused */
#define EDGE_INFER_BUCKETS 10

/* Why the server closed a connection without an ERROR of its own. */
typedef enum {
  EDGE_CLOSE_HELLO_TIMEOUT,
  EDGE_CLOSE_EVICTED,
  EDGE_CLOSE_IDLE_TIMEOUT,
  EDGE_CLOSE_SEND_STALLED,
  EDGE_CLOSE_CLIENT_ERROR,
  EDGE_CLOSE_MEMORY_BUDGET,
  EDGE_CLOSE_UNMASKED, /* RFC 6455 5.1, edge_wire_check.c */
  EDGE_CLOSE_REASONS
} EdgeCloseReason;

/* Why a WebSocket upgrade was answered with an HTTP error. */
typedef enum {
  EDGE_REFUSE_SUBPROTOCOL,
  EDGE_REFUSE_DRAINING,
  EDGE_REFUSE_PER_ADDRESS,
  EDGE_REFUSE_UNAUTHENTICATED,
  EDGE_REFUSE_FULL,
  EDGE_REFUSE_REASONS
} EdgeRefuseReason;

const char *edge_close_reason_name (EdgeCloseReason reason);
const char *edge_refuse_reason_name (EdgeRefuseReason reason);

typedef struct {
  gint64 frames_received;
  gint64 bytes_received;
  gint64 frames_decoded;
  gint64 frames_skipped; /* answered, before a keyframe: never decoded */
  gint64 frames_inferred;
  gint64 dropped[EDGE_DROP_REASONS];
  gint64 errors_sent[EDGE_ERROR_CODES];
  gint64 connections_total;
  gint clients; /* open WebSocket connections */
  gint clients_unauthenticated; /* of those, still without a valid HELLO */
  gint64 closed[EDGE_CLOSE_REASONS];
  gint64 refused[EDGE_REFUSE_REASONS];
  gint64 auth_failures; /* wrong tokens */
  gint64 auth_throttled; /* HELLOs refused unchecked: the address waits */
  gint64 reading_paused; /* times a client's send queue filled */
  gint64 pings_ignored; /* PINGs not answered: the send queue was full */
  gint64 send_queue_bytes; /* gauge: answers queued, all clients */
  gint queue_depth; /* frames waiting for decoding or inference, all clients */
  /* inference time histogram, seconds */
  gint64 infer_bucket[EDGE_INFER_BUCKETS]; /* cumulative at render time */
  gint64 infer_count;
  gint64 infer_sum_us;
  gint64 decode_sum_us;

  /* The FRAME path's limits (edge_conn.c, edge_worker.c): frames refused
   * by each, whatever the wire answer (ERROR or DROP). */
  gint64 refused_pixels; /* over --max-frame-pixels */
  gint64 refused_size_mismatch; /* FRAME size is not the bitstream's */
  gint64 refused_pending_bytes; /* over --max-pending-bytes */
  gint64 refused_expected_finish; /* started in time, would finish late */
  gint64 refused_stuck; /* never came out of a reordering decoder */
  gint64 refused_unread; /* not analysed: the client's answers wait unread */
  gint64 pictures_reordered; /* came out after a later packet went in */

  /* Model swaps (edge_reload.c, SIGHUP): taken over, failed to load,
   * the same model again (nothing to do); the last load's time. */
  gint64 model_swaps;
  gint64 model_swaps_failed;
  gint64 model_swaps_unchanged;
  gint64 model_load_us; /* gauge */
  gint64 model_generation; /* gauge: 1 at start, + 1 per swap */

  /* The memory budget (edge_budget.c). */
  gint64 budget_limit; /* --memory-budget-bytes */
  gint64 budget_used; /* gauge: charged now */
  gint64 budget_refused; /* charges refused */
} EdgeMetrics;

void edge_metrics_add (gint64 *counter, gint64 n);
void edge_metrics_set (gint64 *gauge, gint64 value);
void edge_metrics_observe_inference (EdgeMetrics *m, gint64 infer_us);

/* Appends the Prometheus exposition of m to out. */
void edge_metrics_render (EdgeMetrics *m, int workers, GString *out);

#endif
