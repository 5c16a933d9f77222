/* The decision engine on simulated traces: a clock advanced by hand in
 * 100 ms ticks and a network described by the estimates it would produce.
 * Asserts the decisions: start, first step up after a probe, later ones
 * only after hold + probe, degrade
 * at once, fall back within one tick, recover from a stall whose ACKs come
 * back, no oscillation, priorities. */
#include <glib.h>
#include <string.h>

#include "decision.h"

#define TICK_US 100000

/* Local: L320 (0.56, 8 ms), L192 (0.30, 4 ms).  Edge (profile at 10 fps):
 * E100k 1250 B (0.86), E500k 6250 B (0.93), E2M 25000 B (0.97), and a
 * dominated half-scale 100k (0.79, same bytes as E100k). */
enum { L320, L192, E100K, E500K, E2M, E_HALF };

static YsProfile *
profile (void)
{
  static const struct {
    YsPathKind path;
    double acc, infer, bytes;
    gint64 bitrate;
    double scale;
  } rows[] = {
    { YS_PATH_LOCAL, 0.56, 8, 0, 0, 0 },
    { YS_PATH_LOCAL, 0.30, 4, 0, 0, 0 },
    { YS_PATH_EDGE, 0.86, 15, 1250, 100000, 1 },
    { YS_PATH_EDGE, 0.93, 15, 6250, 500000, 1 },
    { YS_PATH_EDGE, 0.97, 15, 25000, 2000000, 1 },
    { YS_PATH_EDGE, 0.79, 15, 1250, 100000, 0.5 },
  };
  YsProfile *p = g_new0 (YsProfile, 1);
  p->video = g_strdup ("sim");
  p->frames = 100;
  p->width = 768;
  p->height = 576;
  p->fps = 10;
  p->reference_model = g_strdup ("xl");
  p->config_count = G_N_ELEMENTS (rows);
  p->configs = g_new0 (YsProfileConfig, p->config_count);
  for (int i = 0; i < p->config_count; i++) {
    YsProfileConfig *c = &p->configs[i];
    c->path = rows[i].path;
    c->model = g_strdup (c->path == YS_PATH_LOCAL ? "small" : "xl");
    c->width = c->path == YS_PATH_LOCAL ? (i == L320 ? 320 : 192)
                                        : (int) (768 * rows[i].scale);
    c->height = c->width * 3 / 4;
    c->iou_accuracy = rows[i].acc;
    c->f1 = rows[i].acc;
    c->infer_ms = rows[i].infer;
    if (c->path == YS_PATH_EDGE) {
      c->codec = g_strdup ("h264");
      c->scale = rows[i].scale;
      c->bitrate = rows[i].bitrate;
      c->bytes_per_frame = rows[i].bytes;
      c->encode_ms = 1;
      c->decode_ms = 2;
    }
  }
  ys_profile_mark_pareto (p);
  return p;
}

typedef struct {
  YsProfile *profile;
  YsDecider *d;
  YsEstimates e;
  YsDecision last;
  int changes;
} Sim;

/* The first tick with the link at bandwidth_bps (0: not measured yet). */
static void
sim_init_at (Sim *s, const YsTargets *t, double bandwidth_bps)
{
  memset (s, 0, sizeof (*s));
  s->profile = profile ();
  g_assert_false (s->profile->configs[E_HALF].pareto);
  s->d = ys_decider_new (s->profile, t);
  s->e = (YsEstimates){ .now_us = 1000000,
    .connected = true,
    .bandwidth_bps = bandwidth_bps,
    .rtt_ms = 20,
    .rtt_min_ms = 20,
    .server_ms = 20,
    .local_infer_ms = 8 };
  g_assert_true (ys_decider_tick (s->d, &s->e, &s->last));
}

static void
sim_init (Sim *s, const YsTargets *t)
{
  sim_init_at (s, t, 8e6);
}

static void
sim_clear (Sim *s)
{
  ys_decider_free (s->d);
  ys_profile_free (s->profile);
}

/* Runs for ms of simulated time; counts changes. */
static void
run (Sim *s, int ms)
{
  for (int t = 0; t < ms; t += TICK_US / 1000) {
    s->e.now_us += TICK_US;
    if (ys_decider_tick (s->d, &s->e, &s->last)) {
      s->changes++;
      g_test_message ("%.1f s: %s%s", s->e.now_us / 1e6, s->last.explanation,
          s->last.probing ? " [probing]" : "");
    }
  }
}

static YsTargets
targets (void)
{
  YsTargets t;
  ys_targets_init (&t);
  t.fps = 10;
  t.iou = 0.8;
  t.max_latency_ms = 500;
  return t;
}

static void
test_start_local_then_step_up_after_probe (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  g_assert_cmpint (s.last.config, ==, L320);
  g_assert_cmpstr (s.last.reason, ==, "start");
  g_assert_cmpstr (s.last.missed, ==, "accuracy");

  /* The first step up needs no hold: the probe starts on the next tick. */
  run (&s, 100);
  g_assert_true (s.last.probing);
  g_assert_cmpint (s.last.probe_config, ==, E2M);
  g_assert_cmpint (s.last.config, ==, L320);
  /* The first probe ends at a quarter of its second, once the link is
   * measured (a later one takes the whole second). */
  run (&s, 100);
  g_assert_true (s.last.probing);
  run (&s, 200);
  g_assert_false (s.last.probing);
  g_assert_cmpint (s.last.config, ==, E2M);
  g_assert_cmpstr (s.last.reason, ==, "step-up");
  g_assert_null (s.last.missed);
  g_assert_cmpint (s.changes, ==, 2);

  /* Steady conditions for a minute: not one change. */
  s.changes = 0;
  run (&s, 60000);
  g_assert_cmpint (s.changes, ==, 0);
  sim_clear (&s);
}

static void
reach_edge (Sim *s)
{
  run (s, 3500);
  g_assert_cmpint (s->last.config, ==, E2M);
  s->changes = 0;
}

static void
test_bandwidth_drop_degrades_at_once (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  reach_edge (&s);
  /* 8 -> 0.5 Mbit/s: E2M and E500k no longer keep 10 fps; E100k does. */
  s.e.bandwidth_bps = 0.5e6;
  run (&s, 100);
  g_assert_cmpint (s.last.config, ==, E100K);
  g_assert_cmpstr (s.last.reason, ==, "degrade");
  g_assert_cmpint (s.changes, ==, 1);
  /* Back to 8 Mbit/s: up again only after hold + probe. */
  s.e.bandwidth_bps = 8e6;
  run (&s, 1900);
  g_assert_cmpint (s.last.config, ==, E100K);
  run (&s, 1300);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);
}

static void
test_outage_falls_back_within_one_tick (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  reach_edge (&s);
  s.e.connected = false;
  run (&s, 100);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpint (s.last.config, ==, L320);
  g_assert_cmpstr (s.last.reason, ==, "fallback: disconnected");
  /* A 5 s outage: stays local, no flapping. */
  run (&s, 5000);
  g_assert_cmpint (s.changes, ==, 1);
  /* Back: edge again after hold + probe, not before. */
  s.e.connected = true;
  run (&s, 1500);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  run (&s, 2000);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);
}

static void
test_stalled_acks_fall_back (void)
{
  YsTargets t = targets ();
  Sim s;
  int64_t waited;

  /* Nothing acked since this 25 kB frame: 4 x RTT_min = 80 ms, raised to
   * the 100 ms floor, plus 1.5 x its 25 ms transmit at 8 Mbit/s. */
  sim_init (&s, &t);
  reach_edge (&s);
  s.e.oldest_unacked_us = s.e.now_us;
  s.e.oldest_unacked_bytes = 25000;
  while (s.last.path == YS_PATH_EDGE
      && s.e.now_us - s.e.oldest_unacked_us < 1000000) {
    s.e.now_us += 10000;
    ys_decider_tick (s.d, &s.e, &s.last);
  }
  waited = s.e.now_us - s.e.oldest_unacked_us;
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpstr (s.last.reason, ==, "fallback: acks stalled");
  g_assert_cmpint (waited, >, 137500);
  g_assert_cmpint (waited, <=, 147500);
  sim_clear (&s);
}

/* A round trip that varies widens the limit to TCP's timeout, srtt + 4 x
 * its variation: 20 + 4 x 40 = 180 ms, plus the transmit allowance. */
static void
test_stall_limit_follows_rtt_variation (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  reach_edge (&s);
  s.e.rtt_var_ms = 40;
  s.e.oldest_unacked_us = s.e.now_us;
  s.e.oldest_unacked_bytes = 25000;
  s.e.now_us += 215000;
  ys_decider_tick (s.d, &s.e, &s.last);
  g_assert_cmpint (s.last.path, ==, YS_PATH_EDGE);
  s.e.now_us += 5000;
  ys_decider_tick (s.d, &s.e, &s.last);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  sim_clear (&s);
}

/* The bandwidth drops from 8 to 1.2 Mbit/s: the frame in flight is late
 * and the engine falls back, but its ACK comes back 200 ms later and
 * measured the new link.  The engine returns at once, without hold or
 * probe, to the best configuration that measurement allows; a frame that
 * was only held up (it measured the link as before) returns to the same
 * configuration; a stall whose ACKs come back only after 2 s (an outage)
 * gets hold + probe instead. */
static void
test_recovery_after_late_acks (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  reach_edge (&s);
  s.e.oldest_unacked_us = s.e.now_us;
  s.e.oldest_unacked_bytes = 25000;
  run (&s, 200);
  g_assert_cmpstr (s.last.reason, ==, "fallback: acks stalled");
  s.e.oldest_unacked_us = 0;
  s.e.last_bandwidth_bps = 1.2e6;
  s.e.rtt_ms = 40;
  s.e.rtt_var_ms = 35;
  s.changes = 0;
  run (&s, 100);
  g_assert_cmpint (s.last.path, ==, YS_PATH_EDGE);
  g_assert_cmpint (s.last.config, ==, E500K);
  g_assert_cmpstr (s.last.reason, ==, "recovered: late acks came back");
  /* The link comes back: the step back up to E2M waits for hold + probe,
   * and then holds. */
  s.e.last_bandwidth_bps = 8e6;
  s.e.rtt_ms = 20;
  s.e.rtt_var_ms = 5;
  run (&s, 1900);
  g_assert_cmpint (s.changes, ==, 1);
  run (&s, 5000);
  g_assert_cmpint (s.last.config, ==, E2M);
  g_assert_cmpint (s.changes, ==, 3);

  /* Held up, not slowed: back to the same configuration. */
  s.e.oldest_unacked_us = s.e.now_us;
  run (&s, 200);
  g_assert_cmpstr (s.last.reason, ==, "fallback: acks stalled");
  s.e.oldest_unacked_us = 0;
  run (&s, 100);
  g_assert_cmpint (s.last.config, ==, E2M);
  g_assert_cmpstr (s.last.reason, ==, "recovered: late acks came back");

  /* An outage: the ACK comes back after 3 s, too late to be a slow link. */
  s.e.oldest_unacked_us = s.e.now_us;
  run (&s, 3000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  s.e.oldest_unacked_us = 0;
  run (&s, 1000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpstr (s.last.reason, !=, "recovered: late acks came back");
  sim_clear (&s);
}

static void
test_failed_probe_backs_off (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  run (&s, 100);
  g_assert_true (s.last.probing);
  /* The probe shows the link cannot carry it: tiny bandwidth. */
  s.e.bandwidth_bps = 0.05e6;
  run (&s, 1000);
  g_assert_false (s.last.probing);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpstr (s.last.reason, ==, "probe failed");
  /* Good again at once: the next probe waits 2 x hold after the failure. */
  s.e.bandwidth_bps = 8e6;
  s.changes = 0;
  run (&s, 3900);
  g_assert_false (s.last.probing);
  g_assert_cmpint (s.changes, ==, 0);
  run (&s, 2500);
  g_assert_true (s.last.probing || s.last.config == E2M);
  sim_clear (&s);
}

/* The probe measures 1.2 Mbit/s: too little for E2M, enough for E500k
 * (0.5 Mbit/s at 10 frames/s, with the 0.8 headroom): that is taken. */
static void
test_probe_takes_what_the_link_showed (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  s.e.bandwidth_bps = 0; /* none now: the start's 8 Mbit/s is remembered */
  run (&s, 100);
  g_assert_true (s.last.probing);
  g_assert_cmpint (s.last.probe_config, ==, E2M);
  s.e.bandwidth_bps = 1.2e6;
  run (&s, 1000);
  g_assert_false (s.last.probing);
  g_assert_cmpint (s.last.config, ==, E500K);
  g_assert_cmpstr (s.last.reason, ==, "step-up (probed)");
  sim_clear (&s);
}

/* The live encoder sends 37 % of the bytes the profile's encoder did (a
 * scene that compresses better than the profile's footage): on 0.25
 * Mbit/s the profile says only E100k fits (E500k:
 * 0.5 Mbit/s), the live stream says E500k does (185 kbit/s, under 80 % of
 * the link), and the decider takes it once the factor is measured. */
static void
test_live_bytes_scale_the_profile (void)
{
  YsTargets t = targets ();
  Sim s;
  sim_init (&s, &t);
  s.e.bandwidth_bps = 0.25e6;
  run (&s, 10000);
  g_assert_cmpint (s.last.config, ==, E100K);

  s.e.sent_bytes_factor = 1.0; /* the profile's encoder: nothing changes */
  s.changes = 0;
  run (&s, 10000);
  g_assert_cmpint (s.last.config, ==, E100K);
  g_assert_cmpint (s.changes, ==, 0);

  s.e.sent_bytes_factor = 0.37;
  run (&s, 4000);
  g_assert_cmpint (s.last.config, ==, E500K);
  g_assert_null (s.last.missed);
  /* Sent no more: the factor measured last still holds. */
  s.e.sent_bytes_factor = 0;
  s.changes = 0;
  run (&s, 10000);
  g_assert_cmpint (s.last.config, ==, E500K);
  g_assert_cmpint (s.changes, ==, 0);
  sim_clear (&s);
}

/* With the link never measured, the first step onto it is the cheapest
 * one that beats local (E100k), not the most demanding: on a small link a
 * probe of E2M would leave seconds of queue.  Once measured, the next step
 * is taken by the figures. */
static void
test_unmeasured_link_first_step_small (void)
{
  YsTargets t = targets ();
  Sim s;

  sim_init_at (&s, &t, 0);
  g_assert_cmpint (s.last.config, ==, L320);
  run (&s, 100);
  g_assert_true (s.last.probing);
  g_assert_cmpint (s.last.probe_config, ==, E100K);
  s.e.bandwidth_bps = 8e6; /* what the probe's frames measured */
  run (&s, 400);
  g_assert_cmpint (s.last.config, ==, E100K);
  run (&s, 1500);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);

  /* The probe's keyframe still on the link at the probe's end (its ACK
   * late, nothing measured): the probe failed, local stays. */
  sim_init_at (&s, &t, 0);
  run (&s, 100);
  g_assert_cmpint (s.last.probe_config, ==, E100K);
  s.e.oldest_unacked_us = s.e.now_us;
  s.e.oldest_unacked_bytes = 12500;
  run (&s, 1000);
  g_assert_false (s.last.probing);
  g_assert_cmpint (s.last.config, ==, L320);
  g_assert_cmpstr (s.last.reason, ==, "probe failed");
  sim_clear (&s);

  /* policy=edge starts on the link: small too. */
  t.policy = YS_POLICY_EDGE;
  sim_init_at (&s, &t, 0);
  g_assert_cmpint (s.last.config, ==, E100K);
  s.e.bandwidth_bps = 8e6;
  run (&s, 2000);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);

  /* Measured at the start: straight to what fits. */
  sim_init_at (&s, &t, 8e6);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);
}

static void
test_priorities_and_missed_target (void)
{
  YsTargets t = targets ();
  Sim s;

  /* Accuracy 0.95 wanted, 1 Mbit/s: E2M (0.97) cannot keep 10 fps.
   * Default priority keeps the rate: E500k, accuracy missed. */
  t.iou = 0.95;
  sim_init (&s, &t);
  s.e.bandwidth_bps = 1e6;
  run (&s, 4000);
  g_assert_cmpint (s.last.config, ==, E500K);
  g_assert_cmpstr (s.last.missed, ==, "accuracy");
  g_assert_nonnull (strstr (s.last.explanation, "accuracy target missed"));
  sim_clear (&s);

  /* Accuracy first: E2M, frame rate missed. */
  t.priority[0] = YS_TARGET_ACCURACY;
  t.priority[1] = YS_TARGET_FPS;
  t.priority[2] = YS_TARGET_LATENCY;
  sim_init (&s, &t);
  s.e.bandwidth_bps = 1e6;
  /* Local cannot reach 0.95; E2M can, at the cost of the rate.  A step
   * onto the network still waits for its probe. */
  run (&s, 200);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  run (&s, 300);
  g_assert_cmpint (s.last.config, ==, E2M);
  g_assert_cmpstr (s.last.missed, ==, "frame rate");
  sim_clear (&s);
}

static void
test_policies_and_limits (void)
{
  YsTargets t = targets ();
  Sim s;

  t.policy = YS_POLICY_LOCAL;
  sim_init (&s, &t);
  run (&s, 10000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpint (s.changes, ==, 0);
  sim_clear (&s);

  t.policy = YS_POLICY_EDGE;
  sim_init (&s, &t);
  g_assert_cmpint (s.last.path, ==, YS_PATH_EDGE);
  sim_clear (&s);

  /* max-bitrate 1 Mbit/s: E2M (2 Mbit/s) is never used. */
  t.policy = YS_POLICY_AUTO;
  t.max_bitrate = 1e6;
  sim_init (&s, &t);
  run (&s, 10000);
  g_assert_cmpint (s.last.config, ==, E500K);
  sim_clear (&s);
}

static void
test_online_correction (void)
{
  YsTargets t = targets ();
  Sim s;
  YsEstimates e;

  /* Local-only, 0.5 wanted: the profile says 0.56, so L320 meets it... */
  t.policy = YS_POLICY_LOCAL;
  t.iou = 0.5;
  sim_init (&s, &t);
  g_assert_null (s.last.missed);
  /* ...until edge labels show the scene is harder: half as accurate. */
  for (int i = 0; i < 200; i++)
    ys_decider_label_local (s.d, s.last.config, 0.28);
  g_assert_cmpfloat (ys_decider_local_correction (s.d), <, 0.52);
  g_assert_cmpfloat (ys_decider_local_correction (s.d), >, 0.48);
  e = s.e;
  e.now_us += TICK_US;
  ys_decider_tick (s.d, &e, &s.last);
  g_assert_cmpfloat (s.last.accuracy, <, 0.3);
  g_assert_cmpstr (s.last.missed, ==, "accuracy");
  sim_clear (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/decision/start-then-step-up",
      test_start_local_then_step_up_after_probe);
  g_test_add_func ("/decision/bandwidth-drop",
      test_bandwidth_drop_degrades_at_once);
  g_test_add_func ("/decision/outage", test_outage_falls_back_within_one_tick);
  g_test_add_func ("/decision/stalled-acks", test_stalled_acks_fall_back);
  g_test_add_func ("/decision/stall-limit-follows-rtt-variation",
      test_stall_limit_follows_rtt_variation);
  g_test_add_func ("/decision/recovery-after-late-acks",
      test_recovery_after_late_acks);
  g_test_add_func ("/decision/failed-probe", test_failed_probe_backs_off);
  g_test_add_func ("/decision/probe-takes-what-the-link-showed",
      test_probe_takes_what_the_link_showed);
  g_test_add_func ("/decision/live-bytes-scale-the-profile",
      test_live_bytes_scale_the_profile);
  g_test_add_func ("/decision/unmeasured-link-first-step-small",
      test_unmeasured_link_first_step_small);
  g_test_add_func ("/decision/priorities", test_priorities_and_missed_target);
  g_test_add_func ("/decision/policies", test_policies_and_limits);
  g_test_add_func ("/decision/online-correction", test_online_correction);
  return g_test_run ();
}
