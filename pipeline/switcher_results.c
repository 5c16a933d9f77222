/* The switcher's results: every analysis the paths hand out is taken here
 * and applied once (switcher.h, step 1):
 *  - counted (results and drops per path);
 *  - kept for labelling: a local and an edge analysis of the same frame
 *    score the local model on this scene (the decision engine's online
 *    correction);
 *  - applied to the boxes when it comes from the path in force (or is a
 *    stand-in's): the tracker, or simply the newest analysis;
 *  - in sync delivery, kept for the frame that waits for it. */
#include "switcher_internal.h"

#include "clock.h"
#include "metrics.h"

#include <string.h>

static void
analysis_free (gpointer a)
{
  yolo_analysis_clear (a);
  g_free (a);
}

void
switcher_results_init (YsSwitcher *s)
{
  g_mutex_init (&s->results_lock);
  if (s->o.track)
    s->tracker = ys_tracker_new (NULL);
  for (int i = 0; i < ANALYSES; i++)
    yolo_analysis_init (&s->analyses[i]);
  for (int k = 0; k < YS_PATH_KINDS; k++)
    for (int i = 0; i < RECENT; i++)
      yolo_detections_init (&s->recent[k][i].dets);
  s->pending
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  s->own = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      analysis_free);
  yolo_analysis_init (&s->own_out);
  yolo_analysis_init (&s->scratch);
  s->newest = -1;
}

void
switcher_results_clear (YsSwitcher *s)
{
  ys_tracker_free (s->tracker);
  for (int i = 0; i < ANALYSES; i++)
    yolo_analysis_clear (&s->analyses[i]);
  for (int k = 0; k < YS_PATH_KINDS; k++)
    for (int i = 0; i < RECENT; i++)
      yolo_detections_free (&s->recent[k][i].dets);
  /* Keys of `own` point into its records. */
  g_hash_table_destroy (s->own);
  g_hash_table_destroy (s->pending);
  yolo_analysis_clear (&s->own_out);
  yolo_analysis_clear (&s->scratch);
  g_free (s->plain);
  g_mutex_clear (&s->results_lock);
}

/* ---- labels ------------------------------------------------------------------- */

static Recent *
remember (YsSwitcher *s, YsPathKind kind, const YoloAnalysis *a)
{
  Recent *r = &s->recent[kind][s->recent_next[kind]++ % RECENT];
  r->used = true;
  r->frame_us = a->frame.time_us;
  r->tag = a->tag;
  yolo_detections_copy (&r->dets, &a->detections);
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

/* A path on the link scores one on this machine on the same frame: the
 * online estimate of local accuracy on this scene. */
static void
label (YsSwitcher *s, const Recent *device, const Recent *edge)
{
  YoloFrameScore score;

  if (s->decider == NULL)
    return;
  yolo_score_frame (edge->dets.items, edge->dets.count, device->dets.items,
      device->dets.count, &score);
  g_mutex_lock (&s->lock);
  ys_decider_label_local (s->decider, device->tag, score.iou_accuracy);
  s->stats.labels++;
  g_mutex_unlock (&s->lock);
}

static void
remember_and_label (YsSwitcher *s, YsPathKind kind, const YoloAnalysis *a)
{
  const YsPathTraits *t = ys_path_traits (kind);
  const Recent *mine = remember (s, kind, a);

  for (int k = 0; k < YS_PATH_KINDS; k++) {
    const YsPathTraits *other = ys_path_traits ((YsPathKind) k);
    const Recent *match;
    if (k == (int) kind || s->paths[k] == NULL
        || other->uses_link == t->uses_link)
      continue;
    if ((match = find (s->recent[k], a->frame.time_us)) == NULL)
      continue;
    if (t->uses_link)
      label (s, match, mine);
    else
      label (s, mine, match);
  }
}

/* ---- applying ------------------------------------------------------------------- */

/* A new analysis boxes may name; returns its id. */
static int
keep (YsSwitcher *s, const YoloAnalysis *a)
{
  int id = s->next_analysis++;
  yolo_analysis_copy (&s->analyses[id % ANALYSES], a);
  if (s->applied_count < MAX_APPLIED)
    s->applied[s->applied_count++] = id;
  return id;
}

static void
count (YsSwitcher *s, YsPathKind kind, const YoloAnalysis *a, bool stand_in)
{
  g_mutex_lock (&s->lock);
  if (a->status == YOLO_ANALYSIS_OK)
    s->stats.results[kind]++;
  if (stand_in)
    s->stats.stand_ins++;
  g_mutex_unlock (&s->lock);
}

/* Sync: the analysis a waiting frame wants, kept for it. */
static void
keep_own (YsSwitcher *s, YsPathKind kind, const YoloAnalysis *a)
{
  uint64_t seq = a->frame.sequence;
  gpointer want = g_hash_table_lookup (s->pending, &seq);
  YoloAnalysis *copy;

  if (want == NULL || GPOINTER_TO_INT (want) != (int) kind + 1)
    return;
  copy = g_new (YoloAnalysis, 1);
  yolo_analysis_init (copy);
  yolo_analysis_copy (copy, a);
  g_hash_table_remove (s->pending, &seq);
  g_hash_table_insert (s->own, &copy->frame.sequence, copy);
}

static void
apply (YsSwitcher *s, const YsDecision *d, YsPathKind kind,
    const YoloAnalysis *a)
{
  bool in_force = kind == d->path;
  bool stand_in = !in_force && a->status == YOLO_ANALYSIS_OK
      && a->frame.time_us == s->stand_in_us
      && !ys_path_traits (kind)->uses_link;

  if (s->o.delivery == YS_DELIVER_SYNC)
    keep_own (s, kind, a);
  count (s, kind, a, stand_in);
  if (a->status != YOLO_ANALYSIS_OK)
    return;
  remember_and_label (s, kind, a);
  if (!in_force && !stand_in)
    return;
  if (s->tracker != NULL) {
    /* Ignored when older than the newest applied: after a switch, the
     * old path's late answers must not pull boxes back. */
    if (ys_tracker_update (s->tracker, &a->detections, a->frame.time_us,
            s->next_analysis))
      s->newest = keep (s, a);
  } else if (s->newest < 0
      || a->frame.time_us >= s->analyses[s->newest % ANALYSES].frame.time_us) {
    s->newest = keep (s, a);
  }
}

void
switcher_collect_locked (YsSwitcher *s, const YsDecision *d)
{
  for (int k = 0; k < YS_PATH_KINDS; k++)
    while (s->paths[k] != NULL && ys_path_take (s->paths[k], &s->scratch))
      apply (s, d, (YsPathKind) k, &s->scratch);
}

void
switcher_boxes_locked (YsSwitcher *s, int64_t time_us, int width, int height,
    YsFrameBoxes *out)
{
  const YoloAnalysis *n;

  out->newest = s->newest;
  out->applied = s->applied;
  out->applied_count = s->applied_count;
  if (s->tracker != NULL) {
    out->boxes
        = ys_tracker_predict (s->tracker, time_us, width, height, &out->count);
    out->moved = true;
    return;
  }
  /* Without tracking: the newest analysis, as it was found. */
  out->moved = false;
  out->count = 0;
  out->boxes = s->plain;
  if (s->newest < 0)
    return;
  n = &s->analyses[s->newest % ANALYSES];
  if ((int) n->detections.count > s->plain_capacity) {
    s->plain_capacity = (int) n->detections.count;
    s->plain = g_renew (YsTrackedBox, s->plain, s->plain_capacity);
    out->boxes = s->plain;
  }
  for (size_t i = 0; i < n->detections.count; i++) {
    YsTrackedBox *b = &s->plain[out->count++];
    b->id = (int) i;
    b->box = n->detections.items[i];
    b->origin = s->newest;
    b->seen_us = n->frame.time_us;
  }
}

/* ---- sync: each frame's own analysis ----------------------------------------------- */

void
switcher_expect_own (YsSwitcher *s, uint64_t sequence, YsPathKind kind)
{
  uint64_t *key = g_new (uint64_t, 1);

  *key = sequence;
  g_mutex_lock (&s->results_lock);
  g_hash_table_insert (s->pending, key, GINT_TO_POINTER ((int) kind + 1));
  g_mutex_unlock (&s->results_lock);
}

void
switcher_forget_own (YsSwitcher *s, uint64_t sequence)
{
  g_mutex_lock (&s->results_lock);
  g_hash_table_remove (s->pending, &sequence);
  g_mutex_unlock (&s->results_lock);
}

void
switcher_results_reset (YsSwitcher *s)
{
  g_mutex_lock (&s->results_lock);
  if (s->tracker != NULL)
    ys_tracker_reset (s->tracker);
  s->newest = -1;
  for (int k = 0; k < YS_PATH_KINDS; k++)
    for (int i = 0; i < RECENT; i++)
      s->recent[k][i].used = false;
  g_hash_table_remove_all (s->own);
  g_hash_table_remove_all (s->pending);
  g_mutex_unlock (&s->results_lock);
}

bool
ys_switcher_wait_own (YsSwitcher *s, uint64_t sequence, int64_t until_us,
    const YoloAnalysis **out)
{
  for (;;) {
    YoloAnalysis *mine;
    uint64_t seen;
    YsDecision d;
    bool interrupted;

    g_mutex_lock (&s->wake_lock);
    seen = s->wakes;
    interrupted = s->interrupted;
    g_mutex_unlock (&s->wake_lock);
    if (interrupted)
      return false;

    g_mutex_lock (&s->lock);
    d = s->decision;
    g_mutex_unlock (&s->lock);
    g_mutex_lock (&s->results_lock);
    s->applied_count = 0;
    switcher_collect_locked (s, &d);
    mine = g_hash_table_lookup (s->own, &sequence);
    if (mine != NULL) {
      g_hash_table_steal (s->own, &sequence);
      yolo_analysis_move (&s->own_out, mine);
      g_free (mine);
    } else if (yolo_now_us () >= until_us) {
      /* Given up: its late analysis will find nobody waiting. */
      gpointer kind = g_hash_table_lookup (s->pending, &sequence);
      g_hash_table_remove (s->pending, &sequence);
      yolo_analysis_clear (&s->own_out);
      s->own_out.source = kind != NULL
          ? ys_path_name ((YsPathKind) (GPOINTER_TO_INT (kind) - 1))
          : ys_path_name (d.path);
      s->own_out.frame.sequence = sequence;
      s->own_out.status = YOLO_ANALYSIS_MISSING;
      s->own_out.reason = "deadline";
      mine = &s->own_out;
    }
    g_mutex_unlock (&s->results_lock);
    if (mine != NULL) {
      if (s->own_out.status != YOLO_ANALYSIS_OK) {
        g_mutex_lock (&s->lock);
        s->stats.own_missing++;
        g_mutex_unlock (&s->lock);
      }
      *out = &s->own_out;
      return true;
    }

    g_mutex_lock (&s->wake_lock);
    while (s->wakes == seen && !s->interrupted
        && g_cond_wait_until (&s->wake_cond, &s->wake_lock, until_us))
      ;
    g_mutex_unlock (&s->wake_lock);
  }
}
