/* What yolodetect, yolooffload and yoloswitch share: one caps list on both
 * pads (the RGB family with alpha included), and each of them really takes
 * RGBA frames and finds the dog in one. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>

#include "detection_meta.h"
#include "edge_server.h"
#include "test_images.h"

#define MODEL "yolo-fastest-1.1-xl"
#define RGBA_CAPS "video/x-raw,format=RGBA,width=768,height=576,framerate=10/1"

static const char *const detectors[]
    = { "yolodetect", "yolooffload", "yoloswitch" };

/* The static caps of a factory's pad template, or NULL. */
static GstCaps *
template_caps (const char *factory_name, GstPadDirection direction)
{
  GstElementFactory *f = gst_element_factory_find (factory_name);
  GstCaps *caps = NULL;

  fail_unless (f != NULL, "no %s", factory_name);
  for (const GList *l = gst_element_factory_get_static_pad_templates (f);
       l != NULL; l = l->next) {
    GstStaticPadTemplate *t = l->data;
    if (t->direction == direction && t->presence == GST_PAD_ALWAYS)
      caps = gst_static_caps_get (&t->static_caps);
  }
  gst_object_unref (f);
  return caps;
}

GST_START_TEST (test_same_pad_templates)
{
  GstCaps *sink0 = template_caps (detectors[0], GST_PAD_SINK);
  GstCaps *src0 = template_caps (detectors[0], GST_PAD_SRC);
  const char *alpha[] = { "RGBA", "BGRA", "ARGB", "ABGR" };

  fail_unless (sink0 != NULL && src0 != NULL);
  fail_unless (gst_caps_is_equal (sink0, src0));
  /* Alpha is ignored, as x is: every format with alpha is there. */
  for (guint i = 0; i < G_N_ELEMENTS (alpha); i++) {
    gchar *text = g_strdup_printf ("video/x-raw,format=%s,width=768,"
                                   "height=576,framerate=10/1",
        alpha[i]);
    GstCaps *caps = gst_caps_from_string (text);
    fail_unless (gst_caps_is_subset (caps, sink0), "%s refuses %s",
        detectors[0], alpha[i]);
    gst_caps_unref (caps);
    g_free (text);
  }
  for (guint i = 1; i < G_N_ELEMENTS (detectors); i++) {
    GstCaps *sink = template_caps (detectors[i], GST_PAD_SINK);
    GstCaps *src = template_caps (detectors[i], GST_PAD_SRC);
    gchar *want = gst_caps_to_string (sink0), *got = gst_caps_to_string (sink);
    fail_unless (gst_caps_is_equal (sink, sink0), "%s sink caps %s, %s has %s",
        detectors[i], got, detectors[0], want);
    fail_unless (gst_caps_is_equal (src, src0), "%s src caps differ",
        detectors[i]);
    g_free (want);
    g_free (got);
    gst_caps_unref (sink);
    gst_caps_unref (src);
  }
  gst_caps_unref (sink0);
  gst_caps_unref (src0);
}

GST_END_TEST;

/* Properties as "name=value" words; each must exist. */
static void
set_props (GstElement *e, const char *props)
{
  gchar **words = g_strsplit (props, " ", -1);

  for (gchar **w = words; *w != NULL; w++) {
    gchar **kv = g_strsplit (*w, "=", 2);
    fail_unless (kv[0] != NULL && kv[1] != NULL, "not name=value: %s", *w);
    fail_unless (g_object_class_find_property (G_OBJECT_GET_CLASS (e), kv[0])
            != NULL,
        "%s has no property %s", GST_OBJECT_NAME (gst_element_get_factory (e)),
        kv[0]);
    gst_util_set_object_arg (G_OBJECT (e), kv[0], kv[1]);
    g_strfreev (kv);
  }
  g_strfreev (words);
}

static GstElement *
detector_new (const char *name, const TestEdgeServer *server)
{
  GstElement *e = gst_element_factory_make (name, NULL);
  gchar *props;

  fail_unless (e != NULL);
  /* Each frame waits for its own result, however loaded the machine;
   * target-fps=1 keeps yoloswitch's local model at its cfg's input size. */
  if (strcmp (name, "yolodetect") == 0)
    props = g_strdup_printf ("mode=sync model-dir=%s model=" MODEL,
        test_models_dir ());
  else if (strcmp (name, "yoloswitch") == 0)
    props
        = g_strdup_printf ("mode=sync model-dir=%s local-model=" MODEL
                           " policy=local latency-budget-ms=20000 target-fps=1",
            test_models_dir ());
  else /* near-lossless, so the server sees what the local model would */
    props = g_strdup_printf ("mode=sync server=%s codec=mjpeg "
                             "bitrate=20000000 latency-budget-ms=20000",
        server->url);
  set_props (e, props);
  g_free (props);
  return e;
}

static void
check_rgba (const char *name, const TestEdgeServer *server)
{
  GstElement *e = detector_new (name, server);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGBX, 0);
  GstBuffer *buf = gst_buffer_new_memdup (img->data, img->size);
  GstCaps *caps, *want = gst_caps_from_string (RGBA_CAPS);
  YsResultView r;
  YsDetectionIter it;
  YsDetectionView d;
  gboolean dog = FALSE;
  GstEvent *ev;

  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, RGBA_CAPS);
  GST_BUFFER_PTS (buf) = 0;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL, "%s: no frame back", name);
  fail_unless (ys_detection_meta_results (buf, &r, 1) >= 1, "%s: no result",
      name);
  fail_unless_equals_string (r.status, "ok");
  ys_detection_iter_init (&it, buf);
  while (ys_detection_iter_next (&it, &d))
    dog |= strcmp (d.label, "dog") == 0;
  fail_unless (dog, "%s found no dog in an RGBA frame", name);
  gst_buffer_unref (buf);

  /* The frame left with the caps it came with. */
  while ((ev = gst_harness_try_pull_event (h)) != NULL
      && GST_EVENT_TYPE (ev) != GST_EVENT_CAPS)
    gst_event_unref (ev);
  fail_unless (ev != NULL, "%s pushed no caps", name);
  gst_event_parse_caps (ev, &caps);
  fail_unless (gst_caps_is_equal (caps, want));
  gst_event_unref (ev);
  gst_caps_unref (want);
  test_image_free (img);
  gst_harness_teardown (h);
}

GST_START_TEST (test_each_negotiates_rgba)
{
  TestEdgeServer *server = test_edge_server_start ();

  for (guint i = 0; i < G_N_ELEMENTS (detectors); i++)
    check_rgba (detectors[i], server);
  test_edge_server_stop (server);
}

GST_END_TEST;

static Suite *
detectors_suite (void)
{
  Suite *s = suite_create ("detectors");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_same_pad_templates);
  tcase_add_test (tc, test_each_negotiates_rgba);
  return s;
}

GST_CHECK_MAIN (detectors);
