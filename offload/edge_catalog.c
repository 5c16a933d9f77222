/* The edge server's model catalog; see edge_catalog.h.  A scan builds a
 * whole new snapshot (models, files, the JSON) off the service thread and
 * swaps it in under the lock; readers hold a reference to the one they
 * got, so a scan never changes what a download in progress serves. */
#include "edge_catalog.h"
#include "edge_catalog_internal.h"
#include "edge_log.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct EdgeCatalogSnapshot {
  gint refs;
  guint64 generation;
  char *json;
  gsize json_length;
  char etag[40];
  GPtrArray *files; /* EdgeCatalogFile *, owned */
  GHashTable *by_url; /* "NAME/FILE" -> EdgeCatalogFile * in files */
};

/* ---- files ------------------------------------------------------------------ */

void
edge_catalog_file_free (gpointer data)
{
  EdgeCatalogFile *f = data;
  g_free (f->file);
  g_free (f->path);
  g_free (f);
}

/* ---- profiles: accuracy and latency per model and input size ---------------- */

/* A *.profile.json of the folder, read within its limit. */
static void
read_profile (const char *path, const char *file, GHashTable *accuracy,
    GHashTable *latency)
{
  char *text = NULL;
  gsize length = 0;
  struct stat st;

  if (edge_catalog_probe (path, &st) == 0
      && st.st_size <= EDGE_CATALOG_MAX_PROFILE_BYTES
      && g_file_get_contents (path, &text, &length, NULL))
    edge_catalog_read_profile (text, length, file, accuracy, latency);
  g_free (text);
}

/* ---- a scan ----------------------------------------------------------------- */

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
snapshot_free (EdgeCatalogSnapshot *snap)
{
  g_hash_table_unref (snap->by_url);
  g_ptr_array_unref (snap->files);
  g_free (snap->json);
  g_free (snap);
}

/* One scan: a new snapshot when anything changed.  The scanning thread's
 * (and new's, before the thread): current_body, generation and hashes are
 * its own; only the swap of `current` takes the lock. */
static void
rescan (EdgeCatalog *cat)
{
  Scan s = { .cat = cat };
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GError *error = NULL;
  GDir *dir = g_dir_open (cat->dir, 0, &error);
  EdgeCatalogSnapshot *snap, *old = NULL;
  JsonBuilder *top;
  JsonNode *node;
  char *body;
  const char *entry;
  gsize length;
  int profiles = 0;

  if (dir == NULL) {
    /* Gone or unreadable for now: what was listed stays listed. */
    edge_log (EDGE_LOG_WARN,
        "catalog: cannot read %s (%s); the listing "
        "stays as it was",
        cat->dir, error->message);
    g_error_free (error);
    g_ptr_array_unref (names);
    return;
  }
  while ((entry = g_dir_read_name (dir)) != NULL) {
    if (names->len == EDGE_CATALOG_MAX_ENTRIES) {
      edge_log (EDGE_LOG_WARN,
          "catalog: %s has more than %d entries; the "
          "rest are not read",
          cat->dir, EDGE_CATALOG_MAX_ENTRIES);
      break;
    }
    g_ptr_array_add (names, g_strdup (entry));
  }
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  cat->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  s.files = g_ptr_array_new_with_free_func (edge_catalog_file_free);
  s.by_url = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s.accuracy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) json_array_unref);
  s.latency = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) json_array_unref);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    if (g_str_has_suffix (name, ".profile.json") && *name != '.'
        && profiles++ < EDGE_CATALOG_MAX_PROFILES) {
      char *path = g_build_filename (cat->dir, name, NULL);
      read_profile (path, name, s.accuracy, s.latency);
      g_free (path);
    }
  }
  s.models = json_builder_new ();
  s.refused = json_builder_new ();
  json_builder_begin_array (s.models);
  json_builder_begin_array (s.refused);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    char *stem;
    if (g_atomic_int_get (&cat->stopping_flag))
      break; /* the server stops: no more hashing */
    if (!g_str_has_suffix (name, ".cfg"))
      continue;
    stem = g_strndup (name, strlen (name) - 4);
    if (edge_catalog_valid_name (stem))
      edge_catalog_scan_model (&s, stem);
    else if (*name != '.')
      edge_catalog_refuse (&s, name,
          "not a model name (letters, digits, '-', '_' and '.' only)");
    g_free (stem);
  }
  json_builder_end_array (s.models);
  json_builder_end_array (s.refused);

  /* The models and refusals, to tell whether anything changed. */
  top = json_builder_new ();
  json_builder_begin_object (top);
  json_builder_set_member_name (top, "models");
  json_builder_add_value (top, json_builder_get_root (s.models));
  json_builder_set_member_name (top, "refused");
  json_builder_add_value (top, json_builder_get_root (s.refused));
  json_builder_end_object (top);
  node = json_builder_get_root (top);
  {
    JsonGenerator *g = json_generator_new ();
    json_generator_set_root (g, node);
    body = json_generator_to_data (g, &length);
    g_object_unref (g);
  }

  if (cat->current == NULL || g_strcmp0 (body, cat->current_body) != 0) {
    JsonObject *o = json_node_get_object (node);
    JsonObject *doc = json_object_new ();
    JsonNode *doc_node = json_node_new (JSON_NODE_OBJECT);
    JsonGenerator *g = json_generator_new ();
    char *digest;

    snap = g_new0 (EdgeCatalogSnapshot, 1);
    snap->refs = 1;
    snap->generation = ++cat->generation;
    snap->files = g_steal_pointer (&s.files);
    snap->by_url = g_steal_pointer (&s.by_url);
    json_object_set_string_member (doc, "schema", "yoloswitch-catalog/1");
    json_object_set_int_member (doc, "generation", (gint64) snap->generation);
    json_object_set_member (doc, "models",
        json_node_copy (json_object_get_member (o, "models")));
    json_object_set_member (doc, "refused",
        json_node_copy (json_object_get_member (o, "refused")));
    json_node_take_object (doc_node, doc);
    json_generator_set_root (g, doc_node);
    json_generator_set_pretty (g, TRUE);
    snap->json = json_generator_to_data (g, &snap->json_length);
    g_object_unref (g);
    json_node_unref (doc_node);
    digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
        (const guchar *) snap->json, snap->json_length);
    g_snprintf (snap->etag, sizeof (snap->etag), "\"%.32s\"", digest);
    g_free (digest);
    g_free (cat->current_body);
    cat->current_body = g_steal_pointer (&body);
    g_mutex_lock (&cat->lock);
    old = cat->current;
    cat->current = snap;
    g_mutex_unlock (&cat->lock);
  }
  if (old != NULL)
    edge_catalog_snapshot_unref (old);
  /* Digests of files no longer there are forgotten. */
  {
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init (&it, cat->hashes);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!g_hash_table_contains (cat->seen, key))
        g_hash_table_iter_remove (&it);
    g_clear_pointer (&cat->seen, g_hash_table_unref);
  }

  json_node_unref (node);
  g_object_unref (top);
  g_object_unref (s.models);
  g_object_unref (s.refused);
  g_hash_table_unref (s.accuracy);
  g_hash_table_unref (s.latency);
  if (s.files != NULL)
    g_ptr_array_unref (s.files);
  if (s.by_url != NULL)
    g_hash_table_unref (s.by_url);
  g_free (body);
  g_ptr_array_unref (names);
}

/* ---- the thread and readers ------------------------------------------------- */

static gpointer
scan_thread (gpointer data)
{
  EdgeCatalog *cat = data;

  g_mutex_lock (&cat->lock);
  while (!cat->stopping) {
    gint64 until = g_get_monotonic_time () + (gint64) cat->scan_ms * 1000;
    while (!cat->stopping && g_cond_wait_until (&cat->wake, &cat->lock, until))
      ;
    if (cat->stopping)
      break;
    g_mutex_unlock (&cat->lock);
    rescan (cat);
    g_mutex_lock (&cat->lock);
  }
  g_mutex_unlock (&cat->lock);
  return NULL;
}

EdgeCatalog *
edge_catalog_new (const char *dir, int scan_ms, GError **error)
{
  EdgeCatalog *cat;
  GDir *d = g_dir_open (dir, 0, error);

  if (d == NULL) {
    g_prefix_error (error, "catalog folder: ");
    return NULL;
  }
  g_dir_close (d);
  cat = g_new0 (EdgeCatalog, 1);
  /* As the loader joins paths, so labels found there compare equal. */
  cat->dir = g_canonicalize_filename (dir, NULL);
  cat->scan_ms = MAX (scan_ms, 100);
  g_mutex_init (&cat->lock);
  g_cond_init (&cat->wake);
  cat->hashes = edge_catalog_hash_cache_new ();
  rescan (cat);
  cat->thread = g_thread_new ("edge-catalog", scan_thread, cat);
  return cat;
}

void
edge_catalog_free (EdgeCatalog *cat)
{
  if (cat == NULL)
    return;
  g_atomic_int_set (&cat->stopping_flag, 1);
  g_mutex_lock (&cat->lock);
  cat->stopping = TRUE;
  g_cond_signal (&cat->wake);
  g_mutex_unlock (&cat->lock);
  g_thread_join (cat->thread);
  if (cat->current != NULL)
    edge_catalog_snapshot_unref (cat->current);
  g_hash_table_unref (cat->hashes);
  g_free (cat->current_body);
  g_free (cat->dir);
  g_mutex_clear (&cat->lock);
  g_cond_clear (&cat->wake);
  g_free (cat);
}

EdgeCatalogSnapshot *
edge_catalog_get (EdgeCatalog *cat)
{
  EdgeCatalogSnapshot *snap;
  g_mutex_lock (&cat->lock);
  snap = cat->current;
  g_atomic_int_inc (&snap->refs);
  g_mutex_unlock (&cat->lock);
  return snap;
}

void
edge_catalog_snapshot_unref (EdgeCatalogSnapshot *snap)
{
  if (snap != NULL && g_atomic_int_dec_and_test (&snap->refs))
    snapshot_free (snap);
}

const char *
edge_catalog_json (const EdgeCatalogSnapshot *snap, gsize *length)
{
  *length = snap->json_length;
  return snap->json;
}

const char *
edge_catalog_etag (const EdgeCatalogSnapshot *snap)
{
  return snap->etag;
}

const EdgeCatalogFile *
edge_catalog_find (const EdgeCatalogSnapshot *snap, const char *model,
    const char *file)
{
  char *key = g_strdup_printf ("%s/%s", model, file);
  const EdgeCatalogFile *f = g_hash_table_lookup (snap->by_url, key);
  g_free (key);
  return f;
}
