/* Link estimates; see estimator.h for what each figure means. */
#include "estimator.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define WINDOW_US 1000000 /* bandwidth and throughput */
#define RTT_MIN_WINDOW_US 10000000
#define PATH_RTT_WINDOW_US 1000000
#define MIN_BUSY_US 50 /* below a kernel's timer slack: no sample */
#define SEGMENT_BYTES 1448 /* one TCP segment on an Ethernet path */
#define SPAN_MIN_BYTES (2 * SEGMENT_BYTES)

void
ys_est_init (YsLinkEstimator *e)
{
  memset (e, 0, sizeof (*e));
}

void
ys_est_sent (YsLinkEstimator *e, uint32_t frame_id, uint32_t bytes,
    int64_t sent_us)
{
  YsEstSent *s = &e->sent[frame_id % YS_EST_SENT_SLOTS];
  uint64_t ahead = 0;
  for (int i = 0; i < YS_EST_SENT_SLOTS; i++)
    if (e->sent[i].used)
      ahead += e->sent[i].bytes;
  s->bytes_ahead = ahead;
  s->frame_id = frame_id;
  s->bytes = bytes;
  s->sent_us = sent_us;
  s->used = true;
}

/* RFC 6298's smoothing: the variation moves faster than the mean, so a
 * path that just got longer widens the ACK timeout at its first sample. */
static void
smooth_rtt (YsLinkEstimator *e, int64_t rtt_us)
{
  if (rtt_us <= 0)
    return;
  if (e->rtt_us == 0) {
    e->rtt_us = (double) rtt_us;
    e->rtt_var_us = rtt_us / 2.0;
    return;
  }
  e->rtt_var_us += (fabs (e->rtt_us - (double) rtt_us) - e->rtt_var_us) / 4;
  e->rtt_us += ((double) rtt_us - e->rtt_us) / 8;
}

/* smooth: the sample also feeds the smoothed RTT, not only RTT_min. */
static void
add_rtt (YsLinkEstimator *e, int64_t now_us, int64_t rtt_us, bool smooth)
{
  int i = (e->rtt_head + e->rtt_count) % YS_EST_RTT_SAMPLES;

  if (rtt_us <= 0)
    return;
  if (e->rtt_count == YS_EST_RTT_SAMPLES) {
    e->rtt_head = (e->rtt_head + 1) % YS_EST_RTT_SAMPLES;
    e->rtt_count--;
  }
  e->rtts[i].at_us = now_us;
  e->rtts[i].rtt_us = rtt_us;
  e->rtt_count++;
  if (smooth)
    smooth_rtt (e, rtt_us);
}

static int64_t
rtt_min_within (const YsLinkEstimator *e, int64_t now_us, int64_t window_us)
{
  int64_t best = 0;

  for (int k = 0; k < e->rtt_count; k++) {
    int i = (e->rtt_head + k) % YS_EST_RTT_SAMPLES;
    if (now_us - e->rtts[i].at_us > window_us)
      continue;
    if (best == 0 || e->rtts[i].rtt_us < best)
      best = e->rtts[i].rtt_us;
  }
  return best;
}

double
ys_est_rtt_min_ms (const YsLinkEstimator *e, int64_t now_us)
{
  return rtt_min_within (e, now_us, RTT_MIN_WINDOW_US) / 1000.0;
}

/* The server's receive span of a frame (first byte to last) is its
 * transmit time through the bottleneck, whatever the round trip, but for
 * the first segment's own: scale it up by one segment.  A frame of one or
 * two segments has no usable span; its ACK still gives a round trip. */
static bool
span_usable (uint32_t bytes, uint32_t span_us)
{
  return span_us > 0 && bytes >= SPAN_MIN_BYTES;
}

void
ys_est_ack (YsLinkEstimator *e, uint32_t frame_id, uint32_t bytes,
    uint32_t span_us, int64_t now_us)
{
  YsEstSent *s = &e->sent[frame_id % YS_EST_SENT_SLOTS];
  int64_t delay_us, tx_us;
  int i;

  if (!s->used || s->frame_id != frame_id)
    return;
  s->used = false;
  delay_us = now_us - s->sent_us;
  /* The round trip is what is left of the ACK's delay once the transmit
   * the server saw (its receive span) is taken out, and only that: the
   * first segment's transmit is not in the span, but a token bucket (a
   * cellular or shaped link, tc tbf) passes the first segments of a frame
   * after a pause at line rate, so its share cannot be known here.  Taking
   * out more than the span (the span scaled up by one segment, or a small
   * frame's transmit at the estimate) gave round trips of 50 us on a
   * 20 ms link at 0.25-1 Mbit/s.  This sample is never below the path's
   * round trip (an ACK no later than its span, which only a wrong server
   * sends, gives none); a PONG's gives it exactly. */
  if (delay_us - (int64_t) span_us > MIN_BUSY_US)
    add_rtt (e, now_us, delay_us - (int64_t) span_us, true);
  if (!span_usable (bytes, span_us))
    return;
  tx_us = (int64_t) ((double) span_us * bytes / (bytes - SEGMENT_BYTES));
  tx_us = CLAMP (tx_us, MIN_BUSY_US, MAX (delay_us, MIN_BUSY_US));
  if (e->ack_count == YS_EST_SAMPLES) {
    e->ack_head = (e->ack_head + 1) % YS_EST_SAMPLES;
    e->ack_count--;
  }
  i = (e->ack_head + e->ack_count) % YS_EST_SAMPLES;
  e->acks[i].at_us = now_us;
  e->acks[i].bytes = bytes;
  e->acks[i].busy_us = tx_us;
  e->ack_count++;
}

void
ys_est_pong (YsLinkEstimator *e, int64_t ping_sent_us, int64_t now_us)
{
  add_rtt (e, now_us, now_us - ping_sent_us, true);
}

void
ys_est_result (YsLinkEstimator *e, uint32_t server_us)
{
  e->server_us = e->server_us == 0
      ? server_us
      : e->server_us + ((double) server_us - e->server_us) / 8;
}

static void
window_sums (const YsLinkEstimator *e, int64_t now_us, double *bits,
    double *busy_us)
{
  *bits = 0;
  *busy_us = 0;
  for (int k = 0; k < e->ack_count; k++) {
    const YsEstSample *a = &e->acks[(e->ack_head + k) % YS_EST_SAMPLES];
    if (now_us - a->at_us > WINDOW_US)
      continue;
    *bits += 8.0 * a->bytes;
    *busy_us += (double) a->busy_us;
  }
}

double
ys_est_bandwidth_bps (const YsLinkEstimator *e, int64_t now_us)
{
  double bits, busy_us;
  window_sums (e, now_us, &bits, &busy_us);
  return busy_us > 0 ? bits / (busy_us / 1e6) : 0;
}

double
ys_est_throughput_bps (const YsLinkEstimator *e, int64_t now_us)
{
  double bits, busy_us;
  window_sums (e, now_us, &bits, &busy_us);
  return bits / (WINDOW_US / 1e6);
}

double
ys_est_rtt_ms (const YsLinkEstimator *e)
{
  return e->rtt_us / 1000.0;
}

double
ys_est_path_rtt_ms (const YsLinkEstimator *e, int64_t now_us)
{
  return rtt_min_within (e, now_us, PATH_RTT_WINDOW_US) / 1000.0;
}

double
ys_est_last_bandwidth_bps (const YsLinkEstimator *e, int64_t now_us)
{
  const YsEstSample *a;
  if (e->ack_count == 0)
    return 0;
  a = &e->acks[(e->ack_head + e->ack_count - 1) % YS_EST_SAMPLES];
  if (now_us - a->at_us > WINDOW_US || a->busy_us <= 0)
    return 0;
  return 8.0 * a->bytes / (a->busy_us / 1e6);
}

double
ys_est_rtt_var_ms (const YsLinkEstimator *e)
{
  return e->rtt_var_us / 1000.0;
}

double
ys_est_server_ms (const YsLinkEstimator *e)
{
  return e->server_us / 1000.0;
}

void
ys_est_forget_sent (YsLinkEstimator *e)
{
  memset (e->sent, 0, sizeof (e->sent));
}

int64_t
ys_est_oldest_unacked_us (const YsLinkEstimator *e, uint64_t *bytes)
{
  int64_t oldest = 0;
  *bytes = 0;
  for (int i = 0; i < YS_EST_SENT_SLOTS; i++)
    if (e->sent[i].used && (oldest == 0 || e->sent[i].sent_us < oldest)) {
      oldest = e->sent[i].sent_us;
      *bytes = e->sent[i].bytes + e->sent[i].bytes_ahead;
    }
  return oldest;
}
