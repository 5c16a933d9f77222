/* The switcher; see switcher.h for the per-frame rules. */
#include "switcher.h"

#include "local_worker.h"
#include "metrics.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define ANALYSES 256 /* ring of analyses boxes may still name */
#define MAX_APPLIED 32
#define RECENT 8 /* results kept per path for labelling */
#define MAX_LOCAL_WAIT_MS 30
#define FIRST_LOCAL_WAIT_MS 1000 /* the stream's first frame: no boxes yet */
#define PACING_SLACK 0.9 /* a frame this share of a period late still goes */

typedef struct {
  bool used;
  int64_t frame_us;
  int tag; /* local: the configuration */
  YoloDetections dets;
} Recent;

struct YsSwitcher {
  YsSwitcherOptions o;
  char *server, *token, *tls_ca_file, *edge_model, *client_name;
  YsLocalWorker *local;
  YsSession *session; /* NULL: local only */
  YsDecider *decider;

  /* Shared with the tick thread: locked. */
  GMutex lock;
  GCond cond;
  GThread *ticker;
  bool stop;
  YsDecision decision;
  double local_infer_ms; /* smoothed, for local_infer_tag */
  int local_infer_tag;
  YsSwitcherStats stats;

  /* Streaming thread only. */
  YsTracker *tracker;
  YsAnalysis analyses[ANALYSES];
  int next_analysis;
  int applied[MAX_APPLIED]; /* during this process call */
  int applied_count;
  Recent local_recent[RECENT], edge_recent[RECENT];
  int local_recent_next, edge_recent_next;
  int64_t last_edge_submit_us; /* frame time; INT64_MIN: none yet */
  int64_t last_label_us; /* monotonic */
  /* The last frame the edge was due but full for, run locally instead
   * (frame time; INT64_MIN: none): its result feeds the tracker. */
  int64_t stand_in_us;
  int label_config; /* local configuration used for labels */
  int enc_width, enc_height;
  int64_t enc_bitrate;
  YsPathKind last_path;
  int64_t paused_until_us; /* monotonic; switch_pause_ms */
  YsLocalResult local_scratch;
  YsOutcome edge_scratch;
};

/* ---- the decision tick ---------------------------------------------------------- */

static void
gather_estimates (YsSwitcher *s, YsEstimates *e)
{
  YsSessionStats st = { 0 };

  memset (e, 0, sizeof (*e));
  e->now_us = g_get_monotonic_time ();
  if (s->session != NULL) {
    ys_session_stats (s->session, &st);
    e->connected = st.connected;
    e->bandwidth_bps = st.bandwidth_bps;
    e->rtt_ms = st.rtt_ms;
    e->rtt_var_ms = st.rtt_var_ms;
    e->rtt_min_ms = st.rtt_min_ms;
    e->path_rtt_ms = st.path_rtt_ms;
    e->last_bandwidth_bps = st.last_bandwidth_bps;
    e->server_ms = st.server_ms;
    e->oldest_unacked_us = st.oldest_unacked_us;
    e->oldest_unacked_bytes = st.oldest_unacked_bytes;
    e->encode_ms = st.last_encode_ms;
  }
}

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
  gather_estimates (s, &ev.estimates);
  g_mutex_lock (&s->lock);
  missed_before = s->stats.decisions > 0 ? s->decision.missed : NULL;
  if (s->decision.path == YS_PATH_LOCAL
      && s->local_infer_tag == s->decision.config)
    ev.estimates.local_infer_ms = s->local_infer_ms;
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

/* ---- results -------------------------------------------------------------------- */

static int
new_analysis (YsSwitcher *s, const YsAnalysis *a, const YoloDetections *dets)
{
  int id = s->next_analysis++;
  YsAnalysis *slot = &s->analyses[id % ANALYSES];
  YoloDetections keep = slot->dets; /* the slot's array is reused */
  *slot = *a;
  slot->dets = keep;
  yolo_detections_copy (&slot->dets, dets);
  if (s->applied_count < MAX_APPLIED)
    s->applied[s->applied_count++] = id;
  return id;
}

static Recent *
remember (Recent *ring, int *next, int64_t frame_us, int tag,
    const YoloDetections *dets)
{
  Recent *r = &ring[(*next)++ % RECENT];
  r->used = true;
  r->frame_us = frame_us;
  r->tag = tag;
  yolo_detections_copy (&r->dets, dets);
  return r;
}

static const Recent *
find (const Recent *ring, int64_t frame_us)
{
  for (int i = 0; i < RECENT; i++)
    if (ring[i].used && ring[i].frame_us == frame_us)
      return &ring[i];
  return NULL;
}

/* The edge model's boxes on a frame score the local model's on the same
 * frame: the online estimate of local accuracy on this scene. */
static void
label (YsSwitcher *s, const Recent *local, const Recent *edge)
{
  YoloFrameScore score;
  yolo_score_frame (edge->dets.items, edge->dets.count, local->dets.items,
      local->dets.count, &score);
  g_mutex_lock (&s->lock);
  ys_decider_label_local (s->decider, local->tag, score.iou_accuracy);
  s->stats.labels++;
  g_mutex_unlock (&s->lock);
}

static void
take_local (YsSwitcher *s, const YsDecision *d, YsLocalResult *r)
{
  const Recent *mine, *edge;
  YsAnalysis a = {
    .path = YS_PATH_LOCAL,
    .model = ys_local_worker_model_name (s->local),
    .width = r->input_width,
    .height = r->input_height,
    .frame_us = r->frame_us,
    .latency_ms = r->latency_ms,
    .detections = (int) r->dets.count,
  };

  if (!r->ok) {
    g_warning ("local inference failed: %s", r->error);
    return;
  }
  g_mutex_lock (&s->lock);
  s->stats.local_results++;
  if (r->tag == s->local_infer_tag && s->local_infer_ms > 0)
    s->local_infer_ms += (r->infer_ms - s->local_infer_ms) / 8;
  else
    s->local_infer_ms = r->infer_ms;
  s->local_infer_tag = r->tag;
  g_mutex_unlock (&s->lock);

  if (d->path == YS_PATH_LOCAL || r->frame_us == s->stand_in_us) {
    ys_tracker_update (s->tracker, &r->dets, r->frame_us,
        new_analysis (s, &a, &r->dets));
    if (d->path != YS_PATH_LOCAL) {
      g_mutex_lock (&s->lock);
      s->stats.stand_ins++;
      g_mutex_unlock (&s->lock);
    }
  }
  mine = remember (s->local_recent, &s->local_recent_next, r->frame_us, r->tag,
      &r->dets);
  if ((edge = find (s->edge_recent, r->frame_us)) != NULL)
    label (s, mine, edge);
}

static void
take_edge (YsSwitcher *s, const YsDecision *d, const YsOutcome *o)
{
  const Recent *mine, *local;
  YsAnalysis a = {
    .path = YS_PATH_EDGE,
    .model = g_intern_string (o->model),
    .width = o->encoded_width,
    .height = o->encoded_height,
    .bitrate = o->bitrate,
    .frame_us = (int64_t) o->result_user_pts,
    .latency_ms = o->result_latency_ms,
    .edge_frame_id = o->result_frame_id,
    .detections = (int) o->detections.count,
  };

  g_mutex_lock (&s->lock);
  s->stats.edge_results++;
  g_mutex_unlock (&s->lock);
  if (d->path == YS_PATH_EDGE)
    ys_tracker_update (s->tracker, &o->detections, a.frame_us,
        new_analysis (s, &a, &o->detections));
  mine = remember (s->edge_recent, &s->edge_recent_next, a.frame_us, 0,
      &o->detections);
  if ((local = find (s->local_recent, a.frame_us)) != NULL)
    label (s, local, mine);
}

static void
collect (YsSwitcher *s, const YsDecision *d)
{
  while (ys_local_worker_take (s->local, &s->local_scratch))
    take_local (s, d, &s->local_scratch);
  while (s->session != NULL
      && ys_session_take_result (s->session, &s->edge_scratch))
    take_edge (s, d, &s->edge_scratch);
}

/* ---- routing -------------------------------------------------------------------- */

static int
even (double v)
{
  int i = (int) lround (v / 2) * 2;
  return MAX (i, 16);
}

typedef enum {
  EDGE_NOT_DUE, /* paced: the last one went less than a period ago */
  EDGE_SENT,
  EDGE_FULL, /* due, but the session has max-in-flight frames out */
  EDGE_BEHIND, /* due, but the link is a latency budget behind */
} EdgeSend;

/* Under policy auto, a frame is not queued onto a link whose oldest
 * unacked frame has waited longer than the whole latency budget beyond a
 * round trip (a keyframe on a long path takes that long on its own): the
 * link is backed up, a new frame's result would miss the target, and it
 * would only delay the frames after it.  The local model takes it instead
 * (see ys_switcher_process). */
static bool
stands_in (const YsSwitcher *s)
{
  return s->o.targets.policy == YS_POLICY_AUTO && !s->o.no_stand_in;
}

static bool
edge_behind (YsSwitcher *s)
{
  YsSessionStats st;
  if (!stands_in (s))
    return false;
  ys_session_stats (s->session, &st);
  return st.oldest_unacked_us > 0
      && g_get_monotonic_time () - st.oldest_unacked_us
      > (int64_t) ((s->o.targets.max_latency_ms + st.rtt_ms) * 1000);
}

/* Sends the frame to the edge as configuration `index` says, at most
 * target-fps frames per second of stream time. */
static EdgeSend
send_edge (YsSwitcher *s, int index, const YoloFrame *frame, int64_t frame_us)
{
  const YsProfileConfig *c = &s->o.profile->configs[index];
  double period_us = 1e6 / fmax (s->o.targets.fps, 0.1);
  int w = even (frame->width * c->scale), h = even (frame->height * c->scale);
  const char *why = NULL;

  if (s->last_edge_submit_us != INT64_MIN
      && frame_us - s->last_edge_submit_us < period_us * PACING_SLACK
      && frame_us >= s->last_edge_submit_us)
    return EDGE_NOT_DUE;
  if (edge_behind (s))
    return EDGE_BEHIND;
  if (w != s->enc_width || h != s->enc_height || c->bitrate != s->enc_bitrate) {
    ys_session_set_encoding (s->session, w, h, c->bitrate);
    s->enc_width = w;
    s->enc_height = h;
    s->enc_bitrate = c->bitrate;
  }
  if (ys_session_submit (s->session, frame, (uint64_t) frame_us,
          g_get_monotonic_time (), false, &why)
      == 0)
    return EDGE_FULL;
  s->last_edge_submit_us = frame_us;
  g_mutex_lock (&s->lock);
  s->stats.edge_frames_sent++;
  g_mutex_unlock (&s->lock);
  return EDGE_SENT;
}

static void
send_local (YsSwitcher *s, int index, const YoloFrame *frame, int64_t frame_us)
{
  const YsProfileConfig *c = &s->o.profile->configs[index];
  ys_local_worker_submit (s->local, frame, frame_us, index, c->width,
      c->height);
}

/* How long a frame may wait for its own local result: twice the measured
 * inference time, at most MAX_LOCAL_WAIT_MS.  Until the first result of
 * the stream there are no boxes to carry: a model's first run (buffers
 * allocated, caches cold) may take longer, and the frame waits for it
 * rather than go out empty. */
static int
local_wait_ms (YsSwitcher *s)
{
  double infer;
  if (s->next_analysis == 0)
    return FIRST_LOCAL_WAIT_MS;
  g_mutex_lock (&s->lock);
  infer = s->local_infer_ms;
  g_mutex_unlock (&s->lock);
  if (infer <= 0)
    return MAX_LOCAL_WAIT_MS;
  return (int) MIN (ceil (2 * infer), MAX_LOCAL_WAIT_MS);
}

const YsTrackedBox *
ys_switcher_process (YsSwitcher *s, const YoloFrame *frame, int64_t frame_us,
    int *count)
{
  YsDecision d;
  int edge_config = -1;
  EdgeSend edge = EDGE_NOT_DUE;
  const YsTrackedBox *boxes;
  int64_t now = g_get_monotonic_time ();

  g_mutex_lock (&s->lock);
  d = s->decision;
  g_mutex_unlock (&s->lock);

  s->applied_count = 0;
  collect (s, &d);

  if (d.path != s->last_path && s->o.switch_pause_ms > 0)
    s->paused_until_us = now + (int64_t) s->o.switch_pause_ms * 1000;
  s->last_path = d.path;
  if (now < s->paused_until_us)
    edge_config = -1; /* and no local either: see below */
  else if (d.path == YS_PATH_EDGE)
    edge_config = d.config;
  else if (d.probing)
    edge_config = d.probe_config;
  if (edge_config >= 0 && s->session != NULL)
    edge = send_edge (s, edge_config, frame, frame_us);

  if (now < s->paused_until_us) {
    /* Emulated restart: nothing runs. */
  } else if (d.path == YS_PATH_LOCAL) {
    s->label_config = d.config;
    /* The newest frame only: a busy model gets the next one. */
    if (ys_local_worker_idle (s->local)) {
      send_local (s, d.config, frame, frame_us);
      /* A fast model answers within a few milliseconds: worth waiting for,
       * so that this frame carries its own boxes rather than the previous
       * frame's (a frame interval old).  Bounded, so a slow one never
       * holds the video. */
      ys_local_worker_drain (s->local, local_wait_ms (s));
      collect (s, &d);
    }
  } else if ((edge == EDGE_FULL || edge == EDGE_BEHIND) && stands_in (s)
      && ys_local_worker_idle (s->local)) {
    /* The edge was due this frame but is full or behind (a slow or
     * stalling link before the engine knows): the local model stands in,
     * so the frame rate holds.  No wait: the edge path's boxes are a frame
     * old anyway. */
    send_local (s, s->label_config, frame, frame_us);
    s->stand_in_us = frame_us;
  } else if (edge == EDGE_SENT
      && now - s->last_label_us >= s->o.label_interval_ms * 1000
      && ys_local_worker_idle (s->local)) {
    /* Edge in force: the local model runs on one frame the edge also got,
     * for the label, and stays warm. */
    send_local (s, s->label_config, frame, frame_us);
    s->last_label_us = now;
  }

  boxes = ys_tracker_predict (s->tracker, frame_us, frame->width, frame->height,
      count);
  g_mutex_lock (&s->lock);
  s->stats.frames++;
  if (*count == 0)
    s->stats.frames_without_boxes++;
  g_mutex_unlock (&s->lock);
  return boxes;
}

const YsAnalysis *
ys_switcher_analysis (YsSwitcher *s, int origin)
{
  return &s->analyses[origin % ANALYSES];
}

const int *
ys_switcher_applied (YsSwitcher *s, int *count)
{
  *count = s->applied_count;
  return s->applied;
}

int
ys_switcher_newest_analysis (YsSwitcher *s)
{
  return s->next_analysis - 1;
}

/* ---- life cycle ----------------------------------------------------------------- */

/* The most accurate configuration of a path on the Pareto front, or -1. */
static int
most_accurate (const YsProfile *p, YsPathKind path)
{
  int best = -1;
  for (int i = 0; i < p->config_count; i++)
    if (p->configs[i].path == path && p->configs[i].pareto
        && (best < 0
            || p->configs[i].iou_accuracy > p->configs[best].iou_accuracy))
      best = i;
  return best;
}

/* The codec of the most accurate edge configuration: one session encodes
 * with one codec (the shipped profile's front is all H.264). */
static YsCodec
edge_codec (const YsProfile *p)
{
  int best = most_accurate (p, YS_PATH_EDGE);
  return best >= 0 && g_strcmp0 (p->configs[best].codec, "mjpeg") == 0
      ? YS_CODEC_MJPEG
      : YS_CODEC_H264;
}

YsSwitcher *
ys_switcher_new (const YsSwitcherOptions *options, char **error)
{
  YsSwitcher *s = g_new0 (YsSwitcher, 1);
  YoloStatus status = { 0 };
  YoloModelSpec spec;
  int base;

  s->o = *options;
  s->o.server = s->server = g_strdup (options->server);
  s->o.token = s->token = g_strdup (options->token);
  s->o.tls_ca_file = s->tls_ca_file = g_strdup (options->tls_ca_file);
  s->o.edge_model = s->edge_model = g_strdup (options->edge_model);
  s->o.client_name = s->client_name = g_strdup (options->client_name);
  if (s->o.tick_ms <= 0)
    s->o.tick_ms = 20;
  if (s->o.label_interval_ms <= 0)
    s->o.label_interval_ms = 1000;
  if (s->o.max_in_flight <= 0)
    s->o.max_in_flight = 4;
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->tracker = ys_tracker_new (NULL);
  s->last_edge_submit_us = INT64_MIN;
  s->stand_in_us = INT64_MIN;
  ys_local_result_init (&s->local_scratch);
  ys_outcome_init (&s->edge_scratch);
  for (int i = 0; i < RECENT; i++) {
    yolo_detections_init (&s->local_recent[i].dets);
    yolo_detections_init (&s->edge_recent[i].dets);
  }
  for (int i = 0; i < ANALYSES; i++)
    yolo_detections_init (&s->analyses[i].dets);

  base = most_accurate (options->profile, YS_PATH_LOCAL);
  if (base < 0) {
    *error = g_strdup ("the profile has no local configuration on its Pareto "
                       "front: make one with yoloswitch-profile");
    goto fail;
  }
  s->label_config = base;
  if (options->targets.policy == YS_POLICY_EDGE && options->server == NULL) {
    *error = g_strdup ("policy=edge needs an edge server: set server=ws://HOST:"
                       "PORT/ (start one with yoloswitch-edge)");
    goto fail;
  }

  /* The local model at the input size the switcher starts with. */
  spec = options->local_model;
  spec.input_width = options->profile->configs[base].width;
  spec.input_height = options->profile->configs[base].height;
  s->local = ys_local_worker_new (&spec, &options->infer, &status);
  if (s->local == NULL) {
    *error = g_strdup (status.message);
    goto fail;
  }

  if (options->server != NULL) {
    YsSessionOptions so = { 0 };
    const char *why = NULL;
    so.server = s->server;
    so.token = s->token;
    so.tls_ca_file = s->tls_ca_file;
    so.model = s->edge_model;
    so.client_name = s->client_name;
    so.codec = edge_codec (options->profile);
    /* The decision engine's bit rates are per second at the target rate. */
    so.fps = MAX (1, (int) lround (options->targets.fps));
    so.max_in_flight = s->o.max_in_flight;
    so.queue_results = true; /* each result feeds the tracker */
    so.latency_budget_ms = MAX (1, (int) options->targets.max_latency_ms);
    s->session = ys_session_new (&so, &why);
    if (s->session == NULL) {
      *error = g_strdup (why);
      goto fail;
    }
  }

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
  ys_session_free (s->session);
  ys_local_worker_free (s->local);
  if (s->decider != NULL)
    ys_decider_free (s->decider);
  ys_tracker_free (s->tracker);
  ys_local_result_clear (&s->local_scratch);
  ys_outcome_clear (&s->edge_scratch);
  for (int i = 0; i < RECENT; i++) {
    yolo_detections_free (&s->local_recent[i].dets);
    yolo_detections_free (&s->edge_recent[i].dets);
  }
  for (int i = 0; i < ANALYSES; i++)
    yolo_detections_free (&s->analyses[i].dets);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s->server);
  g_free (s->token);
  g_free (s->tls_ca_file);
  g_free (s->edge_model);
  g_free (s->client_name);
  g_free (s);
}

void
ys_switcher_flush (YsSwitcher *s)
{
  ys_tracker_reset (s->tracker);
  if (s->session != NULL)
    ys_session_forget_all (s->session);
  for (int i = 0; i < RECENT; i++)
    s->local_recent[i].used = s->edge_recent[i].used = false;
  s->last_edge_submit_us = INT64_MIN;
  s->stand_in_us = INT64_MIN;
}

void
ys_switcher_drain (YsSwitcher *s, int timeout_ms)
{
  ys_local_worker_drain (s->local, timeout_ms);
}

void
ys_switcher_stats (YsSwitcher *s, YsSwitcherStats *out)
{
  YsSessionStats st = { 0 };

  if (s->session != NULL)
    ys_session_stats (s->session, &st);
  g_mutex_lock (&s->lock);
  *out = s->stats;
  out->decision = s->decision;
  out->edge_drops = st.drops;
  out->edge_drops_deadline = st.drops_deadline;
  out->edge_drops_overload = st.drops_overload;
  out->local_correction = ys_decider_local_correction (s->decider);
  g_mutex_unlock (&s->lock);
}

char *
ys_switcher_take_notice (YsSwitcher *s, bool *is_warning)
{
  return s->session != NULL ? ys_session_take_notice (s->session, is_warning)
                            : NULL;
}
