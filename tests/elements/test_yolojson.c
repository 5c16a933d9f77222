/* yolojson under GstHarness: one parsable line per frame, never a frame
 * lost, buffers passed untouched, and the schema read back field by field. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <string.h>

#include "detection_meta.h"
#include "test_images.h"

#define FRAME_DURATION (GST_SECOND / 25)
#define CAPS "video/x-raw,format=RGB,width=320,height=240,framerate=25/1"

static gchar *
temp_path (void)
{
  gchar *dir = g_dir_make_tmp ("yolojson-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.jsonl", NULL);
  g_free (dir);
  return path;
}

static void
remove_temp (gchar *path)
{
  gchar *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
  g_free (path);
}

static GstHarness *
json_harness (const char *location)
{
  GstElement *e = gst_element_factory_make ("yolojson", NULL);
  GstHarness *h;

  g_object_set (e, "location", location, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS);
  return h;
}

/* Frame i carries i detections: "person" boxes at (10i, 20, 30, 40). */
static GstBuffer *
frame_with_detections (int i, GstClockTime seen_pts)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 320 * 240 * 3, NULL);
  YoloDetections dets;
  YsDetectionOrigin origin = { .source = "local",
    .model = "test-model",
    .frame_pts = seen_pts,
    .age_ms = 12.5,
    .latency_ms = 40.0 };

  GST_BUFFER_PTS (buf) = i * FRAME_DURATION;
  yolo_detections_init (&dets);
  for (int k = 0; k < i; k++) {
    YoloDetection d = { .class_id = 0,
      .label = k == 1 ? "per\"son" : "person",
      .confidence = 0.5f + 0.1f * k,
      .x = 10 * k,
      .y = 20,
      .w = 30,
      .h = 40 };
    yolo_detections_append (&dets, &d);
  }
  ys_detection_meta_add (buf, &dets, &origin);
  yolo_detections_free (&dets);
  return buf;
}

static gchar **
read_lines (const char *path, guint *n)
{
  gchar *text;
  gchar **lines;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (g_str_has_suffix (text, "\n"));
  text[strlen (text) - 1] = '\0';
  lines = g_strsplit (text, "\n", -1);
  *n = g_strv_length (lines);
  g_free (text);
  return lines;
}

GST_START_TEST (test_lines_and_schema)
{
  gchar *path = temp_path ();
  GstHarness *h = json_harness (path);
  GstBuffer *in, *out;
  gchar **lines;
  guint n, frames;
  GstEvent *ev;

  for (int i = 0; i < 4; i++) {
    in = frame_with_detections (i, 0);
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (in)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    /* Passed through untouched: the very same buffer. */
    fail_unless (out == in);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
  /* A frame without pts still gets its line. */
  in = gst_buffer_new_allocate (NULL, 320 * 240 * 3, NULL);
  gst_harness_push (h, in);
  gst_buffer_unref (gst_harness_pull (h));

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  do {
    ev = gst_harness_pull_event (h);
    fail_unless (ev != NULL);
    n = GST_EVENT_TYPE (ev);
    gst_event_unref (ev);
  } while (n != GST_EVENT_EOS);

  g_object_get (h->element, "frames", &frames, NULL);
  fail_unless_equals_int (frames, 5);
  gst_harness_teardown (h);

  lines = read_lines (path, &n);
  fail_unless_equals_int (n, 5);
  for (guint i = 0; i < n; i++) {
    JsonParser *parser = json_parser_new ();
    JsonObject *o;
    JsonArray *dets;

    fail_unless (json_parser_load_from_data (parser, lines[i], -1, NULL),
        "line %u is not JSON: %s", i, lines[i]);
    o = json_node_get_object (json_parser_get_root (parser));
    fail_unless_equals_int (json_object_get_int_member (o, "frame"), i);
    fail_unless_equals_int (json_object_get_int_member (o, "width"), 320);
    fail_unless_equals_int (json_object_get_int_member (o, "height"), 240);
    dets = json_object_get_array_member (o, "detections");
    if (i < 4) {
      fail_unless_equals_int64 (json_object_get_int_member (o, "pts"),
          i * FRAME_DURATION);
      fail_unless_equals_int (json_array_get_length (dets), i);
      /* The result record says how long the analysis took. */
      fail_unless (
          json_object_get_double_member (
              json_array_get_object_element (json_object_get_array_member (o,
                                                 "results"),
                  0),
              "latency_ms")
          == 40.0);
    } else {
      fail_unless (json_object_get_null_member (o, "pts"));
      fail_unless_equals_int (json_array_get_length (dets), 0);
    }
    for (guint k = 0; k < json_array_get_length (dets); k++) {
      JsonObject *d = json_array_get_object_element (dets, k);
      fail_unless_equals_string (json_object_get_string_member (d, "label"),
          k == 1 ? "per\"son" : "person");
      fail_unless_equals_int (json_object_get_int_member (d, "class_id"), 0);
      fail_unless (ABS (json_object_get_double_member (d, "confidence")
                       - (0.5 + 0.1 * k))
          < 1e-4);
      fail_unless_equals_int (json_object_get_int_member (d, "x"), 10 * k);
      fail_unless_equals_int (json_object_get_int_member (d, "y"), 20);
      fail_unless_equals_int (json_object_get_int_member (d, "w"), 30);
      fail_unless_equals_int (json_object_get_int_member (d, "h"), 40);
      fail_unless_equals_string (json_object_get_string_member (d, "source"),
          "local");
      fail_unless_equals_string (json_object_get_string_member (d, "model"),
          "test-model");
      fail_unless_equals_int (json_object_get_int_member (d, "frame_pts"), 0);
      fail_unless (json_object_get_double_member (d, "age_ms") == 12.5);
    }
    g_object_unref (parser);
  }
  g_strfreev (lines);
  remove_temp (path);
}

GST_END_TEST;

/* yolodetect ! yolojson: the dog, bicycle and car of dog.jpg end up in the
 * file at their reference boxes. */
GST_START_TEST (test_after_yolodetect)
{
  gchar *path = temp_path ();
  gchar *launch = g_strdup_printf ("yolodetect model=yolo-fastest-1.1-xl "
                                   "model-dir=%s ! yolojson location=%s",
      test_models_dir (), path);
  GstHarness *h = gst_harness_new_parse (launch);
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  GstBuffer *buf = gst_buffer_new_memdup (img->data, img->size);
  const TestReference *refs;
  int nrefs = test_references ("yolo-fastest-1.1-xl", "dog.jpg", &refs);
  JsonParser *parser = json_parser_new ();
  JsonArray *dets;
  gchar **lines;
  guint n;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=768,"
      "height=576,framerate=10/1");
  GST_BUFFER_PTS (buf) = 0;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  gst_harness_teardown (h);

  lines = read_lines (path, &n);
  fail_unless_equals_int (n, 1);
  fail_unless (json_parser_load_from_data (parser, lines[0], -1, NULL));
  dets = json_object_get_array_member (json_node_get_object (
                                           json_parser_get_root (parser)),
      "detections");
  fail_unless_equals_int (json_array_get_length (dets), nrefs);
  for (int r = 0; r < nrefs; r++) {
    gboolean found = FALSE;
    for (guint k = 0; k < json_array_get_length (dets); k++) {
      JsonObject *d = json_array_get_object_element (dets, k);
      if (strcmp (json_object_get_string_member (d, "label"), refs[r].label)
          != 0)
        continue;
      fail_unless (ABS (json_object_get_int_member (d, "x") - refs[r].x) <= 3);
      fail_unless (ABS (json_object_get_int_member (d, "y") - refs[r].y) <= 3);
      fail_unless (ABS (json_object_get_int_member (d, "w") - refs[r].w) <= 3);
      fail_unless (ABS (json_object_get_int_member (d, "h") - refs[r].h) <= 3);
      fail_unless_equals_string (json_object_get_string_member (d, "model"),
          "yolo-fastest-1.1-xl");
      found = TRUE;
    }
    fail_unless (found, "no %s in %s", refs[r].label, lines[0]);
  }
  g_object_unref (parser);
  g_strfreev (lines);
  test_image_free (img);
  g_free (launch);
  remove_temp (path);
}

GST_END_TEST;

GST_START_TEST (test_unwritable_location)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *json = gst_element_factory_make ("yolojson", NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (json, "location", "/nonexistent-dir/out.jsonl", NULL);
  gst_bin_add (GST_BIN (pipeline), json);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "/nonexistent-dir/out.jsonl") != NULL,
      "%s", err->message);
  fail_unless (strstr (err->message, "writable") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* yolojson passes every buffer on: its klass says Filter, not Sink. */
GST_START_TEST (test_klass_is_filter)
{
  GstElementFactory *f = gst_element_factory_find ("yolojson");

  fail_unless (f != NULL);
  fail_unless_equals_string (gst_element_factory_get_metadata (f,
                                 GST_ELEMENT_METADATA_KLASS),
      "Filter/Formatter/Metadata");
  gst_object_unref (f);
}

GST_END_TEST;

/* gst-launch-1.0 runs in the user's locale; under a comma-decimal one the
 * numbers must still be JSON numbers.  The locale is compiled into a
 * temporary LOCPATH, so the machine's configuration is not touched. */
GST_START_TEST (test_comma_decimal_locale)
{
  gchar *path = temp_path ();
  gchar *locdir = g_path_get_dirname (path);
  gchar *argv[] = { (gchar *) "localedef", (gchar *) "-i", (gchar *) "de_DE",
    (gchar *) "-f", (gchar *) "UTF-8", NULL, NULL };
  gchar *target = g_build_filename (locdir, "de_DE.UTF-8", NULL);
  gchar *old = g_strdup (setlocale (LC_NUMERIC, NULL));
  gchar formatted[32], *text;
  GstHarness *h;
  gint status = 0;

  argv[5] = target;
  fail_unless (g_spawn_sync (NULL, argv, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
          | G_SPAWN_STDERR_TO_DEV_NULL,
      NULL, NULL, NULL, NULL, &status, NULL));
  g_setenv ("LOCPATH", locdir, TRUE);
  fail_unless (setlocale (LC_NUMERIC, "de_DE.UTF-8") != NULL,
      "localedef could not build de_DE.UTF-8 (package locales missing?)");
  g_snprintf (formatted, sizeof (formatted), "%.1f", 0.5);
  fail_unless_equals_string (formatted, "0,5");

  h = json_harness (path);
  gst_harness_push (h, frame_with_detections (2, 0));
  gst_buffer_unref (gst_harness_pull (h));
  gst_harness_teardown (h);
  setlocale (LC_NUMERIC, old);
  g_unsetenv ("LOCPATH");

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (strstr (text, "\"confidence\":0.5000") != NULL, "%s", text);
  fail_unless (strstr (text, "\"age_ms\":12.5") != NULL, "%s", text);
  {
    JsonParser *parser = json_parser_new ();
    fail_unless (json_parser_load_from_data (parser, text, -1, NULL));
    g_object_unref (parser);
  }
  g_free (text);
  g_free (old);
  {
    gchar *cmd = g_strdup_printf ("rm -rf '%s'", target);
    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    g_free (cmd);
  }
  g_free (target);
  g_free (locdir);
  remove_temp (path);
}

GST_END_TEST;

static Suite *
yolojson_suite (void)
{
  Suite *s = suite_create ("yolojson");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lines_and_schema);
  tcase_add_test (tc, test_after_yolodetect);
  tcase_add_test (tc, test_unwritable_location);
  tcase_add_test (tc, test_comma_decimal_locale);
  tcase_add_test (tc, test_klass_is_filter);
  return s;
}

GST_CHECK_MAIN (yolojson);
