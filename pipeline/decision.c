/* The decision engine: the tick (start, degrade, probe, step up, fall back,
 * recover) and its life cycle; the rules are in decision.h, the predictions
 * it weighs in decision_predict.c. */
#include "decision_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_BACKOFF_MS 60000
#define BANDWIDTH_MEMORY_US 10000000
#define TX_SLACK 1.5 /* stall detector: allowance for a frame's transmit */
#define RTT_VAR_FACTOR 4 /* stall detector: RFC 6298's timeout, srtt + 4 var */
#define RECOVER_US 2000000 /* late ACKs within this of a stall: a slow link */

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
    if (!decision_meets (p, d->t.priority[i]))
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
      || decision_path_uses_link (d->current.path)) {
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
  chosen = decision_best_edge_up_to (d, &fresh,
      decision_edge_bps (d, &d->profile->configs[d->stalled_from]), true, &top);
  decision_predict (d, d->current.config, &fresh, false, &now_p);
  if (chosen < 0 || decision_compare (d, &top, &now_p) <= 0)
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
    if (decision_uses_link (c) && e->path_settling[c->path]
        && decision_allowed (d, c, true))
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

  decision_predict (d, d->current.config, e, false, &now_p);
  top = decision_best (d, e, edge_ok, false, &best_p);

  /* Degrade: the best is better on the targets and asks less. */
  if (top >= 0 && top != d->current.config
      && !decision_is_step_up (d, d->current.config, top)
      && decision_compare (d, &best_p, &now_p) > 0) {
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
       * smaller step out; but with no bandwidth measured (no frame big
       * enough came back) every step looks as if it fits, and none is
       * taken on that. */
      int alt = e->connected && e->bandwidth_bps > 0
          ? decision_best_edge_up_to (d, e,
              decision_edge_bps (d, &d->profile->configs[cand]), false, &alt_p)
          : -1;
      /* Measured while probing, with the step-up margins. */
      decision_predict (d, cand, e, true, &up_p);
      if (edge_ok && decision_compare (d, &up_p, &now_p) > 0) {
        set_decision (d, cand, "step-up");
        d->failed_probes = 0;
      } else if (alt >= 0 && alt != d->current.config
          && decision_compare (d, &alt_p, &now_p) > 0) {
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
    int up = decision_best (d, e, edge_ok, true, &up_p);
    if (up >= 0 && e->bandwidth_bps <= 0
        && decision_uses_link (&d->profile->configs[up])) {
      Prediction first_p;
      int first = decision_first_step_unmeasured (d, e, &now_p, &first_p);
      if (first >= 0) {
        up = first;
        up_p = first_p;
      }
    }
    if (up >= 0 && up != d->current.config && !settling (d, e)
        && decision_is_step_up (d, d->current.config, up)
        && decision_compare (d, &up_p, &now_p) > 0
        && e->now_us >= d->next_probe_us) {
      int64_t hold_us = d->wary ? d->t.hold_ms * 1000 : 0;
      if (up != d->candidate) {
        d->candidate = up;
        d->candidate_since_us = e->now_us;
      }
      if (e->now_us - d->candidate_since_us >= hold_us) {
        if (decision_uses_link (&d->profile->configs[up])) {
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
  if (measured->sent_bytes_factor > 0)
    d->bytes_factor = measured->sent_bytes_factor;
  edge_ok = edge_usable (d, e, &why_not_edge);

  if (!d->started) {
    /* Start where nothing needs proving: local under auto; on the link
     * (policy edge or split) as the first probe would, unless it is
     * measured. */
    bool link_only
        = d->t.policy == YS_POLICY_EDGE || d->t.policy == YS_POLICY_SPLIT;
    int start = -1;
    Prediction first_p;
    if (link_only && e->bandwidth_bps <= 0)
      start = decision_first_step_unmeasured (d, e, NULL, &first_p);
    set_decision (d,
        start >= 0 ? start : decision_best (d, e, link_only, false, NULL),
        "start");
    d->started = true;
    before.config = -1; /* always reported */
  } else if (decision_path_uses_link (d->current.path)
      && (!edge_ok || e->path_down[d->current.path])
      && d->t.policy == YS_POLICY_AUTO) {
    /* Fallback: the edge path is gone, or looks so (or, the link fine,
     * the path's own session is down: disconnected). */
    bool stalled = !edge_ok && strcmp (why_not_edge, "disconnected") != 0;
    d->stalled_from = stalled ? d->current.config : -1;
    d->stalled_at_us = e->now_us;
    set_decision (d, decision_best (d, e, false, false, NULL),
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
  decision_predict (d, d->current.config, e, false, &now_p);
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
ys_decider_set_source_rate (YsDecider *d, double fps)
{
  d->source_fps = fps > 0 ? fps : 0;
}

void
ys_decider_label_local (YsDecider *d, int local_config, double observed)
{
  const YsProfileConfig *c;
  double profiled, ratio;
  if (local_config < 0 || local_config >= d->profile->config_count)
    return;
  c = &d->profile->configs[local_config];
  if (decision_uses_link (c) || c->iou_accuracy <= 0)
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
