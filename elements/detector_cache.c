/* The device's model cache for the detector elements (model-cache-dir,
 * cache-budget-mb, catalog; offload/model_cache.h): a model run here that
 * the search path does not have is taken from the cache, fetched into it
 * first when needed, and held until the element stops.  Start only (the
 * streaming thread never waits on the network). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include "model_cache.h"

#include <string.h>

#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)

/* Whether the search path (model-dir first) has model `name`. */
static gboolean
found_by_name (const YsDetectorSettings *st, const char *name)
{
  YoloModelSpec spec = { .name = name, .model_dir = st->model_dir };
  YoloModelFiles files;
  YoloStatus status;
  return yolo_model_resolve (&spec, &files, &status);
}

static void
post_report (GstYoloDetector *self, const char *name, const char *dir,
    const YsCacheReport *r)
{
  GstStructure *s = gst_structure_new ("yoloswitch-model-cache", "model",
      G_TYPE_STRING, name, "dir", G_TYPE_STRING, dir, "version", G_TYPE_STRING,
      r->version, "fetched", G_TYPE_BOOLEAN, r->fetched, "int8", G_TYPE_BOOLEAN,
      r->int8, "bytes", G_TYPE_INT64, r->model_bytes, "sent-bytes",
      G_TYPE_INT64, r->sent_bytes, "resumed-bytes", G_TYPE_INT64,
      r->resumed_bytes, "evicted", G_TYPE_STRING,
      r->evicted != NULL ? r->evicted : "", NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* The folder model `name` loads from; FALSE with *error.  *held: a cache
 * hold was taken for it (let go with ys_detector_cache_release_one). */
static gboolean
lookup (GstYoloDetector *self, const YsDetectorSettings *st, const char *name,
    const char **model_dir, gboolean *held, GError **error)
{
  YsModelCacheOptions o = { NULL };
  YsCacheReport report;
  char *dir = NULL;

  *model_dir = st->model_dir;
  *held = FALSE;
  if (st->model_cache_dir == NULL || name == NULL || found_by_name (st, name))
    return TRUE;
  if (self->model_cache == NULL) {
    o.dir = st->model_cache_dir;
    o.budget_bytes = (gint64) st->cache_budget_mb << 20;
    o.server = st->catalog != NULL ? st->catalog : st->server;
    o.token = st->token;
    o.tls_ca_file = st->tls_ca_file;
    o.cancel = &self->swap_cancel;
    self->model_cache = ys_model_cache_new (&o, error);
    if (self->model_cache == NULL)
      return FALSE;
    self->cache_held = g_ptr_array_new_with_free_func (g_free);
  }
  if (!ys_model_cache_take (self->model_cache, name, &dir, &report, error))
    return FALSE;
  GST_INFO_OBJECT (self, "model %s from the cache (%s): %s", name, dir,
      report.fetched ? "fetched" : "cached");
  post_report (self, name, dir, &report);
  ys_cache_report_clear (&report);
  g_ptr_array_add (self->cache_held, g_strdup (name));
  g_ptr_array_add (self->cache_held, dir); /* kept: *model_dir points here */
  *model_dir = dir;
  *held = TRUE;
  return TRUE;
}

static char *
what_was_tried (const YsDetectorSettings *st, const char *name,
    const GError *error)
{
  gchar search[8192];
  yolo_model_search_path (st->model_dir, search, sizeof (search));
  return g_strdup_printf ("Model \"%s\" is not in the model search path (%s) "
                          "and the model cache could not provide it: %s",
      name, search, error->message);
}

gboolean
ys_detector_model_dir (GstYoloDetector *self, const YsDetectorSettings *st,
    const char *name, const char **model_dir)
{
  GError *error = NULL;
  gboolean held;
  char *text;

  if (lookup (self, st, name, model_dir, &held, &error))
    return TRUE;
  text = what_was_tried (st, name, error);
  GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", text),
      ("model-cache-dir %s, catalog %s", st->model_cache_dir,
          st->catalog != NULL      ? st->catalog
              : st->server != NULL ? st->server
                                   : "(none)"));
  g_free (text);
  g_error_free (error);
  return FALSE;
}

gboolean
ys_detector_model_dir_quiet (GstYoloDetector *self,
    const YsDetectorSettings *st, const char *name, const char **model_dir,
    gboolean *held)
{
  GError *error = NULL;
  char *text;

  if (lookup (self, st, name, model_dir, held, &error))
    return TRUE;
  text = what_was_tried (st, name, error);
  GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
      ("%s; the running model stays", text), (NULL));
  g_free (text);
  g_error_free (error);
  return FALSE;
}

void
ys_detector_cache_release_one (GstYoloDetector *self, const char *name)
{
  if (self->model_cache == NULL)
    return;
  for (guint i = 0; i + 1 < self->cache_held->len; i += 2) {
    if (strcmp (self->cache_held->pdata[i], name) == 0) {
      ys_model_cache_release (self->model_cache, name);
      g_ptr_array_remove_range (self->cache_held, i, 2);
      return;
    }
  }
}

void
ys_detector_cache_release (GstYoloDetector *self)
{
  if (self->model_cache == NULL)
    return;
  /* Names and folders alternate. */
  for (guint i = 0; i + 1 < self->cache_held->len; i += 2)
    ys_model_cache_release (self->model_cache, self->cache_held->pdata[i]);
  g_clear_pointer (&self->cache_held, g_ptr_array_unref);
  g_clear_pointer (&self->model_cache, ys_model_cache_free);
}
