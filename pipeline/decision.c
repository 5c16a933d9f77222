/* The decision engine; the rules are in decision.h. */
#include "decision.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FPS_TOLERANCE 0.95 /* a config "meets" the rate within 5 % */
#define STEP_UP_LATENCY_MARGIN 0.9 /* a step up must leave 10 % latency spare */
#define LATENCY_TOLERANCE 1.05 /* and a config "meets" it within 5 % */
#define MAX_BACKOFF_MS 60000
#define BANDWIDTH_MEMORY_US 10000000
#define TX_SLACK 1.5 /* stall detector: allowance for a frame's transmit */
#define RTT_VAR_FACTOR 4 /* stall detector: RFC 6298's timeout, srtt + 4 var */
#define RECOVER_US 2000000 /* late ACKs within this of a stall: a slow link */

struct YsDecider {
  const YsProfile *profile;
  YsTargets t;
  bool started;
  YsDecision current;
  /* step up */
  int candidate; /* -1: none */
  int64_t candidate_since_us;
  int64_t probe_since_us, probe_until_us;
  int failed_probes;
  int64_t next_probe_us; /* after a failed probe */
  /* Until the first degrade, fallback or failed probe there is nothing to
   * be wary of: the first step up needs its probe but no hold. */
  bool wary;
  /* The edge configuration left on stalled ACKs, and when: if the late
   * ACKs come back soon, the link was slow rather than gone. */
  int stalled_from; /* -1: none */
  int64_t stalled_at_us;
  double remembered_bps; /* the last bandwidth measured, and when */
  int64_t remembered_at_us;
  /* online correction of local accuracy */
  double correction;
  int labels;
};

/* What the decisions look at is what a path uses (path_kind.h), never
 * which path it is: a path on the link is judged by bandwidth, round trip
 * and server time, one on this machine by its inference time, and only
 * the latter can be fallen back to when the link goes. */
static bool
path_uses_link (YsPathKind kind)
{
  return ys_path_traits (kind)->uses_link;
}

static bool
uses_link (const YsProfileConfig *c)
{
  return path_uses_link (c->path);
}

/* The frame's pixels go over the link (not tensors): what privacy rules
 * out. */
static bool
sends_pixels (const YsProfileConfig *c)
{
  return uses_link (c) && !ys_path_traits (c->path)->sends_tensors;
}

/* The measured link figures are of this configuration's kind of path. */
static bool
measured_here (const YsProfileConfig *c, const YsEstimates *e)
{
  return ys_path_traits (c->path)->sends_tensors == e->figures_of_split;
}

typedef struct {
  double fps, latency_ms, accuracy, bps;
  double device_ms; /* this machine's time per frame (model, encoder, head) */
  bool fps_ok, latency_ok, accuracy_ok;
} Prediction;

void
ys_targets_init (YsTargets *t)
{
  memset (t, 0, sizeof (*t));
  t->fps = 10;
  t->iou = 0.7;
  t->max_latency_ms = 500;
  t->priority[0] = YS_TARGET_FPS;
  t->priority[1] = YS_TARGET_LATENCY;
  t->priority[2] = YS_TARGET_ACCURACY;
  t->policy = YS_POLICY_AUTO;
}

static const char *
target_name (YsTarget t)
{
  return t == YS_TARGET_FPS    ? "frame rate"
      : t == YS_TARGET_LATENCY ? "latency"
                               : "accuracy";
}

/* ---- predictions -------------------------------------------------------------- */

/* Bits per second the configuration puts on the link: what the profile saw
 * the encoder produce, at the profile's frame rate. */
static double
edge_bps (const YsDecider *d, const YsProfileConfig *c)
{
  return c->bytes_per_frame * 8 * d->profile->fps;
}

static double
local_speed_factor (const YsDecider *d, const YsEstimates *e)
{
  const YsProfileConfig *cur = &d->profile->configs[d->current.config];
  if (d->started && !path_uses_link (d->current.path) && e->local_infer_ms > 0
      && cur->infer_ms > 0)
    return e->local_infer_ms / cur->infer_ms;
  return 1.0;
}

static void
predict (const YsDecider *d, int index, const YsEstimates *e, bool step_up,
    Prediction *p)
{
  const YsProfileConfig *c = &d->profile->configs[index];
  const YsTargets *t = &d->t;
  double latency_limit = t->max_latency_ms;

  memset (p, 0, sizeof (*p));
  if (!uses_link (c)) {
    double infer = c->infer_ms * local_speed_factor (d, e);
    p->fps = infer > 0 ? 1000.0 / infer : 1e9;
    p->latency_ms = infer;
    p->device_ms = infer;
    p->accuracy = fmin (1.0, c->iou_accuracy * d->correction);
  } else {
    double usable = e->bandwidth_bps * t->headroom;
    double frame_bits = edge_bps (d, c) / fmax (t->fps, 1e-3);
    double server_work = c->infer_ms + c->decode_ms;
    double server
        = e->server_ms > 0 && measured_here (c, e) ? e->server_ms : server_work;
    double encode = e->encode_ms > 0 && measured_here (c, e) ? e->encode_ms
                                                             : c->encode_ms;
    /* The path's round trip: a configuration that fits the link builds
     * no queue of its own, so the queue a bigger one left is not counted
     * against it. */
    double rtt = e->path_rtt_ms > 0 ? e->path_rtt_ms
        : e->rtt_ms > 0             ? e->rtt_ms
                                    : e->rtt_min_ms;
    double tx_ms;

    /* A split cut's own figures, from the per-layer model: the measured
     * ones are of the cut running. */
    if (e->config_device_ms != NULL && e->config_device_ms[index] > 0)
      encode = e->config_device_ms[index];
    if (e->config_server_ms != NULL && e->config_server_ms[index] > 0)
      server = e->config_server_ms[index];

    p->bps = edge_bps (d, c);
    p->device_ms = encode;
    if (!e->connected) {
      p->fps = 0;
      p->latency_ms = INFINITY;
    } else if (e->bandwidth_bps <= 0) {
      /* Nothing measured yet: only a probe can tell. */
      p->fps = t->fps;
      p->latency_ms = rtt + server + encode;
    } else {
      tx_ms = frame_bits / e->bandwidth_bps * 1000;
      p->fps = fmin (usable / fmax (frame_bits, 1),
          server_work > 0 ? 1000.0 / server_work : 1e9);
      p->latency_ms = rtt + tx_ms + server + encode;
    }
    /* A path that runs part of the model here (split: the head) gets no
     * more frames through than this machine runs it. */
    if (ys_path_traits (c->path)->uses_device && encode > 0)
      p->fps = fmin (p->fps, 1000.0 / encode);
    if (e->path_down[c->path]) {
      p->fps = 0;
      p->latency_ms = INFINITY;
    }
    p->accuracy = c->iou_accuracy;
    if (t->max_bitrate > 0 && p->bps > t->max_bitrate)
      p->fps = 0; /* a hard limit, not a target to trade */
  }
  latency_limit *= step_up ? STEP_UP_LATENCY_MARGIN : LATENCY_TOLERANCE;
  p->fps_ok = p->fps >= t->fps * (step_up ? 1.0 : FPS_TOLERANCE);
  p->latency_ok = p->latency_ms <= latency_limit;
  p->accuracy_ok = p->accuracy >= t->iou;
}

static bool
meets (const Prediction *p, YsTarget t)
{
  return t == YS_TARGET_FPS    ? p->fps_ok
      : t == YS_TARGET_LATENCY ? p->latency_ok
                               : p->accuracy_ok;
}

/* Lexicographic: each target in priority order met or not, then accuracy. */
static int
compare (const YsDecider *d, const Prediction *a, const Prediction *b)
{
  for (int i = 0; i < 3; i++) {
    bool ma = meets (a, d->t.priority[i]), mb = meets (b, d->t.priority[i]);
    if (ma != mb)
      return ma ? 1 : -1;
  }
  if (fabs (a->accuracy - b->accuracy) > 1e-9)
    return a->accuracy > b->accuracy ? 1 : -1;
  /* Equal: the cheaper one. */
  if (fabs (a->bps - b->bps) > 1e-9)
    return a->bps < b->bps ? 1 : -1;
  return 0;
}

static bool
edge_usable (const YsDecider *d, const YsEstimates *e, const char **why)
{
  int64_t limit_us;
  if (!e->connected) {
    *why = "disconnected";
    return false;
  }
  if (e->oldest_unacked_us <= 0)
    return true;
  /* k x RTT_min, or TCP's retransmission timeout when the round trip has
   * just grown or varies (its variation reacts at the first long sample),
   * and never under min_stall_ms. */
  limit_us = (int64_t) (d->t.stall_factor * e->rtt_min_ms * 1000);
  limit_us = MAX (limit_us,
      (int64_t) ((e->rtt_ms + RTT_VAR_FACTOR * e->rtt_var_ms) * 1000));
  limit_us = MAX (limit_us, d->t.min_stall_ms * 1000);
  /* A big frame (a keyframe, say) on a slow link is acked only once it is
   * through: its transmit time, with slack for the estimate, is not a
   * stall. */
  if (e->bandwidth_bps > 0)
    limit_us += (int64_t) (TX_SLACK * e->oldest_unacked_bytes * 8
        / e->bandwidth_bps * 1e6);
  if (e->now_us - e->oldest_unacked_us > limit_us) {
    *why = "acks stalled";
    return false;
  }
  return true;
}

static bool
allowed (const YsDecider *d, const YsProfileConfig *c, bool edge_ok)
{
  if (!c->pareto || (d->t.privacy && sends_pixels (c)))
    return false;
  if (d->t.policy == YS_POLICY_LOCAL)
    return !uses_link (c);
  if (d->t.policy == YS_POLICY_EDGE)
    return sends_pixels (c);
  if (d->t.policy == YS_POLICY_SPLIT)
    return ys_path_traits (c->path)->sends_tensors;
  return !uses_link (c) || edge_ok;
}

/* The best configuration now, or -1 when none is allowed. */
static int
best (const YsDecider *d, const YsEstimates *e, bool edge_ok, bool step_up,
    Prediction *out)
{
  int chosen = -1;
  Prediction p, top = { 0 };
  for (int i = 0; i < d->profile->config_count; i++) {
    if (!allowed (d, &d->profile->configs[i], edge_ok))
      continue;
    predict (d, i, e, step_up, &p);
    if (chosen < 0 || compare (d, &p, &top) > 0) {
      chosen = i;
      top = p;
    }
  }
  if (out != NULL)
    *out = top;
  return chosen;
}

/* A move that needs more of the network (or the CPU) than the current one. */
static bool
is_step_up (const YsDecider *d, int from, int to)
{
  const YsProfileConfig *a = &d->profile->configs[from];
  const YsProfileConfig *b = &d->profile->configs[to];
  if (uses_link (b))
    return !uses_link (a) || edge_bps (d, b) > edge_bps (d, a);
  return !uses_link (a) && b->infer_ms > a->infer_ms;
}

/* ---- the tick ------------------------------------------------------------------- */

/* Moves to another configuration; what is expected of it is filled in at
 * the end of the tick, for whichever configuration is then in force. */
static void
set_decision (YsDecider *d, int index, const char *reason)
{
  YsDecision *c = &d->current;
  c->path = d->profile->configs[index].path;
  c->config = index;
  c->probing = false;
  c->probe_config = -1;
  c->reason = reason;
}

static void
explain (YsDecider *d, const Prediction *p)
{
  YsDecision *c = &d->current;
  char *what = ys_profile_config_describe (&d->profile->configs[c->config]);
  c->missed = NULL;
  for (int i = 0; i < 3 && c->missed == NULL; i++)
    if (!meets (p, d->t.priority[i]))
      c->missed = target_name (d->t.priority[i]);
  if (c->missed == NULL)
    snprintf (c->explanation, sizeof (c->explanation),
        "%s (%s): %.1f fps, %.0f ms, accuracy %.2f", what, c->reason, p->fps,
        p->latency_ms, p->accuracy);
  else
    snprintf (c->explanation, sizeof (c->explanation),
        "%s target missed: best reachable is %s with %.1f fps, %.0f ms, "
        "accuracy %.2f (%s)",
        c->missed, what, p->fps, p->latency_ms, p->accuracy, c->reason);
  g_free (what);
}

/* The most accurate edge configuration the estimates allow, with the
 * step-up margins, among those that put at most (inclusive) or less than
 * max_bps on the link; -1 when there is none.  What a failed probe or a
 * recovery from a stall can take: the link was just measured. */
static int
best_edge_up_to (const YsDecider *d, const YsEstimates *e, double max_bps,
    bool inclusive, Prediction *out)
{
  int chosen = -1;
  Prediction p;
  for (int i = 0; i < d->profile->config_count; i++) {
    const YsProfileConfig *c = &d->profile->configs[i];
    double bps = edge_bps (d, c);
    if (!uses_link (c) || !allowed (d, c, true)
        || (inclusive ? bps > max_bps : bps >= max_bps))
      continue;
    predict (d, i, e, true, &p);
    if (chosen < 0 || compare (d, &p, out) > 0) {
      chosen = i;
      *out = p;
    }
  }
  return chosen;
}

/* After a fallback on stalled ACKs: when the late frames' ACKs come back
 * within RECOVER_US, the link was slow or longer, not gone, and the ACKs
 * measured it.  Go back at once, without hold or probe, to the best edge
 * configuration up to the one that stalled that the fresh estimates allow
 * (with the step-up margins); -1 when there is none or it is too late. */
static int
recovery (YsDecider *d, const YsEstimates *measured, bool edge_ok)
{
  YsEstimates fresh;
  Prediction top, now_p;
  int chosen;

  if (d->stalled_from < 0)
    return -1;
  if (measured->now_us - d->stalled_at_us > RECOVER_US
      || path_uses_link (d->current.path)) {
    d->stalled_from = -1;
    return -1;
  }
  if (!edge_ok)
    return -1;
  /* The late frames measured the link as it is now; the window's figure
   * still holds the seconds before the change. */
  fresh = *measured;
  if (measured->last_bandwidth_bps > 0)
    fresh.bandwidth_bps
        = MIN (measured->bandwidth_bps, measured->last_bandwidth_bps);
  chosen = best_edge_up_to (d, &fresh,
      edge_bps (d, &d->profile->configs[d->stalled_from]), true, &top);
  predict (d, d->current.config, &fresh, false, &now_p);
  if (chosen < 0 || compare (d, &top, &now_p) <= 0)
    return -1;
  return chosen;
}

/* A link path some allowed configuration runs on has not connected yet
 * (YsEstimates.path_settling). */
static bool
settling (const YsDecider *d, const YsEstimates *e)
{
  for (int i = 0; i < d->profile->config_count; i++) {
    const YsProfileConfig *c = &d->profile->configs[i];
    if (uses_link (c) && e->path_settling[c->path] && allowed (d, c, true))
      return true;
  }
  return false;
}

/* Degrade, probe or step up from a working configuration. */
static void
decide (YsDecider *d, const YsEstimates *e, bool edge_ok)
{
  Prediction now_p, best_p, up_p;
  int top;

  predict (d, d->current.config, e, false, &now_p);
  top = best (d, e, edge_ok, false, &best_p);

  /* Degrade: the best is better on the targets and asks less. */
  if (top >= 0 && top != d->current.config
      && !is_step_up (d, d->current.config, top)
      && compare (d, &best_p, &now_p) > 0) {
    bool forced = !now_p.fps_ok || !now_p.latency_ok;
    set_decision (d, top, forced ? "degrade" : "better");
    d->candidate = -1;
    d->wary = d->wary || forced;
  } else if (d->current.probing) {
    /* End of a probe: keep the step only if it still holds.  Nothing has
     * gone wrong yet (the first probe off the local start): the probe may
     * end at a quarter of its time once the link is measured, so the start
     * costs a few frames, not a second. */
    bool early = !d->wary && e->bandwidth_bps > 0
        && e->now_us - d->probe_since_us >= d->t.probe_ms * 1000 / 4;
    if (e->now_us >= d->probe_until_us || early) {
      int cand = d->current.probe_config;
      Prediction alt_p;
      /* Frames of a candidate too big for the link are late: that is the
       * probe's finding, not a dead link, so only a disconnect rules the
       * smaller step out. */
      int alt = e->connected ? best_edge_up_to (d, e,
                    edge_bps (d, &d->profile->configs[cand]), false, &alt_p)
                             : -1;
      /* Measured while probing, with the step-up margins. */
      predict (d, cand, e, true, &up_p);
      if (edge_ok && compare (d, &up_p, &now_p) > 0) {
        set_decision (d, cand, "step-up");
        d->failed_probes = 0;
      } else if (alt >= 0 && alt != d->current.config
          && compare (d, &alt_p, &now_p) > 0) {
        /* The probe measured the link: too small for the candidate, but
         * a smaller step holds (with the step-up margins). */
        set_decision (d, alt, "step-up (probed)");
        d->failed_probes = 0;
      } else {
        d->current.probing = false;
        d->current.probe_config = -1;
        d->current.reason = "probe failed";
        d->wary = true;
        d->failed_probes++;
        d->next_probe_us = e->now_us
            + (MIN (d->t.hold_ms << MIN (d->failed_probes, 5), MAX_BACKOFF_MS))
                * 1000;
      }
      d->candidate = -1;
    }
  } else {
    /* Step up: a demanding candidate must hold for hold_ms, then probe. */
    int up = best (d, e, edge_ok, true, &up_p);
    if (up >= 0 && up != d->current.config && !settling (d, e)
        && is_step_up (d, d->current.config, up)
        && compare (d, &up_p, &now_p) > 0 && e->now_us >= d->next_probe_us) {
      int64_t hold_us = d->wary ? d->t.hold_ms * 1000 : 0;
      if (up != d->candidate) {
        d->candidate = up;
        d->candidate_since_us = e->now_us;
      }
      if (e->now_us - d->candidate_since_us >= hold_us) {
        if (uses_link (&d->profile->configs[up])) {
          d->current.probing = true;
          d->current.probe_config = up;
          d->current.reason = "probing";
          d->probe_since_us = e->now_us;
          d->probe_until_us = e->now_us + d->t.probe_ms * 1000;
        } else {
          set_decision (d, up, "step-up");
          d->candidate = -1;
        }
      }
    } else {
      d->candidate = -1;
    }
  }
}

bool
ys_decider_tick (YsDecider *d, const YsEstimates *measured, YsDecision *out)
{
  YsDecision before = d->current;
  YsEstimates with_memory = *measured;
  const YsEstimates *e = &with_memory;
  const char *why_not_edge = NULL;
  bool edge_ok;
  int back;
  Prediction now_p;

  /* The bandwidth estimate lapses a second after the last frame; while on
   * the local path the last one measured (at most BANDWIDTH_MEMORY_US
   * old) is a better guess than "unknown", which would make every probe
   * try the most demanding configuration first. */
  if (measured->bandwidth_bps > 0) {
    d->remembered_bps = measured->bandwidth_bps;
    d->remembered_at_us = measured->now_us;
  } else if (d->remembered_bps > 0
      && measured->now_us - d->remembered_at_us < BANDWIDTH_MEMORY_US) {
    with_memory.bandwidth_bps = d->remembered_bps;
  }
  edge_ok = edge_usable (d, e, &why_not_edge);

  if (!d->started) {
    /* Start where nothing needs proving: local under auto. */
    set_decision (d,
        best (d, e,
            d->t.policy == YS_POLICY_EDGE || d->t.policy == YS_POLICY_SPLIT,
            false, NULL),
        "start");
    d->started = true;
    before.config = -1; /* always reported */
  } else if (path_uses_link (d->current.path)
      && (!edge_ok || e->path_down[d->current.path])
      && d->t.policy == YS_POLICY_AUTO) {
    /* Fallback: the edge path is gone, or looks so (or, the link fine,
     * the path's own session is down: disconnected). */
    bool stalled = !edge_ok && strcmp (why_not_edge, "disconnected") != 0;
    d->stalled_from = stalled ? d->current.config : -1;
    d->stalled_at_us = e->now_us;
    set_decision (d, best (d, e, false, false, NULL),
        stalled ? "fallback: acks stalled" : "fallback: disconnected");
    before.config = -1; /* always reported */
    d->candidate = -1;
    d->wary = true;
  } else if ((back = recovery (d, e, edge_ok)) >= 0) {
    set_decision (d, back, "recovered: late acks came back");
    d->stalled_from = -1;
    d->candidate = -1;
  } else {
    decide (d, e, edge_ok);
  }

  /* What is expected of the configuration in force, now. */
  predict (d, d->current.config, e, false, &now_p);
  d->current.fps = now_p.fps;
  d->current.latency_ms = now_p.latency_ms;
  d->current.accuracy = now_p.accuracy;
  d->current.device_ms = now_p.device_ms;
  explain (d, &now_p);
  *out = d->current;
  return before.config != d->current.config
      || before.probing != d->current.probing
      || before.probe_config != d->current.probe_config;
}

/* ---- life cycle, online correction ---------------------------------------------- */

YsDecider *
ys_decider_new (const YsProfile *profile, const YsTargets *targets)
{
  YsDecider *d = g_new0 (YsDecider, 1);
  d->profile = profile;
  d->t = *targets;
  if (d->t.headroom <= 0)
    d->t.headroom = 0.8;
  if (d->t.stall_factor <= 0)
    d->t.stall_factor = 4;
  if (d->t.min_stall_ms <= 0)
    d->t.min_stall_ms = 100;
  if (d->t.hold_ms <= 0)
    d->t.hold_ms = 2000;
  if (d->t.probe_ms <= 0)
    d->t.probe_ms = 1000;
  d->candidate = -1;
  d->stalled_from = -1;
  d->current.probe_config = -1;
  d->correction = 1.0;
  return d;
}

void
ys_decider_free (YsDecider *d)
{
  g_free (d);
}

void
ys_decider_label_local (YsDecider *d, int local_config, double observed)
{
  const YsProfileConfig *c;
  double profiled, ratio;
  if (local_config < 0 || local_config >= d->profile->config_count)
    return;
  c = &d->profile->configs[local_config];
  if (uses_link (c) || c->iou_accuracy <= 0)
    return;
  profiled = c->iou_accuracy;
  ratio = CLAMP (observed / profiled, 0.25, 2.0);
  /* A slow average: one odd frame must not move the decision. */
  d->labels++;
  d->correction += (ratio - d->correction) / MIN (d->labels, 50);
}

double
ys_decider_local_correction (const YsDecider *d)
{
  return d->correction;
}
