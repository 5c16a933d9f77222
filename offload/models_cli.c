/* yoloswitch-models: the device's model cache from the command line
 * (model_cache.h; docs/MODELS.md "The device cache").
 *
 *   yoloswitch-models --cache-dir D [--server URL] [--budget-mb N]
 *       [--int8] [--token T] [--tls-ca-file F] NAME...
 *
 * takes each model from the cache, fetching it from the edge server's
 * catalog when it is not there, and prints one JSON line per model (its
 * folder, version, whether it was fetched, bytes sent and resumed, what
 * was evicted).  Exit 1 when a model
 * cannot be had, with the reason on stderr. */
#include "model_cache.h"

#include <json-glib/json-glib.h>

#include <stdio.h>
#include <stdlib.h>

static void
print_report (const char *name, const char *dir, const YsCacheReport *r)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *g = json_generator_new ();
  JsonNode *root;
  char *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "dir");
  json_builder_add_string_value (b, dir);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, r->version);
  json_builder_set_member_name (b, "fetched");
  json_builder_add_boolean_value (b, r->fetched);
  json_builder_set_member_name (b, "int8");
  json_builder_add_boolean_value (b, r->int8);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, r->model_bytes);
  json_builder_set_member_name (b, "sent_bytes");
  json_builder_add_int_value (b, r->sent_bytes);
  json_builder_set_member_name (b, "resumed_bytes");
  json_builder_add_int_value (b, r->resumed_bytes);
  json_builder_set_member_name (b, "evicted");
  json_builder_begin_array (b);
  if (r->evicted != NULL) {
    char **names = g_strsplit (r->evicted, ", ", -1);
    for (char **n = names; *n != NULL; n++)
      json_builder_add_string_value (b, *n);
    g_strfreev (names);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  text = json_generator_to_data (g, NULL);
  printf ("%s\n", text);
  fflush (stdout);
  g_free (text);
  json_node_unref (root);
  g_object_unref (g);
  g_object_unref (b);
}

int
main (int argc, char **argv)
{
  char *dir = NULL, *server = NULL, *token = NULL, *ca = NULL;
  gint64 budget_mb = 0;
  gboolean int8 = FALSE;
  int stall_ms = 0, deadline_ms = 0;
  GOptionEntry entries[] = {
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &dir,
        "The cache folder (model-cache-dir)", "DIR" },
    { "server", 0, 0, G_OPTION_ARG_STRING, &server,
        "Edge server to fetch from: ws://, wss://, http:// or https://",
        "URL" },
    { "budget-mb", 0, 0, G_OPTION_ARG_INT64, &budget_mb,
        "Cache budget (cache-budget-mb; 0: none)", "MB" },
    { "int8", 0, 0, G_OPTION_ARG_NONE, &int8,
        "Fetch the 8-bit variant where the catalog lists one", NULL },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token, "The server's --token",
        "TOKEN" },
    { "tls-ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca,
        "PEM CA for an https:// server with a private certificate", "FILE" },
    { "stall-ms", 0, 0, G_OPTION_ARG_INT, &stall_ms,
        "Cut an attempt that gets no byte this long (default 10000)", "MS" },
    { "deadline-ms", 0, 0, G_OPTION_ARG_INT, &deadline_ms,
        "All attempts at one file (default 120000)", "MS" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new ("NAME... - the model cache");
  GError *error = NULL;
  YsModelCacheOptions o = { NULL };
  YsFetchOptions fetch;
  YsModelCache *cache;
  int status = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "yoloswitch-models: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (dir == NULL || argc < 2 || budget_mb < 0) {
    fprintf (stderr,
        "yoloswitch-models: give --cache-dir DIR and model "
        "names (--help)\n");
    return 2;
  }
  ys_fetch_options_init (&fetch);
  if (stall_ms > 0)
    fetch.stall_ms = stall_ms;
  if (deadline_ms > 0)
    fetch.deadline_ms = deadline_ms;
  o.dir = dir;
  o.budget_bytes = budget_mb << 20;
  o.server = server;
  o.token = token;
  o.tls_ca_file = ca;
  o.prefer_int8 = int8;
  o.fetch = &fetch;
  cache = ys_model_cache_new (&o, &error);
  if (cache == NULL) {
    fprintf (stderr, "yoloswitch-models: %s\n", error->message);
    return 2;
  }
  /* Each model held until the end, like models in use by a pipeline: a
   * later one evicts only those not named here. */
  for (int i = 1; i < argc; i++) {
    YsCacheReport r;
    char *model_dir = NULL;
    if (ys_model_cache_take (cache, argv[i], &model_dir, &r, &error)) {
      print_report (argv[i], model_dir, &r);
    } else {
      fprintf (stderr, "yoloswitch-models: %s\n", error->message);
      g_clear_error (&error);
      status = 1;
    }
    ys_cache_report_clear (&r);
    g_free (model_dir);
  }
  ys_model_cache_free (cache);
  g_free (dir);
  g_free (server);
  g_free (token);
  g_free (ca);
  return status;
}
