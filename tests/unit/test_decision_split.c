/* The decision engine with split configurations (issue 15) on simulated
 * traces, as test_decision.c does for local and edge: split is chosen like
 * any configuration when it is the most accurate that holds the targets;
 * privacy (pixels stay local) never chooses nor probes an edge one;
 * policy=split keeps to split; a split session that is down is fallen
 * back from at once while the edge path stays usable; the device's head
 * time bounds a split configuration's frame rate. */
#include <glib.h>
#include <string.h>

#include "decision.h"

#define TICK_US 100000

/* Local L320 (0.56, 8 ms).  Edge at 10 fps: E500K 6250 B (0.93), E2M
 * 25000 B (0.97).  Split: S61 8-bit 19608 B (0.998, head 4 ms), S61 4-bit
 * 10008 B (0.96), S12 8-bit 102552 B (0.999, head 150 ms: too slow here). */
enum { L320, E500K, E2M, S61X8, S61X4, S12X8 };

static YsProfile *
profile (void)
{
  static const struct {
    YsPathKind path;
    double acc, infer, bytes, encode;
    int cut, bits;
  } rows[] = {
    { YS_PATH_LOCAL, 0.56, 8, 0, 0, 0, 0 },
    { YS_PATH_EDGE, 0.93, 15, 6250, 1, 0, 0 },
    { YS_PATH_EDGE, 0.97, 15, 25000, 1, 0, 0 },
    { YS_PATH_SPLIT, 0.998, 8, 19608, 4, 61, 8 },
    { YS_PATH_SPLIT, 0.96, 8, 10008, 4, 61, 4 },
    { YS_PATH_SPLIT, 0.999, 14, 102552, 150, 12, 8 },
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
    c->width = c->path == YS_PATH_LOCAL ? 320 : 768;
    c->height = c->path == YS_PATH_LOCAL ? 320 : 576;
    c->iou_accuracy = rows[i].acc;
    c->f1 = rows[i].acc;
    c->infer_ms = rows[i].infer;
    if (c->path != YS_PATH_LOCAL) {
      c->codec = g_strdup (c->path == YS_PATH_EDGE ? "h264" : "tensor");
      c->scale = 1;
      c->bitrate = (gint64) (rows[i].bytes * 8 * 10);
      c->bytes_per_frame = rows[i].bytes;
      c->encode_ms = rows[i].encode;
      c->decode_ms = 1;
      c->cut = rows[i].cut;
      c->bits = rows[i].bits;
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
  /* every configuration decided or probed, by path */
  int decided[YS_PATH_KINDS], probed[YS_PATH_KINDS];
} Sim;

static void
note (Sim *s)
{
  s->decided[s->last.path]++;
  if (s->last.probing && s->last.probe_config >= 0)
    s->probed[s->profile->configs[s->last.probe_config].path]++;
}

static void
sim_init (Sim *s, const YsTargets *t, double bandwidth_bps)
{
  memset (s, 0, sizeof (*s));
  s->profile = profile ();
  s->d = ys_decider_new (s->profile, t);
  s->e = (YsEstimates){ .now_us = 1000000,
    .connected = true,
    .bandwidth_bps = bandwidth_bps,
    .rtt_ms = 20,
    .rtt_min_ms = 20,
    .local_infer_ms = 8 };
  g_assert_true (ys_decider_tick (s->d, &s->e, &s->last));
  note (s);
}

static void
sim_clear (Sim *s)
{
  ys_decider_free (s->d);
  ys_profile_free (s->profile);
}

static void
run (Sim *s, int ms)
{
  for (int t = 0; t < ms; t += TICK_US / 1000) {
    s->e.now_us += TICK_US;
    /* The measured link figures are the path in force's. */
    s->e.figures_of_split = s->last.path == YS_PATH_SPLIT;
    if (ys_decider_tick (s->d, &s->e, &s->last))
      g_test_message ("%.1f s: %s%s", s->e.now_us / 1e6, s->last.explanation,
          s->last.probing ? " [probing]" : "");
    note (s);
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

/* Plenty of link: the most accurate configuration that holds is split at
 * cut 61, 8 bits (reached by probing, like an edge step); the slower cut
 * 12 never is (its head runs at 6.7 frames/s here). */
static void
test_split_chosen_when_most_accurate (void)
{
  YsTargets t = targets ();
  Sim s;

  sim_init (&s, &t, 20e6);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X8);
  g_assert_false (s.last.probing);
  g_assert_nonnull (strstr (s.last.explanation, "split xl cut 61 8-bit"));
  g_assert_cmpint (s.profile->configs[S12X8].pareto, ==, TRUE);
  g_assert_cmpint (s.last.config, !=, S12X8);
  sim_clear (&s);
}

/* Privacy: an edge configuration is never decided nor probed, whatever
 * the link; where split fits (1.2 Mbit/s carries the 4-bit cut) it is
 * taken, where nothing but edge would (0.7 Mbit/s), local stays. */
static void
test_privacy_never_sends_pixels (void)
{
  YsTargets t = targets ();
  Sim s;

  t.privacy = true;
  sim_init (&s, &t, 0.7e6);
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  s.e.bandwidth_bps = 1.2e6;
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X4);
  s.e.bandwidth_bps = 50e6;
  run (&s, 20000);
  g_assert_cmpint (s.last.config, ==, S61X8);
  g_assert_cmpint (s.decided[YS_PATH_EDGE], ==, 0);
  g_assert_cmpint (s.probed[YS_PATH_EDGE], ==, 0);
  sim_clear (&s);

  /* Without privacy the same 0.7 Mbit/s link takes the edge. */
  t.privacy = false;
  sim_init (&s, &t, 0.7e6);
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_EDGE);
  g_assert_cmpint (s.last.config, ==, E500K);
  sim_clear (&s);
}

/* A split packet is the same size at any frame rate: at a target of 6
 * frames/s a 1.3 Mbit/s link (1.04 usable) carries the 8-bit cut (19608 B
 * a frame: 6.6 frames/s), though not at the profile's 10 (1.57 Mbit/s);
 * counting its bytes at the profile's rate would keep the 4-bit one. */
static void
test_split_bytes_per_frame_at_target_rate (void)
{
  YsTargets t = targets ();
  Sim s;

  t.fps = 6;
  t.privacy = true;
  sim_init (&s, &t, 1.3e6);
  run (&s, 30000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X8);
  sim_clear (&s);

  /* At the profile's rate the same link holds only the 4-bit cut. */
  t.fps = 10;
  sim_init (&s, &t, 1.3e6);
  run (&s, 30000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X4);
  sim_clear (&s);
}

/* A target above the stream's rate sends the stream's rate: at a target
 * of 15 on a 10 frames/s stream with max-bitrate 2 Mbit/s, the 8-bit cut
 * is 1.57 Mbit/s (19608 B x 10), not 2.35 (x 15), and is allowed.  Not
 * knowing the stream's rate, the target's is all there is. */
static void
test_split_priced_at_stream_rate_below_target (void)
{
  YsTargets t = targets ();
  Sim s;

  t.fps = 15;
  t.privacy = true;
  t.max_bitrate = 2000000;
  sim_init (&s, &t, 20e6);
  run (&s, 30000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X4);
  sim_clear (&s);

  sim_init (&s, &t, 20e6);
  ys_decider_set_source_rate (s.d, 10);
  run (&s, 30000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S61X8);
  sim_clear (&s);
}

/* policy=split starts on split and stays there, as the link shrinks. */
static void
test_policy_split (void)
{
  YsTargets t = targets ();
  Sim s;

  t.policy = YS_POLICY_SPLIT;
  sim_init (&s, &t, 20e6);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  run (&s, 10000);
  s.e.bandwidth_bps = 0.5e6;
  run (&s, 10000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.decided[YS_PATH_LOCAL], ==, 0);
  g_assert_cmpint (s.decided[YS_PATH_EDGE], ==, 0);
  sim_clear (&s);
}

/* The split session down (a server of another model refused, or gone)
 * while the link is up: fallen back from within one tick; its
 * configurations are not tried again while it is down, the edge ones
 * are. */
static void
test_split_down_falls_back (void)
{
  YsTargets t = targets ();
  Sim s;

  sim_init (&s, &t, 20e6);
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  s.e.path_down[YS_PATH_SPLIT] = true;
  run (&s, 100);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  g_assert_cmpstr (s.last.reason, ==, "fallback: disconnected");
  memset (s.decided, 0, sizeof (s.decided));
  run (&s, 30000);
  g_assert_cmpint (s.decided[YS_PATH_SPLIT], ==, 0);
  g_assert_cmpint (s.last.path, ==, YS_PATH_EDGE);
  g_assert_cmpint (s.last.config, ==, E2M);
  sim_clear (&s);
}

/* The split path's per-layer model, not the profile, says what each cut
 * costs on this machine: here the profile's fast cut 61 takes 150 ms per
 * head (a slower device than the profile's) and cut 12 takes 20 ms, so
 * cut 12 is chosen where the link carries it; when the server's time
 * predicted for cut 12 breaks the latency target, cut 61 at 4 bits
 * (head 60 ms: 16 frames/s) is the best that holds. */
static void
test_cut_costs_from_layer_model (void)
{
  YsTargets t = targets ();
  double device[6] = { 0 }, server[6] = { 0 };
  Sim s;

  t.privacy = true;
  device[S61X8] = 150;
  device[S61X4] = 150;
  device[S12X8] = 20;
  sim_init (&s, &t, 50e6);
  s.e.config_device_ms = device;
  s.e.config_server_ms = server;
  run (&s, 20000);
  g_assert_cmpint (s.last.path, ==, YS_PATH_SPLIT);
  g_assert_cmpint (s.last.config, ==, S12X8);

  server[S12X8] = 900;
  device[S61X4] = 60;
  run (&s, 20000);
  g_assert_cmpint (s.last.config, ==, S61X4);
  sim_clear (&s);
}

/* Just after the start the split session has not connected yet while the
 * edge one has: nothing is probed until it does, so the first probe is
 * the best configuration of all (split), not the best of the first path
 * up (a big H.264 probe, whose queue on the link the split frames would
 * then measure). */
static void
test_first_probe_waits_for_every_path (void)
{
  YsTargets t = targets ();
  Sim s;
  int first_probe = -1;

  sim_init (&s, &t, 20e6);
  s.e.path_settling[YS_PATH_SPLIT] = true;
  s.e.path_down[YS_PATH_SPLIT] = true;
  run (&s, 2000);
  g_assert_cmpint (s.probed[YS_PATH_EDGE], ==, 0);
  g_assert_cmpint (s.last.path, ==, YS_PATH_LOCAL);
  s.e.path_settling[YS_PATH_SPLIT] = false;
  s.e.path_down[YS_PATH_SPLIT] = false;
  for (int t_ms = 0; t_ms < 5000 && first_probe < 0; t_ms += 100) {
    run (&s, 100);
    if (s.last.probing)
      first_probe = s.last.probe_config;
  }
  g_assert_cmpint (first_probe, >=, 0);
  g_assert_cmpint (s.profile->configs[first_probe].path, ==, YS_PATH_SPLIT);
  sim_clear (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/decision-split/chosen-when-most-accurate",
      test_split_chosen_when_most_accurate);
  g_test_add_func ("/decision-split/privacy", test_privacy_never_sends_pixels);
  g_test_add_func ("/decision-split/policy-split", test_policy_split);
  g_test_add_func ("/decision-split/bytes-per-frame-at-target-rate",
      test_split_bytes_per_frame_at_target_rate);
  g_test_add_func ("/decision-split/priced-at-stream-rate",
      test_split_priced_at_stream_rate_below_target);
  g_test_add_func ("/decision-split/cut-costs",
      test_cut_costs_from_layer_model);
  g_test_add_func ("/decision-split/first-probe-waits",
      test_first_probe_waits_for_every_path);
  g_test_add_func ("/decision-split/down-falls-back",
      test_split_down_falls_back);
  return g_test_run ();
}
