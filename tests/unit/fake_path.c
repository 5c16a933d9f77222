/* The fake path; see fake_path.h. */
#include "fake_path.h"

#include <string.h>

struct FakePath {
  YsPath parent;
  GMutex lock;
  YsPathReadiness readiness;
  const char *refusal;
  gboolean auto_answer;
  YsEstimates estimates;
  YsProfileConfig config;
  GArray *submits; /* FakeSubmit */
  GHashTable *waiting; /* sequence -> Waiting * (submitted, unanswered) */
  GQueue done; /* YoloAnalysis * */
  guint flushes;
  float box_x;
  gboolean interrupted;
  YsPathStats stats;
};

typedef struct {
  YoloFrameStamp stamp;
  int tag;
} Waiting;

#define FAKE(p) ((FakePath *) (p))

static YsPathReadiness
fake_readiness (YsPath *p, int64_t frame_us)
{
  YsPathReadiness r;
  g_mutex_lock (&FAKE (p)->lock);
  r = FAKE (p)->readiness;
  g_mutex_unlock (&FAKE (p)->lock);
  return r;
}

static void
fake_configure (YsPath *p, const YsProfileConfig *config)
{
  g_mutex_lock (&FAKE (p)->lock);
  FAKE (p)->config = *config;
  g_mutex_unlock (&FAKE (p)->lock);
}

static void
answer_locked (FakePath *f, const YoloFrameStamp *stamp, int tag,
    const char *missing)
{
  YoloAnalysis *a = g_new (YoloAnalysis, 1);
  YoloDetection box = { .class_id = (int) stamp->sequence,
    .label = "thing",
    .confidence = 0.9f,
    .x = f->box_x,
    .y = 10,
    .w = 20,
    .h = 20 };

  yolo_analysis_init (a);
  a->source = ys_path_name (f->parent.kind);
  yolo_analysis_set_model (a, "fake", 4);
  a->frame = *stamp;
  a->tag = tag;
  if (missing != NULL) {
    a->status = YOLO_ANALYSIS_MISSING;
    a->reason = missing;
    f->stats.missing++;
  } else {
    a->status = YOLO_ANALYSIS_OK;
    yolo_detections_append (&a->detections, &box);
    f->stats.results++;
  }
  g_queue_push_tail (&f->done, a);
}

static bool
fake_submit (YsPath *p, const YoloFrame *frame, const YoloFrameStamp *stamp,
    int tag, YsSubmitMode mode, uint32_t *backend_id, const char **reason)
{
  FakePath *f = FAKE (p);
  FakeSubmit rec;
  gboolean answered;

  g_mutex_lock (&f->lock);
  if (f->refusal != NULL) {
    *reason = f->refusal;
    f->stats.refused++;
    g_mutex_unlock (&f->lock);
    return false;
  }
  rec.sequence = stamp->sequence;
  rec.time_us = stamp->time_us;
  rec.tag = tag;
  rec.mode = mode;
  rec.config_width = f->config.width;
  rec.config_height = f->config.height;
  rec.config_scale = f->config.scale;
  rec.config_bitrate = f->config.bitrate;
  g_array_append_val (f->submits, rec);
  f->stats.submitted++;
  if (backend_id != NULL)
    *backend_id = (uint32_t) f->submits->len;
  answered = f->auto_answer;
  if (answered) {
    answer_locked (f, stamp, tag, NULL);
  } else {
    Waiting *w = g_new (Waiting, 1);
    w->stamp = *stamp;
    w->tag = tag;
    g_hash_table_insert (f->waiting, &w->stamp.sequence, w);
  }
  g_mutex_unlock (&f->lock);
  if (answered)
    ys_path_notify (p);
  return true;
}

static bool
fake_take (YsPath *p, YoloAnalysis *out)
{
  YoloAnalysis *a;
  g_mutex_lock (&FAKE (p)->lock);
  a = g_queue_pop_head (&FAKE (p)->done);
  g_mutex_unlock (&FAKE (p)->lock);
  if (a == NULL)
    return false;
  yolo_analysis_move (out, a);
  g_free (a);
  return true;
}

static bool
fake_drain (YsPath *p, int64_t until_us)
{
  bool idle;
  g_mutex_lock (&FAKE (p)->lock);
  idle = g_hash_table_size (FAKE (p)->waiting) == 0;
  g_mutex_unlock (&FAKE (p)->lock);
  return idle;
}

static bool
fake_settle (YsPath *p, int64_t until_us)
{
  return true;
}

static void
fake_estimates (YsPath *p, YsEstimates *e)
{
  FakePath *f = FAKE (p);
  g_mutex_lock (&f->lock);
  if (ys_path_traits (p->kind)->uses_link) {
    e->connected = f->estimates.connected;
    e->bandwidth_bps = f->estimates.bandwidth_bps;
    e->rtt_ms = f->estimates.rtt_ms;
    e->rtt_min_ms = f->estimates.rtt_min_ms;
    e->path_rtt_ms = f->estimates.path_rtt_ms;
    e->server_ms = f->estimates.server_ms;
    e->oldest_unacked_us = f->estimates.oldest_unacked_us;
  } else {
    e->local_infer_ms = f->estimates.local_infer_ms;
    e->local_infer_config = f->estimates.local_infer_config;
  }
  g_mutex_unlock (&f->lock);
}

static void
fake_stats (YsPath *p, YsPathStats *out)
{
  g_mutex_lock (&FAKE (p)->lock);
  *out = FAKE (p)->stats;
  g_mutex_unlock (&FAKE (p)->lock);
}

static void
fake_flush (YsPath *p)
{
  FakePath *f = FAKE (p);
  g_mutex_lock (&f->lock);
  g_hash_table_remove_all (f->waiting);
  while (!g_queue_is_empty (&f->done)) {
    YoloAnalysis *a = g_queue_pop_head (&f->done);
    yolo_analysis_clear (a);
    g_free (a);
  }
  f->flushes++;
  g_mutex_unlock (&f->lock);
}

static void
fake_interrupt (YsPath *p, bool interrupted)
{
  g_mutex_lock (&FAKE (p)->lock);
  FAKE (p)->interrupted = interrupted;
  g_mutex_unlock (&FAKE (p)->lock);
}

static char *
fake_take_notice (YsPath *p, bool *is_warning)
{
  return NULL;
}

static void
fake_free (YsPath *p)
{
  FakePath *f = FAKE (p);
  fake_flush (p);
  g_hash_table_destroy (f->waiting);
  g_array_free (f->submits, TRUE);
  g_mutex_clear (&f->lock);
  g_free (f);
}

static const YsPathClass fake_class = {
  .readiness = fake_readiness,
  .configure = fake_configure,
  .submit = fake_submit,
  .take = fake_take,
  .drain = fake_drain,
  .settle = fake_settle,
  .estimates = fake_estimates,
  .stats = fake_stats,
  .flush = fake_flush,
  .interrupt = fake_interrupt,
  .take_notice = fake_take_notice,
  .free = fake_free,
};

FakePath *
fake_path_new (YsPathKind kind)
{
  FakePath *f = g_new0 (FakePath, 1);
  f->parent.klass = &fake_class;
  f->parent.kind = kind;
  f->readiness = YS_PATH_READY;
  f->box_x = 10;
  f->estimates.local_infer_config = -1;
  g_mutex_init (&f->lock);
  f->submits = g_array_new (FALSE, TRUE, sizeof (FakeSubmit));
  f->waiting
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  g_queue_init (&f->done);
  return f;
}

YsPath *
fake_path_base (FakePath *f)
{
  return &f->parent;
}

void
fake_path_set_readiness (FakePath *f, YsPathReadiness readiness)
{
  g_mutex_lock (&f->lock);
  f->readiness = readiness;
  g_mutex_unlock (&f->lock);
}

void
fake_path_set_refusal (FakePath *f, const char *reason)
{
  g_mutex_lock (&f->lock);
  f->refusal = reason;
  g_mutex_unlock (&f->lock);
}

void
fake_path_set_auto_answer (FakePath *f, gboolean on)
{
  g_mutex_lock (&f->lock);
  f->auto_answer = on;
  g_mutex_unlock (&f->lock);
}

void
fake_path_set_estimates (FakePath *f, const YsEstimates *e)
{
  g_mutex_lock (&f->lock);
  f->estimates = *e;
  g_mutex_unlock (&f->lock);
}

gboolean
fake_path_answer (FakePath *f, uint64_t sequence, const char *missing)
{
  Waiting *w;

  g_mutex_lock (&f->lock);
  w = g_hash_table_lookup (f->waiting, &sequence);
  if (w != NULL) {
    answer_locked (f, &w->stamp, w->tag, missing);
    g_hash_table_remove (f->waiting, &sequence);
  }
  g_mutex_unlock (&f->lock);
  if (w != NULL)
    ys_path_notify (&f->parent);
  return w != NULL;
}

const FakeSubmit *
fake_path_submits (FakePath *f, guint *count)
{
  *count = f->submits->len;
  return (const FakeSubmit *) f->submits->data;
}

guint
fake_path_submit_count (FakePath *f)
{
  guint n;
  g_mutex_lock (&f->lock);
  n = f->submits->len;
  g_mutex_unlock (&f->lock);
  return n;
}

guint
fake_path_flushes (FakePath *f)
{
  return f->flushes;
}

void
fake_path_set_box_x (FakePath *f, float x)
{
  g_mutex_lock (&f->lock);
  f->box_x = x;
  g_mutex_unlock (&f->lock);
}
