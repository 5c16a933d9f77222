/* The local model's thread; see local_worker.h. */
#include "local_worker.h"
#include "local_worker_internal.h"

#include "clock.h"

#include <glib.h>
#include <string.h>

#define DEFAULT_QUEUE_DEPTH 4
#define MAX_NOTICES 8 /* inference failures waiting for the bus */

static void
job_free (Job *job)
{
  g_free (job->data);
  g_free (job);
}

/* Lock held: a job buffer for a new frame. */
static Job *
job_get_locked (YsLocalWorker *w)
{
  Job *job = g_queue_pop_head (&w->spare);
  return job != NULL ? job : g_new0 (Job, 1);
}

static void
job_copy (Job *job, const YoloFrame *frame)
{
  size_t sizes[3] = { 0 }, total = 0, at = 0;

  for (int p = 0; p < 3; p++)
    if (frame->planes[p] != NULL)
      total += sizes[p] = (size_t) frame->strides[p]
          * yolo_frame_plane_rows (frame->format, p, frame->height);
  if (job->capacity < total) {
    g_free (job->data);
    job->data = g_malloc (total);
    job->capacity = total;
  }
  job->frame = *frame;
  for (int p = 0; p < 3; p++) {
    if (sizes[p] == 0)
      continue;
    memcpy (job->data + at, frame->planes[p], sizes[p]);
    job->frame.planes[p] = job->data + at;
    at += sizes[p];
  }
}

/* Worker thread (and new): the model for this size, opened on first use. */
static SizedModel *
model_for (YsLocalWorker *w, int width, int height, YoloStatus *status)
{
  YoloModelSpec spec = w->o.spec;
  SizedModel *m;

  /* 0 x 0: the base, whatever size a swap gave it. */
  if (width == 0 && height == 0 && w->size_count > 0)
    return &w->sizes[0];
  for (int i = 0; i < w->size_count; i++)
    if (w->sizes[i].width == width && w->sizes[i].height == height)
      return &w->sizes[i];
  if (w->size_count == MAX_SIZES) {
    /* Drop the least recently added; never the base (index 0). */
    yolo_input_free (w->sizes[1].input);
    yolo_model_close (w->sizes[1].model);
    memmove (&w->sizes[1], &w->sizes[2], sizeof (SizedModel) * (MAX_SIZES - 2));
    w->size_count--;
  }
  spec.input_width = width;
  spec.input_height = height;
  m = &w->sizes[w->size_count];
  m->model = yolo_model_open (&spec, status);
  if (m->model == NULL)
    return NULL;
  m->input = yolo_input_new (m->model);
  m->width = width;
  m->height = height;
  w->size_count++;
  return m;
}

static YoloAnalysis *
new_analysis (YsLocalWorker *w, const Job *job)
{
  YoloAnalysis *a = g_new (YoloAnalysis, 1);
  yolo_analysis_init (a);
  a->source = ys_path_name (YS_PATH_LOCAL);
  yolo_analysis_set_model (a, w->name, strlen (w->name));
  a->frame = job->stamp;
  a->tag = job->tag;
  return a;
}

static void
miss (YoloAnalysis *a, const char *reason)
{
  a->status = YOLO_ANALYSIS_MISSING;
  a->reason = reason;
  a->latency_ms = (yolo_now_us () - a->frame.arrival_us) / 1000.0;
}

/* Worker thread, no lock held. */
static YoloAnalysis *
run_job (YsLocalWorker *w, Job *job, char **failure)
{
  YoloStatus status = { 0 };
  YoloAnalysis *a = new_analysis (w, job);
  SizedModel *m;
  double t0;

  if (job->deadline_us > 0 && yolo_now_us () > job->deadline_us) {
    miss (a, "deadline");
    return a;
  }
  /* Opening the model for a new input size is not inference: counted in,
   * it made that size look too slow to the decision engine. */
  m = model_for (w, job->input_width, job->input_height, &status);
  t0 = yolo_now_ms ();
  if (m == NULL
      || !yolo_input_fill (m->input, &job->frame, job->options.letterbox,
          &status)
      || !yolo_model_run (m->model, m->input, &job->options, &a->detections,
          &status)) {
    miss (a, "inference-failed");
    *failure = g_strdup_printf ("local inference failed on a %dx%d %s frame: "
                                "%s",
        job->frame.width, job->frame.height,
        yolo_pixel_format_name (job->frame.format), status.message);
    return a;
  }
  /* The labels point into the model, which a hot swap closes while its
   * analyses may still be carried on frames (async delivery): they are
   * interned, for the process's life (label files are the operator's,
   * a few hundred strings at most). */
  for (size_t i = 0; i < a->detections.count; i++)
    a->detections.items[i].label
        = g_intern_string (a->detections.items[i].label);
  a->status = YOLO_ANALYSIS_OK;
  a->infer_ms = yolo_now_ms () - t0;
  a->latency_ms = (yolo_now_us () - a->frame.arrival_us) / 1000.0;
  a->width = yolo_model_input_width (m->model);
  a->height = yolo_model_input_height (m->model);
  return a;
}

/* Lock held: an analysis is done; counted and queued. */
static void
finish_locked (YsLocalWorker *w, YoloAnalysis *a)
{
  if (a->status == YOLO_ANALYSIS_OK) {
    w->stats.results++;
    w->stats.infer_ms = a->infer_ms;
    if (a->infer_ms > w->stats.slowest_infer_ms)
      w->stats.slowest_infer_ms = a->infer_ms;
  } else {
    w->stats.missing++;
    if (g_strcmp0 (a->reason, "replaced") == 0)
      w->stats.replaced++;
  }
  g_queue_push_tail (&w->done, a);
}

static gpointer
worker_main (gpointer data)
{
  YsLocalWorker *w = data;

  g_mutex_lock (&w->lock);
  for (;;) {
    YoloAnalysis *a;
    char *failure = NULL;
    uint64_t epoch;
    LoadedModel *taken;
    SizedModel old[MAX_SIZES];
    int old_count = 0;

    while (!w->stop && g_queue_is_empty (&w->waiting))
      g_cond_wait (&w->cond, &w->lock);
    if (w->stop)
      break;
    w->running = g_queue_pop_head (&w->waiting);
    epoch = w->running->epoch;
    /* A swapped-in model takes over between two frames. */
    taken = ys_local_worker_take_over_locked (w);
    if (taken != NULL) {
      old_count = w->size_count;
      memcpy (old, w->sizes, sizeof (old));
      w->sizes[0] = taken->base;
      w->size_count = 1;
    }
    g_cond_broadcast (&w->cond); /* room for an in-order submit */
    g_mutex_unlock (&w->lock);

    if (taken != NULL)
      ys_local_worker_swap_finish (w, taken, old, old_count);
    a = run_job (w, w->running, &failure);

    g_mutex_lock (&w->lock);
    g_queue_push_tail (&w->spare, w->running);
    w->running = NULL;
    if (failure != NULL && g_queue_get_length (&w->notices) < MAX_NOTICES)
      g_queue_push_tail (&w->notices, failure);
    else
      g_free (failure);
    if (epoch == w->epoch) {
      finish_locked (w, a);
      a = NULL;
    }
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
    if (a != NULL) {
      /* Flushed while it ran: it describes a frame from before a seek. */
      yolo_analysis_clear (a);
      g_free (a);
    } else if (w->o.on_ready != NULL) {
      w->o.on_ready (w->o.user);
    }
    g_mutex_lock (&w->lock);
  }
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* One inference on a blank frame, so the first real frame is not a cold
 * run, and the slowest figure starts from a real measurement. */
bool
ys_local_worker_warm_up (SizedModel *m, const YoloInferOptions *options,
    double *infer_ms, YoloStatus *status)
{
  YoloDetections dets;
  bool ok;

  yolo_detections_init (&dets);
  memset (m->input->data, 0,
      sizeof (float) * 3 * (size_t) m->input->width * m->input->height);
  m->input->source_width = m->input->width;
  m->input->source_height = m->input->height;
  ok = yolo_model_run (m->model, m->input, options, &dets, status);
  if (ok)
    *infer_ms = dets.infer_ms;
  yolo_detections_free (&dets);
  return ok;
}

YsLocalWorker *
ys_local_worker_new (const YsLocalWorkerOptions *options, YoloStatus *status)
{
  YsLocalWorker *w = g_new0 (YsLocalWorker, 1);
  const YoloModelSpec *spec = &options->spec;

  w->o = *options;
  w->o.spec.name = w->name = g_strdup (spec->name);
  w->o.spec.model_dir = w->model_dir = g_strdup (spec->model_dir);
  w->o.spec.cfg_path = w->cfg = g_strdup (spec->cfg_path);
  w->o.spec.weights_path = w->weights = g_strdup (spec->weights_path);
  w->o.spec.labels_path = w->labels = g_strdup (spec->labels_path);
  if (w->o.queue_depth <= 0)
    w->o.queue_depth = DEFAULT_QUEUE_DEPTH;
  w->options = options->options;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  g_queue_init (&w->waiting);
  g_queue_init (&w->spare);
  g_queue_init (&w->done);
  g_queue_init (&w->notices);
  /* The base size now: a missing or broken model fails the caller's start. */
  w->names = g_ptr_array_new_with_free_func (g_free);
  if (model_for (w, spec->input_width, spec->input_height, status) == NULL
      || !ys_local_worker_warm_up (&w->sizes[0], &w->options,
          &w->stats.infer_ms, status)) {
    ys_local_worker_free (w);
    return NULL;
  }
  w->stats.slowest_infer_ms = w->stats.infer_ms;
  /* The name the model reports (a cfg path's stem when named by paths). */
  g_free (w->name);
  w->o.spec.name = w->name = g_strdup (yolo_model_name (w->sizes[0].model));
  w->stats.load_ms = yolo_model_load_ms (w->sizes[0].model);
  w->thread = g_thread_new ("ys-local", worker_main, w);
  return w;
}

static void
analysis_free (YoloAnalysis *a)
{
  yolo_analysis_clear (a);
  g_free (a);
}

void
ys_local_worker_free (YsLocalWorker *w)
{
  if (w == NULL)
    return;
  if (w->thread != NULL) {
    g_mutex_lock (&w->lock);
    w->stop = true;
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
    g_thread_join (w->thread);
  }
  /* Loads still running finish first (they touch the worker when done). */
  g_mutex_lock (&w->lock);
  while (w->loaders > 0)
    g_cond_wait (&w->cond, &w->lock);
  g_mutex_unlock (&w->lock);
  if (w->ready != NULL) {
    YsModelSwap swap
        = { false, w->name, w->name, w->ready->load_ms, w->ready->input_width,
            w->ready->input_height, "the element stopped before it took over" };
    if (w->ready->done != NULL)
      w->ready->done (&swap, w->ready->user);
    ys_loaded_model_free (w->ready);
    w->ready = NULL;
  }
  g_queue_clear_full (&w->done, (GDestroyNotify) analysis_free);
  g_queue_clear_full (&w->waiting, (GDestroyNotify) job_free);
  g_queue_clear_full (&w->spare, (GDestroyNotify) job_free);
  g_queue_clear_full (&w->notices, g_free);
  for (int i = 0; i < w->size_count; i++) {
    yolo_input_free (w->sizes[i].input);
    yolo_model_close (w->sizes[i].model);
  }
  if (w->names != NULL)
    g_ptr_array_unref (w->names);
  g_free (w->name);
  g_free (w->model_dir);
  g_free (w->cfg);
  g_free (w->weights);
  g_free (w->labels);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w);
}

const char *
ys_local_worker_model_name (YsLocalWorker *w)
{
  const char *name;
  g_mutex_lock (&w->lock);
  name = w->name;
  g_mutex_unlock (&w->lock);
  return name;
}

void
ys_local_worker_set_options (YsLocalWorker *w, const YoloInferOptions *options)
{
  g_mutex_lock (&w->lock);
  w->options = *options;
  g_mutex_unlock (&w->lock);
}

/* Lock held: the last waiting job if it was given newest-wins. */
static Job *
replaceable_locked (YsLocalWorker *w)
{
  Job *last = g_queue_peek_tail (&w->waiting);
  return last != NULL && last->mode == YS_SUBMIT_NEWEST ? last : NULL;
}

bool
ys_local_worker_submit (YsLocalWorker *w, const YoloFrame *frame,
    const YoloFrameStamp *stamp, int tag, int input_width, int input_height,
    YsSubmitMode mode, const char **reason)
{
  int64_t deadline_us = 0;
  YoloAnalysis *replaced = NULL;
  Job *job;

  if (mode == YS_SUBMIT_IN_ORDER && w->o.latency_budget_ms > 0)
    deadline_us = stamp->arrival_us + (int64_t) w->o.latency_budget_ms * 1000;

  g_mutex_lock (&w->lock);
  if (mode == YS_SUBMIT_IN_ORDER) {
    while (!w->interrupted
        && (int) g_queue_get_length (&w->waiting) >= w->o.queue_depth) {
      if (deadline_us == 0)
        g_cond_wait (&w->cond, &w->lock);
      else if (!g_cond_wait_until (&w->cond, &w->lock, deadline_us))
        break;
    }
  }
  if (w->interrupted) {
    w->stats.refused++;
    g_mutex_unlock (&w->lock);
    *reason = "interrupted";
    return false;
  }
  if (mode == YS_SUBMIT_NEWEST && (job = replaceable_locked (w)) != NULL) {
    /* Latest frame wins: the waiting one is answered "replaced". */
    replaced = new_analysis (w, job);
    miss (replaced, "replaced");
    finish_locked (w, replaced);
    g_queue_pop_tail (&w->waiting);
  } else if ((int) g_queue_get_length (&w->waiting) >= w->o.queue_depth) {
    w->stats.refused++;
    g_mutex_unlock (&w->lock);
    *reason = "in-flight-limit";
    return false;
  } else {
    job = job_get_locked (w);
  }
  /* Copying under the lock keeps the order of submits; about a
   * millisecond for a VGA frame. */
  job_copy (job, frame);
  job->stamp = *stamp;
  job->tag = tag;
  job->input_width = input_width;
  job->input_height = input_height;
  job->mode = mode;
  job->deadline_us = deadline_us;
  job->options = w->options;
  job->epoch = w->epoch;
  g_queue_push_tail (&w->waiting, job);
  w->stats.submitted++;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  if (replaced != NULL && w->o.on_ready != NULL)
    w->o.on_ready (w->o.user);
  return true;
}

bool
ys_local_worker_idle (YsLocalWorker *w)
{
  bool idle;
  g_mutex_lock (&w->lock);
  idle = w->running == NULL && g_queue_is_empty (&w->waiting);
  g_mutex_unlock (&w->lock);
  return idle;
}

bool
ys_local_worker_take (YsLocalWorker *w, YoloAnalysis *out)
{
  YoloAnalysis *a;

  g_mutex_lock (&w->lock);
  a = g_queue_pop_head (&w->done);
  g_mutex_unlock (&w->lock);
  if (a == NULL)
    return false;
  yolo_analysis_move (out, a);
  g_free (a);
  return true;
}

bool
ys_local_worker_drain (YsLocalWorker *w, int64_t until_us)
{
  bool idle;

  g_mutex_lock (&w->lock);
  while (!w->interrupted
      && (w->running != NULL || !g_queue_is_empty (&w->waiting))
      && g_cond_wait_until (&w->cond, &w->lock, until_us))
    ;
  idle = w->running == NULL && g_queue_is_empty (&w->waiting);
  g_mutex_unlock (&w->lock);
  return idle;
}

void
ys_local_worker_flush (YsLocalWorker *w)
{
  Job *job;

  g_mutex_lock (&w->lock);
  w->epoch++;
  while ((job = g_queue_pop_head (&w->waiting)) != NULL)
    g_queue_push_tail (&w->spare, job);
  g_queue_clear_full (&w->done, (GDestroyNotify) analysis_free);
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

void
ys_local_worker_interrupt (YsLocalWorker *w, bool interrupted)
{
  g_mutex_lock (&w->lock);
  w->interrupted = interrupted;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

void
ys_local_worker_stats (YsLocalWorker *w, YsPathStats *out)
{
  g_mutex_lock (&w->lock);
  *out = w->stats;
  g_mutex_unlock (&w->lock);
}

char *
ys_local_worker_take_notice (YsLocalWorker *w, bool *is_warning)
{
  char *text;

  g_mutex_lock (&w->lock);
  text = g_queue_pop_head (&w->notices);
  g_mutex_unlock (&w->lock);
  *is_warning = true;
  return text;
}
