/* See yolodetect_harness.h. */
#include "yolodetect_harness.h"

#include <gst/check/gstcheck.h>

GstBuffer *
image_buffer (const char *name, YoloPixelFormat format, gint index)
{
  TestImage *img = test_image_load (name, 1.0, format, 0);
  GstBuffer *buf = gst_buffer_new_memdup (img->data, img->size);

  GST_BUFFER_PTS (buf) = index * FRAME_DURATION;
  GST_BUFFER_DURATION (buf) = FRAME_DURATION;
  test_image_free (img);
  return buf;
}

GstElement *
yolodetect_new (const char *props)
{
  GstElement *e = gst_element_factory_make ("yolodetect", NULL);
  gchar **words = g_strsplit (props, " ", -1);

  fail_unless (e != NULL);
  g_object_set (e, "model-dir", test_models_dir (), NULL);
  for (gchar **w = words; *w != NULL; w++) {
    gchar **kv = g_strsplit (*w, "=", 2);
    if (kv[0] != NULL && kv[1] != NULL)
      gst_util_set_object_arg (G_OBJECT (e), kv[0], kv[1]);
    g_strfreev (kv);
  }
  g_strfreev (words);
  return e;
}

GstHarness *
harness_new (const char *props, const char *format)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=768,height=576,"
                                 "framerate=10/1",
      format);
  GstElement *e = yolodetect_new (props);
  /* The harness takes its own reference. */
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");

  gst_object_unref (e);

  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  return h;
}
