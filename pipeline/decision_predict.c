/* The decision engine's predictions: what each configuration of the
 * profile is expected to give now (frame rate, latency, accuracy, bits on
 * the link), how two predictions compare, and the choices made from them;
 * the tick that acts on them is decision.c. */
#include "decision_internal.h"

#include <math.h>
#include <string.h>

#define FPS_TOLERANCE 0.95 /* a config "meets" the rate within 5 % */
#define STEP_UP_LATENCY_MARGIN 0.9 /* a step up must leave 10 % latency spare */
#define LATENCY_TOLERANCE 1.05 /* and a config "meets" it within 5 % */

/* What the decisions look at is what a path uses (path_kind.h), never
 * which path it is: a path on the link is judged by bandwidth, round trip
 * and server time, one on this machine by its inference time, and only
 * the latter can be fallen back to when the link goes. */
bool
decision_path_uses_link (YsPathKind kind)
{
  return ys_path_traits (kind)->uses_link;
}

bool
decision_uses_link (const YsProfileConfig *c)
{
  return decision_path_uses_link (c->path);
}

/* The frame's pixels go over the link (not tensors): what privacy rules
 * out. */
static bool
sends_pixels (const YsProfileConfig *c)
{
  return decision_uses_link (c) && !ys_path_traits (c->path)->sends_tensors;
}

/* The measured link figures are of this configuration's kind of path. */
static bool
measured_here (const YsProfileConfig *c, const YsEstimates *e)
{
  return ys_path_traits (c->path)->sends_tensors == e->figures_of_split;
}

/* ---- predictions -------------------------------------------------------------- */

/* An H.264 stream's size is set per second by its rate control: at fewer
 * frames a second each frame gets more bits.  A split packet's size is
 * the tensor's and an MJPEG frame's its quality's, the same whatever the
 * rate: those are priced per frame. */
static bool
sized_per_frame (const YsProfileConfig *c)
{
  return ys_path_traits (c->path)->sends_tensors
      || (c->codec != NULL && strcmp (c->codec, "mjpeg") == 0);
}

/* Frames a second a link path is sent: the target's, but no more than the
 * stream has (a target of 15 on a 10 frames/s camera sends 10). */
static double
send_fps (const YsDecider *d)
{
  double fps = d->t.fps;
  if (d->source_fps > 0 && d->source_fps < fps)
    fps = d->source_fps;
  return fmax (fps, 1e-3);
}

/* Bits per second the configuration puts on the link at the rate it is
 * sent: for H.264, what the profile saw the encoder produce at the
 * profile's frame rate, scaled by what the live encoder sends against the
 * profile's; for a split packet or an MJPEG frame, its bytes times the
 * rate sent. */
double
decision_edge_bps (const YsDecider *d, const YsProfileConfig *c)
{
  double bytes = c->bytes_per_frame;
  if (sized_per_frame (c))
    return bytes * 8 * send_fps (d);
  if (sends_pixels (c) && d->bytes_factor > 0 && c->codec != NULL
      && strcmp (c->codec, "h264") == 0)
    bytes *= d->bytes_factor;
  return bytes * 8 * d->profile->fps;
}

/* Bits one frame of the configuration puts on the link. */
static double
frame_bits (const YsDecider *d, const YsProfileConfig *c)
{
  if (sized_per_frame (c))
    return c->bytes_per_frame * 8;
  return decision_edge_bps (d, c) / send_fps (d);
}

static double
local_speed_factor (const YsDecider *d, const YsEstimates *e)
{
  const YsProfileConfig *cur = &d->profile->configs[d->current.config];
  if (d->started && !decision_path_uses_link (d->current.path)
      && e->local_infer_ms > 0 && cur->infer_ms > 0)
    return e->local_infer_ms / cur->infer_ms;
  return 1.0;
}

void
decision_predict (const YsDecider *d, int index, const YsEstimates *e,
    bool step_up, Prediction *p)
{
  const YsProfileConfig *c = &d->profile->configs[index];
  const YsTargets *t = &d->t;
  double latency_limit = t->max_latency_ms;

  memset (p, 0, sizeof (*p));
  if (!decision_uses_link (c)) {
    double infer = c->infer_ms * local_speed_factor (d, e);
    p->fps = infer > 0 ? 1000.0 / infer : 1e9;
    p->latency_ms = infer;
    p->device_ms = infer;
    p->accuracy = fmin (1.0, c->iou_accuracy * d->correction);
  } else {
    double usable = e->bandwidth_bps * t->headroom;
    double bits = frame_bits (d, c);
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

    p->bps = decision_edge_bps (d, c);
    p->device_ms = encode;
    if (!e->connected) {
      p->fps = 0;
      p->latency_ms = INFINITY;
    } else if (e->bandwidth_bps <= 0) {
      /* Nothing measured yet: only a probe can tell. */
      p->fps = t->fps;
      p->latency_ms = rtt + server + encode;
    } else {
      tx_ms = bits / e->bandwidth_bps * 1000;
      p->fps = fmin (usable / fmax (bits, 1),
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

bool
decision_meets (const Prediction *p, YsTarget t)
{
  return t == YS_TARGET_FPS    ? p->fps_ok
      : t == YS_TARGET_LATENCY ? p->latency_ok
                               : p->accuracy_ok;
}

/* Lexicographic: each target in priority order met or not, then accuracy. */
int
decision_compare (const YsDecider *d, const Prediction *a, const Prediction *b)
{
  for (int i = 0; i < 3; i++) {
    bool ma = decision_meets (a, d->t.priority[i]),
         mb = decision_meets (b, d->t.priority[i]);
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

bool
decision_allowed (const YsDecider *d, const YsProfileConfig *c, bool edge_ok)
{
  if (!c->pareto || (d->t.privacy && sends_pixels (c)))
    return false;
  if (d->t.policy == YS_POLICY_LOCAL)
    return !decision_uses_link (c);
  if (d->t.policy == YS_POLICY_EDGE)
    return sends_pixels (c);
  if (d->t.policy == YS_POLICY_SPLIT)
    return ys_path_traits (c->path)->sends_tensors;
  return !decision_uses_link (c) || edge_ok;
}

/* The best configuration now, or -1 when none is allowed. */
int
decision_best (const YsDecider *d, const YsEstimates *e, bool edge_ok,
    bool step_up, Prediction *out)
{
  int chosen = -1;
  Prediction p, top = { 0 };
  for (int i = 0; i < d->profile->config_count; i++) {
    if (!decision_allowed (d, &d->profile->configs[i], edge_ok))
      continue;
    decision_predict (d, i, e, step_up, &p);
    if (chosen < 0 || decision_compare (d, &p, &top) > 0) {
      chosen = i;
      top = p;
    }
  }
  if (out != NULL)
    *out = top;
  return chosen;
}

/* A move that needs more of the network (or the CPU) than the current one. */
bool
decision_is_step_up (const YsDecider *d, int from, int to)
{
  const YsProfileConfig *a = &d->profile->configs[from];
  const YsProfileConfig *b = &d->profile->configs[to];
  if (decision_uses_link (b))
    return !decision_uses_link (a)
        || decision_edge_bps (d, b) > decision_edge_bps (d, a);
  return !decision_uses_link (a) && b->infer_ms > a->infer_ms;
}

/* With the link unmeasured every configuration on it looks as if it fits,
 * and a probe of the most demanding one on a small link leaves seconds of
 * queue behind it.  The first step goes instead to the cheapest allowed
 * one that beats `now` (NULL: any): its first frame measures the link (an
 * H.264 stream starts with a keyframe of about a second of its bit rate,
 * the encoder's VBV; a split packet is tens of kilobytes), and the
 * measurement picks the steps after it.  -1 when there is none. */
int
decision_first_step_unmeasured (const YsDecider *d, const YsEstimates *e,
    const Prediction *now, Prediction *out)
{
  int chosen = -1;
  double chosen_bps = 0;
  Prediction p;

  for (int i = 0; i < d->profile->config_count; i++) {
    const YsProfileConfig *c = &d->profile->configs[i];
    double bps = decision_edge_bps (d, c);
    if (!decision_uses_link (c) || !decision_allowed (d, c, true))
      continue;
    decision_predict (d, i, e, true, &p);
    if (now != NULL && decision_compare (d, &p, now) <= 0)
      continue;
    if (chosen < 0 || bps < chosen_bps) {
      chosen = i;
      chosen_bps = bps;
      *out = p;
    }
  }
  return chosen;
}

/* The most accurate edge configuration the estimates allow, with the
 * step-up margins, among those that put at most (inclusive) or less than
 * max_bps on the link; -1 when there is none.  What a failed probe or a
 * recovery from a stall can take: the link was just measured. */
int
decision_best_edge_up_to (const YsDecider *d, const YsEstimates *e,
    double max_bps, bool inclusive, Prediction *out)
{
  int chosen = -1;
  Prediction p;
  for (int i = 0; i < d->profile->config_count; i++) {
    const YsProfileConfig *c = &d->profile->configs[i];
    double bps = decision_edge_bps (d, c);
    if (!decision_uses_link (c) || !decision_allowed (d, c, true)
        || (inclusive ? bps > max_bps : bps >= max_bps))
      continue;
    decision_predict (d, i, e, true, &p);
    if (chosen < 0 || decision_compare (d, &p, out) > 0) {
      chosen = i;
      *out = p;
    }
  }
  return chosen;
}
