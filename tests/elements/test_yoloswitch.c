/* yoloswitch under GstHarness, on the local path (policy=local): caps and
 * event order, boxes from the local model with the tracker's origin
 * fields, threshold and nms while playing, a thread toggling them, the
 * latency query (also from a thread while the element restarts), the bus
 * messages, sync delivery, ages of frames without pts, and a failed start
 * that leaves nothing running.
 *
 * Why this file is long: one suite per element or library, as the others;
 * each test is short and stands alone. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <string.h>

#include "detection_meta.h"
#include "edge_server.h"
#include "metrics.h"
#include "test_images.h"

#define FRAME_DURATION (GST_SECOND / 10)
#define CAPS "video/x-raw,format=BGRx,width=768,height=576,framerate=10/1"
/* The shipped profile runs the local model at 320x320, its cfg's size. */
#define LOCAL_MODEL "yolo-fastest-1.1"
#define LOCAL_SIZE 320
/* A frame rate any machine holds at LOCAL_SIZE: the decision engine never
 * steps the input size down, so boxes and counts are of one size. */
#define PINNED "target-fps=1"
/* How long the switcher lets a frame wait for its own local result. */
#define MAX_LOCAL_WAIT_MS 30

static GstBuffer *
dog_buffer (GstClockTime pts)
{
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_BGRX, 0);
  GstBuffer *buf = gst_buffer_new_memdup (img->data, img->size);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf)
      = GST_CLOCK_TIME_IS_VALID (pts) ? FRAME_DURATION : GST_CLOCK_TIME_NONE;
  test_image_free (img);
  return buf;
}

/* Properties as "name=value" words; each must exist. */
static void
set_props (GstElement *e, const char *props)
{
  gchar **words = g_strsplit (props, " ", -1);

  for (gchar **w = words; *w != NULL; w++) {
    gchar **kv = g_strsplit (*w, "=", 2);
    if (kv[0] != NULL && kv[0][0] != '\0') {
      fail_unless (kv[1] != NULL, "not name=value: %s", *w);
      fail_unless (g_object_class_find_property (G_OBJECT_GET_CLASS (e), kv[0])
              != NULL,
          "yoloswitch has no property %s", kv[0]);
      gst_util_set_object_arg (G_OBJECT (e), kv[0], kv[1]);
    }
    g_strfreev (kv);
  }
  g_strfreev (words);
}

/* A yoloswitch with the test models and props, before it starts. */
static GstElement *
switch_new (const char *props)
{
  GstElement *e = gst_element_factory_make ("yoloswitch", NULL);

  fail_unless (e != NULL);
  g_object_set (e, "model-dir", test_models_dir (), NULL);
  set_props (e, props);
  return e;
}

/* The harness starts the element: a bus given here sees its start. */
static GstHarness *
harness_new (const char *props, GstBus *bus)
{
  GstElement *e = switch_new (props);
  GstHarness *h;

  if (bus != NULL)
    gst_element_set_bus (e, bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS);
  return h;
}

static guint
count_label (GstBuffer *buf, const char *label)
{
  YsDetectionIter it;
  YsDetectionView d;
  guint n = 0;

  ys_detection_iter_init (&it, buf);
  while (ys_detection_iter_next (&it, &d))
    n += strcmp (d.label, label) == 0;
  return n;
}

/* ---- caps, events, frames ------------------------------------------------------- */

GST_START_TEST (test_caps_and_event_order)
{
  GstHarness *h = harness_new ("policy=local", NULL);
  GstCaps *caps, *want = gst_caps_from_string (CAPS);
  GstEvent *ev;

  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (i * FRAME_DURATION)),
        GST_FLOW_OK);
  for (guint i = 0; i < 3; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * FRAME_DURATION);
    gst_buffer_unref (out);
  }
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_STREAM_START);
  gst_event_unref (ev);
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_CAPS);
  gst_event_parse_caps (ev, &caps);
  fail_unless (gst_caps_is_equal (caps, want));
  gst_event_unref (ev);
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  fail_unless (gst_harness_try_pull_event (h) == NULL);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_EOS);
  gst_event_unref (ev);
  gst_caps_unref (want);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Every box of `buf` (pts `pts`) is the local model's, with the origin
 * fields of the analysis it came from; returns how many. */
static guint
check_local_origin (GstBuffer *buf, GstClockTime pts)
{
  YsDetectionIter it;
  YsDetectionView d;
  guint n = 0;

  ys_detection_iter_init (&it, buf);
  while (ys_detection_iter_next (&it, &d)) {
    fail_unless_equals_string (d.source, "local");
    fail_unless_equals_string (d.model, LOCAL_MODEL);
    fail_unless_equals_int (d.width, LOCAL_SIZE);
    fail_unless_equals_int (d.height, LOCAL_SIZE);
    fail_unless_equals_int64 (d.bitrate, 0);
    fail_unless (GST_CLOCK_TIME_IS_VALID (d.frame_pts));
    fail_unless (d.frame_pts <= pts);
    fail_unless (d.frame_pts % FRAME_DURATION == 0);
    fail_unless (
        ABS (d.age_ms - (double) (pts - d.frame_pts) / GST_MSECOND) < 1e-6);
    /* Moved from the frame it was found on, or found on this one. */
    fail_unless_equals_int (d.tracked, d.frame_pts != pts);
    n++;
  }
  return n;
}

/* The local model's boxes of dog.jpg come out on the frames, the tracker
 * carries them onto every frame once the first result is in, and each
 * says where it came from. */
GST_START_TEST (test_local_boxes_on_frames)
{
  GstHarness *h = harness_new ("policy=local " PINNED, NULL);
  const TestReference *refs;
  int nrefs = test_references (LOCAL_MODEL, "dog.jpg", &refs);
  guint i = 0, found_at = 0;

  /* Frames at the camera's pace.  The first result: a bound on a slow
   * machine, not a timing. */
  for (; i < 100 && found_at == 0; i++) {
    GstBuffer *out;
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (i * FRAME_DURATION)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    if (check_local_origin (out, i * FRAME_DURATION) > 0)
      found_at = i + 1;
    gst_buffer_unref (out);
    g_usleep (FRAME_DURATION / GST_USECOND);
  }
  fail_unless (found_at > 0, "no frame of %u carried boxes", i);

  for (guint k = 0; k < 5; k++, i++) {
    GstBuffer *out;
    GstClockTime pts = i * FRAME_DURATION;
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (pts)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), pts);
    fail_unless (check_local_origin (out, pts) > 0, "frame %u has no boxes", i);
    /* The same picture on every frame: the reference boxes stay put. */
    for (int r = 0; r < nrefs; r++) {
      YoloDetection want
          = { .x = refs[r].x, .y = refs[r].y, .w = refs[r].w, .h = refs[r].h };
      YsDetectionIter it;
      YsDetectionView d;
      gboolean found = FALSE;
      ys_detection_iter_init (&it, out);
      while (ys_detection_iter_next (&it, &d)) {
        YoloDetection got = { .x = d.x, .y = d.y, .w = d.w, .h = d.h };
        if (strcmp (d.label, refs[r].label) == 0
            && yolo_box_iou (&got, &want) >= 0.8)
          found = TRUE;
      }
      fail_unless (found, "frame %u: no %s", i, refs[r].label);
    }
    gst_buffer_unref (out);
    g_usleep (FRAME_DURATION / GST_USECOND);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- threshold and nms ------------------------------------------------------------ */

/* Sync: the boxes of this very frame, as the model found them. */
static guint
push_pull_count (GstHarness *h, guint i)
{
  GstBuffer *out;
  YsResultView r;
  guint n;

  fail_unless_equals_int (gst_harness_push (h, dog_buffer (i * FRAME_DURATION)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless_equals_int (ys_detection_meta_results (out, &r, 1), 1);
  fail_unless_equals_string (r.status, "ok");
  fail_unless_equals_uint64 (r.frame_pts, i * FRAME_DURATION);
  n = ys_detection_meta_count (out);
  gst_buffer_unref (out);
  return n;
}

static void
check_mutable_playing (GstElement *e, const char *name)
{
  GParamSpec *spec
      = g_object_class_find_property (G_OBJECT_GET_CLASS (e), name);

  fail_unless (spec != NULL, "yoloswitch has no %s", name);
  fail_unless (spec->flags & GST_PARAM_MUTABLE_PLAYING,
      "%s is not changeable while playing", name);
}

/* threshold and nms exist, may change while PLAYING and take effect on
 * the next frame: each sync frame carries its own local result. */
GST_START_TEST (test_threshold_and_nms_while_playing)
{
  GstElement *e = switch_new ("policy=local " PINNED);
  GstHarness *h;
  guint low, high, nms_off, nms_on;

  check_mutable_playing (e, "threshold");
  check_mutable_playing (e, "nms");
  set_props (e, "mode=sync latency-budget-ms=20000 threshold=0.2 nms=0.45");
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS);

  low = push_pull_count (h, 0);
  g_object_set (h->element, "threshold", 0.95f, NULL);
  high = push_pull_count (h, 1);
  fail_unless (high < low, "threshold 0.95: %u boxes, 0.2: %u", high, low);

  g_object_set (h->element, "threshold", 0.2f, "nms", 0.45f, NULL);
  nms_on = push_pull_count (h, 2);
  fail_unless_equals_int (nms_on, low);
  /* An overlap of 1 suppresses nothing: the model's duplicates stay. */
  g_object_set (h->element, "nms", 1.0f, NULL);
  nms_off = push_pull_count (h, 3);
  fail_unless (nms_off > nms_on, "nms 1.0: %u boxes, 0.45: %u", nms_off,
      nms_on);
  gst_harness_teardown (h);
}

GST_END_TEST;

static gint stop_toggling;

static gpointer
toggle_properties (gpointer data)
{
  GstElement *e = data;
  guint n = 0;

  while (!g_atomic_int_get (&stop_toggling)) {
    g_object_set (e, "threshold", (n % 2) ? 0.3f : 0.7f, "nms",
        (n % 3) ? 0.45f : 0.6f, NULL);
    n++;
    g_thread_yield ();
  }
  return GUINT_TO_POINTER (n);
}

/* A thread changes threshold and nms all the time while frames flow:
 * every frame comes out, in order. */
GST_START_TEST (test_stress_threshold_nms)
{
  GstHarness *h = harness_new ("policy=local", NULL);
  GThread *t;

  check_mutable_playing (h->element, "threshold");
  check_mutable_playing (h->element, "nms");
  g_atomic_int_set (&stop_toggling, 0);
  t = g_thread_new ("toggle", toggle_properties, h->element);
  for (guint i = 0; i < 30; i++)
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (i * FRAME_DURATION)),
        GST_FLOW_OK);
  g_atomic_int_set (&stop_toggling, 1);
  fail_unless (GPOINTER_TO_UINT (g_thread_join (t)) > 0);
  for (guint i = 0; i < 30; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * FRAME_DURATION);
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (gst_harness_buffers_received (h), 30);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- latency ------------------------------------------------------------------------ */

/* Async, a frame the local model took may wait for its own result (up
 * to 30 ms): that is in the latency query.  Sync, the budget is. */
GST_START_TEST (test_latency_query)
{
  GstHarness *h = harness_new ("policy=local", NULL);
  GstClockTime latency = gst_harness_query_latency (h);
  gdouble ms = -1;

  fail_unless (latency > 0, "async yoloswitch reports no latency");
  fail_unless (latency <= MAX_LOCAL_WAIT_MS * GST_MSECOND,
      "async latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
  g_object_get (h->element, "latency-ms", &ms, NULL);
  fail_unless_equals_uint64 (latency, (GstClockTime) (ms * GST_MSECOND));
  gst_harness_teardown (h);

  h = harness_new ("policy=local mode=sync latency-budget-ms=700", NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 700 * GST_MSECOND);
  gst_harness_teardown (h);
}

GST_END_TEST;

static gint stop_querying;

static gpointer
query_latency_loop (gpointer data)
{
  GstPad *src = data;
  guint64 answered = 0;

  while (!g_atomic_int_get (&stop_querying)) {
    GstQuery *q = gst_query_new_latency ();
    answered += gst_pad_query (src, q);
    gst_query_unref (q);
  }
  return GUINT_TO_POINTER (answered > 0);
}

/* The application asks for the latency (a bin does, on a LATENCY message)
 * while the element starts and stops: the query never reads a switcher
 * being freed. */
GST_START_TEST (test_latency_query_while_restarting)
{
  GstHarness *h = harness_new ("policy=local threads=1", NULL);
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  GThread *t;

  g_atomic_int_set (&stop_querying, 0);
  t = g_thread_new ("query", query_latency_loop, src);
  for (guint i = 0; i < 40; i++) {
    fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (h->element,
                                GST_STATE_PLAYING),
        GST_STATE_CHANGE_SUCCESS);
    gst_harness_set_src_caps_str (h, CAPS);
    fail_unless_equals_int (gst_harness_push (h, dog_buffer (0)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  g_atomic_int_set (&stop_querying, 1);
  fail_unless (g_thread_join (t) != NULL, "no query was answered");
  gst_object_unref (src);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- bus ------------------------------------------------------------------------ */

/* The first element message named `name`, or NULL; others are dropped. */
static GstMessage *
pop_element_message (GstBus *bus, const char *name)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    if (gst_structure_has_name (gst_message_get_structure (msg), name))
      return msg;
    gst_message_unref (msg);
  }
  return NULL;
}

/* "yoloswitch-decision" at start says what runs and why;
 * "yoloswitch-stats" at EOS counts every frame. */
GST_START_TEST (test_bus_messages)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new ("policy=local " PINNED, bus);
  GstMessage *msg = pop_element_message (bus, "yoloswitch-decision");
  const GstStructure *s;
  guint64 frames = 0;
  GstEvent *ev;

  fail_unless (msg != NULL, "no yoloswitch-decision at start");
  s = gst_message_get_structure (msg);
  fail_unless_equals_string (gst_structure_get_string (s, "path"), "local");
  fail_unless (gst_structure_get_string (s, "config") != NULL);
  fail_unless (strstr (gst_structure_get_string (s, "config"), "320") != NULL,
      "config %s", gst_structure_get_string (s, "config"));
  fail_unless (gst_structure_get_string (s, "reason") != NULL);
  fail_unless (gst_structure_get_string (s, "reason")[0] != '\0');
  gst_message_unref (msg);

  for (guint i = 0; i < 7; i++) {
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (i * FRAME_DURATION)),
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  fail_unless (pop_element_message (bus, "yoloswitch-stats") == NULL,
      "stats before EOS");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((ev = gst_harness_pull_event (h)) != NULL
      && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  gst_event_unref (ev);
  msg = pop_element_message (bus, "yoloswitch-stats");
  fail_unless (msg != NULL, "no yoloswitch-stats at EOS");
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_get_uint64 (s, "frames", &frames));
  fail_unless_equals_uint64 (frames, 7);
  gst_message_unref (msg);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- sync delivery ---------------------------------------------------------------- */

/* mode=sync: every frame leaves in order with its own local result. */
GST_START_TEST (test_sync_own_results_in_order)
{
  GstHarness *h
      = harness_new ("policy=local mode=sync latency-budget-ms=20000 " PINNED,
          NULL);

  for (guint i = 0; i < 8; i++)
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (i * FRAME_DURATION)),
        GST_FLOW_OK);
  for (guint i = 0; i < 8; i++) {
    GstBuffer *out = gst_harness_pull (h);
    GstClockTime pts = i * FRAME_DURATION;
    YsResultView r[2];
    YsDetectionIter it;
    YsDetectionView d;

    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), pts);
    fail_unless_equals_int (ys_detection_meta_results (out, r, 2), 1);
    fail_unless_equals_string (r[0].status, "ok");
    fail_unless_equals_string (r[0].source, "local");
    fail_unless_equals_string (r[0].model, LOCAL_MODEL);
    fail_unless_equals_uint64 (r[0].frame_pts, pts);
    fail_unless (r[0].age_ms == 0.0);
    fail_if (r[0].tracked);
    fail_unless (count_label (out, "dog") >= 1, "frame %u: no dog", i);
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d)) {
      fail_unless_equals_uint64 (d.frame_pts, pts);
      fail_if (d.tracked);
    }
    gst_buffer_unref (out);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- frames without pts ----------------------------------------------------------- */

/* One local configuration: yolo-fastest-1.1-xl at 608x608, which takes
 * far longer than the 30 ms a frame may wait for it (about 90 ms on one
 * thread of a 2020 laptop core). */
static gchar *
slow_profile (const char *dir)
{
  gchar *path = g_build_filename (dir, "slow.profile.json", NULL);
  const char *json = "{\"schema\":\"yoloswitch-profile/1\","
                     "\"video\":{\"path\":\"dog.jpg\",\"frames\":1,"
                     "\"width\":768,\"height\":576,\"fps\":10.0},"
                     "\"reference_model\":\"yolo-fastest-1.1-xl\","
                     "\"configs\":[{\"path\":\"local\","
                     "\"model\":\"yolo-fastest-1.1-xl\",\"width\":608,"
                     "\"height\":608,\"infer_ms\":90,\"iou_accuracy\":1.0,"
                     "\"f1\":1.0,\"pareto\":true}]}";

  fail_unless (g_file_set_contents (path, json, -1, NULL));
  return path;
}

/* Frames without pts, a real 60 ms apart, on a model slower than that: a
 * frame carries boxes found on an earlier one, and their age is how much
 * earlier that frame arrived, never 0.  At least 15 frames, and more until
 * one carries a tracked box (up to 30 s): how soon the first result comes
 * back is the machine's business (under ASan on a loaded machine, later
 * than 15 frames). */
GST_START_TEST (test_age_without_pts)
{
  gchar *dir = g_dir_make_tmp ("yoloswitch-XXXXXX", NULL);
  gchar *profile = slow_profile (dir);
  gchar *props
      = g_strdup_printf ("policy=local local-model=yolo-fastest-1.1-xl "
                         "threads=1 profile=%s",
          profile);
  GstHarness *h = harness_new (props, NULL);
  gint64 first_push = 0;
  guint tracked_frames = 0, boxes = 0, with_pts = 0;

  for (guint i = 0; i < 15
       || (tracked_frames == 0
           && g_get_monotonic_time () < first_push + 30 * G_TIME_SPAN_SECOND);
       i++) {
    gint64 now = g_get_monotonic_time ();
    YsDetectionIter it;
    YsDetectionView d;
    gboolean tracked = FALSE;
    GstBuffer *out;

    if (i == 0)
      first_push = now;
    fail_unless_equals_int (gst_harness_push (h,
                                dog_buffer (GST_CLOCK_TIME_NONE)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_if (GST_BUFFER_PTS_IS_VALID (out));
    ys_detection_iter_init (&it, out);
    while (ys_detection_iter_next (&it, &d)) {
      boxes++;
      /* The analysed frame had no pts either. */
      with_pts += GST_CLOCK_TIME_IS_VALID (d.frame_pts);
      if (!d.tracked) {
        fail_unless (d.age_ms == 0.0, "frame %u: own box of age %.1f ms", i,
            d.age_ms);
        continue;
      }
      /* From an earlier frame: at least one 60 ms gap behind (half of it
       * for the stamps' jitter), and no older than the stream. */
      fail_unless (d.age_ms > 0, "frame %u: tracked box of age 0", i);
      fail_unless (d.age_ms >= 30.0, "frame %u: age %.1f ms", i, d.age_ms);
      fail_unless (d.age_ms <= (now - first_push) / 1000.0 + 250.0,
          "frame %u: age %.1f ms, the stream is %.1f ms old", i, d.age_ms,
          (now - first_push) / 1000.0);
      tracked = TRUE;
    }
    tracked_frames += tracked;
    gst_buffer_unref (out);
    g_usleep (60000);
  }
  fail_unless (tracked_frames >= 1,
      "no frame in 30 s carried a box tracked from an earlier frame (%u "
      "boxes, each of age 0)",
      boxes);
  fail_unless (with_pts == 0, "%u boxes of %u name a frame-pts", with_pts,
      boxes);
  gst_harness_teardown (h);
  g_unlink (profile);
  g_rmdir (dir);
  g_free (props);
  g_free (profile);
  g_free (dir);
}

GST_END_TEST;

/* ---- a failed start -------------------------------------------------------------- */

/* The names of this process's threads, one per line. */
static gchar *
thread_names (guint *count)
{
  GDir *d = g_dir_open ("/proc/self/task", 0, NULL);
  GString *names = g_string_new (NULL);
  const gchar *tid;

  fail_unless (d != NULL);
  *count = 0;
  while ((tid = g_dir_read_name (d)) != NULL) {
    gchar *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
    gchar *comm = NULL;
    if (g_file_get_contents (path, &comm, NULL, NULL)) {
      g_string_append (names, comm);
      (*count)++;
    }
    g_free (comm);
    g_free (path);
  }
  g_dir_close (d);
  return g_string_free (names, FALSE);
}

/* Start fails after the paths and the switcher are built (results-location
 * cannot be written): nothing they started keeps running. */
GST_START_TEST (test_failed_start_leaves_nothing_running)
{
  TestEdgeServer *server = test_edge_server_start ();
  gchar *props
      = g_strdup_printf ("policy=local threads=1 server=%s", server->url);
  GstElement *e = switch_new (props);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL, *before_names, *after_names = NULL;
  guint before, after = 0;
  gint64 until;

  /* One good start and stop first: what stays for good (thread pools of
   * libraries) is there before counting. */
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  before_names = thread_names (&before);

  g_object_set (e, "results-location", "/nonexistent-dir/x.jsonl", NULL);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (strstr (err->message, "results-location") != NULL, "%s",
      err->message);

  /* Threads end when joined; a bound lets stragglers go. */
  until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  do {
    g_free (after_names);
    after_names = thread_names (&after);
    if (after == before)
      break;
    g_usleep (50000);
  } while (g_get_monotonic_time () < until);
  fail_unless (after == before,
      "%u threads before the failed start:\n%s%u after it:\n%s", before,
      before_names, after, after_names);

  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
  gst_message_unref (msg);
  g_error_free (err);
  g_free (debug);
  g_free (before_names);
  g_free (after_names);
  g_free (props);
  test_edge_server_stop (server);
}

GST_END_TEST;

static Suite *
yoloswitch_suite (void)
{
  Suite *s = suite_create ("yoloswitch");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_and_event_order);
  tcase_add_test (tc, test_local_boxes_on_frames);
  tcase_add_test (tc, test_threshold_and_nms_while_playing);
  tcase_add_test (tc, test_stress_threshold_nms);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_latency_query_while_restarting);
  tcase_add_test (tc, test_bus_messages);
  tcase_add_test (tc, test_sync_own_results_in_order);
  tcase_add_test (tc, test_age_without_pts);
  tcase_add_test (tc, test_failed_start_leaves_nothing_running);
  return s;
}

GST_CHECK_MAIN (yoloswitch);
