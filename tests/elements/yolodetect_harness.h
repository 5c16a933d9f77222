/* yolodetect under a GstHarness, for its two test programs
 * (test_yolodetect.c, test_yolodetect_swap.c): frames of a test image at
 * 10 frames/s, and an element set up from "name=value" words. */
#ifndef YOLOSWITCH_TEST_YOLODETECT_HARNESS_H
#define YOLOSWITCH_TEST_YOLODETECT_HARNESS_H

#include <gst/check/gstharness.h>

#include "test_images.h"

G_BEGIN_DECLS

#define FRAME_DURATION (GST_SECOND / 10)

/* Frame `index` of a stream of test image `name` (tests/common). */
GstBuffer *image_buffer (const char *name, YoloPixelFormat format, gint index);
/* A yolodetect with model-dir the test models' and properties given as
 * "name=value" words, set before the harness starts it (the model is read
 * at start). */
GstElement *yolodetect_new (const char *props);
/* Such a yolodetect in a harness, 768x576 frames of `format` at 10/s. */
GstHarness *harness_new (const char *props, const char *format);

G_END_DECLS

#endif
