/* One model of the catalog folder (edge_catalog_internal.h): NAME.cfg
 * and what goes with it, checked as the loader would check it, hashed,
 * and written into the scan's listing, or refused with the reason. */
#include "edge_catalog_internal.h"

#include "cfg.h"
#include "weights_q8.h"
#include "yolo.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define VERSION_MAX 64

/* A model name as a file stem: no path, no hidden file, printable. */
gboolean
edge_catalog_valid_name (const char *name)
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

void
edge_catalog_refuse (Scan *s, const char *file, const char *problem)
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
    g_snprintf (s->read_error, sizeof (s->read_error), "could not be read: %s",
        g_strerror (errno));
    *problem = s->read_error;
    edge_catalog_file_free (f);
    return NULL;
  }
  g_hash_table_add (s->cat->seen, g_strdup (path));
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
void
edge_catalog_scan_model (Scan *s, const char *name)
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
    edge_catalog_refuse (s, cfg_file, why);
  for (int i = 0; i < 4; i++)
    if (files[i] != NULL)
      edge_catalog_file_free (files[i]);
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
