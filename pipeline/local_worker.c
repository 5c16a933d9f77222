/* The switcher's local inference thread; see local_worker.h. */
#include "local_worker.h"

#include <glib.h>
#include <string.h>

#define MAX_SIZES 6 /* input sizes kept open: the profile's ladder */

typedef struct {
  int width, height; /* asked for (0: the cfg's) */
  YoloModel *model;
  YoloInput *input;
} SizedModel;

/* A frame copied out of the caller's buffer. */
typedef struct {
  YoloFrame frame;
  uint8_t *data;
  size_t capacity;
  int64_t frame_us, submitted_us;
  int tag, input_width, input_height;
} Job;

struct YsLocalWorker {
  YoloModelSpec spec; /* strings owned below */
  char *name, *model_dir, *cfg, *weights, *labels;
  YoloInferOptions options;
  SizedModel sizes[MAX_SIZES]; /* worker thread only (after new) */
  int size_count;

  GMutex lock;
  GCond cond;
  GThread *thread;
  bool stop;
  Job pending, running;
  bool have_pending, busy;
  GQueue results; /* YsLocalResult * */
};

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

/* Worker thread: the model for this size, opened on first use. */
static SizedModel *
model_for (YsLocalWorker *w, int width, int height, YoloStatus *status)
{
  YoloModelSpec spec = w->spec;
  SizedModel *m;

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

static void
run_job (YsLocalWorker *w, Job *job, YsLocalResult *r)
{
  YoloStatus status = { 0 };
  SizedModel *m = model_for (w, job->input_width, job->input_height, &status);
  double t0 = yolo_now_ms ();

  r->frame_us = job->frame_us;
  r->submitted_us = job->submitted_us;
  r->tag = job->tag;
  r->ok = m != NULL
      && yolo_input_fill (m->input, &job->frame, w->options.letterbox, &status)
      && yolo_model_run (m->model, m->input, &w->options, &r->dets, &status);
  r->infer_ms = yolo_now_ms () - t0;
  r->latency_ms = (g_get_monotonic_time () - job->submitted_us) / 1000.0;
  if (m != NULL) {
    r->input_width = yolo_model_input_width (m->model);
    r->input_height = yolo_model_input_height (m->model);
  }
  if (!r->ok)
    g_strlcpy (r->error, status.message, sizeof (r->error));
}

static gpointer
worker_main (gpointer data)
{
  YsLocalWorker *w = data;

  g_mutex_lock (&w->lock);
  for (;;) {
    Job swap;
    YsLocalResult *r;

    while (!w->stop && !w->have_pending)
      g_cond_wait (&w->cond, &w->lock);
    if (w->stop)
      break;
    /* Take the pending frame; its buffer becomes the next one to fill. */
    swap = w->running;
    w->running = w->pending;
    w->pending = swap;
    w->have_pending = false;
    w->busy = true;
    g_mutex_unlock (&w->lock);

    r = g_new0 (YsLocalResult, 1);
    ys_local_result_init (r);
    run_job (w, &w->running, r);

    g_mutex_lock (&w->lock);
    g_queue_push_tail (&w->results, r);
    w->busy = false;
    g_cond_broadcast (&w->cond);
  }
  g_mutex_unlock (&w->lock);
  return NULL;
}

YsLocalWorker *
ys_local_worker_new (const YoloModelSpec *spec, const YoloInferOptions *options,
    YoloStatus *status)
{
  YsLocalWorker *w = g_new0 (YsLocalWorker, 1);

  w->spec = *spec;
  w->spec.name = w->name = g_strdup (spec->name);
  w->spec.model_dir = w->model_dir = g_strdup (spec->model_dir);
  w->spec.cfg_path = w->cfg = g_strdup (spec->cfg_path);
  w->spec.weights_path = w->weights = g_strdup (spec->weights_path);
  w->spec.labels_path = w->labels = g_strdup (spec->labels_path);
  w->options = *options;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  g_queue_init (&w->results);
  /* The base size now: a missing or broken model fails the caller's start. */
  if (model_for (w, spec->input_width, spec->input_height, status) == NULL) {
    ys_local_worker_free (w);
    return NULL;
  }
  w->thread = g_thread_new ("ys-local", worker_main, w);
  return w;
}

void
ys_local_worker_free (YsLocalWorker *w)
{
  YsLocalResult *r;

  if (w == NULL)
    return;
  if (w->thread != NULL) {
    g_mutex_lock (&w->lock);
    w->stop = true;
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
    g_thread_join (w->thread);
  }
  while ((r = g_queue_pop_head (&w->results)) != NULL) {
    ys_local_result_clear (r);
    g_free (r);
  }
  for (int i = 0; i < w->size_count; i++) {
    yolo_input_free (w->sizes[i].input);
    yolo_model_close (w->sizes[i].model);
  }
  g_free (w->pending.data);
  g_free (w->running.data);
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
ys_local_worker_model_name (const YsLocalWorker *w)
{
  return yolo_model_name (w->sizes[0].model);
}

bool
ys_local_worker_submit (YsLocalWorker *w, const YoloFrame *frame,
    int64_t frame_us, int tag, int input_width, int input_height)
{
  bool replaced;

  g_mutex_lock (&w->lock);
  replaced = w->have_pending;
  /* Copying under the lock keeps the worker from swapping buffers midway;
   * it takes about a millisecond for a VGA frame. */
  job_copy (&w->pending, frame);
  w->pending.frame_us = frame_us;
  w->pending.submitted_us = g_get_monotonic_time ();
  w->pending.tag = tag;
  w->pending.input_width = input_width;
  w->pending.input_height = input_height;
  w->have_pending = true;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  return !replaced;
}

bool
ys_local_worker_idle (YsLocalWorker *w)
{
  bool idle;
  g_mutex_lock (&w->lock);
  idle = !w->busy && !w->have_pending;
  g_mutex_unlock (&w->lock);
  return idle;
}

bool
ys_local_worker_take (YsLocalWorker *w, YsLocalResult *out)
{
  YsLocalResult *r;

  g_mutex_lock (&w->lock);
  r = g_queue_pop_head (&w->results);
  g_mutex_unlock (&w->lock);
  if (r == NULL)
    return false;
  ys_local_result_clear (out);
  *out = *r; /* takes over the detections' array */
  g_free (r);
  return true;
}

bool
ys_local_worker_drain (YsLocalWorker *w, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  bool idle;

  g_mutex_lock (&w->lock);
  while ((w->busy || w->have_pending)
      && g_cond_wait_until (&w->cond, &w->lock, end))
    ;
  idle = !w->busy && !w->have_pending;
  g_mutex_unlock (&w->lock);
  return idle;
}

void
ys_local_result_init (YsLocalResult *r)
{
  memset (r, 0, sizeof (*r));
  yolo_detections_init (&r->dets);
}

void
ys_local_result_clear (YsLocalResult *r)
{
  yolo_detections_free (&r->dets);
  ys_local_result_init (r);
}
