/* 8-bit weights storage (yolo/weights_q8.h): yolo-fastest-1.1 quantized by
 * yolo_q8_quantize is at most 27 % of the float file, loads through the
 * ordinary model path and finds the float model's objects on dog.jpg and
 * person.jpg, with either engine; a damaged, cut-off or other model's
 * file is refused at open
 * with a sentence naming the file and what is wrong. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cfg.h"
#include "metrics.h"
#include "test_images.h"
#include "weights_q8.h"
#include "yolo.h"

#define MODEL "yolo-fastest-1.1"

static gchar *dir; /* this run's own (parallel builds run this test too) */
static gchar *q8_path; /* MODEL quantized, for every test */

static gchar *
model_file (const char *name, const char *ext)
{
  return g_strdup_printf ("%s/%s%s", test_models_dir (), name, ext);
}

static YoloModel *
open_on (const char *name, const char *weights, YoloEngine engine,
    YoloStatus *status)
{
  gchar *cfg = model_file (name, ".cfg");
  gchar *labels = g_strdup_printf ("%s/coco.names", test_models_dir ());
  YoloModelSpec spec = { .cfg_path = cfg,
    .weights_path = weights,
    .labels_path = labels,
    .engine = engine };
  YoloModel *m = yolo_model_open (&spec, status);

  g_free (cfg);
  g_free (labels);
  return m;
}

static YoloModel *
open_with (const char *name, const char *weights, YoloStatus *status)
{
  return open_on (name, weights, YOLO_ENGINE_FAST, status);
}

static void
detect (YoloModel *m, const char *image, YoloDetections *dets)
{
  TestImage *img = test_image_load (image, 1.0, YOLO_PIXEL_RGB, 0);
  YoloInferOptions o;
  YoloStatus status;

  yolo_infer_options_init (&o);
  yolo_detections_init (dets);
  g_assert_true (yolo_model_detect (m, &img->frame, &o, dets, &status));
  test_image_free (img);
}

static void
test_smaller (void)
{
  gchar *floats = model_file (MODEL, ".weights");
  GStatBuf a, b;

  g_assert_cmpint (g_stat (floats, &a), ==, 0);
  g_assert_cmpint (g_stat (q8_path, &b), ==, 0);
  g_test_message ("%s: %lld of %lld bytes", MODEL, (long long) b.st_size,
      (long long) a.st_size);
  g_assert_cmpfloat ((double) b.st_size / (double) a.st_size, <=, 0.27);
  g_assert_cmpfloat ((double) b.st_size / (double) a.st_size, >, 0.15);
  g_assert_true (yolo_q8_is_file (q8_path));
  g_assert_false (yolo_q8_is_file (floats));
  g_free (floats);
}

/* Every object the float model finds at >= 0.6 is found by the 8-bit one:
 * same class, IoU >= 0.8. */
static void
test_same_objects (void)
{
  const char *images[] = { "dog.jpg", "person.jpg" };
  gchar *floats = model_file (MODEL, ".weights");
  YoloStatus status;
  YoloModel *f = open_with (MODEL, floats, &status);
  YoloModel *q = open_with (MODEL, q8_path, &status);
  int checked = 0;

  g_assert_nonnull (f);
  g_assert_nonnull (q);
  for (size_t i = 0; i < G_N_ELEMENTS (images); i++) {
    YoloDetections df, dq;
    detect (f, images[i], &df);
    detect (q, images[i], &dq);
    for (size_t k = 0; k < df.count; k++) {
      double best = 0;
      if (df.items[k].confidence < 0.6f)
        continue;
      for (size_t j = 0; j < dq.count; j++)
        if (dq.items[j].class_id == df.items[k].class_id)
          best = MAX (best, yolo_box_iou (&df.items[k], &dq.items[j]));
      g_test_message ("%s %s: IoU %.3f", images[i], df.items[k].label, best);
      g_assert_cmpfloat (best, >=, 0.8);
      checked++;
    }
    yolo_detections_free (&df);
    yolo_detections_free (&dq);
  }
  g_assert_cmpint (checked, >=, 4); /* car, dog; person, dog, sheep */
  yolo_model_close (f);
  yolo_model_close (q);
  g_free (floats);
}

/* Darknet's engine reads the same expanded file (through /proc/self/fd,
 * while the model opens): the fast engine's boxes, IoU >= 0.95. */
static void
test_darknet_engine (void)
{
  YoloStatus status;
  YoloModel *f = open_with (MODEL, q8_path, &status);
  YoloModel *d = open_on (MODEL, q8_path, YOLO_ENGINE_DARKNET, &status);
  YoloDetections df, dd;

  g_assert_nonnull (f);
  if (d == NULL)
    g_error ("darknet engine: %s", status.message);
  /* messages and files name the file, not the in-memory copy */
  g_assert_cmpstr (yolo_model_files (d)->weights_path, ==, q8_path);
  detect (f, "dog.jpg", &df);
  detect (d, "dog.jpg", &dd);
  g_assert_cmpuint (df.count, ==, dd.count);
  for (size_t k = 0; k < df.count; k++) {
    double best = 0;
    for (size_t j = 0; j < dd.count; j++)
      if (dd.items[j].class_id == df.items[k].class_id)
        best = MAX (best, yolo_box_iou (&df.items[k], &dd.items[j]));
    g_assert_cmpfloat (best, >=, 0.95);
  }
  yolo_detections_free (&df);
  yolo_detections_free (&dd);
  yolo_model_close (f);
  yolo_model_close (d);
}

/* A copy of the quantized file with edit applied to its bytes. */
static gchar *
damaged (void (*edit) (gchar *data, gsize *len))
{
  gchar *data, *path = g_build_filename (dir, "damaged.q8.weights", NULL);
  gsize len;

  g_assert_true (g_file_get_contents (q8_path, &data, &len, NULL));
  edit (data, &len);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  g_free (data);
  return path;
}

static void
flip_middle (gchar *data, gsize *len)
{
  data[*len / 2] ^= 0x10;
}

static void
cut_off (gchar *data, gsize *len)
{
  (void) data;
  *len = *len * 2 / 3;
}

static void
refused (const char *weights, const char *name, const char *why)
{
  YoloStatus status;
  YoloModel *m = open_with (name, weights, &status);

  g_assert_null (m);
  g_test_message ("%s", status.message);
  g_assert_nonnull (strstr (status.message, weights));
  g_assert_nonnull (strstr (status.message, why));
}

static void
test_damage_refused (void)
{
  gchar *p = damaged (flip_middle);
  refused (p, MODEL, "SHA-256 does not match");
  g_unlink (p);
  g_free (p);
  p = damaged (cut_off);
  refused (p, MODEL, "SHA-256 does not match");
  g_unlink (p);
  g_free (p);
}

/* The quantized file of one model with another's cfg: the blocks do not
 * match the layers. */
static void
test_other_cfg_refused (void)
{
  refused (q8_path, "yolo-fastest-1.1-xl", "block");
}

int
main (int argc, char **argv)
{
  gchar *cfg_path, *floats;
  CfgNetwork cfg = { 0 };
  YoloStatus status;
  size_t bytes = 0;
  int result;

  g_test_init (&argc, &argv, NULL);
  cfg_path = model_file (MODEL, ".cfg");
  floats = model_file (MODEL, ".weights");
  dir = g_dir_make_tmp ("yoloswitch-q8-XXXXXX", NULL);
  g_assert_nonnull (dir);
  q8_path = g_build_filename (dir, MODEL ".q8.weights", NULL);
  if (!cfg_network_load (cfg_path, &cfg, &status)
      || !yolo_q8_quantize (&cfg, floats, q8_path, &bytes, &status))
    g_error ("cannot quantize %s: %s", MODEL, status.message);
  cfg_network_clear (&cfg);
  g_test_add_func ("/weights-q8/smaller", test_smaller);
  g_test_add_func ("/weights-q8/same-objects", test_same_objects);
  g_test_add_func ("/weights-q8/darknet-engine", test_darknet_engine);
  g_test_add_func ("/weights-q8/damage-refused", test_damage_refused);
  g_test_add_func ("/weights-q8/other-cfg-refused", test_other_cfg_refused);
  result = g_test_run ();
  g_unlink (q8_path);
  g_rmdir (dir);
  g_free (q8_path);
  g_free (dir);
  g_free (cfg_path);
  g_free (floats);
  return result;
}
