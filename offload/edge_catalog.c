/* The edge server's model catalog; see edge_catalog.h.  A scan builds a
 * whole new snapshot (models, files, the JSON) off the service thread and
 * swaps it in under the lock; readers hold a reference to the one they
 * got, so a scan never changes what a download in progress serves. */
#include "edge_catalog.h"
#include "edge_catalog_internal.h"

#include "cfg.h"
#include "weights_q8.h"
#include "yolo.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION_MAX 64

struct EdgeCatalogSnapshot {
  gint refs;
  guint64 generation;
  char *json;
  gsize json_length;
  GPtrArray *files; /* EdgeCatalogFile *, owned */
  GHashTable *by_url; /* "NAME/FILE" -> EdgeCatalogFile * in files */
};

struct EdgeCatalog {
  char *dir;
  int scan_ms;
  GMutex lock;
  GCond wake;
  gboolean stopping; /* locked */
  EdgeCatalogSnapshot *current; /* locked */
  char *current_body; /* the last scan's models JSON, to tell changes */
  guint64 generation;
  GHashTable *hashes; /* edge_catalog_hash()'s cache; the scan's */
  GThread *thread;
};

/* ---- files ------------------------------------------------------------------ */

static void
file_free (gpointer data)
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

/* ---- one model -------------------------------------------------------------- */

/* A model name as a file stem: no path, no hidden file, printable. */
static gboolean
valid_name (const char *name)
{
  if (*name == '\0' || *name == '.' || strlen (name) > 200)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* NAME.version's first line when it is a plain token; NULL otherwise. */
static char *
read_version (const char *dir, const char *name)
{
  char *path = g_strdup_printf ("%s/%s.version", dir, name);
  char *text = NULL, *version = NULL;
  struct stat st;
  gsize length;

  if (edge_catalog_probe (path, &st) == 0 && st.st_size <= 4096
      && g_file_get_contents (path, &text, &length, NULL)) {
    char *end = strchr (text, '\n');
    gboolean ok;
    if (end != NULL)
      *end = '\0';
    g_strstrip (text);
    ok = *text != '\0' && strlen (text) <= VERSION_MAX;
    for (const char *p = text; ok && *p != '\0'; p++)
      ok = g_ascii_isalnum (*p) || strchr ("._+-", *p) != NULL;
    if (ok)
      version = g_strdup (text);
  }
  g_free (text);
  g_free (path);
  return version;
}

typedef struct {
  EdgeCatalog *cat;
  GPtrArray *files; /* the snapshot's */
  GHashTable *by_url;
  JsonBuilder *models, *refused;
  GHashTable *accuracy, *latency;
  int model_count;
} Scan;

static void
refuse (Scan *s, const char *file, const char *problem)
{
  json_builder_begin_object (s->refused);
  json_builder_set_member_name (s->refused, "file");
  json_builder_add_string_value (s->refused, file);
  json_builder_set_member_name (s->refused, "problem");
  json_builder_add_string_value (s->refused, problem);
  json_builder_end_object (s->refused);
}

/* The file `file` of the folder as role, hashed; NULL when absent (or,
 * with *problem set, unusable). */
static EdgeCatalogFile *
take_file (Scan *s, const char *file, const char *role, const char **problem)
{
  char *path = g_build_filename (s->cat->dir, file, NULL);
  EdgeCatalogFile *f;
  struct stat st;
  int why = edge_catalog_probe (path, &st);

  *problem = NULL;
  if (why != 0) {
    *problem = why == EFBIG ? "larger than the catalog's 2 GiB limit"
        : why == EINVAL     ? "not a regular file"
        : why == EAGAIN     ? "" /* still being written: next scan */
                            : NULL;
    g_free (path);
    return NULL;
  }
  f = g_new0 (EdgeCatalogFile, 1);
  f->file = g_strdup (file);
  f->role = role;
  f->path = path;
  if (!edge_catalog_hash (s->cat->hashes, path, f)) {
    file_free (f);
    *problem = "could not be read";
    return NULL;
  }
  return f;
}

static void
add_file_json (JsonBuilder *b, const char *model, const EdgeCatalogFile *f)
{
  char *url = g_strdup_printf ("/models/%s/%s", model, f->file);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, f->file);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, f->role);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, f->bytes);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, f->sha256);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, url);
  json_builder_end_object (b);
  g_free (url);
}

static void
add_array_or_empty (JsonBuilder *b, const char *member, GHashTable *table,
    const char *model)
{
  JsonArray *list = g_hash_table_lookup (table, model);
  json_builder_set_member_name (b, member);
  if (list != NULL) {
    JsonNode *node = json_node_new (JSON_NODE_ARRAY);
    json_node_set_array (node, list);
    json_builder_add_value (b, node);
  } else {
    json_builder_begin_array (b);
    json_builder_end_array (b);
  }
}

/* NAME.cfg and what goes with it, into the scan; refused with the reason
 * when it cannot be listed. */
static void
scan_model (Scan *s, const char *name)
{
  char *cfg_file = g_strconcat (name, ".cfg", NULL);
  char *weights_file = g_strconcat (name, ".weights", NULL);
  char *q8_file = g_strconcat (name, ".q8.weights", NULL);
  EdgeCatalogFile *files[4] = { NULL };
  YoloModelSpec spec = { .name = name, .model_dir = s->cat->dir };
  YoloModelFiles resolved;
  YoloStatus status;
  CfgNetwork net;
  const char *problem = NULL;
  char *labels_dir = NULL, *labels_file = NULL, *version = NULL;
  char *why = NULL;
  GChecksum *identity;
  gboolean net_loaded = FALSE;

  memset (&net, 0, sizeof (net));
  files[0] = take_file (s, cfg_file, "cfg", &problem);
  if (files[0] == NULL) {
    if (problem != NULL && *problem != '\0')
      why = g_strdup (problem);
    goto out;
  }
  if (!cfg_network_load (files[0]->path, &net, &status)) {
    why = g_strdup (status.message);
    goto out;
  }
  net_loaded = TRUE;
  /* NAME.weights: float, or 8-bit under the float name (what a device
   * cache holds); NAME.q8.weights: the 8-bit variant beside a float. */
  files[1] = take_file (s, weights_file, "weights", &problem);
  if (files[1] == NULL && problem != NULL) {
    why = *problem != '\0' ? g_strdup_printf ("%s: %s", weights_file, problem)
                           : NULL;
    goto out;
  }
  if (files[1] != NULL) {
    if (yolo_q8_is_file (files[1]->path)) {
      files[1]->role = "weights-q8";
    } else if (!cfg_check_weights (&net, files[1]->path, &status)) {
      why = g_strdup (status.message);
      goto out;
    }
  }
  files[2] = take_file (s, q8_file, "weights-q8", &problem);
  if (files[2] == NULL && problem != NULL) {
    why = *problem != '\0' ? g_strdup_printf ("%s: %s", q8_file, problem)
                           : NULL;
    goto out;
  }
  if (files[2] != NULL && !yolo_q8_is_file (files[2]->path)) {
    why = g_strdup_printf ("%s is not an 8-bit weights file (write it with "
                           "yoloswitch-quantize)",
        q8_file);
    goto out;
  }
  if (files[1] == NULL && files[2] == NULL) {
    why = g_strdup_printf ("no %s or %s beside it", weights_file, q8_file);
    goto out;
  }
  /* The labels, by the loader's own rules, from this folder only. */
  if (!yolo_model_resolve (&spec, &resolved, &status)
      || resolved.labels_path[0] == '\0') {
    why = g_strdup ("no labels file");
    goto out;
  }
  labels_dir = g_path_get_dirname (resolved.labels_path);
  labels_file = g_path_get_basename (resolved.labels_path);
  if (strcmp (labels_dir, s->cat->dir) != 0
      || (files[3] = take_file (s, labels_file, "labels", &problem)) == NULL) {
    if (problem == NULL || *problem != '\0')
      why = g_strdup_printf ("no labels file (%s.names or its dataset's, "
                             "such as coco.names) in the folder",
          name);
    goto out;
  }

  if (s->model_count >= EDGE_CATALOG_MAX_MODELS) {
    why = g_strdup ("the catalog already lists its 256 models");
    goto out;
  }
  identity = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (identity, (const guchar *) files[0]->sha256, 64);
  g_checksum_update (identity,
      (const guchar *) (files[1] != NULL ? files[1] : files[2])->sha256, 64);
  version = read_version (s->cat->dir, name);

  json_builder_begin_object (s->models);
  json_builder_set_member_name (s->models, "name");
  json_builder_add_string_value (s->models, name);
  json_builder_set_member_name (s->models, "version");
  if (version != NULL) {
    json_builder_add_string_value (s->models, version);
  } else {
    char short_id[13];
    g_strlcpy (short_id, g_checksum_get_string (identity), sizeof (short_id));
    json_builder_add_string_value (s->models, short_id);
  }
  json_builder_set_member_name (s->models, "sha256");
  json_builder_add_string_value (s->models, g_checksum_get_string (identity));
  g_checksum_free (identity);
  json_builder_set_member_name (s->models, "input");
  json_builder_begin_object (s->models);
  json_builder_set_member_name (s->models, "width");
  json_builder_add_int_value (s->models, net.width);
  json_builder_set_member_name (s->models, "height");
  json_builder_add_int_value (s->models, net.height);
  json_builder_set_member_name (s->models, "channels");
  json_builder_add_int_value (s->models, net.channels);
  json_builder_end_object (s->models);
  json_builder_set_member_name (s->models, "classes");
  json_builder_add_int_value (s->models, net.classes);
  json_builder_set_member_name (s->models, "labels");
  json_builder_add_string_value (s->models, labels_file);
  json_builder_set_member_name (s->models, "files");
  json_builder_begin_array (s->models);
  for (int i = 0; i < 4; i++)
    if (files[i] != NULL)
      add_file_json (s->models, name, files[i]);
  json_builder_end_array (s->models);
  /* The weights a device may fetch: float or 8-bit, each one file. */
  json_builder_set_member_name (s->models, "variants");
  json_builder_begin_array (s->models);
  for (int i = 1; i <= 2; i++) {
    if (files[i] == NULL)
      continue;
    json_builder_begin_object (s->models);
    json_builder_set_member_name (s->models, "weights");
    json_builder_add_string_value (s->models,
        strcmp (files[i]->role, "weights") == 0 ? "float32" : "int8");
    json_builder_set_member_name (s->models, "file");
    json_builder_add_string_value (s->models, files[i]->file);
    json_builder_set_member_name (s->models, "bytes");
    json_builder_add_int_value (s->models, files[i]->bytes);
    json_builder_end_object (s->models);
  }
  json_builder_end_array (s->models);
  add_array_or_empty (s->models, "accuracy", s->accuracy, name);
  add_array_or_empty (s->models, "latency_ms", s->latency, name);
  json_builder_end_object (s->models);
  s->model_count++;

  for (int i = 0; i < 4; i++) {
    if (files[i] == NULL)
      continue;
    g_ptr_array_add (s->files, files[i]);
    g_hash_table_insert (s->by_url,
        g_strdup_printf ("%s/%s", name, files[i]->file), files[i]);
    files[i] = NULL;
  }
out:
  if (why != NULL)
    refuse (s, cfg_file, why);
  for (int i = 0; i < 4; i++)
    if (files[i] != NULL)
      file_free (files[i]);
  if (net_loaded)
    cfg_network_clear (&net);
  g_free (why);
  g_free (version);
  g_free (labels_dir);
  g_free (labels_file);
  g_free (cfg_file);
  g_free (weights_file);
  g_free (q8_file);
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

void
edge_catalog_rescan (EdgeCatalog *cat)
{
  Scan s = { .cat = cat };
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GDir *dir = g_dir_open (cat->dir, 0, NULL);
  EdgeCatalogSnapshot *snap, *old = NULL;
  JsonBuilder *top;
  JsonNode *node;
  char *body;
  const char *entry;
  gsize length;
  int profiles = 0;

  while (dir != NULL && names->len < EDGE_CATALOG_MAX_ENTRIES
      && (entry = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  if (dir != NULL)
    g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);

  s.files = g_ptr_array_new_with_free_func (file_free);
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
    if (!g_str_has_suffix (name, ".cfg"))
      continue;
    stem = g_strndup (name, strlen (name) - 4);
    if (valid_name (stem))
      scan_model (&s, stem);
    else if (*name != '.')
      refuse (&s, name,
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

  g_mutex_lock (&cat->lock);
  if (cat->current == NULL || g_strcmp0 (body, cat->current_body) != 0) {
    JsonObject *o = json_node_get_object (node);
    JsonObject *doc = json_object_new ();
    JsonNode *doc_node = json_node_new (JSON_NODE_OBJECT);
    JsonGenerator *g = json_generator_new ();

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
    old = cat->current;
    cat->current = snap;
    g_free (cat->current_body);
    cat->current_body = g_steal_pointer (&body);
  }
  g_mutex_unlock (&cat->lock);
  if (old != NULL)
    edge_catalog_snapshot_unref (old);

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
    edge_catalog_rescan (cat);
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
  edge_catalog_rescan (cat);
  cat->thread = g_thread_new ("edge-catalog", scan_thread, cat);
  return cat;
}

void
edge_catalog_free (EdgeCatalog *cat)
{
  if (cat == NULL)
    return;
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

guint64
edge_catalog_generation (const EdgeCatalogSnapshot *snap)
{
  return snap->generation;
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
