/* Link estimates for the offload path, from what the client sees: when
 * each FRAME went to the socket, when its ACK came back (the server sends
 * it from its I/O thread on arrival, so no server queueing is mixed in),
 * how long the frame took to arrive at the server (the ACK's receive
 * span), PING round trips and the server times in RESULTs.
 *
 *  bandwidth   bits/s the link delivers while busy: acked bytes over their
 *              receive spans (1 s sliding window).  The span does not
 *              depend on the round trip, so a longer path is never read as
 *              a slower link, nor a frame rate below the link's as its
 *              capacity;
 *  throughput  acked bits over the last second, busy or not;
 *  rtt_min     smallest round trip over the last 10 s (pings, and ACK
 *              delays minus each frame's receive span: never below the
 *              path's, whatever a token bucket does to the first bytes);
 *  rtt         smoothed round trip and its variation (RFC 6298, of the
 *              same samples: they include waits behind earlier frames);
 *  path_rtt    smallest round trip of the last second;
 *  server_ms   smoothed queue + decode + inference time of RESULTs.
 *
 * Plain C, no clock of its own: every call takes the time, so tests drive
 * it with a simulated clock.  Not thread-safe: the owner locks. */
#ifndef YOLOSWITCH_OFFLOAD_ESTIMATOR_H
#define YOLOSWITCH_OFFLOAD_ESTIMATOR_H

#include <stdbool.h>
#include <stdint.h>

#define YS_EST_SENT_SLOTS 256 /* frames in flight remembered */
#define YS_EST_SAMPLES 512 /* ACKs within the bandwidth window */
#define YS_EST_RTT_SAMPLES 128 /* RTT samples within the rtt_min window */

typedef struct {
  uint32_t frame_id;
  uint32_t bytes;
  uint64_t bytes_ahead; /* unacked when it was sent: it queued behind them */
  int64_t sent_us;
  bool used;
} YsEstSent;

typedef struct {
  int64_t at_us;
  uint32_t bytes;
  int64_t busy_us;
} YsEstSample;

typedef struct {
  YsEstSent sent[YS_EST_SENT_SLOTS];
  YsEstSample acks[YS_EST_SAMPLES];
  int ack_head, ack_count;
  struct {
    int64_t at_us, rtt_us;
  } rtts[YS_EST_RTT_SAMPLES];
  int rtt_head, rtt_count;
  double rtt_us; /* smoothed; 0 before the first sample */
  double rtt_var_us; /* its mean deviation */
  double server_us; /* smoothed; 0 before the first RESULT */
} YsLinkEstimator;

void ys_est_init (YsLinkEstimator *e);
void ys_est_sent (YsLinkEstimator *e, uint32_t frame_id, uint32_t bytes,
    int64_t sent_us);
/* span_us: the ACK's receive span (0: none). */
void ys_est_ack (YsLinkEstimator *e, uint32_t frame_id, uint32_t bytes,
    uint32_t span_us, int64_t now_us);
void ys_est_pong (YsLinkEstimator *e, int64_t ping_sent_us, int64_t now_us);
void ys_est_result (YsLinkEstimator *e, uint32_t server_us);
/* The connection went away: frames sent on it will never be acked. */
void ys_est_forget_sent (YsLinkEstimator *e);

double ys_est_bandwidth_bps (const YsLinkEstimator *e, int64_t now_us);
double ys_est_throughput_bps (const YsLinkEstimator *e, int64_t now_us);
double ys_est_rtt_ms (const YsLinkEstimator *e);
double ys_est_rtt_var_ms (const YsLinkEstimator *e);
/* The smallest round trip of the last second (0: none): the path's own,
 * without the queue a too-big configuration built, yet following a path
 * that got longer within a second. */
double ys_est_path_rtt_ms (const YsLinkEstimator *e, int64_t now_us);
/* What the last frame with a usable span measured (0: none within 1 s). */
double ys_est_last_bandwidth_bps (const YsLinkEstimator *e, int64_t now_us);
double ys_est_rtt_min_ms (const YsLinkEstimator *e, int64_t now_us);
double ys_est_server_ms (const YsLinkEstimator *e);
/* Send time of the oldest frame still waiting for its ACK (0: none) and
 * the bytes the link had to carry for it: its own and those still unacked
 * ahead of it when it was sent (a frame right after a keyframe waits for
 * it).  The switcher's stall detector: a link that stops acking is gone
 * long before TCP says so, but a big frame on a slow link is acked only
 * once it is through. */
int64_t ys_est_oldest_unacked_us (const YsLinkEstimator *e, uint64_t *bytes);

#endif
