/* yolodetect's model and input-size changed while playing (issue 16, hot
 * swap; elements/detector_swap.c): under a stress thread every frame
 * comes out with boxes of a model that ran it; labels outlive the model
 * that made them; a model that cannot be had warns and the old one keeps
 * running; a model given by its files stays that model across an
 * input-size change; a model whose load failed loads when asked again;
 * the model cache's holds go with the models that stop running (and with
 * swaps that did not take), so the cache may evict them. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "detection_meta.h"
#include "edge_server.h"
#include "test_images.h"
#include "yolodetect_harness.h"

/* Hot swap: a thread changes model (and input-size) among three COCO
 * models every few milliseconds while 60 frames of dog.jpg flow in sync
 * mode: every frame comes out, in order, each with the dog found by the
 * model that ran it (the meta names it); the yoloswitch-model messages
 * say which took over, with their load times; the last change runs the
 * frames after it. */
typedef struct {
  GstHarness *h;
  volatile gint stop;
  int changes;
} Swapper;

static const char *swap_models[3] = { "yolo-fastest-1.1-xl",
  "MobileNetV2-YOLOv3-Nano-coco", "yolo-fastest-1.1" };
static const char *swap_sizes[3] = { "256x256", "", "320x320" };

static gpointer
swap_models_main (gpointer data)
{
  Swapper *sw = data;
  while (!g_atomic_int_get (&sw->stop)) {
    int k = sw->changes % 3;
    g_object_set (sw->h->element, "model", swap_models[k], "input-size",
        swap_sizes[k], NULL);
    sw->changes++;
    g_usleep (15000);
  }
  return NULL;
}

static int
count_swap_messages (GstBus *bus, int *ok, char *last, gsize last_size)
{
  GstMessage *m;
  int n = 0;

  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    const GstStructure *s = gst_message_get_structure (m);
    if (gst_structure_has_name (s, "yoloswitch-model")) {
      gboolean took;
      double load_ms = 0;
      n++;
      gst_structure_get_boolean (s, "ok", &took);
      gst_structure_get_double (s, "load-ms", &load_ms);
      if (took) {
        (*ok)++;
        fail_unless (load_ms > 0);
        g_strlcpy (last, gst_structure_get_string (s, "model"), last_size);
      }
    }
    gst_message_unref (m);
  }
  return n;
}

GST_START_TEST (test_hot_swap_stress)
{
  GstHarness *h = harness_new ("model=yolo-fastest-1.1", "BGRx");
  GstBus *bus = gst_bus_new ();
  Swapper sw = { h, 0, 0 };
  GThread *t;
  int messages = 0, ok = 0;
  char last[256] = "";

  gst_element_set_bus (h->element, bus);
  t = g_thread_new ("swapper", swap_models_main, &sw);
  for (int i = 0; i < 60; i++) {
    GstBuffer *out;
    YsDetectionIter it;
    YsDetectionView d;
    gboolean dog = FALSE;

    fail_unless_equals_int (gst_harness_push (h,
                                image_buffer ("dog.jpg", YOLO_PIXEL_BGRX, i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * FRAME_DURATION);
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d)) {
      gboolean known = FALSE;
      for (int k = 0; k < 3; k++)
        known |= g_strcmp0 (d.model, swap_models[k]) == 0;
      fail_unless (known, "a box of model %s", d.model);
      dog |= g_strcmp0 (d.label, "dog") == 0;
    }
    fail_unless (dog, "frame %d without the dog", i);
    gst_buffer_unref (out);
  }
  g_atomic_int_set (&sw.stop, 1);
  g_thread_join (t);
  fail_unless_equals_int (gst_harness_buffers_received (h), 60);
  messages = count_swap_messages (bus, &ok, last, sizeof (last));
  fail_unless (ok >= 1, "no change took over in 60 frames");
  /* A last change: it takes over, and the next frame runs on it. */
  g_object_set (h->element, "model", "yolo-fastest-1.1-xl", "input-size",
      "416x416", NULL);
  for (int i = 60; i < 3000; i++) {
    GstBuffer *out;
    YsDetectionIter it;
    YsDetectionView d;
    gboolean on_last = FALSE;

    gst_harness_push (h, image_buffer ("dog.jpg", YOLO_PIXEL_BGRX, i));
    out = gst_harness_pull (h);
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d))
      on_last
          |= g_strcmp0 (d.model, "yolo-fastest-1.1-xl") == 0 && d.width == 416;
    gst_buffer_unref (out);
    if (on_last)
      break;
    fail_unless (i < 2999, "the last change never took over");
  }
  messages += count_swap_messages (bus, &ok, last, sizeof (last));
  fail_unless_equals_string (last, "yolo-fastest-1.1-xl");
  GST_INFO ("%d changes, %d swap messages, %d took over", sw.changes, messages,
      ok);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* Hot swap in async mode, where frames carry results computed before the
 * swap: their labels must outlive the model that made them (the old model
 * is closed at the take-over).  Every label on every frame is one of
 * coco.names (freed memory would not be; ASan builds see the read). */
GST_START_TEST (test_hot_swap_async_labels_live)
{
  GstHarness *h = harness_new ("model=yolo-fastest-1.1 mode=async", "BGRx");
  Swapper sw = { h, 0, 0 };
  gchar *names_path = g_build_filename (test_models_dir (), "coco.names", NULL);
  gchar *names = NULL;
  GThread *t;

  fail_unless (g_file_get_contents (names_path, &names, NULL, NULL));
  t = g_thread_new ("swapper", swap_models_main, &sw);
  for (int i = 0; i < 80; i++) {
    GstBuffer *out;
    YsDetectionIter it;
    YsDetectionView d;

    fail_unless_equals_int (gst_harness_push (h,
                                image_buffer ("dog.jpg", YOLO_PIXEL_BGRX, i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d)) {
      gchar *line = g_strdup_printf ("\n%s\n", d.label);
      fail_unless (g_utf8_validate (d.label, -1, NULL));
      fail_unless (strstr (names, line) != NULL
              || g_str_has_prefix (names, line + 1),
          "label \"%s\" is none of coco.names", d.label);
      g_free (line);
    }
    gst_buffer_unref (out);
    g_usleep (5000);
  }
  g_atomic_int_set (&sw.stop, 1);
  g_thread_join (t);
  fail_unless_equals_int (gst_harness_buffers_received (h), 80);
  gst_harness_teardown (h);
  g_free (names);
  g_free (names_path);
}

GST_END_TEST;

/* A model that cannot be had while playing: a warning, and the frames
 * keep their boxes from the model that runs. */
GST_START_TEST (test_hot_swap_missing_model_warns)
{
  GstHarness *h = harness_new ("model=yolo-fastest-1.1", "BGRx");
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  gboolean warned = FALSE;

  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (gst_harness_push (h,
                              image_buffer ("dog.jpg", YOLO_PIXEL_BGRX, 0)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  g_object_set (h->element, "model", "no-such-model-here", NULL);
  for (int i = 1; i < 3000 && !warned; i++) {
    GstBuffer *out;
    fail_unless_equals_int (gst_harness_push (h,
                                image_buffer ("dog.jpg", YOLO_PIXEL_BGRX, i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (ys_detection_meta_count (out) > 0);
    gst_buffer_unref (out);
    while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
      GError *e = NULL;
      gst_message_parse_warning (m, &e, NULL);
      warned = strstr (e->message, "no-such-model-here") != NULL;
      g_error_free (e);
      gst_message_unref (m);
    }
    g_usleep (1000);
  }
  fail_unless (warned);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

GST_END_TEST;

/* Pushes dog.jpg frames from *index until one has boxes of `model` (at
 * network width `width`, 0: any), each frame with the dog; FALSE when
 * none had within 3000 frames.  Warnings posted meanwhile whose text has
 * `warning` (NULL: none looked for) set *warned. */
static gboolean
run_until (GstHarness *h, GstBus *bus, int *index, const char *model, int width,
    const char *warning, gboolean *warned)
{
  for (int n = 0; n < 3000; n++, (*index)++) {
    GstBuffer *out;
    YsDetectionIter it;
    YsDetectionView d;
    gboolean dog = FALSE, on = FALSE;
    GstMessage *m;

    fail_unless_equals_int (gst_harness_push (h,
                                image_buffer ("dog.jpg", YOLO_PIXEL_BGRX,
                                    *index)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d)) {
      dog |= g_strcmp0 (d.label, "dog") == 0;
      on |= g_strcmp0 (d.model, model) == 0 && (width == 0 || d.width == width);
    }
    gst_buffer_unref (out);
    fail_unless (dog, "frame %d without the dog", *index);
    while (bus != NULL
        && (m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
      GError *e = NULL;
      gst_message_parse_warning (m, &e, NULL);
      GST_INFO ("warning: %s", e->message);
      if (warning != NULL && strstr (e->message, warning) != NULL)
        *warned = TRUE;
      g_error_free (e);
      gst_message_unref (m);
    }
    if (model != NULL && on) {
      (*index)++;
      return TRUE;
    }
    if (warning != NULL && *warned) {
      (*index)++;
      return TRUE;
    }
    g_usleep (1000);
  }
  return FALSE;
}

/* A model given by its files (config, weights, labels) with input-size
 * changed while playing stays that model at the new size: the swap builds
 * the model as start does, not the default model by name. */
GST_START_TEST (test_hot_swap_keeps_explicit_files)
{
  const char *dir = test_models_dir ();
  gchar *props = g_strdup_printf ("config=%s/yolo-fastest-1.1-xl.cfg "
                                  "weights=%s/yolo-fastest-1.1-xl.weights "
                                  "labels=%s/coco.names",
      dir, dir, dir);
  GstHarness *h = harness_new (props, "BGRx");
  int i = 0;

  fail_unless (run_until (h, NULL, &i, "yolo-fastest-1.1-xl", 0, NULL, NULL));
  g_object_set (h->element, "input-size", "256x256", NULL);
  fail_unless (run_until (h, NULL, &i, "yolo-fastest-1.1-xl", 256, NULL, NULL),
      "input-size 256x256 never ran on the model given by its files");
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

static void
write_file (const char *dir, const char *name, const char *from)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *contents = NULL;
  gsize len = 0;

  /* A weights header and too few bytes: truncated. */
  static const char truncated[24] = "\0\0\0\0\2\0\0\0\0\0\0\0xxxxxxxxxxxx";

  if (from != NULL) {
    fail_unless (g_file_get_contents (from, &contents, &len, NULL));
  } else {
    contents = g_memdup2 (truncated, sizeof (truncated));
    len = sizeof (truncated);
  }
  fail_unless (g_file_set_contents (path, contents, len, NULL));
  g_free (contents);
  g_free (path);
}

static gchar *
model_file (const char *name)
{
  return g_build_filename (test_models_dir (), name, NULL);
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)
        && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      remove_dir (path);
    else
      g_unlink (path);
    g_free (path);
  }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
}

/* A model whose load failed (truncated weights) warns, naming it, and the
 * old one runs on; once its files are whole, asking for it again (the
 * same name) loads it. */
GST_START_TEST (test_hot_swap_retries_failed_model)
{
  gchar *dir = g_dir_make_tmp ("swap-retry-XXXXXX", NULL);
  gchar *cfg = model_file ("yolo-fastest-1.1.cfg");
  gchar *weights = model_file ("yolo-fastest-1.1.weights");
  gchar *names = model_file ("coco.names");
  gchar *props;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  gboolean warned = FALSE;
  int i = 0;

  write_file (dir, "mended.cfg", cfg);
  write_file (dir, "mended.names", names);
  write_file (dir, "mended.weights", NULL);
  props = g_strdup_printf ("model=yolo-fastest-1.1 model-dir=%s", dir);
  h = harness_new (props, "BGRx");
  gst_element_set_bus (h->element, bus);
  fail_unless (run_until (h, bus, &i, "yolo-fastest-1.1", 0, NULL, NULL));
  g_object_set (h->element, "model", "mended", NULL);
  fail_unless (run_until (h, bus, &i, NULL, 0, "mended", &warned),
      "no warning for a model that does not load");
  write_file (dir, "mended.weights", weights);
  g_object_set (h->element, "model", "mended", NULL);
  fail_unless (run_until (h, bus, &i, "mended", 0, NULL, NULL),
      "the model asked for again never took over");
  gst_harness_teardown (h);
  gst_object_unref (bus);
  remove_dir (dir);
  g_free (props);
  g_free (cfg);
  g_free (weights);
  g_free (names);
  g_free (dir);
}

GST_END_TEST;

/* Whether some open file holds a lock on cache/name/.lock (the cache's
 * hold while a model is in use): an exclusive lock cannot be had. */
static gboolean
cache_held (const char *cache, const char *name)
{
  gchar *path = g_build_filename (cache, name, ".lock", NULL);
  int fd = open (path, O_RDONLY);
  gboolean held;

  fail_unless (fd >= 0, "%s: %s", path, g_strerror (errno));
  held = flock (fd, LOCK_EX | LOCK_NB) != 0;
  close (fd);
  g_free (path);
  return held;
}

/* yolo-fastest-1.1 in the catalog folder as model `as`; with
 * bad_labels, a labels file of two classes for its 80: the catalog lists
 * it and the cache takes it, but it does not load. */
static void
link_model (const char *folder, const char *as, gboolean bad_labels)
{
  static const char *ext[] = { ".cfg", ".weights", ".names" };
  static const char *src[]
      = { "yolo-fastest-1.1.cfg", "yolo-fastest-1.1.weights", "coco.names" };
  for (int k = 0; k < 3; k++) {
    gchar *to = model_file (src[k]);
    gchar *link = g_strconcat (folder, "/", as, ext[k], NULL);
    if (k == 2 && bad_labels) {
      /* Written an hour ago: the catalog lists no file still settling. */
      struct utimbuf past = { time (NULL) - 3600, time (NULL) - 3600 };
      fail_unless (g_file_set_contents (link, "person\ndog\n", -1, NULL));
      fail_unless (utime (link, &past) == 0);
    } else
      fail_unless (symlink (to, link) == 0);
    g_free (to);
    g_free (link);
  }
}

/* Models from the cache (fetched from the real edge server's catalog on
 * loopback): cached-a at start, then at another input size, a swap to
 * cached-bad (fetched, does not load: two labels), to cached-b, and cached-b at
 * another size.  At the end only cached-b (running) is held: the holds of
 * cached-a (two: one per take) and of cached-bad are let go, so the cache
 * may evict them. */
GST_START_TEST (test_hot_swap_releases_cache_holds)
{
  gchar *folder = g_dir_make_tmp ("swap-catalog-XXXXXX", NULL);
  gchar *cache = g_dir_make_tmp ("swap-cache-XXXXXX", NULL);
  gchar *arg = g_strdup_printf ("--catalog-dir=%s", folder);
  const char *extra[] = { arg, NULL };
  TestEdgeServer *server;
  gchar *props;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  gboolean warned = FALSE;
  int i = 0;

  link_model (folder, "cached-a", FALSE);
  link_model (folder, "cached-b", FALSE);
  link_model (folder, "cached-bad", TRUE);
  server = test_edge_server_start_with (extra);
  props = g_strdup_printf ("model=cached-a model-cache-dir=%s catalog=%s",
      cache, server->url);
  h = harness_new (props, "BGRx");
  gst_element_set_bus (h->element, bus);
  fail_unless (run_until (h, bus, &i, "cached-a", 0, NULL, NULL));
  fail_unless (cache_held (cache, "cached-a"));
  g_object_set (h->element, "input-size", "256x256", NULL);
  fail_unless (run_until (h, bus, &i, "cached-a", 256, NULL, NULL));
  g_object_set (h->element, "model", "cached-bad", "input-size", "", NULL);
  fail_unless (run_until (h, bus, &i, NULL, 0, "cached-bad", &warned),
      "no warning for a cached model that does not load");
  g_object_set (h->element, "model", "cached-b", NULL);
  fail_unless (run_until (h, bus, &i, "cached-b", 0, NULL, NULL));
  /* The next swap lets go of what the last ones left. */
  g_object_set (h->element, "input-size", "320x320", NULL);
  fail_unless (run_until (h, bus, &i, "cached-b", 320, NULL, NULL));
  fail_unless (cache_held (cache, "cached-b"), "the running model not held");
  fail_if (cache_held (cache, "cached-a"), "cached-a still held");
  fail_if (cache_held (cache, "cached-bad"), "cached-bad still held");
  gst_harness_teardown (h);
  /* Stopped: nothing held. */
  fail_if (cache_held (cache, "cached-b"));
  test_edge_server_stop (server);
  gst_object_unref (bus);
  remove_dir (folder);
  remove_dir (cache);
  g_free (props);
  g_free (arg);
  g_free (folder);
  g_free (cache);
}

GST_END_TEST;

static Suite *
yolodetect_swap_suite (void)
{
  Suite *s = suite_create ("yolodetect-swap");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_hot_swap_stress);
  tcase_add_test (tc, test_hot_swap_async_labels_live);
  tcase_add_test (tc, test_hot_swap_missing_model_warns);
  tcase_add_test (tc, test_hot_swap_keeps_explicit_files);
  tcase_add_test (tc, test_hot_swap_retries_failed_model);
  tcase_add_test (tc, test_hot_swap_releases_cache_holds);
  return s;
}

GST_CHECK_MAIN (yolodetect_swap);
