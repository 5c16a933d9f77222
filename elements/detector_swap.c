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

/* Worker or loader thread, no lock of ours held: posts, and hands the
 * model that stopped running to the next swap (or stop) to let go of in
 * the cache; nothing here may wait. */
static void
on_swapped (const YsModelSwap *swap, void *user)
{
  GstYoloDetector *self = user;
  GstStructure *s = gst_structure_new ("yoloswitch-model", "ok", G_TYPE_BOOLEAN,
      swap->ok, "model", G_TYPE_STRING, swap->model, "previous", G_TYPE_STRING,
      swap->previous, "load-ms", G_TYPE_DOUBLE, swap->load_ms, "input-width",
      G_TYPE_INT, swap->input_width, "input-height", G_TYPE_INT,
      swap->input_height, "superseded", G_TYPE_BOOLEAN, swap->superseded,
      "error", G_TYPE_STRING, swap->error != NULL ? swap->error : "", NULL);

  if (swap->ok && g_strcmp0 (swap->previous, swap->model) != 0)
    g_async_queue_push (self->cache_releases, g_strdup (swap->previous));
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  if (swap->ok)
    GST_INFO_OBJECT (self, "model %s took over from %s (loaded in %.1f ms)",
        swap->model, swap->previous, swap->load_ms);
  else if (!swap->superseded)
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("The model change did not take: %s; %s keeps running", swap->error,
            swap->model),
        (NULL));
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

static gpointer
swap_main (gpointer data)
{
  GstYoloDetector *self = data;
  YsDetectorSettings settings, *st = &settings;
  YoloModelSpec spec;
  YsPath *local = NULL;
  const char *model_dir = NULL;
  gboolean found, started;
  int w, h;

  memset (&spec, 0, sizeof (spec));
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
  /* What runs already (a property set before start, whose thread ran
   * after it): nothing to do. */
  if (started && g_strcmp0 (st->local_model, self->swap_model) == 0
      && g_strcmp0 (st->input_size, self->swap_input_size) == 0)
    started = FALSE;
  found = started && ys_detector_input_size (st->input_size, &w, &h);
  if (started && !found)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("input-size \"%s\" is not WIDTHxHEIGHT in multiples of 32 (32 to "
         "4096); the model keeps its size",
            st->input_size),
        (NULL));
  else if (found)
    found = ys_detector_model_dir_quiet (self, st, st->local_model, &model_dir);
  if (found) {
    spec.name = st->local_model;
    spec.model_dir = model_dir;
    spec.input_width = w;
    spec.input_height = h;
    g_mutex_lock (&self->backend_lock);
    if (self->switcher != NULL)
      local = ys_switcher_path (self->switcher, YS_PATH_LOCAL);
    g_mutex_unlock (&self->backend_lock);
    if (local != NULL) {
      ys_local_path_swap (local, &spec, on_swapped, self);
      g_free (self->swap_model);
      g_free (self->swap_input_size);
      self->swap_model = g_strdup (st->local_model);
      self->swap_input_size = g_strdup (st->input_size);
    }
  }
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
