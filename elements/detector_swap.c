/* Hot swap of the local model while playing (issue 16; the model and
 * input-size properties of yolodetect, local-model of yoloswitch): the
 * new model is found (the search path, else the model cache, which may
 * fetch it) on a thread of the element's, then loaded and warmed up on
 * the local worker's loader thread while the old model keeps running,
 * and takes over between two frames (pipeline/local_worker.h).  A
 * yoloswitch-model message says when, with the load time; a model that
 * cannot be had is a warning and the old one stays.  No frame waits for
 * any of it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include "local_path.h"

#include <stdio.h>
#include <string.h>

#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)

gboolean
ys_detector_input_size (const char *text, int *width, int *height)
{
  int w = 0, h = 0;
  char tail;

  *width = *height = 0;
  if (text == NULL || *text == '\0')
    return TRUE;
  if (sscanf (text, "%dx%d%c", &w, &h, &tail) != 2 || w < 32 || h < 32
      || w > 4096 || h > 4096 || w % 32 != 0 || h % 32 != 0)
    return FALSE;
  *width = w;
  *height = h;
  return TRUE;
}

/* One swap handed to the local path, until its callback: what was asked
 * (the cache holds are by that name) and whether a hold was taken for it. */
typedef struct {
  GstYoloDetector *self;
  char *model;
  gboolean held;
} SwapAsked;

/* Worker or loader thread, no lock of ours held: posts, and hands the
 * holds no running model needs to the next swap (or stop) to let go of:
 * the replaced model's after a take-over (or this one's second hold when
 * it replaced itself at another input size), this one's when it did not
 * take.  Nothing here may wait. */
static void
on_swapped (const YsModelSwap *swap, void *user)
{
  SwapAsked *asked = user;
  GstYoloDetector *self = asked->self;
  GstStructure *s = gst_structure_new ("yoloswitch-model", "ok", G_TYPE_BOOLEAN,
      swap->ok, "model", G_TYPE_STRING, swap->model, "previous", G_TYPE_STRING,
      swap->previous, "load-ms", G_TYPE_DOUBLE, swap->load_ms, "input-width",
      G_TYPE_INT, swap->input_width, "input-height", G_TYPE_INT,
      swap->input_height, "superseded", G_TYPE_BOOLEAN, swap->superseded,
      "error", G_TYPE_STRING, swap->error != NULL ? swap->error : "", NULL);
  const char *release = NULL;

  if (!swap->ok)
    release = asked->held ? asked->model : NULL;
  else if (g_strcmp0 (swap->previous, asked->model) != 0)
    release = swap->previous;
  else if (asked->held)
    release = asked->model;
  if (release != NULL)
    g_async_queue_push (self->cache_releases, g_strdup (release));
  /* What was asked last is taken as running: after a failure it is not,
   * and asking for it again must load it again. */
  if (!swap->ok && !swap->superseded)
    g_atomic_int_set (&self->swap_retry, 1);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  if (swap->ok)
    GST_INFO_OBJECT (self, "model %s took over from %s (loaded in %.1f ms)",
        swap->model, swap->previous, swap->load_ms);
  else if (!swap->superseded && !g_atomic_int_get (&self->swap_cancel))
    /* (a load the stop ended is no fault either) */
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("The change to model %s did not take: %s; %s keeps running",
            asked->model != NULL ? asked->model : "(given by its files)",
            swap->error, swap->model),
        (NULL));
  g_free (asked->model);
  g_free (asked);
}

/* Lets the cache go of the models that stopped running.  Under
 * swap_lock (or at stop, when no swap runs). */
void
ys_detector_cache_release_stopped (GstYoloDetector *self)
{
  char *name;
  while ((name = g_async_queue_try_pop (self->cache_releases)) != NULL) {
    ys_detector_cache_release_one (self, name);
    g_free (name);
  }
}

/* input-size's NULL and "" are the same: the cfg's. */
static gboolean
same_size (const char *a, const char *b)
{
  return g_strcmp0 (a != NULL && *a != '\0' ? a : NULL,
             b != NULL && *b != '\0' ? b : NULL)
      == 0;
}

/* Under swap_lock, playing: hands the settings' model to the local path. */
static void
swap_to (GstYoloDetector *self, const YsDetectorSettings *st)
{
  YoloModelSpec spec;
  SwapAsked *asked;
  YsPath *local = NULL;
  gboolean held;
  int w, h;

  memset (&spec, 0, sizeof (spec));
  if (!ys_detector_input_size (st->input_size, &w, &h)) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("input-size \"%s\" is not WIDTHxHEIGHT in multiples of 32 (32 to "
         "4096); the model keeps its size",
            st->input_size),
        (NULL));
    return;
  }
  /* The model as start would build it: explicit files stay explicit. */
  if (!ys_detector_local_spec (self, st, TRUE, &spec, &held))
    return;
  spec.input_width = w;
  spec.input_height = h;
  asked = g_new0 (SwapAsked, 1);
  asked->self = self;
  asked->model = g_strdup (spec.name);
  asked->held = held;
  g_mutex_lock (&self->backend_lock);
  if (self->switcher != NULL)
    local = ys_switcher_path (self->switcher, YS_PATH_LOCAL);
  g_mutex_unlock (&self->backend_lock);
  if (local == NULL) {
    /* Stopped meanwhile: the hold goes at stop with the rest. */
    g_free (asked->model);
    g_free (asked);
    return;
  }
  g_free (self->swap_model);
  g_free (self->swap_input_size);
  self->swap_model = g_strdup (st->local_model);
  self->swap_input_size = g_strdup (st->input_size);
  ys_local_path_swap (local, &spec, on_swapped, asked);
}

static gpointer
swap_main (gpointer data)
{
  GstYoloDetector *self = data;
  YsDetectorSettings settings, *st = &settings;
  gboolean started, retry;

  /* One change at a time, and the only user of the cache while playing.
   * No other lock is held with it but briefly backend_lock (never the
   * other way round), and nothing here is under backend_lock but reading
   * the path: stop waits for this thread before it frees the switcher. */
  g_mutex_lock (&self->swap_lock);
  /* The settings as they are now: changes made since this one was asked
   * for (model and input-size set together) are one swap. */
  g_atomic_int_set (&self->swap_queued, 0);
  GST_OBJECT_LOCK (self);
  ys_detector_settings_copy (st, &self->settings);
  GST_OBJECT_UNLOCK (self);
  ys_detector_cache_release_stopped (self);
  g_mutex_lock (&self->backend_lock);
  started = self->switcher != NULL;
  g_mutex_unlock (&self->backend_lock);
  /* Stopping: no lookup, no fetch to cancel. */
  if (g_atomic_int_get (&self->swap_cancel))
    started = FALSE;
  retry = g_atomic_int_compare_and_exchange (&self->swap_retry, 1, 0);
  /* What runs already (a property set before start, whose thread ran
   * after it): nothing to do, unless what was asked last failed. */
  if (started && !retry && g_strcmp0 (st->local_model, self->swap_model) == 0
      && same_size (st->input_size, self->swap_input_size))
    started = FALSE;
  if (started)
    swap_to (self, st);
  g_mutex_unlock (&self->swap_lock);
  ys_detector_settings_clear (st);
  g_mutex_lock (&self->swap_state_lock);
  self->swaps_running--;
  g_cond_broadcast (&self->swap_cond);
  g_mutex_unlock (&self->swap_state_lock);
  return NULL;
}

void
ys_detector_swap_model (GstYoloDetector *self)
{
  gboolean go;

  /* A swap asked for and not started yet reads the settings when it
   * starts: this change is in it. */
  if (!g_atomic_int_compare_and_exchange (&self->swap_queued, 0, 1))
    return;
  g_mutex_lock (&self->swap_state_lock);
  go = !self->swaps_stopping;
  if (go)
    self->swaps_running++;
  g_mutex_unlock (&self->swap_state_lock);
  if (!go) {
    g_atomic_int_set (&self->swap_queued, 0);
    return;
  }
  /* Stop waits for swaps_running to reach 0 (and cancels a fetch). */
  g_thread_unref (g_thread_new ("ys-model-swap", swap_main, self));
}

void
ys_detector_swaps_allow (GstYoloDetector *self)
{
  g_mutex_lock (&self->swap_state_lock);
  self->swaps_stopping = FALSE;
  g_mutex_unlock (&self->swap_state_lock);
  g_atomic_int_set (&self->swap_cancel, 0);
}

void
ys_detector_swaps_wait (GstYoloDetector *self)
{
  g_atomic_int_set (&self->swap_cancel, 1);
  g_mutex_lock (&self->swap_state_lock);
  self->swaps_stopping = TRUE;
  while (self->swaps_running > 0)
    g_cond_wait (&self->swap_cond, &self->swap_state_lock);
  g_mutex_unlock (&self->swap_state_lock);
}
