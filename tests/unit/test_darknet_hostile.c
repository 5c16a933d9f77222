/* Hostile model files on Darknet's path (engine=darknet, the reference,
 * and whatever engine runs on the same module): weights that make stock
 * Darknet write past its boxes or hand out NaN boxes, and the [batchnorm]
 * layer it crashes on.  A one-layer network (a 1x1 convolution into
 * [yolo]) whose weights are 0 and whose biases are chosen makes every
 * cell of the yolo layer the same chosen prediction.  Also a FIFO as the
 * weights, which the check before Darknet once waited on.  Run plain, under
 * valgrind (darknet_hostile_valgrind) and in the sanitizer build: a write
 * past the boxes is an error there even when it does not crash. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "test_images.h"
#include "yolo.h"

static gchar *tmp_dir;

/* 6 = (4 box + objectness + 1 class) x 1 anchor.  anchors= is filled in. */
static const char yolo_cfg[] = "[net]\nwidth=32\nheight=32\nchannels=3\n"
                               "[convolutional]\nfilters=6\nsize=1\n"
                               "activation=linear\n"
                               "[yolo]\nmask=0\nanchors=%s\nclasses=1\nnum=1\n";

/* Weights for yolo_cfg: version 0.2 header, an 8-byte seen, the 6 biases
 * (x, y, w, h, objectness, class), then 6 x 3 kernel weights. */
static void
write_weights (const char *path, const float bias[6], float weight)
{
  GByteArray *b = g_byte_array_new ();
  gint32 head[3] = { 0, 2, 0 };
  guint64 seen = 0;

  g_byte_array_append (b, (const guint8 *) head, sizeof (head));
  g_byte_array_append (b, (const guint8 *) &seen, sizeof (seen));
  g_byte_array_append (b, (const guint8 *) bias, 6 * sizeof (float));
  for (int i = 0; i < 18; i++)
    g_byte_array_append (b, (const guint8 *) &weight, sizeof (float));
  g_assert_true (g_file_set_contents (path, (const gchar *) b->data,
      (gssize) b->len, NULL));
  g_byte_array_free (b, TRUE);
}

typedef struct {
  gchar *cfg, *weights, *labels;
} Files;

static void
write_model (Files *f, const char *name, const char *anchors,
    const float bias[6], float weight)
{
  gchar *text = g_strdup_printf (yolo_cfg, anchors);

  f->cfg = g_strdup_printf ("%s/%s.cfg", tmp_dir, name);
  f->weights = g_strdup_printf ("%s/%s.weights", tmp_dir, name);
  f->labels = g_strdup_printf ("%s/%s.names", tmp_dir, name);
  g_assert_true (g_file_set_contents (f->cfg, text, -1, NULL));
  g_assert_true (g_file_set_contents (f->labels, "thing\n", -1, NULL));
  write_weights (f->weights, bias, weight);
  g_free (text);
}

static void
files_free (Files *f)
{
  g_unlink (f->cfg);
  g_unlink (f->weights);
  g_unlink (f->labels);
  g_free (f->cfg);
  g_free (f->weights);
  g_free (f->labels);
}

/* Detects on dog.jpg with each engine; every detection must be a finite
 * box of positive size inside the frame.  Returns the darknet engine's
 * count. */
static size_t
detect_sane (const Files *f, float threshold)
{
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloEngine engines[] = { YOLO_ENGINE_DARKNET, YOLO_ENGINE_FAST };
  size_t darknet_count = 0;

  g_assert_nonnull (img);
  for (guint e = 0; e < G_N_ELEMENTS (engines); e++) {
    YoloModelSpec spec = {
      .cfg_path = f->cfg,
      .weights_path = f->weights,
      .labels_path = f->labels,
      .engine = engines[e],
      .threads = 1,
    };
    YoloInferOptions options;
    YoloDetections dets;
    YoloStatus status;
    YoloModel *model = yolo_model_open (&spec, &status);

    if (model == NULL)
      g_error ("%s: %s", yolo_engine_name (engines[e]), status.message);
    yolo_infer_options_init (&options);
    options.threshold = threshold;
    yolo_detections_init (&dets);
    for (int letterbox = 0; letterbox < 2; letterbox++) {
      options.letterbox = letterbox;
      g_assert_true (
          yolo_model_detect (model, &img->frame, &options, &dets, &status));
      for (size_t i = 0; i < dets.count; i++) {
        const YoloDetection *d = &dets.items[i];
        g_assert_true (isfinite (d->x) && isfinite (d->y) && isfinite (d->w)
            && isfinite (d->h) && isfinite (d->confidence));
        g_assert_cmpfloat (d->w, >, 0);
        g_assert_cmpfloat (d->h, >, 0);
        g_assert_cmpfloat (d->x, >=, 0);
        g_assert_cmpfloat (d->y, >=, 0);
        g_assert_cmpfloat (d->x + d->w, <=, img->frame.width + 0.01);
        g_assert_cmpfloat (d->y + d->h, <=, img->frame.height + 0.01);
        g_assert_cmpfloat (d->confidence, >, threshold);
      }
      if (engines[e] == YOLO_ENGINE_DARKNET && letterbox == 0)
        darknet_count = dets.count;
    }
    yolo_detections_free (&dets);
    yolo_model_close (model);
  }
  test_image_free (img);
  return darknet_count;
}

/* engine=darknet on dog.jpg: how many values of the yolo layer's output
 * (layer 1) are NaN after decoding. */
static size_t
darknet_nan_outputs (const Files *f)
{
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloModelSpec spec = {
    .cfg_path = f->cfg,
    .weights_path = f->weights,
    .labels_path = f->labels,
    .engine = YOLO_ENGINE_DARKNET,
    .threads = 1,
  };
  YoloInferOptions options;
  YoloDetections dets;
  YoloStatus status;
  YoloTensor view;
  YoloModel *model = yolo_model_open (&spec, &status);
  size_t nans = 0;

  g_assert_nonnull (model);
  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  g_assert_true (
      yolo_model_detect (model, &img->frame, &options, &dets, &status));
  g_assert_true (yolo_model_layer_output (model, 1, &view));
  g_assert_cmpint (view.c * view.h * view.w, ==, 6 * 32 * 32);
  for (int i = 0; i < view.c * view.h * view.w; i++)
    nans += isnan (view.data[i]);
  yolo_detections_free (&dets);
  yolo_model_close (model);
  test_image_free (img);
  return nans;
}

/* Every weight NaN: every objectness is NaN.  In Darknet's source,
 * get_network_boxes() counts "objectness > thresh" (none) and fills
 * skipping "<= thresh" (none skipped): 1024 boxes into an array of 0.
 * Debian's build happens to count them all (measured), so whether it
 * overruns depends on how Darknet was compiled; the outputs are sanitized before it
 * decodes (read back here: no NaN left), and nothing is detected. */
static void
test_nan_weights (void)
{
  float nan = NAN;
  float bias[6] = { nan, nan, nan, nan, nan, nan };
  Files f;

  write_model (&f, "all-nan", "10,14", bias, nan);
  g_assert_cmpuint (detect_sane (&f, 0.25f), ==, 0);
  g_assert_cmpuint (detect_sane (&f, 0.f), ==, 0);
  g_assert_cmpuint (darknet_nan_outputs (&f), ==, 0);
  files_free (&f);
}

/* A NaN x with a confident objectness and class: each cell's box is
 * decoded with x read as 0 (the cell's left edge), finite. */
static void
test_nan_box (void)
{
  float bias[6] = { NAN, 0, 0, 0, 10, 10 };
  Files f;

  write_model (&f, "nan-x", "10,14", bias, 0);
  g_assert_cmpuint (detect_sane (&f, 0.5f), >, 0);
  files_free (&f);
}

/* An Inf width with an anchor of 0: exp (Inf) x 0 is a NaN box width,
 * which "x1 <= x0" let through as a detection with NaN coordinates. */
static void
test_inf_times_zero_anchor (void)
{
  float bias[6] = { 0, 0, INFINITY, 0, 10, 10 };
  Files f;

  write_model (&f, "inf-w-zero-anchor", "0,14", bias, 0);
  g_assert_cmpuint (detect_sane (&f, 0.5f), ==, 0);
  files_free (&f);
}

/* Huge anchors: boxes clipped to the frame, still finite. */
static void
test_huge_anchors (void)
{
  float bias[6] = { 0, 0, 0, 0, 10, 10 };
  Files f;

  write_model (&f, "huge-anchors", "1e30,1e30", bias, 0);
  g_assert_cmpuint (detect_sane (&f, 0.5f), >, 0);
  files_free (&f);
}

/* [batchnorm] is refused for engine=darknet with a sentence, before
 * Darknet builds the network it would crash on; engine=fast runs it. */
static void
test_batchnorm_refused (void)
{
  static const char cfg[] = "[net]\nwidth=32\nheight=32\nchannels=3\n"
                            "[convolutional]\nfilters=6\nsize=1\n"
                            "activation=linear\n"
                            "[batchnorm]\n"
                            "[yolo]\nmask=0\nanchors=10,14\nclasses=1\n"
                            "num=1\n";
  float bias[6] = { 0 };
  Files f;
  GByteArray *b = g_byte_array_new ();
  gchar *data;
  gsize len;
  YoloStatus status;
  YoloModelSpec spec = { .engine = YOLO_ENGINE_DARKNET, .threads = 1 };
  float one = 1;
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloInferOptions options;
  YoloDetections dets;
  YoloModel *model;

  write_model (&f, "batchnorm", "10,14", bias, 0);
  g_assert_true (g_file_set_contents (f.cfg, cfg, -1, NULL));
  /* The convolution's floats, then [batchnorm]'s scales, means and
   * variances, 6 each. */
  g_assert_true (g_file_get_contents (f.weights, &data, &len, NULL));
  g_byte_array_append (b, (const guint8 *) data, (guint) len);
  for (int i = 0; i < 18; i++)
    g_byte_array_append (b, (const guint8 *) &one, sizeof (one));
  g_assert_true (g_file_set_contents (f.weights, (const gchar *) b->data,
      (gssize) b->len, NULL));
  spec.cfg_path = f.cfg;
  spec.weights_path = f.weights;
  spec.labels_path = f.labels;
  g_assert_null (yolo_model_open (&spec, &status));
  g_assert_cmpint (status.code, ==, YOLO_ERR_CFG_UNSUPPORTED);
  g_assert_nonnull (strstr (status.message, "[batchnorm]"));
  g_assert_nonnull (strstr (status.message, "line 9"));
  g_assert_nonnull (strstr (status.message, "engine=fast"));
  /* What the sentence says: engine=fast (yolo/nn) runs it. */
  spec.engine = YOLO_ENGINE_FAST;
  model = yolo_model_open (&spec, &status);
  if (model == NULL)
    g_error ("engine=fast: %s", status.message);
  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  g_assert_true (
      yolo_model_detect (model, &img->frame, &options, &dets, &status));
  yolo_detections_free (&dets);
  yolo_model_close (model);
  test_image_free (img);
  g_free (data);
  g_byte_array_free (b, TRUE);
  files_free (&f);
}

/* A FIFO nobody writes, given as the weights: refused at once with a
 * sentence by the check before any engine (cfg_check_weights()), not
 * waited on (a hang fails this test by its timeout). */
static void
test_fifo_weights (void)
{
  float bias[6] = { 0 };
  YoloEngine engines[] = { YOLO_ENGINE_DARKNET, YOLO_ENGINE_FAST };
  Files f;

  write_model (&f, "fifo", "10,14", bias, 0);
  g_unlink (f.weights);
  g_assert_cmpint (mkfifo (f.weights, 0600), ==, 0);
  for (guint e = 0; e < G_N_ELEMENTS (engines); e++) {
    YoloModelSpec spec = {
      .cfg_path = f.cfg,
      .weights_path = f.weights,
      .labels_path = f.labels,
      .engine = engines[e],
      .threads = 1,
    };
    YoloStatus status;
    g_assert_null (yolo_model_open (&spec, &status));
    g_assert_cmpint (status.code, ==, YOLO_ERR_WEIGHTS_MISSING);
    g_assert_nonnull (strstr (status.message, "not a regular file"));
  }
  files_free (&f);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("darknet-hostile-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  g_test_add_func ("/darknet-hostile/nan-weights", test_nan_weights);
  g_test_add_func ("/darknet-hostile/nan-box", test_nan_box);
  g_test_add_func ("/darknet-hostile/inf-times-zero-anchor",
      test_inf_times_zero_anchor);
  g_test_add_func ("/darknet-hostile/huge-anchors", test_huge_anchors);
  g_test_add_func ("/darknet-hostile/batchnorm-refused",
      test_batchnorm_refused);
  g_test_add_func ("/darknet-hostile/fifo-weights", test_fifo_weights);
  ret = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return ret;
}
