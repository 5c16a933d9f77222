/* yolooffload in a GstHarness, against the real yoloswitch-edge binary
 * started by the test on a free loopback port. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>
#include <sys/wait.h>

#include "detection_meta.h"
#include "metrics.h"
#include "test_images.h"

#define FRAME_DURATION (GST_SECOND / 10)
#define EDGE_MODEL "yolo-fastest-1.1-xl"

static GPid server_pid;
static gchar *server_url;

/* Starts yoloswitch-edge and reads its first line for the URL. */
static void
server_start (void)
{
  const char *edge = g_getenv ("YOLOSWITCH_EDGE");
  gchar *argv[] = { (gchar *) edge, (gchar *) "--port", (gchar *) "0",
    (gchar *) "--model-dir", (gchar *) test_models_dir (), NULL };
  GError *error = NULL;
  gint out_fd;
  GIOChannel *ch;
  gchar *line = NULL;

  fail_unless (edge != NULL, "YOLOSWITCH_EDGE is not set");
  fail_unless (g_spawn_async_with_pipes (NULL, argv, NULL,
                   G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &server_pid, NULL,
                   &out_fd, NULL, &error),
      "cannot start %s: %s", edge, error ? error->message : "?");
  ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  fail_unless (g_io_channel_read_line (ch, &line, NULL, NULL, NULL)
      == G_IO_STATUS_NORMAL);
  fail_unless (g_str_has_prefix (line, "listening on ws://"), "%s", line);
  g_strstrip (line);
  server_url = g_strdup (strrchr (line, ' ') + 1);
  g_free (line);
  g_io_channel_unref (ch);
}

static void
server_stop (void)
{
  kill (server_pid, SIGTERM);
  waitpid (server_pid, NULL, 0);
  g_spawn_close_pid (server_pid);
  g_clear_pointer (&server_url, g_free);
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

/* Near-lossless MJPEG, so the server sees what the reference saw. */
static GstHarness *
harness_new (const char *mode)
{
  GstElement *e = gst_element_factory_make ("yolooffload", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "server", server_url, "bitrate", 20000000,
      "stats-interval-ms", 100, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "codec", "mjpeg");
  gst_util_set_object_arg (G_OBJECT (e), "mode", mode);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=768,height=576,framerate=10/1");
  return h;
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
  return s;
}

GST_CHECK_MAIN (yolooffload);
