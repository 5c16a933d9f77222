/* The edge catalog's reading of *.profile.json files in its folder
 * (offload/edge_catalog_profile.c, edge_catalog_read_profile): any text.
 * Beyond memory safety:
 *
 * - no GLib warning or critical (json-glib asked for the wrong kind of
 *   node): they are made fatal;
 * - every row taken is one the catalog's schema carries: an input
 *   "WxH" of positive sides, accuracy and F1 in [0, 1], a latency >= 0;
 *   as many accuracy rows as latency rows, as many as it says it took. */
#include "fuzz.h"

#include "edge_catalog.h"

#include <json-glib/json-glib.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  g_log_set_always_fatal (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
  return 0;
}

static guint
check_rows (GHashTable *table, gboolean accuracy)
{
  GHashTableIter it;
  gpointer key, value;
  guint rows = 0;

  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    JsonArray *list = value;
    for (guint i = 0; i < json_array_get_length (list); i++) {
      JsonObject *o = json_array_get_object_element (list, i);
      const char *input = json_object_get_string_member (o, "input");
      int w = 0, h = 0;
      char tail = 0;

      FUZZ_CHECK (sscanf (input, "%dx%d%c", &w, &h, &tail) == 2);
      FUZZ_CHECK (w >= 1 && h >= 1);
      if (accuracy) {
        double iou = json_object_get_double_member (o, "iou_accuracy");
        double f1 = json_object_get_double_member (o, "f1");
        FUZZ_CHECK (iou >= 0 && iou <= 1 && f1 >= 0 && f1 <= 1);
      } else {
        FUZZ_CHECK (json_object_get_double_member (o, "infer_ms") >= 0);
      }
      rows++;
    }
  }
  return rows;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GHashTable *accuracy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) json_array_unref);
  GHashTable *latency = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) json_array_unref);
  int rows = edge_catalog_read_profile ((const char *) data, size,
      "fuzz.profile.json", accuracy, latency);

  if (fuzz_verbose ())
    fprintf (stderr, "%d rows\n", rows);
  FUZZ_CHECK (rows >= 0);
  FUZZ_CHECK (check_rows (accuracy, TRUE) == (guint) rows);
  FUZZ_CHECK (check_rows (latency, FALSE) == (guint) rows);
  g_hash_table_unref (accuracy);
  g_hash_table_unref (latency);
  return 0;
}
