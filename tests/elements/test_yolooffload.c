/* yolooffload in a GstHarness, against the real yoloswitch-edge binary
 * started by the test on a free loopback port; and the locking of its
 * start and its read-only properties. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detection_meta.h"
#include "edge_server.h"
#include "metrics.h"
#include "test_images.h"

#define FRAME_DURATION (GST_SECOND / 10)
#define EDGE_MODEL "yolo-fastest-1.1-xl"

static TestEdgeServer *server;

static void
server_start (void)
{
  server = test_edge_server_start ();
}

static void
server_stop (void)
{
  test_edge_server_stop (server);
  server = NULL;
}

static GstBuffer *
dog_buffer (guint index)
{
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  GstBuffer *buf = gst_buffer_new_memdup (img->data, img->size);

  GST_BUFFER_PTS (buf) = index * FRAME_DURATION;
  GST_BUFFER_DURATION (buf) = FRAME_DURATION;
  test_image_free (img);
  return buf;
}

/* Near-lossless MJPEG, so the server sees what the reference saw; a
 * budget no loaded machine misses, so every sync frame gets its result. */
static GstHarness *
harness_new_with_codec (const char *mode, const char *codec)
{
  GstElement *e = gst_element_factory_make ("yolooffload", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "server", server->url, "bitrate", 20000000,
      "stats-interval-ms", 100, "latency-budget-ms", 20000, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "codec", codec);
  gst_util_set_object_arg (G_OBJECT (e), "mode", mode);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=768,height=576,framerate=10/1");
  return h;
}

static GstHarness *
harness_new (const char *mode)
{
  return harness_new_with_codec (mode, "mjpeg");
}

/* The reference boxes of the edge model on dog.jpg, each once, with the
 * edge origin and the buffer's own frame id. */
static void
check_dog (GstBuffer *buf, guint64 want_frame_id)
{
  const TestReference *refs;
  int nrefs = test_references (EDGE_MODEL, "dog.jpg", &refs);
  YsResultView results[4];

  fail_unless_equals_int (ys_detection_meta_results (buf, results, 4), 1);
  fail_unless_equals_string (results[0].status, "ok");
  fail_unless_equals_string (results[0].source, "edge");
  fail_unless_equals_uint64 (results[0].frame_id, want_frame_id);
  fail_unless_equals_uint64 (results[0].result_frame_id, want_frame_id);
  for (int r = 0; r < nrefs; r++) {
    YoloDetection want
        = { .x = refs[r].x, .y = refs[r].y, .w = refs[r].w, .h = refs[r].h };
    YsDetectionIter it;
    YsDetectionView d;
    gboolean found = FALSE;

    ys_detection_iter_init (&it, buf);
    while (ys_detection_iter_next (&it, &d)) {
      YoloDetection got = { .x = d.x, .y = d.y, .w = d.w, .h = d.h };
      if (strcmp (d.label, refs[r].label) != 0)
        continue;
      fail_unless (yolo_box_iou (&got, &want) >= 0.85, "%s IoU %.3f", d.label,
          yolo_box_iou (&got, &want));
      fail_unless_equals_string (d.source, "edge");
      fail_unless_equals_string (d.model, EDGE_MODEL);
      found = TRUE;
    }
    fail_unless (found, "no %s", refs[r].label);
  }
}

GST_START_TEST (test_sync_events_in_order_and_results)
{
  GstHarness *h;
  GstEvent *ev;

  server_start ();
  h = harness_new ("sync");
  for (guint i = 0; i < 4; i++)
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
  for (guint i = 0; i < 4; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * FRAME_DURATION);
    check_dog (out, i + 1);
    gst_buffer_unref (out);
  }
  /* stream-start, caps, segment came out before the frames, in order. */
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_STREAM_START);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_CAPS);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  /* EOS after the frames. */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_EOS);
  gst_event_unref (ev);
  gst_harness_teardown (h);
  server_stop ();
}

GST_END_TEST;

/* A bit rate and a size changed while playing, and a thread toggling the
 * bit rate all the time: every frame still gets its own result. */
GST_START_TEST (test_properties_mid_stream_and_stress)
{
  GstHarness *h;
  GstHarnessThread *stress;
  GValue b = G_VALUE_INIT;

  server_start ();
  h = harness_new ("sync");
  g_value_init (&b, G_TYPE_INT);
  g_value_set_int (&b, 8000000);
  fail_unless_equals_int (gst_harness_push (h, dog_buffer (0)), GST_FLOW_OK);
  g_object_set (h->element, "scale", 0.5, NULL);
  stress = gst_harness_stress_property_start_full (h, "bitrate", &b, 1000);
  for (guint i = 1; i < 8; i++)
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
  gst_harness_stress_thread_stop (stress);
  for (guint i = 0; i < 8; i++) {
    GstBuffer *out = gst_harness_pull (h);
    YsResultView r;
    fail_unless_equals_int (ys_detection_meta_results (out, &r, 1), 1);
    fail_unless_equals_string (r.status, "ok");
    fail_unless_equals_uint64 (r.result_frame_id, i + 1);
    /* Boxes stay in the frame's own pixels at any encoded size. */
    if (i == 0)
      check_dog (out, 1);
    gst_buffer_unref (out);
  }
  g_value_unset (&b);
  gst_harness_teardown (h);
  server_stop ();
}

GST_END_TEST;

/* The stats message reaches the bus with real figures. */
GST_START_TEST (test_stats_message)
{
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  const GstStructure *s = NULL;
  guint64 sent = 0;
  gboolean connected = FALSE;

  server_start ();
  h = harness_new ("sync");
  gst_element_set_bus (h->element, bus);
  for (guint i = 0; i < 6; i++) {
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    g_usleep (60000);
  }
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "yoloswitch-offload-stats")) {
      fail_unless (gst_structure_get_uint64 (s, "frames-sent", &sent));
      fail_unless (gst_structure_get_boolean (s, "connected", &connected));
      fail_unless (gst_structure_has_field (s, "bandwidth-bps"));
      fail_unless (gst_structure_has_field (s, "rtt-min-ms"));
    }
    gst_message_unref (msg);
  }
  fail_unless (connected, "no stats message saying connected");
  fail_unless (sent >= 1);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  server_stop ();
}

GST_END_TEST;

/* ---- start never holds the object lock ------------------------------------------ */

/* What the threads of test_start_outside_object_lock did, under lock. */
typedef struct {
  GstElement *element;
  GMutex lock;
  GCond cond;
  gboolean started, read_done;
  GstStateChangeReturn start_ret;
} StartRace;

static gpointer
start_element (gpointer data)
{
  StartRace *r = data;
  GstStateChangeReturn ret
      = gst_element_set_state (r->element, GST_STATE_PAUSED);

  g_mutex_lock (&r->lock);
  r->start_ret = ret;
  r->started = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return NULL;
}

static gpointer
read_server_property (gpointer data)
{
  StartRace *r = data;
  gchar *url = NULL;

  g_object_get (r->element, "server", &url, NULL);
  g_free (url);
  g_mutex_lock (&r->lock);
  r->read_done = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return NULL;
}

/* A self-signed certificate (openssl CLI), as a PEM string. */
static gchar *
make_certificate (const char *dir)
{
  gchar *cert = g_build_filename (dir, "cert.pem", NULL);
  gchar *key = g_build_filename (dir, "key.pem", NULL);
  gchar *argv[] = { (gchar *) "openssl", (gchar *) "req", (gchar *) "-x509",
    (gchar *) "-newkey", (gchar *) "ec", (gchar *) "-pkeyopt",
    (gchar *) "ec_paramgen_curve:prime256v1", (gchar *) "-nodes",
    (gchar *) "-keyout", key, (gchar *) "-out", cert, (gchar *) "-days",
    (gchar *) "1", (gchar *) "-subj", (gchar *) "/CN=127.0.0.1", NULL };
  gchar *pem = NULL;
  gint status = -1;

  fail_unless (g_spawn_sync (NULL, argv, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
          | G_SPAWN_STDERR_TO_DEV_NULL,
      NULL, NULL, NULL, NULL, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "openssl failed");
  fail_unless (g_file_get_contents (cert, &pem, NULL, NULL));
  g_unlink (cert);
  g_unlink (key);
  g_free (cert);
  g_free (key);
  return pem;
}

/* Start creates the session (libwebsockets' context and thread), which
 * reads tls-ca-file.  A FIFO as that file holds start inside the read
 * until the test writes it: meanwhile a property read must return, so
 * start does that work outside the object lock. */
GST_START_TEST (test_start_outside_object_lock)
{
  gchar *dir = g_dir_make_tmp ("yolooffload-XXXXXX", NULL);
  gchar *fifo = g_build_filename (dir, "ca.pem", NULL);
  gchar *pem = make_certificate (dir);
  gchar *url = test_dead_server_url ("wss");
  StartRace r = { 0 };
  GThread *starter, *reader;
  gboolean read_before_write, start_before_write;
  gint64 until;
  int fd = -1;

  fail_unless (mkfifo (fifo, 0600) == 0, "mkfifo: %s", g_strerror (errno));
  r.element = gst_element_factory_make ("yolooffload", NULL);
  fail_unless (r.element != NULL);
  g_object_set (r.element, "server", url, "tls-ca-file", fifo, NULL);
  gst_util_set_object_arg (G_OBJECT (r.element), "mode", "async");
  g_mutex_init (&r.lock);
  g_cond_init (&r.cond);
  starter = g_thread_new ("start", start_element, &r);

  /* A writer's open succeeds once start has the FIFO open to read it. */
  until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  while ((fd = open (fifo, O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO
      && g_get_monotonic_time () < until)
    g_usleep (5000);
  fail_unless (fd >= 0, "start never opened tls-ca-file: %s",
      g_strerror (errno));
  fail_unless (fcntl (fd, F_SETFL, 0) == 0);

  reader = g_thread_new ("read", read_server_property, &r);
  until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&r.lock);
  while (!r.read_done && g_cond_wait_until (&r.cond, &r.lock, until))
    ;
  read_before_write = r.read_done;
  start_before_write = r.started;
  g_mutex_unlock (&r.lock);

  /* Whatever happened, let start finish. */
  fail_unless (write (fd, pem, strlen (pem)) == (gssize) strlen (pem));
  close (fd);
  g_thread_join (starter);
  g_thread_join (reader);

  fail_unless (read_before_write,
      "g_object_get (server) waited 20 s for start to read tls-ca-file: "
      "start holds the object lock while it creates the session");
  /* Else the read was not inside start, and this test proves nothing. */
  fail_if (start_before_write, "start returned before tls-ca-file was written");
  fail_unless (r.start_ret != GST_STATE_CHANGE_FAILURE);

  gst_element_set_state (r.element, GST_STATE_NULL);
  gst_object_unref (r.element);
  g_mutex_clear (&r.lock);
  g_cond_clear (&r.cond);
  g_unlink (fifo);
  g_rmdir (dir);
  g_free (url);
  g_free (pem);
  g_free (fifo);
  g_free (dir);
}

GST_END_TEST;

/* ---- read-only properties while the session comes and goes ------------------------ */

static gint stop_reading;

static gpointer
read_figures_loop (gpointer data)
{
  GstElement *e = data;
  guint64 reads = 0;

  while (!g_atomic_int_get (&stop_reading)) {
    gdouble bandwidth, rtt;
    gint in_flight;
    gboolean connected;
    guint64 sent;
    g_object_get (e, "bandwidth", &bandwidth, "rtt-ms", &rtt, "in-flight",
        &in_flight, "connected", &connected, "frames-sent", &sent, NULL);
    reads++;
    /* Still thousands of reads per restart, without taking a core the
     * restarts need (spinning, it made the test run 15 min under ASan on
     * two loaded cores). */
    g_usleep (100);
  }
  return GUINT_TO_POINTER (reads > 0);
}

/* The read-only properties are read by the application while the element
 * starts and stops: they must never touch a session being freed. */
GST_START_TEST (test_readings_while_restarting)
{
  GstHarness *h;
  GThread *reader;

  server_start ();
  h = harness_new ("async");
  g_atomic_int_set (&stop_reading, 0);
  reader = g_thread_new ("read", read_figures_loop, h->element);
  for (guint i = 0; i < 100; i++) {
    fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless (gst_element_set_state (h->element, GST_STATE_PLAYING)
        != GST_STATE_CHANGE_FAILURE);
    gst_harness_set_src_caps_str (h,
        "video/x-raw,format=RGB,width=768,height=576,framerate=10/1");
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  g_atomic_int_set (&stop_reading, 1);
  fail_unless (g_thread_join (reader) != NULL, "the reader never read");
  gst_harness_teardown (h);
  server_stop ();
}

GST_END_TEST;

/* ---- a job without its results ------------------------------------------------------ */

/* The ERROR or WARNING on the bus at EOS, as "ERROR: text" (NULL: none). */
static gchar *
missing_report (const char *on_missing)
{
  gchar *url = test_dead_server_url ("ws");
  GstElement *e = gst_element_factory_make ("yolooffload", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *msg;
  GstEvent *ev;
  gchar *report = NULL;

  g_object_set (e, "server", url, "latency-budget-ms", 200, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "codec", "mjpeg");
  gst_util_set_object_arg (G_OBJECT (e), "on-missing-result", on_missing);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=768,height=576,framerate=10/1");
  for (guint i = 0; i < 3; i++) {
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  /* EOS still leaves, after the report. */
  while ((ev = gst_harness_pull_event (h)) != NULL
      && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  fail_unless (ev != NULL, "no EOS");
  gst_event_unref (ev);
  while ((msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))
      != NULL) {
    GError *error = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &error, NULL);
    else
      gst_message_parse_warning (msg, &error, NULL);
    if (strstr (error->message, "got no result of their own") != NULL) {
      fail_unless (report == NULL, "reported twice");
      report = g_strdup_printf ("%s: %s",
          GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR ? "ERROR" : "WARNING",
          error->message);
    }
    g_error_free (error);
    gst_message_unref (msg);
  }
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_free (url);
  return report;
}

/* Nobody listens: the 3 frames pass "disconnected", and at EOS
 * on-missing-result says it with the count and the reason, as an error
 * (default), a warning, or not at all. */
GST_START_TEST (test_missing_results_told_at_eos)
{
  const char *sentence = "3 of 3 frames got no result of their own "
                         "(disconnected: 3): the job is incomplete";
  gchar *report;

  report = missing_report ("error");
  fail_unless (report != NULL, "no error at EOS");
  fail_unless (g_str_has_prefix (report, "ERROR: "), "%s", report);
  fail_unless_equals_string (report + strlen ("ERROR: "), sentence);
  g_free (report);

  report = missing_report ("warn");
  fail_unless (report != NULL, "no warning at EOS");
  fail_unless_equals_string (report + strlen ("WARNING: "), sentence);
  fail_unless (g_str_has_prefix (report, "WARNING: "), "%s", report);
  g_free (report);

  report = missing_report ("ignore");
  fail_unless (report == NULL, "%s", report);
}

GST_END_TEST;

/* ---- the libraries' logs --------------------------------------------------------- */

static struct {
  GMutex lock;
  GString *libav, *lws;
} captured;

static void
capture_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message,
    gpointer user_data)
{
  const gchar *name = gst_debug_category_get_name (category);
  GString *into = NULL;

  if (g_str_equal (name, "yoloswitch-libav"))
    into = captured.libav;
  else if (g_str_equal (name, "yoloswitch-lws"))
    into = captured.lws;
  if (into == NULL)
    return;
  g_mutex_lock (&captured.lock);
  g_string_append_printf (into, "%s\n", gst_debug_message_get (message));
  g_mutex_unlock (&captured.lock);
}

/* x264's banner ("[libx264 @ 0x...] using cpu capabilities: ...", libav's
 * INFO) and libwebsockets' notices come out in the yoloswitch-libav and
 * yoloswitch-lws debug categories, and nothing of them on stderr (fd 2
 * is a file for the test; GStreamer's own printer is off, so only a raw
 * write could put them there). */
GST_START_TEST (test_library_logs_in_debug_category)
{
  gchar *err_path = NULL;
  gint err_fd = g_file_open_tmp ("yolooffload-stderr-XXXXXX", &err_path, NULL);
  gint saved_fd = dup (2);
  gchar *err_text = NULL;
  GstHarness *h;

  fail_unless (err_fd >= 0 && saved_fd >= 0);
  captured.libav = g_string_new (NULL);
  captured.lws = g_string_new (NULL);
  gst_debug_set_active (TRUE);
  gst_debug_set_threshold_for_name ("yoloswitch-libav", GST_LEVEL_INFO);
  gst_debug_set_threshold_for_name ("yoloswitch-lws", GST_LEVEL_INFO);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (capture_log, NULL, NULL);
  fflush (stderr);
  fail_unless (dup2 (err_fd, 2) == 2);

  server_start ();
  h = harness_new_with_codec ("sync", "h264");
  for (guint i = 0; i < 2; i++) {
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (i)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  gst_harness_teardown (h);
  server_stop ();

  fflush (stderr);
  dup2 (saved_fd, 2);
  close (saved_fd);
  close (err_fd);
  gst_debug_remove_log_function (capture_log);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  gst_debug_unset_threshold_for_name ("yoloswitch-libav");
  gst_debug_unset_threshold_for_name ("yoloswitch-lws");
  fail_unless (g_file_get_contents (err_path, &err_text, NULL, NULL));

  g_mutex_lock (&captured.lock);
  fail_unless (strstr (captured.libav->str, "[libx264 @") != NULL,
      "no x264 message in yoloswitch-libav: \"%s\"", captured.libav->str);
  fail_unless (captured.lws->len > 0, "no message in yoloswitch-lws");
  g_mutex_unlock (&captured.lock);
  fail_if (strstr (err_text, "libx264") != NULL, "x264 on stderr: %s",
      err_text);
  fail_if (strstr (err_text, "libwebsockets") != NULL,
      "libwebsockets on stderr: %s", err_text);

  g_unlink (err_path);
  g_free (err_path);
  g_free (err_text);
  g_string_free (captured.libav, TRUE);
  g_string_free (captured.lws, TRUE);
}

GST_END_TEST;

static Suite *
yolooffload_suite (void)
{
  Suite *s = suite_create ("yolooffload");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_sync_events_in_order_and_results);
  tcase_add_test (tc, test_properties_mid_stream_and_stress);
  tcase_add_test (tc, test_stats_message);
  tcase_add_test (tc, test_start_outside_object_lock);
  tcase_add_test (tc, test_readings_while_restarting);
  tcase_add_test (tc, test_library_logs_in_debug_category);
  tcase_add_test (tc, test_missing_results_told_at_eos);
  return s;
}

GST_CHECK_MAIN (yolooffload);
