/* Link estimates; see estimator.h for what each figure means. */
#include "estimator.h"

#include <string.h>

#define WINDOW_US 1000000 /* bandwidth and throughput */
#define RTT_MIN_WINDOW_US 10000000
#define RECENT_RTT_WINDOW_US 2000000
#define MIN_BUSY_US 50 /* below a kernel's timer slack: no sample */

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
  s->frame_id = frame_id;
  s->bytes = bytes;
  s->sent_us = sent_us;
  s->used = true;
}

static void
smooth_rtt (YsLinkEstimator *e, int64_t rtt_us)
{
  if (rtt_us > 0)
    e->rtt_us = e->rtt_us == 0 ? rtt_us : e->rtt_us + (rtt_us - e->rtt_us) / 8;
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

/* The link starts on a frame when it was sent or, if it was still busy
 * with the one before, when that one's ACK came: back-to-back ACKs are
 * spaced by transmit times.  For a frame sent onto an idle link the ACK
 * delay holds a round trip besides the transmit time: take out rtt_min. */
void
ys_est_ack (YsLinkEstimator *e, uint32_t frame_id, uint32_t bytes,
    int64_t now_us)
{
  YsEstSent *s = &e->sent[frame_id % YS_EST_SENT_SLOTS];
  /* The round trip to take out of a busy time: the smallest of the last
   * couple of seconds, not of RTT_min's 10 s, so that a path that just got
   * longer is not read as a slower link. */
  int64_t rtt_min_us = rtt_min_within (e, now_us, RECENT_RTT_WINDOW_US);
  int64_t busy_us;
  int i;

  if (!s->used || s->frame_id != frame_id)
    return;
  s->used = false;
  if (e->last_ack_us > s->sent_us) {
    busy_us = now_us - e->last_ack_us;
  } else {
    double bps = ys_est_bandwidth_bps (e, now_us);
    int64_t delay_us = now_us - s->sent_us;
    busy_us = delay_us - rtt_min_us;
    /* The ACK delay bounds RTT_min.  For the smoothed RTT, take out the
     * frame's transmit time at the estimated bandwidth first (never below
     * RTT_min): a first keyframe's transmit is not network delay.  Not the
     * other way round: a low bandwidth estimate must not pull RTT_min
     * down, or busy times (and so the bandwidth) would shrink further. */
    add_rtt (e, now_us, delay_us, false);
    if (bps > 0) {
      int64_t rtt_us = delay_us - (int64_t) (8.0 * bytes / bps * 1e6);
      smooth_rtt (e, rtt_us > rtt_min_us ? rtt_us : rtt_min_us);
    }
  }
  e->last_ack_us = now_us;
  if (busy_us < MIN_BUSY_US)
    busy_us = MIN_BUSY_US;
  if (e->ack_count == YS_EST_SAMPLES) {
    e->ack_head = (e->ack_head + 1) % YS_EST_SAMPLES;
    e->ack_count--;
  }
  i = (e->ack_head + e->ack_count) % YS_EST_SAMPLES;
  e->acks[i].at_us = now_us;
  e->acks[i].bytes = bytes;
  e->acks[i].busy_us = busy_us;
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
ys_est_oldest_unacked_us (const YsLinkEstimator *e, uint32_t *bytes)
{
  int64_t oldest = 0;
  *bytes = 0;
  for (int i = 0; i < YS_EST_SENT_SLOTS; i++)
    if (e->sent[i].used && (oldest == 0 || e->sent[i].sent_us < oldest)) {
      oldest = e->sent[i].sent_us;
      *bytes = e->sent[i].bytes;
    }
  return oldest;
}
