/* The switcher: life cycle, decision ticks and routing frames to paths;
 * see switcher.h for the rules.  Applying the paths' analyses is in
 * switcher_results.c. */
#include "switcher_internal.h"

#include "clock.h"

#include <math.h>
#include <string.h>

#define DEFAULT_MAX_LOCAL_WAIT_MS 30
#define FIRST_LOCAL_WAIT_MS 1000 /* no boxes yet to carry: see process */

/* ---- the decision tick ---------------------------------------------------------- */

static void
describe (const YsProfile *p, int index, char *out, size_t size)
{
  char *text;
  if (index < 0 || index >= p->config_count) {
    out[0] = '\0';
    return;
  }
  text = ys_profile_config_describe (&p->configs[index]);
  g_strlcpy (out, text, size);
  g_free (text);
}

/* One tick; reports a change through on_decision (outside the lock). */
static void
tick (YsSwitcher *s)
{
  YsSwitchEvent ev;
  bool changed, missed_changed;
  const char *missed_before;

  memset (&ev, 0, sizeof (ev));
  switcher_gather_estimates (s, &ev.estimates);
  g_mutex_lock (&s->lock);
  missed_before = s->stats.decisions > 0 ? s->decision.missed : NULL;
  /* A local time is about the configuration it was measured on. */
  if (ev.estimates.local_infer_config != s->decision.config)
    ev.estimates.local_infer_ms = 0;
  changed = ys_decider_tick (s->decider, &ev.estimates, &s->decision);
  /* Targets' names are static strings: comparing pointers is enough. */
  missed_changed = s->decision.missed != missed_before;
  if (changed)
    s->stats.decisions++;
  ev.decision = s->decision;
  g_mutex_unlock (&s->lock);

  if ((changed || missed_changed) && s->o.on_decision != NULL) {
    describe (s->o.profile, ev.decision.config, ev.config, sizeof (ev.config));
    if (ev.decision.probing)
      describe (s->o.profile, ev.decision.probe_config, ev.probe,
          sizeof (ev.probe));
    ev.missed_changed = missed_changed;
    s->o.on_decision (&ev, s->o.user);
  }
}

static gpointer
ticker_main (gpointer data)
{
  YsSwitcher *s = data;

  g_mutex_lock (&s->lock);
  while (!s->stop) {
    gint64 until = g_get_monotonic_time () + (gint64) s->o.tick_ms * 1000;
    while (!s->stop && g_cond_wait_until (&s->cond, &s->lock, until))
      ;
    if (s->stop)
      break;
    g_mutex_unlock (&s->lock);
    tick (s);
    g_mutex_lock (&s->lock);
  }
  g_mutex_unlock (&s->lock);
  return NULL;
}

/* A path has an analysis ready: wake sync waiters. */
static void
on_path_ready (void *user)
{
  YsSwitcher *s = user;
  g_mutex_lock (&s->wake_lock);
  s->wakes++;
  g_cond_broadcast (&s->wake_cond);
  g_mutex_unlock (&s->wake_lock);
}

/* ---- routing -------------------------------------------------------------------- */

static bool
uses_link (YsPathKind kind)
{
  return ys_path_traits (kind)->uses_link;
}

/* The path that works without the network (the fallback), or -1. */
static int
device_path (const YsSwitcher *s)
{
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL && !uses_link ((YsPathKind) k))
      return k;
  return -1;
}

/* Streaming thread: gives path `kind` configuration `index` if it does not
 * have it yet (without decide: the fixed one, when it changed). */
static void
configure (YsSwitcher *s, YsPathKind kind, int index)
{
  YsProfileConfig fixed;

  if (s->decider == NULL) {
    bool changed;
    g_mutex_lock (&s->lock);
    changed = s->fixed_changed || s->configured[kind] != index;
    s->fixed_changed = false;
    fixed = s->fixed;
    g_mutex_unlock (&s->lock);
    if (changed)
      ys_path_configure (s->paths[kind], &fixed);
  } else if (s->configured[kind] != index) {
    ys_path_configure (s->paths[kind], &s->o.profile->configs[index]);
  }
  s->configured[kind] = index;
}

/* Where a frame went, for the caller. */
typedef struct {
  bool sent;
  YsPathKind kind;
  uint32_t id;
  const char *reason; /* when not sent */
} Routed;

/* Sends a frame to a path; `own`: it is the frame's own analysis (what
 * the element reports for it, and what a sync frame waits for). */
static bool
send (YsSwitcher *s, YsPathKind kind, int config, const YoloFrame *frame,
    const YoloFrameStamp *stamp, YsSubmitMode mode, bool own, Routed *out)
{
  bool sync_own = own && s->o.delivery == YS_DELIVER_SYNC;
  const char *reason = NULL;
  uint32_t id = 0;
  bool ok;

  configure (s, kind, config);
  if (sync_own && !s->settled[kind]) {
    /* The first frame may wait, within its budget, for the first
     * connection attempt, so a file job does not start with misses. */
    int64_t budget_us = (int64_t) MAX (s->o.latency_budget_ms, 1) * 1000;
    ys_path_settle (s->paths[kind], stamp->arrival_us + budget_us);
    s->settled[kind] = true;
  }
  /* Registered first: the analysis may come before submit returns. */
  if (sync_own)
    switcher_expect_own (s, stamp->sequence, kind);
  ok = ys_path_submit (s->paths[kind], frame, stamp, config, mode, &id,
      &reason);
  if (!ok && sync_own)
    switcher_forget_own (s, stamp->sequence);
  if (own) {
    out->sent = ok;
    out->kind = kind;
    out->id = id;
    out->reason = ok ? NULL : reason;
  }
  return ok;
}

static bool
stand_ins_allowed (const YsSwitcher *s)
{
  return s->decider != NULL && s->o.targets.policy == YS_POLICY_AUTO
      && !s->o.no_stand_in;
}

/* Streaming thread: where this frame goes (switcher.h, step 2). */
static void
route (YsSwitcher *s, const YsDecision *d, const YoloFrame *frame,
    const YoloFrameStamp *stamp, YsSubmitMode mode, Routed *own)
{
  int64_t now = yolo_now_us ();
  YsPath *force = s->paths[d->path < YS_PATH_KINDS ? d->path : 0];
  int device = device_path (s);
  YsPathReadiness ready;
  uint64_t nth = s->frames_seen++;
  int interval;

  own->sent = false;
  own->kind = d->path;
  own->id = 0;
  own->reason = "not-due";

  if (d->path != s->last_path && s->o.switch_pause_ms > 0)
    s->paused_until_us = now + (int64_t) s->o.switch_pause_ms * 1000;
  s->last_path = d->path;
  if (now < s->paused_until_us) {
    own->reason = "switching"; /* emulated restart: nothing runs */
    return;
  }
  if (force == NULL) {
    own->reason = "no-path"; /* a decision for a path not set up */
    return;
  }
  if (!uses_link (d->path))
    s->label_config = d->config;
  g_mutex_lock (&s->lock);
  interval = s->interval;
  g_mutex_unlock (&s->lock);
  if (interval > 1 && nth % (uint64_t) interval != 0)
    return;

  ready = ys_path_readiness (force, stamp->time_us);
  if (ready == YS_PATH_NOT_DUE) {
    /* paced: this frame carries the boxes it has */
  } else if (ready != YS_PATH_READY && uses_link (d->path) && device >= 0
      && stand_ins_allowed (s)
      && ys_path_readiness (s->paths[device], stamp->time_us)
          == YS_PATH_READY) {
    /* The edge was due this frame but is full, behind or gone (a slow or
     * stalling link before the engine knows): the local model stands in,
     * so the frame rate holds. */
    if (send (s, (YsPathKind) device, s->label_config, frame, stamp, mode, true,
            own))
      s->stand_in_us = stamp->time_us;
  } else {
    send (s, d->path, d->config, frame, stamp, mode, true, own);
  }

  /* Probing a step onto another path: it gets the frame too. */
  if (d->probing && d->probe_config >= 0) {
    YsPathKind probe = s->o.profile->configs[d->probe_config].path;
    if (probe != d->path && s->paths[probe] != NULL
        && ys_path_readiness (s->paths[probe], stamp->time_us)
            != YS_PATH_NOT_DUE)
      send (s, probe, d->probe_config, frame, stamp, YS_SUBMIT_NEWEST, false,
          NULL);
  }

  /* On the link: the local model runs once in a while on a frame the edge
   * also got, for the label, and stays warm. */
  if (own->sent && own->kind == d->path && uses_link (d->path) && device >= 0
      && s->decider != NULL
      && now - s->last_label_us >= (int64_t) s->o.label_interval_ms * 1000
      && ys_path_readiness (s->paths[device], stamp->time_us)
          == YS_PATH_READY) {
    send (s, (YsPathKind) device, s->label_config, frame, stamp,
        YS_SUBMIT_NEWEST, false, NULL);
    s->last_label_us = now;
  }
}

static YsDecision
decision_now (YsSwitcher *s)
{
  YsDecision d;
  g_mutex_lock (&s->lock);
  d = s->decision;
  g_mutex_unlock (&s->lock);
  return d;
}

/* How long a frame the local model took may wait for its own result:
 * twice the model's time, at most max_local_wait_ms.  A fast model answers
 * within a few milliseconds, so the frame carries its own boxes rather
 * than the previous frame's (a frame interval old); a slow one never
 * holds the video longer than the bound. */
static int64_t
local_wait_us (YsSwitcher *s, YsPathKind kind)
{
  YsPathStats st;
  YsEstimates e = { .local_infer_config = -1 };
  double infer;

  ys_path_estimates (s->paths[kind], &e);
  ys_path_stats (s->paths[kind], &st);
  infer = e.local_infer_ms > 0 ? e.local_infer_ms : st.slowest_infer_ms;
  if (infer <= 0)
    return (int64_t) s->o.max_local_wait_ms * 1000;
  return (int64_t) (MIN (2 * infer, s->o.max_local_wait_ms) * 1000);
}

void
ys_switcher_process (YsSwitcher *s, const YoloFrame *frame,
    const YoloFrameStamp *stamp, YsFrameBoxes *out)
{
  YsDecision d = decision_now (s);
  Routed own;
  bool no_boxes_yet;

  g_mutex_lock (&s->results_lock);
  s->applied_count = 0;
  switcher_collect_locked (s, &d);
  no_boxes_yet = s->newest < 0;
  g_mutex_unlock (&s->results_lock);

  route (s, &d, frame, stamp, YS_SUBMIT_NEWEST, &own);

  if (s->tracker != NULL && own.sent && own.kind == d.path
      && !uses_link (own.kind)) {
    /* Until the stream's first result there are no boxes to carry: that
     * frame waits longer rather than go out empty (a busy machine may
     * take more than the usual bound for one inference). */
    int64_t wait_us = no_boxes_yet ? (int64_t) FIRST_LOCAL_WAIT_MS * 1000
                                   : local_wait_us (s, own.kind);
    ys_path_drain (s->paths[own.kind], yolo_now_us () + wait_us);
    g_mutex_lock (&s->results_lock);
    switcher_collect_locked (s, &d);
    g_mutex_unlock (&s->results_lock);
  }

  g_mutex_lock (&s->results_lock);
  switcher_boxes_locked (s, stamp->time_us, frame->width, frame->height, out);
  g_mutex_unlock (&s->results_lock);
  out->due_path = (int) own.kind;
  out->sent_path = own.sent ? (int) own.kind : -1;
  out->backend_id = own.id;
  out->not_sent = own.sent ? NULL : own.reason;

  g_mutex_lock (&s->lock);
  s->stats.frames++;
  if (out->count == 0)
    s->stats.frames_without_boxes++;
  g_mutex_unlock (&s->lock);
}

bool
ys_switcher_submit (YsSwitcher *s, const YoloFrame *frame,
    const YoloFrameStamp *stamp, uint32_t *backend_id, const char **source,
    const char **reason)
{
  YsDecision d = decision_now (s);
  Routed own;

  route (s, &d, frame, stamp, YS_SUBMIT_IN_ORDER, &own);
  g_mutex_lock (&s->lock);
  s->stats.frames++;
  g_mutex_unlock (&s->lock);
  if (backend_id != NULL)
    *backend_id = own.id;
  *source = ys_path_name (own.kind);
  *reason = own.reason;
  return own.sent;
}

const YoloAnalysis *
ys_switcher_analysis (YsSwitcher *s, int origin)
{
  return origin >= 0 ? &s->analyses[origin % ANALYSES] : NULL;
}

const YoloAnalysis *
ys_switcher_newest (YsSwitcher *s)
{
  return ys_switcher_analysis (s, s->newest);
}

/* ---- settings while running ------------------------------------------------------ */

void
ys_switcher_set_fixed (YsSwitcher *s, const YsProfileConfig *config)
{
  g_mutex_lock (&s->lock);
  s->fixed = *config;
  s->fixed.model = s->fixed.codec = NULL; /* not the switcher's to keep */
  s->fixed_changed = true;
  g_mutex_unlock (&s->lock);
}

void
ys_switcher_set_interval (YsSwitcher *s, int interval)
{
  g_mutex_lock (&s->lock);
  s->interval = MAX (interval, 1);
  g_mutex_unlock (&s->lock);
}

void
ys_switcher_set_source_rate (YsSwitcher *s, double fps)
{
  if (fps <= 0)
    return;
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL)
      ys_path_set_source_rate (s->paths[k], fps);
  if (s->decider != NULL) {
    g_mutex_lock (&s->lock);
    ys_decider_set_source_rate (s->decider, fps);
    g_mutex_unlock (&s->lock);
  }
}

void
ys_switcher_set_infer_options (YsSwitcher *s, const YoloInferOptions *options)
{
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL)
      ys_path_set_infer_options (s->paths[k], options);
}

double
ys_switcher_latency_ms (YsSwitcher *s)
{
  int device = device_path (s);
  YsPathStats st;

  if (s->o.delivery == YS_DELIVER_SYNC) {
    if (s->o.latency_budget_ms > 0)
      return s->o.latency_budget_ms;
    /* No budget: a frame waits for its own inference, however long. */
    if (device < 0)
      return 0;
    ys_path_stats (s->paths[device], &st);
    return st.slowest_infer_ms;
  }
  if (s->tracker == NULL || device < 0)
    return 0; /* frames never wait */
  return local_wait_us (s, (YsPathKind) device) / 1000.0;
}

/* ---- life cycle ----------------------------------------------------------------- */

/* The most accurate configuration of paths that do (or do not) use the
 * link, on the Pareto front; -1 when there is none. */
static int
most_accurate (const YsProfile *p, bool on_link)
{
  int best = -1;
  for (int i = 0; i < p->config_count; i++)
    if (uses_link (p->configs[i].path) == on_link && p->configs[i].pareto
        && (best < 0
            || p->configs[i].iou_accuracy > p->configs[best].iou_accuracy))
      best = i;
  return best;
}

static bool
check_paths (YsSwitcher *s, char **error)
{
  const YsProfile *p = s->o.profile;

  if (!s->o.decide) {
    YsPathKind kind;
    if (s->o.fixed_config < 0 || s->o.fixed_config >= p->config_count) {
      *error = g_strdup ("no configuration to run");
      return false;
    }
    kind = p->configs[s->o.fixed_config].path;
    if (s->paths[kind] == NULL) {
      *error
          = g_strdup_printf ("the %s path is not set up", ys_path_name (kind));
      return false;
    }
    return true;
  }
  if (most_accurate (p, false) < 0) {
    *error = g_strdup ("the profile has no local configuration on its Pareto "
                       "front: make one with yoloswitch-profile");
    return false;
  }
  if (device_path (s) < 0) {
    *error = g_strdup ("the switcher needs the local model");
    return false;
  }
  if (s->o.targets.policy == YS_POLICY_EDGE && s->paths[YS_PATH_EDGE] == NULL) {
    *error = g_strdup (s->o.targets.privacy
            ? "policy=edge sends the frames, which privacy=pixels-stay-local "
              "forbids: use policy=split or auto"
            : "policy=edge needs an edge server: set server=ws://HOST:"
              "PORT/ (start one with yoloswitch-edge)");
    return false;
  }
  if (s->o.targets.policy == YS_POLICY_SPLIT
      && s->paths[YS_PATH_SPLIT] == NULL) {
    *error = g_strdup ("policy=split needs an edge server running the "
                       "profile's edge model (server=ws://HOST:PORT/) and "
                       "split configurations in the profile (make them with "
                       "yoloswitch-profile)");
    return false;
  }
  return true;
}

YsSwitcher *
ys_switcher_new (const YsSwitcherOptions *options, char **error)
{
  YsSwitcher *s = g_new0 (YsSwitcher, 1);

  s->o = *options;
  memcpy (s->paths, options->paths, sizeof (s->paths));
  if (s->o.tick_ms <= 0)
    s->o.tick_ms = 20;
  if (s->o.label_interval_ms <= 0)
    s->o.label_interval_ms = 1000;
  if (s->o.max_local_wait_ms <= 0)
    s->o.max_local_wait_ms = DEFAULT_MAX_LOCAL_WAIT_MS;
  s->interval = MAX (s->o.inference_interval, 1);
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  g_mutex_init (&s->wake_lock);
  g_cond_init (&s->wake_cond);
  switcher_results_init (s);
  s->stand_in_us = INT64_MIN;
  s->figures_path
      = s->paths[YS_PATH_EDGE] != NULL || s->paths[YS_PATH_SPLIT] == NULL
      ? YS_PATH_EDGE
      : YS_PATH_SPLIT;
  for (int k = 0; k < YS_PATH_KINDS; k++) {
    s->configured[k] = -1;
    if (s->paths[k] != NULL) {
      s->paths[k]->on_ready = on_path_ready;
      s->paths[k]->user = s;
    }
  }
  if (!check_paths (s, error))
    goto fail;

  if (!s->o.decide) {
    s->fixed = options->profile->configs[options->fixed_config];
    s->fixed.model = s->fixed.codec = NULL;
    s->decision.path = s->fixed.path;
    s->decision.config = options->fixed_config;
    s->decision.probe_config = -1;
    s->decision.reason = "fixed";
    s->label_config = options->fixed_config;
    s->last_path = s->decision.path;
    return s;
  }

  s->label_config = most_accurate (options->profile, false);
  s->config_device_ms = g_new0 (double, options->profile->config_count);
  s->config_server_ms = g_new0 (double, options->profile->config_count);
  s->decider = ys_decider_new (options->profile, &options->targets);
  /* The first decision before the first frame; then the thread. */
  tick (s);
  s->last_path = s->decision.path;
  s->ticker = g_thread_new ("ys-switch-tick", ticker_main, s);
  return s;

fail:
  ys_switcher_free (s);
  return NULL;
}

void
ys_switcher_free (YsSwitcher *s)
{
  if (s == NULL)
    return;
  if (s->ticker != NULL) {
    g_mutex_lock (&s->lock);
    s->stop = true;
    g_cond_broadcast (&s->cond);
    g_mutex_unlock (&s->lock);
    g_thread_join (s->ticker);
  }
  /* The paths' threads stop here: no callback comes after this. */
  for (int k = 0; k < YS_PATH_KINDS; k++)
    ys_path_free (s->paths[k]);
  if (s->decider != NULL)
    ys_decider_free (s->decider);
  switcher_results_clear (s);
  g_free (s->config_device_ms);
  g_free (s->config_server_ms);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_mutex_clear (&s->wake_lock);
  g_cond_clear (&s->wake_cond);
  g_free (s);
}

void
ys_switcher_flush (YsSwitcher *s)
{
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL)
      ys_path_flush (s->paths[k]);
  switcher_results_reset (s);
  s->frames_seen = 0;
  s->stand_in_us = INT64_MIN;
}

void
ys_switcher_interrupt (YsSwitcher *s, bool interrupted)
{
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL)
      ys_path_interrupt (s->paths[k], interrupted);
  g_mutex_lock (&s->wake_lock);
  s->interrupted = interrupted;
  g_cond_broadcast (&s->wake_cond);
  g_mutex_unlock (&s->wake_lock);
}

void
ys_switcher_drain (YsSwitcher *s, int timeout_ms)
{
  int64_t until = yolo_now_us () + (int64_t) timeout_ms * 1000;
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL)
      ys_path_drain (s->paths[k], until);
}

void
ys_switcher_stats (YsSwitcher *s, YsSwitcherStats *out)
{
  g_mutex_lock (&s->lock);
  *out = s->stats;
  out->decision = s->decision;
  out->local_correction
      = s->decider != NULL ? ys_decider_local_correction (s->decider) : 1.0;
  g_mutex_unlock (&s->lock);
}

bool
ys_switcher_path_stats (YsSwitcher *s, YsPathKind kind, YsPathStats *out)
{
  memset (out, 0, sizeof (*out));
  if (kind >= YS_PATH_KINDS || s->paths[kind] == NULL)
    return false;
  ys_path_stats (s->paths[kind], out);
  return true;
}

YsPath *
ys_switcher_path (YsSwitcher *s, YsPathKind kind)
{
  return kind < YS_PATH_KINDS ? s->paths[kind] : NULL;
}

char *
ys_switcher_take_notice (YsSwitcher *s, bool *is_warning)
{
  for (int k = 0; k < YS_PATH_KINDS; k++) {
    char *text;
    if (s->paths[k] != NULL
        && (text = ys_path_take_notice (s->paths[k], is_warning)) != NULL)
      return text;
  }
  return NULL;
}
