/* A device's reading of GET /models; see model_catalog.h. */
#include "model_catalog.h"

#include "json_limits.h"

#include <json-glib/json-glib.h>

#include <string.h>

#define ERR(...)                                                               \
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, __VA_ARGS__)

gboolean
ys_catalog_valid_name (const char *name)
{
  gsize n = name != NULL ? strlen (name) : 0;
  if (n == 0 || n > 200 || name[0] == '.')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* The member if it holds a value of that type, else NULL (json-glib's own
 * getters warn on the wrong kind of node). */
static JsonNode *
value_member (JsonObject *o, const char *name, GType type)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != type)
    return NULL;
  return n;
}

static const char *
str_member (JsonObject *o, const char *name)
{
  JsonNode *n = value_member (o, name, G_TYPE_STRING);
  return n != NULL ? json_node_get_string (n) : NULL;
}

static gboolean
is_sha256 (const char *s)
{
  if (s == NULL || strlen (s) != 64)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

/* A files[] element, checked; FALSE when unusable. */
static gboolean
take_file (JsonObject *o, YsCatalogFile *out)
{
  const char *file = str_member (o, "file");
  const char *sha = str_member (o, "sha256");
  JsonNode *bytes = value_member (o, "bytes", G_TYPE_INT64);
  gint64 n;

  if (!ys_catalog_valid_name (file) || !is_sha256 (sha) || bytes == NULL)
    return FALSE;
  n = json_node_get_int (bytes);
  if (n < 0 || n > YS_CATALOG_MAX_FILE_BYTES)
    return FALSE;
  out->file = g_strdup (file);
  g_strlcpy (out->sha256, sha, sizeof (out->sha256));
  out->bytes = n;
  return TRUE;
}

static double
best_accuracy (JsonObject *m)
{
  JsonNode *n = json_object_get_member (m, "accuracy");
  JsonArray *a;
  double best = -1;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return -1;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    JsonNode *v;
    double x;
    if (!JSON_NODE_HOLDS_OBJECT (e))
      continue;
    v = value_member (json_node_get_object (e), "iou_accuracy", G_TYPE_DOUBLE);
    if (v == NULL)
      continue;
    x = json_node_get_double (v);
    if (x >= 0 && x <= 1 && x > best)
      best = x;
  }
  return best;
}

/* The model object `m` (named `name`) into entry. */
static gboolean
take_model (JsonObject *m, const char *name, gboolean prefer_int8,
    YsCatalogEntry *entry, GError **error)
{
  JsonNode *files_node = json_object_get_member (m, "files");
  const char *version = str_member (m, "version");
  const char *sha = str_member (m, "sha256");
  YsCatalogFile floats = { NULL }, q8 = { NULL };
  JsonArray *files;

  if (files_node == NULL || !JSON_NODE_HOLDS_ARRAY (files_node)) {
    ERR ("the catalog lists model \"%s\" without its files", name);
    return FALSE;
  }
  if (version == NULL || *version == '\0' || strlen (version) > 64
      || !is_sha256 (sha)) {
    ERR ("the catalog lists model \"%s\" without a version and sha256", name);
    return FALSE;
  }
  entry->name = g_strdup (name);
  entry->version = g_strdup (version);
  g_strlcpy (entry->sha256, sha, sizeof (entry->sha256));
  entry->best_accuracy = best_accuracy (m);
  files = json_node_get_array (files_node);
  for (guint i = 0; i < json_array_get_length (files) && i < 16; i++) {
    JsonNode *e = json_array_get_element (files, i);
    JsonObject *f;
    const char *role;
    YsCatalogFile *slot = NULL;

    if (!JSON_NODE_HOLDS_OBJECT (e))
      continue;
    f = json_node_get_object (e);
    role = str_member (f, "role");
    if (g_strcmp0 (role, "cfg") == 0)
      slot = &entry->cfg;
    else if (g_strcmp0 (role, "weights") == 0)
      slot = &floats;
    else if (g_strcmp0 (role, "weights-q8") == 0)
      slot = &q8;
    else if (g_strcmp0 (role, "labels") == 0)
      slot = &entry->labels;
    if (slot != NULL && slot->file == NULL)
      take_file (f, slot);
  }
  /* The weights: the 8-bit variant when asked for and there, else the
   * float one, else whatever there is. */
  if (q8.file != NULL && (prefer_int8 || floats.file == NULL)) {
    entry->weights = q8;
    entry->int8 = TRUE;
    q8.file = NULL;
  } else if (floats.file != NULL) {
    entry->weights = floats;
    floats.file = NULL;
  }
  g_free (floats.file);
  g_free (q8.file);
  if (entry->cfg.file == NULL || entry->weights.file == NULL
      || entry->labels.file == NULL) {
    ERR ("the catalog lists model \"%s\" without a usable %s", name,
        entry->cfg.file == NULL           ? "cfg"
            : entry->weights.file == NULL ? "weights file"
                                          : "labels file");
    return FALSE;
  }
  /* The cfg and the weights are stored under the model's name. */
  if (strcmp (entry->cfg.file, entry->labels.file) == 0
      || strcmp (entry->weights.file, entry->labels.file) == 0) {
    ERR ("the catalog lists model \"%s\" with its labels under the name of "
         "another of its files",
        name);
    return FALSE;
  }
  return TRUE;
}

gboolean
ys_catalog_find (const char *text, gsize length, const char *name,
    gboolean prefer_int8, YsCatalogEntry *entry, GError **error)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root, *models_node;
  JsonArray *models;
  gboolean ok = FALSE;

  memset (entry, 0, sizeof (*entry));
  entry->best_accuracy = -1;
  if (length > YS_CATALOG_MAX_BYTES) {
    ERR ("the catalog is over %d bytes", YS_CATALOG_MAX_BYTES);
    goto out;
  }
  if (!ys_json_depth_ok (text, length, YS_JSON_MAX_DEPTH)) {
    ERR ("the catalog nests deeper than %d levels", YS_JSON_MAX_DEPTH);
    goto out;
  }
  if (!json_parser_load_from_data (parser, text, (gssize) length, NULL)
      || (root = json_parser_get_root (parser)) == NULL
      || !JSON_NODE_HOLDS_OBJECT (root)
      || g_strcmp0 (str_member (json_node_get_object (root), "schema"),
             "yoloswitch-catalog/1")
          != 0) {
    ERR ("the answer is not a yoloswitch catalog (JSON with schema "
         "\"yoloswitch-catalog/1\"): is the URL a yoloswitch-edge server?");
    goto out;
  }
  models_node = json_object_get_member (json_node_get_object (root), "models");
  if (models_node == NULL || !JSON_NODE_HOLDS_ARRAY (models_node)) {
    ERR ("the catalog has no list of models");
    goto out;
  }
  models = json_node_get_array (models_node);
  for (guint i = 0; i < json_array_get_length (models); i++) {
    JsonNode *e = json_array_get_element (models, i);
    if (JSON_NODE_HOLDS_OBJECT (e)
        && g_strcmp0 (str_member (json_node_get_object (e), "name"), name)
            == 0) {
      ok = take_model (json_node_get_object (e), name, prefer_int8, entry,
          error);
      goto out;
    }
  }
  ERR ("the catalog does not list model \"%s\"", name);
out:
  if (!ok)
    ys_catalog_entry_clear (entry);
  g_object_unref (parser);
  return ok;
}

void
ys_catalog_entry_clear (YsCatalogEntry *e)
{
  g_free (e->name);
  g_free (e->version);
  g_free (e->cfg.file);
  g_free (e->weights.file);
  g_free (e->labels.file);
  memset (e, 0, sizeof (*e));
  e->best_accuracy = -1;
}
