/* The local worker's hot swap (local_worker.h, ys_local_worker_swap): a
 * loader thread opens and warms up the new model while the old one keeps
 * running; the worker takes it over between two frames. */
#include "local_worker_internal.h"

#include "clock.h"

#include <string.h>

void
ys_loaded_model_free (LoadedModel *l)
{
  if (l == NULL)
    return;
  yolo_input_free (l->base.input);
  yolo_model_close (l->base.model);
  g_free (l->name);
  g_free (l->model_dir);
  g_free (l->cfg);
  g_free (l->weights);
  g_free (l->labels);
  g_free (l);
}

#define SUPERSEDED "superseded by a newer swap before it took over"

static void
report_failure (LoadedModel *l, const char *running, const char *error)
{
  YsModelSwap swap = { false, running, running, l->load_ms, l->input_width,
    l->input_height, error, strcmp (error, SUPERSEDED) == 0 };
  if (l->done != NULL)
    l->done (&swap, l->user);
}

/* Opens and warms up l's model (no lock held). */
static bool
load (YsLocalWorker *w, LoadedModel *l, YoloStatus *status)
{
  YoloModelSpec spec;
  YoloInferOptions options;
  double t0 = yolo_now_ms ();
  bool ok;

  /* The engine, threads and the rest as the worker has them. */
  g_mutex_lock (&w->lock);
  spec = w->o.spec;
  options = w->options;
  g_mutex_unlock (&w->lock);
  spec.name = l->name;
  spec.model_dir = l->model_dir;
  spec.cfg_path = l->cfg;
  spec.weights_path = l->weights;
  spec.labels_path = l->labels;
  spec.input_width = l->input_width;
  spec.input_height = l->input_height;
  l->base.width = l->input_width;
  l->base.height = l->input_height;
  l->base.model = yolo_model_open (&spec, status);
  ok = l->base.model != NULL;
  if (ok) {
    l->base.input = yolo_input_new (l->base.model);
    ok = ys_local_worker_warm_up (&l->base, &options, &l->warm_ms, status);
  }
  l->load_ms = yolo_now_ms () - t0;
  return ok;
}

/* One loader at a time: it loads the request it was started with, then
 * whatever request came meanwhile (the newest: older ones were answered
 * "superseded" when it replaced them), so toggling the property fast
 * costs one load at a time, not a thread each. */
static gpointer
loader_main (gpointer data)
{
  LoadedModel *l = data;
  YsLocalWorker *w = l->worker;

  while (l != NULL) {
    YoloStatus status = { 0 };
    LoadedModel *superseded = NULL, *failed = NULL;
    bool ok = load (w, l, &status);
    char *running;

    g_mutex_lock (&w->lock);
    running = g_strdup (w->name);
    if (ok) {
      /* Ready for the worker, even when a newer request waits to be
       * loaded (under changes faster than a load, the newest loaded model
       * still takes over: progress, not starvation); an older one loaded
       * and not taken over yet is superseded by it. */
      superseded = w->ready;
      w->ready = l;
    } else {
      failed = l;
    }
    l = g_steal_pointer (&w->queued);
    g_mutex_unlock (&w->lock);

    if (failed != NULL) {
      report_failure (failed, running, status.message);
      ys_loaded_model_free (failed);
    }
    if (superseded != NULL) {
      report_failure (superseded, running, SUPERSEDED);
      ys_loaded_model_free (superseded);
    }
    g_free (running);
    /* Done with the worker only after the callbacks: free waits for this
     * (a queued request that came meanwhile is taken under the lock). */
    g_mutex_lock (&w->lock);
    if (l == NULL)
      l = g_steal_pointer (&w->queued);
    if (l == NULL)
      w->loaders--;
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
  }
  return NULL;
}

void
ys_local_worker_swap (YsLocalWorker *w, const YoloModelSpec *spec,
    YsModelSwapped done, void *user)
{
  LoadedModel *l = g_new0 (LoadedModel, 1);
  LoadedModel *replaced = NULL;
  char *running = NULL;
  bool start;

  l->worker = w;
  l->name = g_strdup (spec->name);
  l->model_dir = g_strdup (spec->model_dir);
  l->cfg = g_strdup (spec->cfg_path);
  l->weights = g_strdup (spec->weights_path);
  l->labels = g_strdup (spec->labels_path);
  l->input_width = spec->input_width;
  l->input_height = spec->input_height;
  l->done = done;
  l->user = user;
  g_mutex_lock (&w->lock);
  l->seq = ++w->swap_seq;
  start = w->loaders == 0;
  if (start) {
    w->loaders = 1;
  } else {
    /* The loader takes it after its current load. */
    replaced = w->queued;
    w->queued = l;
    running = g_strdup (w->name);
  }
  g_mutex_unlock (&w->lock);
  if (replaced != NULL) {
    report_failure (replaced, running, SUPERSEDED);
    ys_loaded_model_free (replaced);
  }
  g_free (running);
  /* Not joined: free waits for `loaders` to reach 0 instead, so a
   * property set never waits for a load. */
  if (start)
    g_thread_unref (g_thread_new ("ys-model-load", loader_main, l));
}

LoadedModel *
ys_local_worker_take_over_locked (YsLocalWorker *w)
{
  LoadedModel *l = w->ready;
  const char *name;

  if (l == NULL)
    return NULL;
  w->ready = NULL;
  /* What the worker runs from now on, and opens further sizes of. */
  g_ptr_array_add (w->names, w->name); /* handed out: kept until free */
  name = yolo_model_name (l->base.model);
  w->o.spec.name = w->name = g_strdup (name);
  g_free (w->model_dir);
  g_free (w->cfg);
  g_free (w->weights);
  g_free (w->labels);
  w->o.spec.model_dir = w->model_dir = g_steal_pointer (&l->model_dir);
  w->o.spec.cfg_path = w->cfg = g_steal_pointer (&l->cfg);
  w->o.spec.weights_path = w->weights = g_steal_pointer (&l->weights);
  w->o.spec.labels_path = w->labels = g_steal_pointer (&l->labels);
  w->o.spec.input_width = l->input_width;
  w->o.spec.input_height = l->input_height;
  w->stats.load_ms = yolo_model_load_ms (l->base.model);
  w->stats.infer_ms = l->warm_ms;
  w->stats.slowest_infer_ms = l->warm_ms;
  return l;
}

void
ys_local_worker_swap_finish (YsLocalWorker *w, LoadedModel *l, SizedModel *old,
    int old_count)
{
  YsModelSwap swap = { true, NULL, NULL, l->load_ms, 0, 0, NULL, false };
  const char *previous;

  for (int i = 0; i < old_count; i++) {
    yolo_input_free (old[i].input);
    yolo_model_close (old[i].model);
  }
  g_mutex_lock (&w->lock);
  previous = w->names->len > 0 ? w->names->pdata[w->names->len - 1] : "";
  swap.model = w->name;
  g_mutex_unlock (&w->lock);
  swap.previous = previous;
  swap.input_width = yolo_model_input_width (w->sizes[0].model);
  swap.input_height = yolo_model_input_height (w->sizes[0].model);
  if (l->done != NULL)
    l->done (&swap, l->user);
  /* The model now lives in sizes[0]. */
  l->base.model = NULL;
  l->base.input = NULL;
  ys_loaded_model_free (l);
}
