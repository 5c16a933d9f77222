/* The fast engine (our own network, yolo/nn/, through backend_nn.c) against
 * stock libdarknet (the darknet engine): the same output tensors at every
 * layer (max abs diff 1e-3) and the same detections, on every shipped model
 * and on yolov3-tiny / yolov2-tiny with random weights, on dog.jpg,
 * person.jpg and 20 frames of vtest.avi; layer ranges equal full runs for
 * every cut; the thread count changes nothing; without keep_layer_outputs
 * the engine holds what a cut and box decoding need, and no more. */
#include <darknet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nn/boxes_nms.h"
#include "random_weights.h"
#include "test_images.h"
#include "yolo.h"

#define VTEST_FRAMES 20
#define VTEST_W 768
#define VTEST_H 576

typedef struct {
  const char *name; /* shipped model name, or NULL */
  const char *cfg; /* else: a Darknet cfg given random weights */
  const char *labels;
  /* Random weights score every box alike (yolov3-tiny ~0.3, yolov2-tiny's
   * softmax ~0.008): a threshold just below that gives some hundred
   * detections per image to compare, not none and not millions.  Their boxes also crowd with near-equal scores,
   * where a 1e-6 difference reorders NMS: they are compared before NMS
   * (our NMS is checked against Darknet's in /fast/nms-matches-darknet). */
  float threshold;
} ModelCase;

static const ModelCase shipped[] = {
  { "yolo-fastest-1.1", NULL, NULL },
  { "yolo-fastest-1.1-xl", NULL, NULL },
  { "MobileNetV2-YOLOv3-Nano-coco", NULL, NULL },
  { "yolo-lite-coco", NULL, NULL },
  { "yolo-lite-voc", NULL, NULL },
  { "yolo-fastest-1.1_body", NULL, NULL },
  { "yoloface-500k", NULL, NULL },
  { NULL, "/usr/share/darknet/cfg/yolov3-tiny.cfg",
      "/usr/share/darknet/data/coco.names", 0.32f },
  { NULL, "/usr/share/darknet/cfg/yolov2-tiny.cfg",
      "/usr/share/darknet/data/coco.names", 0.0085f },
};

static gchar *tmp_dir;

/* The weights path for a random-weights case, written once per run. */
static gchar *
random_weights_for (const char *cfg)
{
  gchar *base = g_path_get_basename (cfg);
  gchar *path;

  *strrchr (base, '.') = '\0';
  path = g_strdup_printf ("%s/%s.weights", tmp_dir, base);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_assert_true (test_write_random_weights (cfg, path, 1234));
  g_free (base);
  return path;
}

/* keep: every layer's output stays readable (for comparisons layer by
 * layer); else the engine's default memory reuse. */
static YoloModel *
open_case (const ModelCase *mc, YoloEngine engine, int threads, gboolean keep)
{
  YoloModelSpec spec
      = { .engine = engine, .threads = threads, .keep_layer_outputs = keep };
  YoloStatus status;
  YoloModel *model;
  gchar *weights = NULL;

  if (mc->name != NULL) {
    spec.name = mc->name;
    spec.model_dir = test_models_dir ();
  } else {
    weights = random_weights_for (mc->cfg);
    spec.cfg_path = mc->cfg;
    spec.weights_path = weights;
    spec.labels_path = mc->labels;
  }
  model = yolo_model_open (&spec, &status);
  if (model == NULL)
    g_error ("%s: %s", mc->name ? mc->name : mc->cfg, status.message);
  g_free (weights);
  return model;
}

/* The inputs: dog.jpg, person.jpg, then the first 20 frames of vtest.avi
 * (raw RGB, made by the build from the real video). */
typedef struct {
  TestImage *stills[2];
  guint8 *vtest;
  gsize vtest_size;
} Inputs;

static Inputs inputs;

static int
input_count (void)
{
  return 2 + VTEST_FRAMES;
}

static YoloFrame
input_frame (int i)
{
  YoloFrame f
      = { .format = YOLO_PIXEL_RGB, .width = VTEST_W, .height = VTEST_H };
  if (i < 2)
    return inputs.stills[i]->frame;
  f.planes[0] = inputs.vtest + (gsize) (i - 2) * VTEST_W * VTEST_H * 3;
  f.strides[0] = VTEST_W * 3;
  return f;
}

static double
max_abs_diff (const YoloTensor *a, const YoloTensor *b)
{
  size_t n = (size_t) a->c * a->h * a->w;
  double worst = 0;

  g_assert_cmpint (a->c, ==, b->c);
  g_assert_cmpint (a->h, ==, b->h);
  g_assert_cmpint (a->w, ==, b->w);
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) a->data[i] - b->data[i]);
    if (!(d <= worst)) /* also catches NaN */
      worst = isnan (d) ? INFINITY : d;
  }
  return worst;
}

/* Same detections: each one of `a` has a partner in `b` of the same class,
 * box within 0.5 px, confidence within 1e-3, and vice versa.  A detection
 * within 1e-3 of the threshold may lack one: a 1e-6 difference can tip it. */
static void
assert_same_detections (const YoloDetections *a, const YoloDetections *b,
    float threshold, const char *what)
{
  for (int pass = 0; pass < 2; pass++) {
    const YoloDetections *x = pass ? b : a, *y = pass ? a : b;
    for (size_t i = 0; i < x->count; i++) {
      const YoloDetection *d = &x->items[i];
      gboolean found = FALSE;
      for (size_t j = 0; j < y->count && !found; j++) {
        const YoloDetection *e = &y->items[j];
        found = d->class_id == e->class_id && fabsf (d->x - e->x) <= 0.5f
            && fabsf (d->y - e->y) <= 0.5f && fabsf (d->w - e->w) <= 0.5f
            && fabsf (d->h - e->h) <= 0.5f
            && fabsf (d->confidence - e->confidence) <= 1e-3f;
      }
      if (!found && fabsf (d->confidence - threshold) > 1e-3f)
        g_error ("%s: %s %.4f (%.1f,%.1f,%.1f,%.1f) has no match", what,
            d->label, d->confidence, d->x, d->y, d->w, d->h);
    }
  }
}

static void
test_matches_darknet (gconstpointer data)
{
  const ModelCase *mc = data;
  YoloModel *ref = open_case (mc, YOLO_ENGINE_DARKNET, 2, FALSE);
  YoloModel *fast = open_case (mc, YOLO_ENGINE_FAST, 2, TRUE);
  int n = yolo_model_layer_count (ref);
  YoloInferOptions options;
  YoloDetections da, db;
  YoloStatus status;
  double worst = 0;
  size_t total = 0;

  yolo_infer_options_init (&options);
  if (mc->threshold > 0) {
    options.threshold = mc->threshold;
    options.nms = 0;
  }
  yolo_detections_init (&da);
  yolo_detections_init (&db);
  for (int i = 0; i < input_count (); i++) {
    YoloFrame frame = input_frame (i);
    gchar *what
        = g_strdup_printf ("%s input %d", mc->name ? mc->name : mc->cfg, i);

    g_assert_true (yolo_model_detect (ref, &frame, &options, &da, &status));
    g_assert_true (yolo_model_detect (fast, &frame, &options, &db, &status));
    /* Every layer's output, not only the heads: a wrong kernel shows where
     * it is. */
    for (int l = 0; l < n; l++) {
      YoloTensor ta, tb;
      double d;
      g_assert_true (yolo_model_layer_output (ref, l, &ta));
      g_assert_true (yolo_model_layer_output (fast, l, &tb));
      d = max_abs_diff (&ta, &tb);
      if (d > 1e-3)
        g_error ("%s: layer %d differs by %g", what, l, d);
      worst = MAX (worst, d);
    }
    assert_same_detections (&da, &db, options.threshold, what);
    total += da.count;
    g_free (what);
  }
  g_test_message ("%s: worst layer diff %g, %zu reference detections",
      mc->name ? mc->name : mc->cfg, worst, total);
  yolo_detections_free (&da);
  yolo_detections_free (&db);
  yolo_model_close (ref);
  yolo_model_close (fast);
}

/* Head [0, k) in one instance, tail [k, n) in another, for every k. */
static void
test_layer_ranges (gconstpointer data)
{
  const ModelCase *mc = data;
  YoloModel *head = open_case (mc, YOLO_ENGINE_FAST, 2, FALSE);
  YoloModel *tail = open_case (mc, YOLO_ENGINE_FAST, 2, FALSE);
  int n = yolo_model_layer_count (head);
  YoloInput *input = yolo_input_new (head);
  YoloFrame frame = input_frame (0);
  YoloInferOptions options;
  YoloDetections full, split;
  YoloHandover hand;
  YoloStatus status;

  yolo_infer_options_init (&options);
  if (mc->threshold > 0) {
    options.threshold = mc->threshold;
    options.nms = 0;
  }
  yolo_detections_init (&full);
  yolo_detections_init (&split);
  yolo_handover_init (&hand);
  g_assert_true (yolo_input_fill (input, &frame, FALSE, &status));
  g_assert_true (yolo_model_run (head, input, &options, &full, &status));
  g_assert_cmpint ((int) full.count, >, 0);

  for (int k = 1; k < n; k++) {
    if (!yolo_model_run_layers (head, 0, k, input, NULL, NULL, &hand, NULL,
            &status))
      g_error ("head [0,%d): %s", k, status.message);
    g_assert_cmpint (hand.cut, ==, k);
    if (!yolo_model_run_layers (tail, k, n, NULL, &hand, &options, NULL, &split,
            &status))
      g_error ("tail [%d,%d): %s", k, n, status.message);
    /* The same computation on the same numbers: exactly equal. */
    g_assert_cmpint ((int) split.count, ==, (int) full.count);
    for (size_t i = 0; i < full.count; i++) {
      g_assert_cmpint (split.items[i].class_id, ==, full.items[i].class_id);
      g_assert_cmpfloat (split.items[i].confidence, ==,
          full.items[i].confidence);
      g_assert_cmpfloat (split.items[i].x, ==, full.items[i].x);
      g_assert_cmpfloat (split.items[i].y, ==, full.items[i].y);
      g_assert_cmpfloat (split.items[i].w, ==, full.items[i].w);
      g_assert_cmpfloat (split.items[i].h, ==, full.items[i].h);
    }
  }
  /* A handover for another cut, or none, is refused with a reason. */
  g_assert_true (yolo_model_run_layers (head, 0, 3, input, NULL, NULL, &hand,
      NULL, &status));
  g_assert_false (yolo_model_run_layers (tail, 4, n, NULL, &hand, &options,
      NULL, &split, &status));
  g_assert_nonnull (strstr (status.message, "handover"));
  g_assert_false (yolo_model_run_layers (tail, 0, n + 1, input, NULL, &options,
      NULL, &split, &status));

  yolo_handover_free (&hand);
  yolo_detections_free (&full);
  yolo_detections_free (&split);
  yolo_input_free (input);
  yolo_model_close (head);
  yolo_model_close (tail);
}

/* The handover holds exactly what crosses the cut.  yolov3-tiny: 0-12
 * backbone, 13-15 first head, 16 yolo, 17 route -4 (= 13), 18 conv,
 * 19 upsample, 20 route -1,8, 21-22 conv, 23 yolo.  Cut at 17: layer 8
 * (route 20 reads it), 13 (route 17 reads it) and 16 (the last layer before
 * the cut, and a yolo layer decoding reads). */
static void
test_handover_contents (void)
{
  const ModelCase *mc = &shipped[7];
  YoloModel *m = open_case (mc, YOLO_ENGINE_FAST, 1, FALSE);
  YoloInput *input = yolo_input_new (m);
  YoloFrame frame = input_frame (0);
  YoloHandover hand;
  YoloStatus status;

  yolo_handover_init (&hand);
  g_assert_true (yolo_input_fill (input, &frame, FALSE, &status));
  g_assert_true (yolo_model_run_layers (m, 0, 17, input, NULL, NULL, &hand,
      NULL, &status));
  g_assert_cmpint ((int) hand.count, ==, 3);
  g_assert_cmpint (hand.tensors[0].layer, ==, 8);
  g_assert_cmpint (hand.tensors[1].layer, ==, 13);
  g_assert_cmpint (hand.tensors[2].layer, ==, 16);

  /* The same handover with layer 12's output too, which no layer after the
   * cut reads: refused (the engine may keep it in memory shared with one
   * that is read); and with a tensor given twice.  Layer 12's shape and
   * data come from a model that keeps every output. */
  for (int twice = 0; twice < 2; twice++) {
    YoloModel *keep = open_case (mc, YOLO_ENGINE_FAST, 1, TRUE);
    YoloModel *tail = open_case (mc, YOLO_ENGINE_FAST, 1, FALSE);
    YoloTensor more[4];
    YoloHandover bad = hand;
    YoloInferOptions options;
    YoloDetections dets;

    yolo_infer_options_init (&options);
    yolo_detections_init (&dets);
    g_assert_true (yolo_model_run (keep, input, &options, &dets, &status));
    memcpy (more, hand.tensors, sizeof (YoloTensor) * 3);
    if (twice)
      more[3] = hand.tensors[1];
    else
      g_assert_true (yolo_model_layer_output (keep, 12, &more[3]));
    bad.tensors = more;
    bad.count = 4;
    g_assert_false (
        yolo_model_run_layers (tail, 17, yolo_model_layer_count (tail), NULL,
            &bad, &options, NULL, &dets, &status));
    g_test_message ("%s", status.message);
    g_assert_nonnull (strstr (status.message, twice ? "twice" : "not needed"));
    /* The real handover still goes through on the same model. */
    g_assert_true (
        yolo_model_run_layers (tail, 17, yolo_model_layer_count (tail), NULL,
            &hand, &options, NULL, &dets, &status));
    yolo_detections_free (&dets);
    yolo_model_close (tail);
    yolo_model_close (keep);
  }
  yolo_handover_free (&hand);
  yolo_input_free (input);
  yolo_model_close (m);
}

/* A handover made by one engine is taken by the other (both follow the
 * cfg's wiring): head on fast, tail on darknet and the other way round,
 * for every cut, give the detections of a full darknet run. */
static void
test_handover_across_engines (gconstpointer data)
{
  const ModelCase *mc = data;
  YoloModel *fast = open_case (mc, YOLO_ENGINE_FAST, 1, FALSE);
  YoloModel *ref = open_case (mc, YOLO_ENGINE_DARKNET, 1, FALSE);
  int n = yolo_model_layer_count (ref);
  YoloInput *input = yolo_input_new (ref);
  YoloFrame frame = input_frame (0);
  YoloInferOptions options;
  YoloDetections full, split;
  YoloHandover hand;
  YoloStatus status;

  yolo_infer_options_init (&options);
  if (mc->threshold > 0) {
    options.threshold = mc->threshold;
    options.nms = 0;
  }
  yolo_detections_init (&full);
  yolo_detections_init (&split);
  yolo_handover_init (&hand);
  g_assert_true (yolo_input_fill (input, &frame, FALSE, &status));
  g_assert_true (yolo_model_run (ref, input, &options, &full, &status));
  g_assert_cmpint ((int) full.count, >, 0);
  for (int k = 1; k < n; k++) {
    for (int dir = 0; dir < 2; dir++) {
      YoloModel *head = dir ? ref : fast, *tail = dir ? fast : ref;
      gchar *what = g_strdup_printf ("cut %d, head %s", k,
          yolo_engine_name (yolo_model_engine (head)));
      if (!yolo_model_run_layers (head, 0, k, input, NULL, NULL, &hand, NULL,
              &status))
        g_error ("%s: %s", what, status.message);
      if (!yolo_model_run_layers (tail, k, n, NULL, &hand, &options, NULL,
              &split, &status))
        g_error ("%s: %s", what, status.message);
      assert_same_detections (&full, &split, options.threshold, what);
      g_free (what);
    }
  }
  yolo_handover_free (&hand);
  yolo_detections_free (&full);
  yolo_detections_free (&split);
  yolo_input_free (input);
  yolo_model_close (fast);
  yolo_model_close (ref);
}

/* Without keep_layer_outputs the fast engine reuses memory: after a full
 * run it holds the detection layers' outputs (decoding reads them) but not
 * every earlier one; the darknet engine keeps all of them regardless. */
static void
test_outputs_held (void)
{
  const ModelCase *mc = &shipped[7];
  YoloModel *fast = open_case (mc, YOLO_ENGINE_FAST, 1, FALSE);
  YoloModel *ref = open_case (mc, YOLO_ENGINE_DARKNET, 1, FALSE);
  int n = yolo_model_layer_count (fast), held = 0;
  YoloFrame frame = input_frame (0);
  YoloInferOptions options;
  YoloDetections dets;
  YoloStatus status;
  YoloTensor t;

  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  g_assert_false (yolo_model_layer_output (fast, 0, &t)); /* no run yet */
  g_assert_true (yolo_model_detect (fast, &frame, &options, &dets, &status));
  g_assert_true (yolo_model_detect (ref, &frame, &options, &dets, &status));
  g_assert_true (yolo_model_layer_output (fast, 16, &t));
  g_assert_true (yolo_model_layer_output (fast, 23, &t));
  g_assert_cmpint (t.layer, ==, 23);
  g_assert_cmpint (t.c * t.h * t.w, ==, 255 * 26 * 26);
  for (int l = 0; l < n; l++) {
    held += yolo_model_layer_output (fast, l, &t);
    g_assert_true (yolo_model_layer_output (ref, l, &t));
  }
  g_test_message ("fast engine holds %d of %d layer outputs", held, n);
  g_assert_cmpint (held, <, n);
  yolo_detections_free (&dets);
  yolo_model_close (fast);
  yolo_model_close (ref);
}

/* The first layer whose output is not bit for bit the same in a and b, or
 * -1 when none differs. */
static int
first_differing_layer (const YoloModel *a, const YoloModel *b)
{
  for (int l = 0; l < yolo_model_layer_count (a); l++) {
    YoloTensor ta, tb;
    g_assert_true (yolo_model_layer_output (a, l, &ta));
    g_assert_true (yolo_model_layer_output (b, l, &tb));
    g_assert_cmpint (ta.c * ta.h * ta.w, ==, tb.c * tb.h * tb.w);
    if (memcmp (ta.data, tb.data, sizeof (float) * ta.c * ta.h * ta.w) != 0)
      return l;
  }
  return -1;
}

/* XL has 1x1, depthwise, strided and shortcut layers; yolov3-tiny is
 * mostly 3x3 convolutions and max-pools.  Every layer's output and every
 * detection, on every input, against one thread: 3 threads too, as an odd
 * count splits work unevenly. */
static void
test_threads_identical (gconstpointer data)
{
  const ModelCase *mc = data;
  YoloModel *base = open_case (mc, YOLO_ENGINE_FAST, 1, TRUE);
  YoloInferOptions options;
  YoloDetections want, dets;
  YoloStatus status;
  static const int counts[] = { 2, 3, 4 };
  size_t compared = 0;

  yolo_infer_options_init (&options);
  if (mc->threshold > 0) {
    options.threshold = mc->threshold;
    options.nms = 0;
  }
  yolo_detections_init (&want);
  yolo_detections_init (&dets);
  for (guint t = 0; t < G_N_ELEMENTS (counts); t++) {
    YoloModel *m = open_case (mc, YOLO_ENGINE_FAST, counts[t], TRUE);
    g_assert_cmpint (yolo_model_threads (m), ==, counts[t]);
    for (int i = 0; i < 4; i++) {
      YoloFrame frame = input_frame (i);
      int l;
      g_assert_true (
          yolo_model_detect (base, &frame, &options, &want, &status));
      g_assert_true (yolo_model_detect (m, &frame, &options, &dets, &status));
      /* Bit-identical: no split changes any element's arithmetic. */
      if ((l = first_differing_layer (base, m)) >= 0)
        g_error ("input %d: layer %d differs between 1 and %d threads", i, l,
            counts[t]);
      g_assert_cmpint ((int) dets.count, ==, (int) want.count);
      for (size_t k = 0; k < dets.count; k++) {
        const YoloDetection *a = &dets.items[k], *b = &want.items[k];
        g_assert_cmpint (a->class_id, ==, b->class_id);
        g_assert_cmpfloat (a->confidence, ==, b->confidence);
        g_assert_cmpfloat (a->x, ==, b->x);
        g_assert_cmpfloat (a->y, ==, b->y);
        g_assert_cmpfloat (a->w, ==, b->w);
        g_assert_cmpfloat (a->h, ==, b->h);
      }
      compared += dets.count;
    }
    yolo_model_close (m);
  }
  /* Not a comparison of nothing (random weights need a low threshold). */
  g_assert_cmpuint (compared, >, 0);
  yolo_detections_free (&want);
  yolo_detections_free (&dets);
  yolo_model_close (base);
}

/* A frame without boxes: nothing to sort, and qsort() must not be handed
 * a NULL scratch (UBSan: nonnull); a box with no class above 0 has no
 * candidate in any class. */
static void
test_nms_empty (void)
{
  float prob[2] = { 0, 0 };
  NnDet one = { { 0.5f, 0.5f, 0.1f, 0.1f }, prob };
  NnCandidate cand[1];

  nn_nms (NULL, 0, 80, 0.45f, NULL);
  nn_nms (&one, 1, 2, 0.45f, cand);
  g_assert_cmpfloat (prob[0], ==, 0);
  g_assert_cmpfloat (prob[1], ==, 0);
}

/* nn_nms() (what engine=fast runs, yolo/nn/net_boxes.c) against Darknet's
 * do_nms_sort() on crowded random boxes: the same probabilities must
 * survive.  Scores are distinct, so Darknet's unspecified order among ties
 * cannot matter. */
static void
test_nms_matches_darknet (void)
{
  const int total = 600, classes = 5;
  NnDet *ours = calloc (total, sizeof (NnDet));
  NnCandidate *cand = calloc (total, sizeof (NnCandidate));
  detection *theirs = calloc (total, sizeof (detection));
  GRand *rand = g_rand_new_with_seed (42);
  int kept = 0, zeroed = 0;

  for (int i = 0; i < total; i++) {
    box b = { (float) g_rand_double (rand), (float) g_rand_double (rand),
      (float) g_rand_double_range (rand, 0.05, 0.4),
      (float) g_rand_double_range (rand, 0.05, 0.4) };
    ours[i].box = (NnBox){ b.x, b.y, b.w, b.h };
    theirs[i].bbox = b;
    theirs[i].classes = classes;
    theirs[i].objectness = 1.f;
    ours[i].prob = calloc (classes, sizeof (float));
    theirs[i].prob = calloc (classes, sizeof (float));
    for (int k = 0; k < classes; k++)
      if (g_rand_double (rand) < 0.5)
        ours[i].prob[k] = theirs[i].prob[k]
            = 0.25f + (float) (i * classes + k) / (total * classes) * 0.7f;
  }
  nn_nms (ours, total, classes, 0.45f, cand);
  do_nms_sort (theirs, total, classes, 0.45f);
  /* do_nms_sort reorders its array: match boxes by position. */
  for (int i = 0; i < total; i++) {
    const detection *t = NULL;
    box mine = { ours[i].box.x, ours[i].box.y, ours[i].box.w, ours[i].box.h };
    for (int j = 0; j < total && t == NULL; j++)
      if (memcmp (&theirs[j].bbox, &mine, sizeof (box)) == 0)
        t = &theirs[j];
    g_assert_nonnull (t);
    for (int k = 0; k < classes; k++) {
      g_assert_cmpfloat (ours[i].prob[k], ==, t->prob[k]);
      kept += ours[i].prob[k] != 0;
    }
  }
  for (int i = 0; i < total; i++)
    for (int k = 0; k < classes; k++)
      zeroed += theirs[i].prob[k] == 0;
  g_test_message ("NMS kept %d scores, %d zero", kept, zeroed);
  g_assert_cmpint (kept, >, 50); /* not everything suppressed... */
  g_assert_cmpint (kept, <, total * classes / 2 - 100); /* ...nor nothing */
  for (int i = 0; i < total; i++) {
    free (ours[i].prob);
    free (theirs[i].prob);
  }
  free (ours);
  free (cand);
  free (theirs);
  g_rand_free (rand);
}

static void
remove_tmp_dir (void)
{
  GDir *d = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *p = g_build_filename (tmp_dir, name, NULL);
    g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (tmp_dir);
}

int
main (int argc, char **argv)
{
  const char *frames = g_getenv ("YOLOSWITCH_VTEST_FRAMES");
  GError *error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("yoloswitch-fast-XXXXXX", NULL);
  inputs.stills[0] = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  inputs.stills[1] = test_image_load ("person.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  if (frames == NULL
      || !g_file_get_contents (frames, (gchar **) &inputs.vtest,
          &inputs.vtest_size, &error))
    g_error ("set YOLOSWITCH_VTEST_FRAMES to the raw RGB frames made by the "
             "build (%s)",
        error ? error->message : "unset");
  g_assert_cmpuint (inputs.vtest_size, ==,
      (gsize) VTEST_FRAMES * VTEST_W * VTEST_H * 3);

  for (guint i = 0; i < G_N_ELEMENTS (shipped); i++) {
    gchar *path = g_strdup_printf ("/fast/matches-darknet/%s",
        shipped[i].name ? shipped[i].name : strrchr (shipped[i].cfg, '/') + 1);
    g_test_add_data_func (path, &shipped[i], test_matches_darknet);
    g_free (path);
  }
  g_test_add_data_func ("/fast/layer-ranges/yolo-fastest-1.1", &shipped[0],
      test_layer_ranges);
  g_test_add_data_func ("/fast/layer-ranges/yolov3-tiny", &shipped[7],
      test_layer_ranges);
  g_test_add_func ("/fast/handover-contents", test_handover_contents);
  g_test_add_func ("/fast/outputs-held", test_outputs_held);
  g_test_add_data_func ("/fast/handover-across-engines/yolov3-tiny",
      &shipped[7], test_handover_across_engines);
  g_test_add_func ("/fast/nms-matches-darknet", test_nms_matches_darknet);
  g_test_add_func ("/fast/nms-empty", test_nms_empty);
  g_test_add_data_func ("/fast/threads-identical/yolo-fastest-1.1-xl",
      &shipped[1], test_threads_identical);
  g_test_add_data_func ("/fast/threads-identical/yolov3-tiny", &shipped[7],
      test_threads_identical);
  ret = g_test_run ();

  remove_tmp_dir ();
  g_free (tmp_dir);
  test_image_free (inputs.stills[0]);
  test_image_free (inputs.stills[1]);
  g_free (inputs.vtest);
  return ret;
}
