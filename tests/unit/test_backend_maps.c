/* libdarknet is mapped only when a model needs it (yolo/backend.h): not by
 * resolving and checking a model, not by `yoloswitch-detect --help`, not
 * when the module cannot be loaded (a sentence says what to install
 * instead), not by opening and running an engine=fast model (issue 14);
 * and it is once an engine=darknet model is open.  Each check
 * runs in a subprocess of its own, since a loaded module stays loaded. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "test_images.h"
#include "yolo.h"

/* Whether a mapping of this process names `needle` (a file name part). */
static gboolean
mapped (const char *needle)
{
  gchar *maps = NULL;
  gboolean found;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  found = strstr (maps, needle) != NULL;
  g_free (maps);
  return found;
}

static void
assert_nothing_darknet (void)
{
  g_assert_false (mapped ("libdarknet"));
  g_assert_false (mapped ("libopenblas"));
  g_assert_false (mapped ("yoloswitch-darknet"));
  /* What libdarknet drags in. */
  g_assert_false (mapped ("libopencv"));
  g_assert_false (mapped ("libgdal"));
}

static YoloModelSpec
local_spec (YoloEngine engine)
{
  YoloModelSpec spec = {
    .name = YOLO_DEFAULT_LOCAL_MODEL,
    .model_dir = test_models_dir (),
    .engine = engine,
    .threads = 1,
  };
  return spec;
}

/* Everything model.c does before the engine: resolving the files, parsing
 * and shape-checking the cfg, checking the weights' size and the labels. */
static void
test_checks_map_nothing (void)
{
  if (g_test_subprocess ()) {
    YoloModelSpec spec = local_spec (YOLO_ENGINE_DARKNET);
    YoloModelFiles files;
    CfgNetwork cfg;
    YoloStatus status;

    assert_nothing_darknet ();
    g_assert_true (yolo_model_resolve (&spec, &files, &status));
    g_assert_true (cfg_network_load (files.cfg_path, &cfg, &status));
    g_assert_true (cfg_check_weights (&cfg, files.weights_path, &status));
    g_assert_cmpint (cfg_count_labels (files.labels_path), ==, cfg.classes);
    g_assert_cmpint (cfg.layer_count, >, 0);
    assert_nothing_darknet ();
    cfg_network_clear (&cfg);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A module that is not there: the model fails to open with the path that
 * was tried and what to install, and nothing is mapped. */
static void
test_missing_module_says_what_to_install (void)
{
  if (g_test_subprocess ()) {
    const char *path = "/nonexistent/yoloswitch-darknet.so";
    YoloModelSpec spec = local_spec (YOLO_ENGINE_DARKNET);
    YoloStatus status;
    YoloModel *model;

    g_setenv ("YOLOSWITCH_DARKNET_MODULE", path, TRUE);
    g_assert_null (yolo_model_open (&spec, &status));
    g_test_message ("%s", status.message);
    g_assert_cmpint (status.code, ==, YOLO_ERR_LOAD);
    g_assert_nonnull (strstr (status.message, path));
    g_assert_nonnull (strstr (status.message, "apt-get install darknet"));
    assert_nothing_darknet ();
    /* The fast engine does not need it. */
    spec.engine = YOLO_ENGINE_FAST;
    model = yolo_model_open (&spec, &status);
    if (model == NULL)
      g_error ("engine=fast without the module: %s", status.message);
    yolo_model_close (model);
    assert_nothing_darknet ();
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A library that loads but is no module of ours (no entry point). */
static void
test_foreign_library_is_refused (void)
{
  if (g_test_subprocess ()) {
    YoloModelSpec spec = local_spec (YOLO_ENGINE_DARKNET);
    YoloStatus status;

    g_setenv ("YOLOSWITCH_DARKNET_MODULE", "libm.so.6", TRUE);
    g_assert_null (yolo_model_open (&spec, &status));
    g_test_message ("%s", status.message);
    g_assert_cmpint (status.code, ==, YOLO_ERR_LOAD);
    g_assert_nonnull (strstr (status.message, "libm.so.6"));
    g_assert_nonnull (strstr (status.message, "not a Darknet engine module"));
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The reference engine maps libdarknet, and still finds the dog. */
static void
test_darknet_engine_maps_darknet (void)
{
  if (g_test_subprocess ()) {
    YoloModelSpec spec = local_spec (YOLO_ENGINE_DARKNET);
    YoloStatus status;
    YoloModel *model;
    TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
    YoloInferOptions options;
    YoloDetections dets;
    gboolean dog = FALSE;

    g_unsetenv ("YOLOSWITCH_DARKNET_MODULE");
    assert_nothing_darknet ();
    model = yolo_model_open (&spec, &status);
    if (model == NULL)
      g_error ("cannot open the model: %s", status.message);
    g_assert_true (mapped ("libdarknet"));
    g_assert_true (mapped ("yoloswitch-darknet"));
    yolo_infer_options_init (&options);
    yolo_detections_init (&dets);
    g_assert_true (
        yolo_model_detect (model, &img->frame, &options, &dets, &status));
    for (size_t i = 0; i < dets.count; i++)
      dog |= strcmp (dets.items[i].label, "dog") == 0;
    g_assert_true (dog);
    yolo_detections_free (&dets);
    yolo_model_close (model);
    test_image_free (img);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Issue 14's goal: a process that opens and runs the fast engine maps no
 * libdarknet (nor OpenBLAS, OpenCV, GDAL, the module), and still finds the
 * dog.  Runs in the test process itself, last: every other check starts a
 * process of its own. */
static void
test_fast_engine_maps_no_darknet (void)
{
  YoloModelSpec spec = local_spec (YOLO_ENGINE_FAST);
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloInferOptions options;
  YoloDetections dets;
  YoloStatus status;
  YoloModel *model;
  gboolean dog = FALSE;

  g_unsetenv ("YOLOSWITCH_DARKNET_MODULE");
  assert_nothing_darknet ();
  model = yolo_model_open (&spec, &status);
  if (model == NULL)
    g_error ("cannot open the model: %s", status.message);
  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  g_assert_true (
      yolo_model_detect (model, &img->frame, &options, &dets, &status));
  for (size_t i = 0; i < dets.count; i++)
    dog |= strcmp (dets.items[i].label, "dog") == 0;
  g_assert_true (dog);
  assert_nothing_darknet ();
  yolo_detections_free (&dets);
  yolo_model_close (model);
  test_image_free (img);
}

/* Runs the CLI with the dynamic linker's log (LD_DEBUG=files names every
 * object it maps, dlopen included; "bindings" adds where each symbol went)
 * and returns that log. */
static gchar *
cli_linker_log (const char *debug, const char *const *args, int *exit_status)
{
  const char *cli = g_getenv ("YOLOSWITCH_DETECT");
  GPtrArray *argv = g_ptr_array_new ();
  gchar **envp = g_get_environ ();
  gchar *out = NULL, *err = NULL;
  GError *error = NULL;
  gint wait_status;

  if (cli == NULL)
    g_error ("YOLOSWITCH_DETECT is not set (tests/unit/meson.build sets it)");
  g_ptr_array_add (argv, (gpointer) cli);
  for (int i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_setenv (envp, "LD_DEBUG", debug, TRUE);
  /* Lazily bound calls are resolved in the same scope but not logged:
   * bind everything at load so the log shows where rand_normal went. */
  envp = g_environ_setenv (envp, "LD_BIND_NOW", "1", TRUE);
  envp = g_environ_unsetenv (envp, "YOLOSWITCH_DARKNET_MODULE");
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL,
          NULL, &out, &err, &wait_status, &error))
    g_error ("cannot run %s: %s", cli, error->message);
  *exit_status = wait_status;
  g_free (out);
  g_strfreev (envp);
  g_ptr_array_free (argv, TRUE);
  return err;
}

/* Whether the log has libdarknet's rand_normal() bound to the module:
 * "binding file .../libdarknet.so [0] to .../yoloswitch-darknet.so [0]:
 * normal symbol `rand_normal'". */
static gboolean
binds_rand_normal_to_module (const char *log)
{
  const char *symbol = "symbol `rand_normal'";

  for (const char *p = strstr (log, symbol); p != NULL;
       p = strstr (p + 1, symbol)) {
    const char *start = p;
    gchar *line;
    gboolean ours;

    while (start > log && start[-1] != '\n')
      start--;
    line = g_strndup (start, (gsize) (p - start));
    ours = g_regex_match_simple ("libdarknet\\.so .* to .*yoloswitch-darknet",
        line, 0, 0);
    g_free (line);
    if (ours)
      return TRUE;
  }
  return FALSE;
}

static void
test_cli_help_maps_no_darknet (void)
{
  const char *help[] = { "--help", NULL };
  gchar *dog = g_build_filename (g_getenv ("YOLOSWITCH_TEST_DATA") != NULL
          ? g_getenv ("YOLOSWITCH_TEST_DATA")
          : "/usr/share/darknet/data",
      "dog.jpg", NULL);
  const char *run[] = { "--engine", "darknet", "--model",
    YOLO_DEFAULT_LOCAL_MODEL, "--model-dir", test_models_dir (), dog, NULL };
  int exit_status;
  gchar *log;

  log = cli_linker_log ("files", help, &exit_status);
  g_assert_true (g_spawn_check_wait_status (exit_status, NULL));
  /* The log is there at all: it names the C library. */
  g_assert_nonnull (strstr (log, "libc.so"));
  g_assert_null (strstr (log, "libdarknet"));
  g_assert_null (strstr (log, "libopenblas"));
  g_assert_null (strstr (log, "yoloswitch-darknet"));
  g_free (log);

  /* The same log does name them once a darknet model runs; and libdarknet
   * calls the module's rand_normal(), not its own, which is what makes a
   * cold load skip Darknet's random initialisation (darknet_init.c). */
  log = cli_linker_log ("files,bindings", run, &exit_status);
  g_assert_true (g_spawn_check_wait_status (exit_status, NULL));
  g_assert_nonnull (strstr (log, "yoloswitch-darknet"));
  g_assert_nonnull (strstr (log, "libdarknet"));
  g_assert_true (binds_rand_normal_to_module (log));
  g_free (log);
  g_free (dog);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backend/checks-map-nothing", test_checks_map_nothing);
  g_test_add_func ("/backend/missing-module-says-what-to-install",
      test_missing_module_says_what_to_install);
  g_test_add_func ("/backend/foreign-library-is-refused",
      test_foreign_library_is_refused);
  g_test_add_func ("/backend/darknet-engine-maps-darknet",
      test_darknet_engine_maps_darknet);
  g_test_add_func ("/backend/cli-help-maps-no-darknet",
      test_cli_help_maps_no_darknet);
  g_test_add_func ("/backend/fast-engine-maps-no-darknet",
      test_fast_engine_maps_no_darknet);
  return g_test_run ();
}
