/* The catalog's reading of yoloswitch-profile files (edge_catalog.h,
 * edge_catalog_read_profile): which of their rows say how accurate and
 * how fast a model is at an input size.  Apart from the scan so the
 * fuzzer links it alone. */
#include "edge_catalog.h"

#include "json_limits.h"

#include <json-glib/json-glib.h>

#include <string.h>

/* A member's string or number, or the default when absent or of another
 * kind (json-glib's _with_default getters warn on the wrong kind). */
static const char *
str_member (JsonObject *o, const char *name, const char *def)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return def;
  return json_node_get_string (n);
}

/* A string copied into the listing, cut to the limit (on a UTF-8
 * character boundary: json-glib checked the text is UTF-8). */
static char *
bounded (const char *s)
{
  const char *end = s;
  if (s == NULL)
    return g_strdup ("");
  if (strlen (s) <= EDGE_CATALOG_MAX_PROFILE_STRING)
    return g_strdup (s);
  while (*end != '\0' && end + 4 - s <= EDGE_CATALOG_MAX_PROFILE_STRING)
    end = g_utf8_next_char (end);
  return g_strndup (s, (gsize) (end - s));
}

static double
num_member (JsonObject *o, const char *name, double def)
{
  JsonNode *n = json_object_get_member (o, name);
  GType t;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return def;
  t = json_node_get_value_type (n);
  if (t == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  if (t == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  return def;
}

static JsonObject *
obj_member (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n)
                                                 : NULL;
}

static void
append (GHashTable *table, const char *model, JsonObject *row)
{
  JsonArray *list = g_hash_table_lookup (table, model);
  if (list == NULL) {
    list = json_array_new ();
    g_hash_table_insert (table, g_strdup (model), list);
  }
  json_array_add_object_element (list, row);
}

int
edge_catalog_read_profile (const char *text, gsize length, const char *file,
    GHashTable *accuracy, GHashTable *latency)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *root, *video;
  JsonNode *configs_node;
  JsonArray *configs;
  char *reference = NULL, *machine = NULL, *video_path = NULL;
  char *file_name = bounded (file);
  int rows = 0;

  /* An empty text parses, to no root at all. */
  if (length > EDGE_CATALOG_MAX_PROFILE_BYTES
      || !ys_json_depth_ok (text, length, YS_JSON_MAX_DEPTH)
      || !json_parser_load_from_data (parser, text, (gssize) length, NULL)
      || json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto out;
  root = json_node_get_object (json_parser_get_root (parser));
  configs_node = json_object_get_member (root, "configs");
  if (configs_node == NULL || !JSON_NODE_HOLDS_ARRAY (configs_node))
    goto out;
  configs = json_node_get_array (configs_node);
  reference = bounded (str_member (root, "reference_model", ""));
  machine = bounded (str_member (root, "machine", ""));
  video = obj_member (root, "video");
  video_path = bounded (video != NULL ? str_member (video, "path", "") : "");
  for (guint i = 0; i < json_array_get_length (configs)
       && rows < EDGE_CATALOG_MAX_PROFILE_ROWS;
       i++) {
    JsonNode *node = json_array_get_element (configs, i);
    JsonObject *c, *a, *l;
    const char *model;
    double width, height, iou, f1, infer;
    char input[32];

    if (!JSON_NODE_HOLDS_OBJECT (node))
      continue;
    c = json_node_get_object (node);
    model = str_member (c, "model", NULL);
    width = num_member (c, "width", 0);
    height = num_member (c, "height", 0);
    iou = num_member (c, "iou_accuracy", -1);
    f1 = num_member (c, "f1", -1);
    infer = num_member (c, "infer_ms", -1);
    /* Only rows the schema can carry: a local model at a real size. */
    if (g_strcmp0 (str_member (c, "path", ""), "local") != 0 || model == NULL
        || strlen (model) > 200 || !(width >= 1 && width <= 16384)
        || !(height >= 1 && height <= 16384) || !(iou >= 0 && iou <= 1)
        || !(f1 >= 0 && f1 <= 1) || !(infer >= 0 && infer <= 1e6))
      continue;
    g_snprintf (input, sizeof (input), "%dx%d", (int) width, (int) height);
    a = json_object_new ();
    json_object_set_string_member (a, "input", input);
    json_object_set_double_member (a, "iou_accuracy", iou);
    json_object_set_double_member (a, "f1", f1);
    json_object_set_string_member (a, "reference", reference);
    json_object_set_string_member (a, "video", video_path);
    json_object_set_string_member (a, "profile", file_name);
    append (accuracy, model, a);
    l = json_object_new ();
    json_object_set_string_member (l, "device", machine);
    json_object_set_string_member (l, "input", input);
    json_object_set_double_member (l, "infer_ms", infer);
    json_object_set_string_member (l, "source", "profile");
    append (latency, model, l);
    rows++;
  }
out:
  g_free (reference);
  g_free (machine);
  g_free (video_path);
  g_free (file_name);
  g_object_unref (parser);
  return rows;
}
