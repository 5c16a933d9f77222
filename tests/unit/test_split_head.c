/* The device's half of split inference (pipeline/split_head.c) on the real
 * edge model: the per-layer cost model the decision engine weighs cuts
 * with (issue 15, "where to cut").  Facts, not timings: every cut has a
 * predicted head time once the head is open (measured at start), later
 * cuts cost no less, the share left to the server shrinks, the cut that
 * just ran is predicted at what it took, and a profile reset clears the
 * model's per-layer times. */
#include <glib.h>
#include <math.h>

#include "split_head.h"
#include "test_images.h"

#define EDGE_MODEL "yolo-fastest-1.1-xl"

static YsSplitHead *
open_head (int cut)
{
  YsSplitHeadOptions o = { 0 };
  YoloStatus status;
  YsSplitHead *h;

  o.spec.name = EDGE_MODEL;
  o.spec.model_dir = test_models_dir ();
  o.spec.threads = 1;
  o.cut = cut;
  h = ys_split_head_new (&o, &status);
  if (h == NULL)
    g_error ("%s", status.message);
  return h;
}

/* Measured at start: every cut predicted, monotonic, shares in (0, 1). */
static void
test_predicted_at_start (void)
{
  YsSplitHead *h = open_head (0);
  int layers = ys_split_head_layer_count (h);
  double before = 0, share_before = 1;

  g_assert_cmpint (layers, >, 60);
  g_assert_cmpint (ys_split_head_running_cut (h), ==, 0);
  {
    double share = -1;
    g_assert_cmpfloat (ys_split_head_predict (h, 0, &share), ==, 0);
    g_assert_cmpfloat (share, ==, 0);
  }
  g_assert_cmpfloat (ys_split_head_predict (h, layers, NULL), ==, 0);
  for (int cut = 1; cut < layers; cut++) {
    double share = -1, ms = ys_split_head_predict (h, cut, &share);
    g_assert_cmpfloat (ms, >, 0);
    g_assert_cmpfloat (ms, >=, before);
    g_assert_cmpfloat (share, >, 0);
    g_assert_cmpfloat (share, <, 1);
    g_assert_cmpfloat (share, <=, share_before);
    before = ms;
    share_before = share;
  }
  ys_split_head_free (h);
}

/* Kept current: a frame at cut 12 moves what the model says cut 12 costs
 * a fifth of the way from what it said before (the warm-up run at start)
 * to what that frame took, layers and the rest of the run together (one
 * slow frame on a loaded machine must not read as a slow head); a later
 * cut costs more; the warm-up is not a frame, so no cut ran before it. */
static void
test_kept_current (void)
{
  TestImage *dog = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YsSplitHead *h = open_head (12);
  guint8 *packet = NULL;
  gsize len = 0;
  double head_ms = 0, before = ys_split_head_predict (h, 12, NULL);
  char error[256];

  g_assert_cmpfloat (before, >, 0);
  g_assert_cmpint (ys_split_head_running_cut (h), ==, 0);
  g_assert_true (ys_split_head_run (h, &dog->frame, &packet, &len, &head_ms,
      error, sizeof error));
  g_assert_cmpint (len, >, 0);
  g_assert_cmpint (ys_split_head_running_cut (h), ==, 12);
  g_assert_cmpfloat (fabs (ys_split_head_predict (h, 12, NULL)
                         - (0.8 * before + 0.2 * head_ms)),
      <, 1e-6 * MAX (head_ms, 1));
  g_assert_cmpfloat (ys_split_head_predict (h, 61, NULL), >,
      ys_split_head_predict (h, 12, NULL));
  g_free (packet);
  ys_split_head_free (h);
  test_image_free (dog);
}

/* yolo_model_layer_times: one entry per layer, each run layer timed, all
 * cleared by a profile reset. */
static void
test_layer_times (void)
{
  YoloModelSpec spec
      = { .name = EDGE_MODEL, .model_dir = test_models_dir (), .threads = 1 };
  TestImage *dog = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloInferOptions options;
  YoloDetections dets;
  YoloStatus status;
  YoloModel *m = yolo_model_open (&spec, &status);
  int layers;
  double *ms;

  g_assert_nonnull (m);
  layers = yolo_model_layer_count (m);
  ms = g_new0 (double, layers);
  g_assert_cmpint (yolo_model_layer_times (m, ms, layers), ==, layers);
  for (int i = 0; i < layers; i++)
    g_assert_cmpfloat (ms[i], ==, 0);
  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  g_assert_true (yolo_model_detect (m, &dog->frame, &options, &dets, &status));
  g_assert_cmpint (dets.count, >=, 3);
  yolo_model_layer_times (m, ms, layers);
  for (int i = 0; i < layers; i++)
    g_assert_cmpfloat (ms[i], >, 0);
  yolo_model_profile_reset (m);
  yolo_model_layer_times (m, ms, layers);
  for (int i = 0; i < layers; i++)
    g_assert_cmpfloat (ms[i], ==, 0);
  g_free (ms);
  yolo_detections_free (&dets);
  yolo_model_close (m);
  test_image_free (dog);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/split-head/predicted-at-start", test_predicted_at_start);
  g_test_add_func ("/split-head/kept-current", test_kept_current);
  g_test_add_func ("/split-head/layer-times", test_layer_times);
  return g_test_run ();
}
