/* A cached model's entry.json; see model_cache_internal.h.  The file is
 * ours, but the folder is the user's: it is read within ENTRY_MAX_BYTES
 * and every name in it checked before it becomes a path. */
#include "model_cache_internal.h"

#include "json_limits.h"
#include "model_catalog.h"

#include <json-glib/json-glib.h>

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- entry.json --------------------------------------------------------------- */

gboolean
ys_cache_entry_write (const char *folder, const Entry *e)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *g = json_generator_new ();
  JsonNode *root;
  char *text, *path = g_build_filename (folder, ENTRY_FILE, NULL);
  gboolean ok;
  static const char *roles[3] = { "cfg", "weights", "labels" };

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, e->name);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, e->version);
  for (int i = 0; i < 3; i++) {
    json_builder_set_member_name (b, roles[i]);
    json_builder_add_string_value (b, e->files[i]);
  }
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, e->bytes);
  json_builder_set_member_name (b, "uses");
  json_builder_add_int_value (b, e->uses);
  json_builder_set_member_name (b, "last_used_us");
  json_builder_add_int_value (b, e->last_used_us);
  json_builder_set_member_name (b, "accuracy");
  json_builder_add_double_value (b, e->accuracy);
  json_builder_set_member_name (b, "int8");
  json_builder_add_boolean_value (b, e->int8);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  text = json_generator_to_data (g, NULL);
  /* A temporary renamed into place: a reader sees the old entry or the
   * new one; synced first, so a power cut leaves one of them whole. */
  ok = g_file_set_contents_full (path, text, -1,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, NULL);
  g_free (text);
  g_free (path);
  json_node_unref (root);
  g_object_unref (g);
  g_object_unref (b);
  return ok;
}

static const char *
str_member (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static double
num_member (JsonObject *o, const char *name, double def)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return def;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  if (json_node_get_value_type (n) == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  return def;
}

/* The entry of folder DIR/NAME, when it is complete: entry.json readable
 * and every file it names there at the size it says in all. */
gboolean
ys_cache_entry_read (const char *folder, const char *name, Entry *e)
{
  char *path = g_build_filename (folder, ENTRY_FILE, NULL);
  JsonParser *parser = json_parser_new ();
  static const char *roles[3] = { "cfg", "weights", "labels" };
  char *text = NULL;
  gsize length = 0;
  gint64 total = 0;
  JsonObject *o;
  gboolean ok = FALSE;
  struct stat st;

  memset (e, 0, sizeof (*e));
  if (g_stat (path, &st) != 0 || st.st_size > ENTRY_MAX_BYTES
      || !g_file_get_contents (path, &text, &length, NULL)
      || length > ENTRY_MAX_BYTES
      || !ys_json_depth_ok (text, length, YS_JSON_MAX_DEPTH)
      || !json_parser_load_from_data (parser, text, (gssize) length, NULL)
      || json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto out;
  o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (str_member (o, "name"), name) != 0
      || str_member (o, "version") == NULL)
    goto out;
  g_strlcpy (e->version, str_member (o, "version"), sizeof (e->version));
  for (int i = 0; i < 3; i++) {
    const char *f = str_member (o, roles[i]);
    char *p;
    if (!ys_catalog_valid_name (f))
      goto out;
    g_strlcpy (e->files[i], f, sizeof (e->files[i]));
    p = g_build_filename (folder, f, NULL);
    if (g_stat (p, &st) != 0 || !S_ISREG (st.st_mode)) {
      g_free (p);
      goto out;
    }
    total += st.st_size;
    g_free (p);
  }
  e->bytes = (gint64) num_member (o, "bytes", -1);
  if (e->bytes != total)
    goto out;
  e->uses = (gint64) num_member (o, "uses", 0);
  e->last_used_us = (gint64) num_member (o, "last_used_us", 0);
  e->accuracy = num_member (o, "accuracy", -1);
  {
    JsonNode *n = json_object_get_member (o, "int8");
    e->int8 = n != NULL && JSON_NODE_HOLDS_VALUE (n)
        && json_node_get_value_type (n) == G_TYPE_BOOLEAN
        && json_node_get_boolean (n);
  }
  e->name = g_strdup (name);
  ok = TRUE;
out:
  g_free (text);
  g_free (path);
  g_object_unref (parser);
  return ok;
}
