/* GstHarness tests for yolooverlay: caps, event order, what is drawn where,
 * properties changed mid-stream, a property stress thread, the stats corner
 * and the warning for frames cairo cannot wrap.
 *
 * Only our plugin and the core elements are available here, so frames are
 * built by hand.  Pixels are read as native-endian 32-bit words, which is
 * how cairo writes them (0x..RRGGBB) whichever format is negotiated. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>

#include "detection_meta.h"

#define WIDTH 320
#define HEIGHT 240

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define FORMAT_RGB24 "BGRx"
#else
#define FORMAT_RGB24 "xRGB"
#endif

#define OVERLAY_CAPS                                                           \
  "video/x-raw,format=" FORMAT_RGB24 ",width=320,height=240,framerate=25/1"

/* The first palette entries, documented in the element: class 0 yellow,
 * class 1 purple. */
#define CLASS0_RGB 0xF3C300u
#define CLASS1_RGB 0x875692u

/* The box of the drawing tests. */
#define BOX_X 40
#define BOX_Y 60
#define BOX_W 100
#define BOX_H 80

static GstHarness *
overlay_harness (void)
{
  GstHarness *h = gst_harness_new ("yolooverlay");

  gst_harness_set_src_caps_str (h, OVERLAY_CAPS);
  return h;
}

static GstBuffer *
black_frame (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, WIDTH * HEIGHT * 4, NULL);

  gst_buffer_memset (buf, 0, 0, WIDTH * HEIGHT * 4);
  return buf;
}

static void
add_detection (GstBuffer *buf, int class_id, const char *label,
    float confidence, float x, float y, float w, float h)
{
  YoloDetections dets;
  YoloDetection d = { class_id, label, confidence, x, y, w, h };
  YsDetectionOrigin origin
      = { "local", "yolo-fastest-1.1", GST_CLOCK_TIME_NONE, 0 };

  yolo_detections_init (&dets);
  fail_unless (yolo_detections_append (&dets, &d));
  ys_detection_meta_add (buf, &dets, &origin);
  yolo_detections_free (&dets);
}

static GstBuffer *
frame_with_person (void)
{
  GstBuffer *buf = black_frame ();

  add_detection (buf, 0, "person", 0.91f, BOX_X, BOX_Y, BOX_W, BOX_H);
  return buf;
}

/* The whole 32-bit pixel, padding byte included. */
static guint32
pixel_word (GstBuffer *buf, int x, int y)
{
  guint32 word;

  fail_unless_equals_int (gst_buffer_extract (buf, (y * WIDTH + x) * 4, &word,
                              4),
      4);
  return word;
}

/* Just the colour, 0xRRGGBB. */
static guint32
pixel_rgb (GstBuffer *buf, int x, int y)
{
  return pixel_word (buf, x, y) & 0xFFFFFF;
}

static gboolean
region_is_black (GstBuffer *buf, int x0, int y0, int x1, int y1)
{
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (pixel_word (buf, x, y) != 0)
        return FALSE;
  return TRUE;
}

static guint
count_pixels_not (GstBuffer *buf, guint32 rgb, int x0, int y0, int x1, int y1)
{
  guint n = 0;

  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (pixel_rgb (buf, x, y) != rgb)
        n++;
  return n;
}

static GstBuffer *
push_and_pull (GstHarness *h, GstBuffer *buf)
{
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  return gst_harness_pull (h);
}

GST_START_TEST (test_caps_negotiation)
{
  GstHarness *h = gst_harness_new ("yolooverlay");
  GstCaps *good = gst_caps_from_string (OVERLAY_CAPS);
  GstCaps *i420 = gst_caps_from_string (
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1");
  GstCaps *rgb = gst_caps_from_string (
      "video/x-raw,format=RGB,width=320,height=240,framerate=25/1");
  GstPad *sinkpad = gst_element_get_static_pad (h->element, "sink");
  GstPad *srcpad = gst_element_get_static_pad (h->element, "src");
  GstCaps *current;
  GstBuffer *buf;
  GstHarness *refused;
  GstPad *refused_sink;
  GstSegment segment;

  fail_unless (gst_pad_query_accept_caps (sinkpad, good));
  fail_if (gst_pad_query_accept_caps (sinkpad, i420));
  fail_if (gst_pad_query_accept_caps (sinkpad, rgb));

  gst_harness_set_src_caps (h, gst_caps_ref (good));
  buf = push_and_pull (h, black_frame ());
  gst_buffer_unref (buf);
  current = gst_pad_get_current_caps (srcpad);
  fail_unless (current != NULL);
  fail_unless (gst_caps_is_equal (current, good));
  gst_caps_unref (current);

  /* A format cairo cannot wrap is refused, and data after it too. */
  refused = gst_harness_new ("yolooverlay");
  fail_unless (
      gst_harness_push_event (refused, gst_event_new_stream_start ("refused")));
  /* A refused sticky event is still stored on the pushing pad, so push
   * reports success: ask the element's pad directly. */
  refused_sink = gst_element_get_static_pad (refused->element, "sink");
  fail_if (gst_pad_send_event (refused_sink,
      gst_event_new_caps (gst_caps_ref (i420))));
  gst_object_unref (refused_sink);
  gst_harness_push_event (refused, gst_event_new_caps (gst_caps_ref (i420)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (refused, gst_event_new_segment (&segment));
  fail_unless_equals_int (gst_harness_push (refused,
                              gst_buffer_new_allocate (NULL,
                                  WIDTH * HEIGHT * 3 / 2, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  fail_unless_equals_int (gst_harness_buffers_received (refused), 0);
  gst_harness_teardown (refused);

  gst_object_unref (sinkpad);
  gst_object_unref (srcpad);
  gst_caps_unref (good);
  gst_caps_unref (i420);
  gst_caps_unref (rgb);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Downstream data in arrival order: event type names, "buffer" for buffers. */
static GstPadProbeReturn
record_data (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GPtrArray *seen = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    g_ptr_array_add (seen, (gpointer) "buffer");
  else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)
    g_ptr_array_add (seen,
        (gpointer) GST_EVENT_TYPE_NAME (GST_PAD_PROBE_INFO_EVENT (info)));
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_frames_and_event_order)
{
  const guint n = 25;
  GstHarness *h = gst_harness_new ("yolooverlay");
  GPtrArray *seen = g_ptr_array_new ();
  GstPad *srcpad = gst_element_get_static_pad (h->element, "src");
  GstEvent *event;
  guint i;

  gst_pad_add_probe (srcpad,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      record_data, seen, NULL);
  gst_harness_set_src_caps_str (h, OVERLAY_CAPS);

  for (i = 0; i < n; i++) {
    GstBuffer *buf = i % 2 ? frame_with_person () : black_frame ();

    GST_BUFFER_PTS (buf) = i * GST_SECOND / 25;
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  fail_unless_equals_int (gst_harness_buffers_received (h), n);
  for (i = 0; i < n; i++) {
    GstBuffer *buf = gst_harness_pull (h);

    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), i * GST_SECOND / 25);
    /* The metas travel on with the frame. */
    fail_unless_equals_int (ys_detection_meta_count (buf), i % 2);
    gst_buffer_unref (buf);
  }

  fail_unless_equals_int (seen->len, 3 + n + 1);
  fail_unless_equals_string (g_ptr_array_index (seen, 0), "stream-start");
  fail_unless_equals_string (g_ptr_array_index (seen, 1), "caps");
  fail_unless_equals_string (g_ptr_array_index (seen, 2), "segment");
  for (i = 0; i < n; i++)
    fail_unless_equals_string (g_ptr_array_index (seen, 3 + i), "buffer");
  fail_unless_equals_string (g_ptr_array_index (seen, 3 + n), "eos");

  /* And the harness sees the same events. */
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_STREAM_START);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_CAPS);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_SEGMENT);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_EOS);
  gst_event_unref (event);

  gst_object_unref (srcpad);
  gst_harness_teardown (h);
  g_ptr_array_unref (seen);
}

GST_END_TEST;

GST_START_TEST (test_draws_box_and_label)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out;

  out = push_and_pull (h, frame_with_person ());

  /* On the outline, all four sides: the class colour. */
  fail_unless_equals_int (pixel_rgb (out, BOX_X, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + 1, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + BOX_W - 1, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + BOX_W / 2, BOX_Y),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + BOX_W / 2, BOX_Y + BOX_H - 1),
      CLASS0_RGB);

  /* Well inside the box and far outside it: untouched. */
  fail_unless (region_is_black (out, BOX_X + 10, BOX_Y + 10, BOX_X + BOX_W - 10,
      BOX_Y + BOX_H - 10));
  fail_unless (region_is_black (out, BOX_X + BOX_W + 10, 0, WIDTH, HEIGHT));
  fail_unless (region_is_black (out, 0, BOX_Y + BOX_H + 10, WIDTH, HEIGHT));
  fail_unless (region_is_black (out, 0, 0, WIDTH, 10));

  /* The label tab sits right above the box, filled with the class colour
   * (its padding) and holding text in another colour. */
  fail_unless_equals_int (pixel_rgb (out, BOX_X + 1, BOX_Y - 2), CLASS0_RGB);
  fail_unless (count_pixels_not (out, CLASS0_RGB, BOX_X + 3, BOX_Y - 16,
                   BOX_X + BOX_W, BOX_Y - 3)
      > 20);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
}

GST_END_TEST;

static void
fill_pattern (GstBuffer *buf)
{
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = (guint8) (i * 7 + i / 1280);
  gst_buffer_unmap (buf, &map);
}

GST_START_TEST (test_no_detections_untouched)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *in = black_frame ();
  GstBuffer *expected = black_frame ();
  GstBuffer *out;
  GstMapInfo a, b;

  fill_pattern (in);
  fill_pattern (expected);
  out = push_and_pull (h, in);

  fail_unless (gst_buffer_map (out, &a, GST_MAP_READ));
  fail_unless (gst_buffer_map (expected, &b, GST_MAP_READ));
  fail_unless_equals_int (a.size, b.size);
  fail_unless (memcmp (a.data, b.data, a.size) == 0);
  gst_buffer_unmap (out, &a);
  gst_buffer_unmap (expected, &b);

  gst_buffer_unref (out);
  gst_buffer_unref (expected);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_colour_per_class)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *buf = black_frame ();
  GstBuffer *foreign = black_frame ();
  GstBuffer *out, *out_foreign;
  guint32 c0, c1, foreign_a, foreign_b;

  add_detection (buf, 0, "person", 0.8f, 20, 40, 60, 60);
  add_detection (buf, 1, "bicycle", 0.7f, 200, 40, 60, 60);
  /* Without a class id the label picks the colour: a detection of ours
   * with class -1, and a region meta from another plugin on a frame
   * without ours, same label. */
  add_detection (buf, -1, "widget", 0.6f, 20, 150, 60, 60);
  gst_buffer_add_video_region_of_interest_meta (foreign, "widget", 200, 150, 60,
      60);
  out = push_and_pull (h, buf);
  out_foreign = push_and_pull (h, foreign);

  c0 = pixel_rgb (out, 20, 70);
  c1 = pixel_rgb (out, 200, 70);
  foreign_a = pixel_rgb (out, 20, 180);
  foreign_b = pixel_rgb (out_foreign, 200, 180);
  fail_unless_equals_int (c0, CLASS0_RGB);
  fail_unless_equals_int (c1, CLASS1_RGB);
  fail_unless (c0 != c1);
  fail_unless (foreign_a != 0);
  fail_unless_equals_int (foreign_a, foreign_b);

  gst_buffer_unref (out);
  gst_buffer_unref (out_foreign);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_properties_mid_stream)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out;
  gdouble line_width;
  gboolean show_labels;

  g_object_get (h->element, "line-width", &line_width, "show-labels",
      &show_labels, NULL);
  fail_unless_equals_float (line_width, 2.0);
  fail_unless (show_labels);

  out = push_and_pull (h, frame_with_person ());
  fail_unless_equals_int (pixel_word (out, BOX_X + 5, BOX_Y + BOX_H / 2), 0);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + 1, BOX_Y - 2), CLASS0_RGB);
  gst_buffer_unref (out);

  g_object_set (h->element, "line-width", 10.0, NULL);
  out = push_and_pull (h, frame_with_person ());
  fail_unless_equals_int (pixel_rgb (out, BOX_X + 5, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_rgb (out, BOX_X + 9, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  fail_unless_equals_int (pixel_word (out, BOX_X + 12, BOX_Y + BOX_H / 2), 0);
  gst_buffer_unref (out);

  g_object_set (h->element, "show-labels", FALSE, NULL);
  out = push_and_pull (h, frame_with_person ());
  fail_unless (region_is_black (out, 0, 0, WIDTH, BOX_Y));
  /* The box itself is still drawn. */
  fail_unless_equals_int (pixel_rgb (out, BOX_X, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct {
  GstElement *element;
  gint stop;
  guint toggles;
} Toggler;

static gpointer
toggle_properties (gpointer data)
{
  Toggler *t = data;

  while (!g_atomic_int_get (&t->stop)) {
    gboolean on = t->toggles % 2 == 0;

    g_object_set (t->element, "show-stats", on, "line-width", on ? 20.0 : 1.0,
        "show-labels", !on, "font-size", on ? 96.0 : 6.0, NULL);
    t->toggles++;
    g_thread_yield ();
  }
  return NULL;
}

GST_START_TEST (test_stress_property_toggling)
{
  const guint n = 300;
  GstHarness *h = overlay_harness ();
  Toggler t = { h->element, 0, 0 };
  GThread *thread;
  guint i;

  thread = g_thread_new ("toggler", toggle_properties, &t);
  for (i = 0; i < n; i++) {
    GstBuffer *buf = frame_with_person ();

    add_detection (buf, 5, "bus", 0.55f, 0, 0, WIDTH, HEIGHT);
    gst_buffer_unref (push_and_pull (h, buf));
  }
  g_atomic_int_set (&t.stop, 1);
  g_thread_join (thread);

  fail_unless_equals_int (gst_harness_buffers_received (h), n);
  fail_unless (t.toggles > 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_stats_corner)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out;
  gboolean show_stats;

  g_object_get (h->element, "show-stats", &show_stats, NULL);
  fail_if (show_stats);
  g_object_set (h->element, "show-stats", TRUE, NULL);

  out = push_and_pull (h, black_frame ());
  fail_unless (count_pixels_not (out, 0, 0, 0, 150, 30) > 20);
  fail_unless (region_is_black (out, 0, 60, WIDTH, HEIGHT));
  gst_buffer_unref (out);

  /* With a detection the line gets longer (source and model added). */
  out = push_and_pull (h, black_frame ());
  gst_buffer_unref (out);
  out = push_and_pull (h, frame_with_person ());
  fail_unless (count_pixels_not (out, 0, 0, 0, WIDTH, 30) > 20);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_unwrappable_stride_warns)
{
  const int stride = WIDTH * 4 + 2;
  GstHarness *h = overlay_harness ();
  GstBus *bus = gst_bus_new ();
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };
  GstMessage *msg;
  GstBuffer *buf, *out;
  GstMapInfo map;
  int round;

  gst_element_set_bus (h->element, bus);

  for (round = 0; round < 2; round++) {
    buf = gst_buffer_new_allocate (NULL, stride * HEIGHT, NULL);
    gst_buffer_memset (buf, 0, 0, stride * HEIGHT);
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        gst_video_format_from_string (FORMAT_RGB24), WIDTH, HEIGHT, 1, offset,
        strides);
    add_detection (buf, 0, "person", 0.91f, BOX_X, BOX_Y, BOX_W, BOX_H);

    out = push_and_pull (h, buf);
    fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
    for (gsize i = 0; i < map.size; i++)
      fail_unless (map.data[i] == 0, "byte %" G_GSIZE_FORMAT " drawn", i);
    gst_buffer_unmap (out, &map);
    gst_buffer_unref (out);
  }

  /* One warning, not one per frame. */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (h->element));
  gst_message_unref (msg);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  /* Ordinary frames are drawn again afterwards. */
  out = push_and_pull (h, frame_with_person ());
  fail_unless_equals_int (pixel_rgb (out, BOX_X, BOX_Y + BOX_H / 2),
      CLASS0_RGB);
  gst_buffer_unref (out);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
yolooverlay_suite (void)
{
  Suite *s = suite_create ("yolooverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_negotiation);
  tcase_add_test (tc, test_frames_and_event_order);
  tcase_add_test (tc, test_draws_box_and_label);
  tcase_add_test (tc, test_no_detections_untouched);
  tcase_add_test (tc, test_colour_per_class);
  tcase_add_test (tc, test_properties_mid_stream);
  tcase_add_test (tc, test_stress_property_toggling);
  tcase_add_test (tc, test_stats_corner);
  tcase_add_test (tc, test_unwrappable_stride_warns);
  return s;
}

GST_CHECK_MAIN (yolooverlay);
