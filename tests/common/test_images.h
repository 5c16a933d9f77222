/* Test images in every pixel layout the library takes, built from JPEGs with
 * GdkPixbuf, plus the reference detections of ../shared/models/README.md. */
#ifndef YOLOSWITCH_TEST_IMAGES_H
#define YOLOSWITCH_TEST_IMAGES_H

#include <glib.h>

#include "yolo.h"

G_BEGIN_DECLS

typedef struct {
  YoloFrame frame;
  guint8 *data; /* owns every plane */
  gsize size;
} TestImage;

/* Loads path (relative paths are looked up in $YOLOSWITCH_TEST_DATA or
 * /usr/share/darknet/data), scales it by `scale` and converts it.  extra_stride
 * bytes of padding are added to every row of every plane. */
TestImage *test_image_load (const char *name, double scale,
    YoloPixelFormat format, int extra_stride);
void test_image_free (TestImage *image);

/* Directory holding the shipped models (../shared/models). */
const char *test_models_dir (void);

typedef struct {
  const char *model;
  const char *image;
  const char *label;
  float confidence;
  float x, y, w, h;
} TestReference;

/* The reference detections for (model, image); returns their count. */
int test_references (const char *model, const char *image,
    const TestReference **refs);

G_END_DECLS

#endif
