/* The local path; see local_path.h. */
#include "local_path.h"

#include <glib.h>

/* How fast the smoothed inference time follows a new measurement. */
#define INFER_SMOOTHING 8

typedef struct {
  YsPath parent;
  YsLocalWorker *worker;
  GMutex lock;
  /* locked: */
  int input_width, input_height; /* 0: the cfg's */
  double smoothed_infer_ms; /* of the frames tagged smoothed_tag */
  int smoothed_tag; /* -1: none yet */
} LocalPath;

#define LOCAL(p) ((LocalPath *) (p))

static void
on_worker_ready (void *user)
{
  ys_path_notify (user);
}

static YsPathReadiness
local_readiness (YsPath *p, int64_t frame_us)
{
  return ys_local_worker_idle (LOCAL (p)->worker) ? YS_PATH_READY
                                                  : YS_PATH_BUSY;
}

static void
local_configure (YsPath *p, const YsProfileConfig *config)
{
  LocalPath *l = LOCAL (p);
  g_mutex_lock (&l->lock);
  l->input_width = config->width;
  l->input_height = config->height;
  g_mutex_unlock (&l->lock);
}

static void
local_set_infer_options (YsPath *p, const YoloInferOptions *options)
{
  ys_local_worker_set_options (LOCAL (p)->worker, options);
}

static bool
local_submit (YsPath *p, const YoloFrame *frame, const YoloFrameStamp *stamp,
    int tag, YsSubmitMode mode, uint32_t *backend_id, const char **reason)
{
  LocalPath *l = LOCAL (p);
  int w, h;

  g_mutex_lock (&l->lock);
  w = l->input_width;
  h = l->input_height;
  g_mutex_unlock (&l->lock);
  return ys_local_worker_submit (l->worker, frame, stamp, tag, w, h, mode,
      reason);
}

static bool
local_take (YsPath *p, YoloAnalysis *out)
{
  LocalPath *l = LOCAL (p);

  if (!ys_local_worker_take (l->worker, out))
    return false;
  if (out->status == YOLO_ANALYSIS_OK) {
    g_mutex_lock (&l->lock);
    if (out->tag == l->smoothed_tag && l->smoothed_infer_ms > 0)
      l->smoothed_infer_ms
          += (out->infer_ms - l->smoothed_infer_ms) / INFER_SMOOTHING;
    else
      l->smoothed_infer_ms = out->infer_ms;
    l->smoothed_tag = out->tag;
    g_mutex_unlock (&l->lock);
  }
  return true;
}

static bool
local_drain (YsPath *p, int64_t until_us)
{
  return ys_local_worker_drain (LOCAL (p)->worker, until_us);
}

static bool
local_settle (YsPath *p, int64_t until_us)
{
  return true; /* the model loaded and ran once at start */
}

static void
local_estimates (YsPath *p, YsEstimates *e)
{
  LocalPath *l = LOCAL (p);
  g_mutex_lock (&l->lock);
  e->local_infer_ms = l->smoothed_infer_ms;
  e->local_infer_config = l->smoothed_tag;
  g_mutex_unlock (&l->lock);
}

static void
local_stats (YsPath *p, YsPathStats *out)
{
  ys_local_worker_stats (LOCAL (p)->worker, out);
}

static void
local_flush (YsPath *p)
{
  ys_local_worker_flush (LOCAL (p)->worker);
}

static void
local_interrupt (YsPath *p, bool interrupted)
{
  ys_local_worker_interrupt (LOCAL (p)->worker, interrupted);
}

static char *
local_take_notice (YsPath *p, bool *is_warning)
{
  return ys_local_worker_take_notice (LOCAL (p)->worker, is_warning);
}

static void
local_free (YsPath *p)
{
  LocalPath *l = LOCAL (p);
  ys_local_worker_free (l->worker);
  g_mutex_clear (&l->lock);
  g_free (l);
}

static const YsPathClass local_class = {
  .readiness = local_readiness,
  .configure = local_configure,
  .set_infer_options = local_set_infer_options,
  .submit = local_submit,
  .take = local_take,
  .drain = local_drain,
  .settle = local_settle,
  .estimates = local_estimates,
  .stats = local_stats,
  .flush = local_flush,
  .interrupt = local_interrupt,
  .take_notice = local_take_notice,
  .free = local_free,
};

YsPath *
ys_local_path_new (const YsLocalWorkerOptions *options, YoloStatus *status)
{
  LocalPath *l = g_new0 (LocalPath, 1);
  YsLocalWorkerOptions o = *options;

  l->parent.klass = &local_class;
  l->parent.kind = YS_PATH_LOCAL;
  l->smoothed_tag = -1;
  l->input_width = options->spec.input_width;
  l->input_height = options->spec.input_height;
  g_mutex_init (&l->lock);
  o.on_ready = on_worker_ready;
  o.user = l;
  l->worker = ys_local_worker_new (&o, status);
  if (l->worker == NULL) {
    g_mutex_clear (&l->lock);
    g_free (l);
    return NULL;
  }
  return &l->parent;
}

void
ys_local_path_swap (YsPath *p, const YoloModelSpec *spec, YsModelSwapped done,
    void *user)
{
  LocalPath *l = LOCAL (p);
  YoloModelSpec at = *spec;

  g_mutex_lock (&l->lock);
  if (at.input_width == 0 && at.input_height == 0) {
    at.input_width = l->input_width;
    at.input_height = l->input_height;
  }
  g_mutex_unlock (&l->lock);
  ys_local_worker_swap (l->worker, &at, done, user);
}
