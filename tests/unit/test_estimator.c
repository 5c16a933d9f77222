/* The link estimator on simulated links: a bottleneck of known bandwidth
 * and delay, frames sent pipelined or on an idle link, pings between. */
#include <glib.h>

#include "estimator.h"

typedef struct {
  double bps; /* bottleneck bandwidth */
  int64_t one_way_us; /* propagation delay each way */
  int64_t link_free_us; /* when the bottleneck finishes its queue */
} Link;

#define SEGMENT 1448

/* Sends `bytes` at t; returns when the ACK arrives back and sets *span_us
 * to what the server sees between the first segment and the last. */
static int64_t
link_send (Link *l, int64_t t, uint32_t bytes, uint32_t *span_us)
{
  int64_t start = MAX (t, l->link_free_us);
  int64_t tx = (int64_t) (bytes * 8.0 / l->bps * 1e6);
  int64_t first = (int64_t) (MIN (bytes, SEGMENT) * 8.0 / l->bps * 1e6);
  l->link_free_us = start + tx;
  *span_us = (uint32_t) (tx - first);
  return l->link_free_us + 2 * l->one_way_us;
}

/* Runs `frames` frames of `bytes` every period_us from start_us with a
 * ping every 500 ms; events are processed in time order. */
static void
simulate_from (YsLinkEstimator *e, Link *l, int64_t start_us, int frames,
    uint32_t bytes, int64_t period_us, int64_t *end_us)
{
  int64_t acks[4096];
  uint32_t spans[4096];
  g_assert_cmpint (frames, <=, 4096);
  for (int i = 0; i < frames; i++) {
    int64_t t = start_us + i * period_us;
    ys_est_sent (e, (uint32_t) i, bytes, t);
    acks[i] = link_send (l, t, bytes, &spans[i]);
    /* Deliver every ACK that arrived before the next send. */
    for (int k = 0; k <= i; k++)
      if (acks[k] >= 0 && acks[k] <= t + period_us) {
        ys_est_ack (e, (uint32_t) k, bytes, spans[k], acks[k]);
        acks[k] = -1;
      }
    if (i % (int) (500000 / period_us) == 0)
      ys_est_pong (e, t, t + 2 * l->one_way_us);
  }
  *end_us = start_us + frames * period_us;
  for (int k = 0; k < frames; k++)
    if (acks[k] >= 0) {
      ys_est_ack (e, (uint32_t) k, bytes, spans[k], acks[k]);
      *end_us = MAX (*end_us, acks[k]);
    }
}

static void
simulate (YsLinkEstimator *e, Link *l, int frames, uint32_t bytes,
    int64_t period_us, int64_t *end_us)
{
  simulate_from (e, l, 0, frames, bytes, period_us, end_us);
}

static void
test_saturated_link (void)
{
  YsLinkEstimator e;
  Link l = { 4e6, 25000, 0 };
  int64_t end;

  ys_est_init (&e);
  /* 20 kB at 30 frames/s needs 4.8 Mbit/s: the link is always busy. */
  simulate (&e, &l, 90, 20000, 33333, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, end), 4e6, 0.4e6);
  g_assert_cmpfloat_with_epsilon (ys_est_rtt_min_ms (&e, end), 50, 1);
  /* Throughput: what came through in the last second, the bandwidth. */
  g_assert_cmpfloat_with_epsilon (ys_est_throughput_bps (&e, end), 4e6, 0.5e6);
}

static void
test_idle_link (void)
{
  YsLinkEstimator e;
  Link l = { 4e6, 25000, 0 };
  int64_t end;

  ys_est_init (&e);
  /* 5 kB at 10 frames/s: 10 ms of a 100 ms period.  The bandwidth is
   * still the link's, the throughput what was sent. */
  simulate (&e, &l, 30, 5000, 100000, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, end), 4e6, 0.4e6);
  g_assert_cmpfloat_with_epsilon (ys_est_throughput_bps (&e, end), 400e3, 60e3);
  g_assert_cmpfloat_with_epsilon (ys_est_rtt_ms (&e), 50, 15);
}

static void
test_windows_expire_and_server_time (void)
{
  YsLinkEstimator e;
  Link l = { 1e6, 10000, 0 };
  int64_t end;

  ys_est_init (&e);
  simulate (&e, &l, 10, 10000, 100000, &end);
  g_assert_cmpfloat (ys_est_bandwidth_bps (&e, end), >, 0);
  /* Nothing acked for 2 s: no bandwidth figure rather than a stale one;
   * after 11 s no rtt_min either. */
  g_assert_cmpfloat (ys_est_bandwidth_bps (&e, end + 2000000), ==, 0);
  g_assert_cmpfloat (ys_est_rtt_min_ms (&e, end + 11000000), ==, 0);
  /* An ACK for a frame never sent is ignored. */
  ys_est_ack (&e, 9999, 100, 0, end + 1);
  g_assert_cmpfloat (ys_est_bandwidth_bps (&e, end + 2000000), ==, 0);
  ys_est_result (&e, 20000);
  for (int i = 0; i < 40; i++)
    ys_est_result (&e, 10000);
  g_assert_cmpfloat_with_epsilon (ys_est_server_ms (&e), 10, 0.1);
}

/* A round trip longer than the frame period: every frame is sent before
 * the previous one is acked, yet the link is mostly idle.  The bandwidth
 * is the link's, not the frame rate's (an ACK-spacing estimate reads
 * 2 Mbit/s here, and a controller with headroom then steps down for
 * ever). */
static void
test_long_path_is_not_a_slow_link (void)
{
  YsLinkEstimator e;
  Link l = { 8e6, 75000, 0 };
  int64_t end;

  ys_est_init (&e);
  simulate (&e, &l, 50, 25000, 100000, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, end), 8e6, 0.8e6);
  g_assert_cmpfloat_with_epsilon (ys_est_rtt_min_ms (&e, end), 150, 2);
}

/* The path grows from 20 to 150 ms mid-run: the bandwidth estimate does
 * not move, the round trip follows, and TCP's timeout (srtt + 4 var) is
 * past the new round trip from the first long sample on. */
static void
test_round_trip_jump (void)
{
  YsLinkEstimator e;
  Link l = { 8e6, 10000, 0 };
  int64_t end, first_ack;
  uint32_t span;

  ys_est_init (&e);
  simulate (&e, &l, 30, 25000, 100000, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, end), 8e6, 0.8e6);
  l.one_way_us = 75000;
  ys_est_sent (&e, 1000, 25000, end);
  first_ack = link_send (&l, end, 25000, &span);
  ys_est_ack (&e, 1000, 25000, span, first_ack);
  g_assert_cmpfloat (ys_est_rtt_ms (&e) + 4 * ys_est_rtt_var_ms (&e), >=, 150);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, first_ack), 8e6,
      0.8e6);
  simulate_from (&e, &l, first_ack, 30, 25000, 100000, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_bandwidth_bps (&e, end), 8e6, 0.8e6);
  g_assert_cmpfloat_with_epsilon (ys_est_rtt_ms (&e), 150, 10);
}

/* Frames too big for the link build a queue: the smoothed RTT holds it
 * long after, the path's RTT (smallest of the last second) is back to the
 * propagation delay a second after the frames fit again.  The last frame's
 * own figure is the link's. */
static void
test_path_rtt_forgets_the_queue (void)
{
  YsLinkEstimator e;
  Link l = { 2e6, 10000, 0 };
  int64_t end;

  ys_est_init (&e);
  /* 50 kB at 10 frames/s on 2 Mbit/s: 200 ms each, the queue grows. */
  simulate (&e, &l, 20, 50000, 100000, &end);
  g_assert_cmpfloat (ys_est_rtt_ms (&e), >, 300);
  g_assert_cmpfloat_with_epsilon (ys_est_last_bandwidth_bps (&e, end), 2e6,
      0.1e6);
  /* Then 5 kB frames (20 ms each) once the queue has drained. */
  l.link_free_us = 0;
  simulate_from (&e, &l, end, 15, 5000, 100000, &end);
  g_assert_cmpfloat_with_epsilon (ys_est_path_rtt_ms (&e, end), 20, 1);
  g_assert_cmpfloat (ys_est_rtt_ms (&e), >, 30);
}

/* A token bucket in front of the bottleneck (tc tbf, a cellular uplink):
 * after a pause the first `burst` bytes go at line rate, the rest at the
 * rate, so the server's span holds nearly the whole transmit and the ACK
 * comes a round trip after it.  With no pings, the round trips come only
 * from ACKs, and none may be below the path's 20 ms (a span scaled up by a
 * segment, or a small frame's transmit at the estimate, gave 50 us). */
static void
test_token_bucket_keeps_the_round_trip (void)
{
  const double bps = 250e3;
  const int64_t one_way = 10000, burst = 2 * SEGMENT;
  YsLinkEstimator e;
  int64_t t = 0;

  ys_est_init (&e);
  for (int i = 0; i < 60; i++) {
    /* Alternating one-segment and nine-kilobyte frames, 10 a second. */
    uint32_t bytes = i % 3 == 0 ? 9229 : 1386;
    int64_t rest = MAX (0, (int64_t) bytes - burst);
    int64_t tx = (int64_t) (rest * 8.0 / bps * 1e6);
    int64_t first = 200; /* the first segment, at line rate */
    uint32_t span = (uint32_t) (bytes > SEGMENT ? tx + 100 : 3);
    ys_est_sent (&e, (uint32_t) i, bytes, t);
    ys_est_ack (&e, (uint32_t) i, bytes, span, t + first + tx + 2 * one_way);
    t += MAX (100000, tx + 2 * one_way + 1000);
    g_assert_cmpfloat (ys_est_rtt_min_ms (&e, t), >=, 20);
    g_assert_cmpfloat (ys_est_path_rtt_ms (&e, t), >=, 20);
  }
  /* An ACK no later than its own span (only a wrong server sends one)
   * gives no round trip. */
  ys_est_sent (&e, 999, 9229, t);
  ys_est_ack (&e, 999, 9229, 300000, t + 300000);
  g_assert_cmpfloat (ys_est_rtt_min_ms (&e, t + 300000), >=, 20);
  /* Nor above what the ACKs of small frames show. */
  g_assert_cmpfloat (ys_est_rtt_min_ms (&e, t), <, 21);
  g_assert_cmpfloat (ys_est_bandwidth_bps (&e, t), >, 0.5 * bps);
}

/* The stall detector's input: the oldest frame sent and not yet acked. */
static void
test_oldest_unacked (void)
{
  YsLinkEstimator e;
  uint64_t bytes;

  ys_est_init (&e);
  g_assert_cmpint (ys_est_oldest_unacked_us (&e, &bytes), ==, 0);
  ys_est_sent (&e, 1, 100, 1000);
  ys_est_sent (&e, 2, 200, 2000);
  ys_est_sent (&e, 3, 300, 3000);
  g_assert_cmpint (ys_est_oldest_unacked_us (&e, &bytes), ==, 1000);
  g_assert_cmpint (bytes, ==, 100);
  ys_est_ack (&e, 1, 100, 0, 1500);
  /* Frame 2 was sent behind frame 1's 100 bytes: it waited for them. */
  g_assert_cmpint (ys_est_oldest_unacked_us (&e, &bytes), ==, 2000);
  g_assert_cmpint (bytes, ==, 300);
  ys_est_ack (&e, 2, 100, 0, 2500);
  ys_est_ack (&e, 3, 100, 0, 3500);
  g_assert_cmpint (ys_est_oldest_unacked_us (&e, &bytes), ==, 0);
  /* A lost connection takes its unacked frames with it. */
  ys_est_sent (&e, 4, 400, 4000);
  ys_est_forget_sent (&e);
  g_assert_cmpint (ys_est_oldest_unacked_us (&e, &bytes), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/estimator/saturated-link", test_saturated_link);
  g_test_add_func ("/estimator/idle-link", test_idle_link);
  g_test_add_func ("/estimator/windows-expire",
      test_windows_expire_and_server_time);
  g_test_add_func ("/estimator/oldest-unacked", test_oldest_unacked);
  g_test_add_func ("/estimator/long-path", test_long_path_is_not_a_slow_link);
  g_test_add_func ("/estimator/round-trip-jump", test_round_trip_jump);
  g_test_add_func ("/estimator/path-rtt", test_path_rtt_forgets_the_queue);
  g_test_add_func ("/estimator/token-bucket",
      test_token_bucket_keeps_the_round_trip);
  return g_test_run ();
}
