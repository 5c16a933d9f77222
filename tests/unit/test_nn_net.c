/* yolo/nn (our graph, weights, memory plan, executor and box decoding,
 * no libdarknet) against stock Darknet: every layer's output within 1e-3
 * (relative to the layer's largest value when above 1) and the same
 * detections, on every shipped model, yolov3-tiny / yolov2-tiny with random
 * weights and the synthetic cfgs of nn_net_zoo.c, on dog.jpg and
 * person.jpg, letterboxed and not.  Then: the thread count and the memory
 * plan's reuse change no bit; layer ranges equal full runs, in one net and
 * across two; outputs the plan reused say so.  Weights files and the
 * layers Darknet cannot run: test_nn_files.c. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "net.h"
#include "nn_net_zoo.h"
#include "random_weights.h"
#include "test_images.h"
#include "yolo.h"

typedef struct {
  const char *name; /* shipped model name, or NULL */
  const char *cfg; /* else: a Darknet cfg given random weights */
  const char *labels;
  /* Random weights: a threshold just under their scores, no NMS (crowded
   * near-equal scores, where a 1e-6 difference reorders it; see
   * test_fast_engine.c). */
  float threshold;
  const ZooCfg *zoo; /* a synthetic cfg (nn_net_zoo.c) */
  int major, minor; /* its weights' header version */
} Case;

static Case cases[16];
static int case_count;
static gchar *tmp_dir;
static TestImage *images[2];

typedef struct {
  YoloModel *ref; /* stock Darknet */
  CfgNetwork cfg;
  gchar *weights;
  const char **labels;
} Opened;

static const char *
case_name (const Case *c)
{
  if (c->zoo != NULL)
    return c->major > 1000 ? "zoo-yolo-transposed" : c->zoo->name;
  return c->name ? c->name : strrchr (c->cfg, '/') + 1;
}

static gchar *
weights_for (const Case *c, const char *cfg)
{
  gchar *path = g_strdup_printf ("%s/%s.weights", tmp_dir, case_name (c));

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    if (c->zoo != NULL)
      nn_zoo_write_weights (cfg, path, c->major, c->minor, 99);
    else
      g_assert_true (test_write_random_weights (cfg, path, 1234));
  }
  return path;
}

static void
open_case (const Case *c, Opened *o)
{
  YoloModelSpec spec = { .engine = YOLO_ENGINE_DARKNET, .threads = 1 };
  const YoloModelFiles *files;
  YoloStatus status;
  gchar *cfg = NULL, *labels = NULL;

  if (c->name != NULL) {
    spec.name = c->name;
    spec.model_dir = test_models_dir ();
    o->weights = NULL;
  } else {
    if (c->zoo != NULL)
      nn_zoo_write (c->zoo, tmp_dir, &cfg, &labels);
    spec.cfg_path = cfg != NULL ? cfg : c->cfg;
    spec.labels_path = labels != NULL ? labels : c->labels;
    o->weights = weights_for (c, spec.cfg_path);
    spec.weights_path = o->weights;
  }
  o->ref = yolo_model_open (&spec, &status);
  if (o->ref == NULL)
    g_error ("%s: %s", case_name (c), status.message);
  files = yolo_model_files (o->ref);
  if (!cfg_network_load (files->cfg_path, &o->cfg, &status))
    g_error ("%s", status.message);
  if (o->weights == NULL)
    o->weights = g_strdup (files->weights_path);
  o->labels = g_new0 (const char *, o->cfg.classes);
  for (int i = 0; i < o->cfg.classes; i++)
    o->labels[i] = yolo_model_label (o->ref, i);
  g_free (cfg);
  g_free (labels);
}

static void
close_case (Opened *o)
{
  yolo_model_close (o->ref);
  cfg_network_clear (&o->cfg);
  g_free (o->weights);
  g_free (o->labels);
}

static NnNet *
new_net (const Opened *o, int threads, gboolean keep)
{
  YoloStatus status;
  NnNet *net = nn_net_new (&o->cfg, o->weights, threads, keep, &status);

  if (net == NULL)
    g_error ("nn_net_new: %s", status.message);
  return net;
}

static void
options_for (const Case *c, YoloInferOptions *options)
{
  yolo_infer_options_init (options);
  if (c->threshold > 0) {
    options->threshold = c->threshold;
    options->nms = 0;
  }
}

/* Same detections: each one of a has a partner in b of the same class,
 * box within 0.5 px, confidence within 1e-3, and vice versa; one within
 * 1e-3 of the threshold may lack one (a 1e-6 difference can tip it). */
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
            && fabsf (d->confidence - e->confidence) <= 1e-3f
            && strcmp (d->label, e->label) == 0;
      }
      if (!found && fabsf (d->confidence - threshold) > 1e-3f)
        g_error ("%s: %s %.4f (%.1f,%.1f,%.1f,%.1f) has no match", what,
            d->label, d->confidence, d->x, d->y, d->w, d->h);
    }
  }
}

static void
assert_identical_detections (const YoloDetections *a, const YoloDetections *b)
{
  g_assert_cmpuint (a->count, ==, b->count);
  for (size_t i = 0; i < a->count; i++) {
    g_assert_cmpint (a->items[i].class_id, ==, b->items[i].class_id);
    g_assert_cmpfloat (a->items[i].confidence, ==, b->items[i].confidence);
    g_assert_cmpfloat (a->items[i].x, ==, b->items[i].x);
    g_assert_cmpfloat (a->items[i].y, ==, b->items[i].y);
    g_assert_cmpfloat (a->items[i].w, ==, b->items[i].w);
    g_assert_cmpfloat (a->items[i].h, ==, b->items[i].h);
  }
}

/* Max abs difference over n floats, relative to the reference's largest
 * magnitude when that is above 1; NaN counts as infinite. */
static double
rel_diff (const float *ref, const float *ours, size_t n)
{
  double worst = 0, scale = 1;

  for (size_t i = 0; i < n; i++)
    scale = MAX (scale, fabs ((double) ref[i]));
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) ref[i] - ours[i]);
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  return worst / scale;
}

static void
compare_layers (const Opened *o, const NnNet *net, const char *what,
    double *worst)
{
  for (int l = 0; l < nn_net_layer_count (net); l++) {
    YoloTensor ref;
    NnTensorView ours;
    size_t n;
    double d;
    g_assert_true (yolo_model_layer_output (o->ref, l, &ref));
    g_assert_true (nn_net_output (net, l, &ours));
    n = (size_t) ours.c * ours.h * ours.w;
    g_assert_cmpint (ref.c, ==, ours.c);
    g_assert_cmpint (ref.h, ==, ours.h);
    g_assert_cmpint (ref.w, ==, ours.w);
    d = rel_diff (ref.data, ours.data, n);
    if (d > 1e-3)
      g_error ("%s: layer %d (%s) differs by %g", what, l,
          nn_net_layer_impl (net, l), d);
    *worst = MAX (*worst, d);
  }
}

static void
test_matches_darknet (gconstpointer data)
{
  const Case *c = data;
  Opened o;
  NnNet *net;
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections want, got;
  YoloStatus status;
  double worst = 0;
  size_t total = 0;

  open_case (c, &o);
  net = new_net (&o, 2, TRUE);
  input = yolo_input_new (o.ref);
  options_for (c, &options);
  yolo_detections_init (&want);
  yolo_detections_init (&got);
  for (int i = 0; i < 2; i++)
    for (int lb = 0; lb < 2; lb++) {
      gchar *what
          = g_strdup_printf ("%s image %d letterbox %d", case_name (c), i, lb);
      g_assert_true (
          yolo_input_fill (input, &images[i]->frame, lb != 0, &status));
      g_assert_true (yolo_model_run (o.ref, input, &options, &want, &status));
      if (!nn_net_forward (net, 0, nn_net_layer_count (net), input->data,
              &status))
        g_error ("%s: %s", what, status.message);
      compare_layers (&o, net, what, &worst);
      g_assert_true (
          nn_net_boxes (net, input->source_width, input->source_height, lb != 0,
              options.threshold, options.nms, o.labels, &got, &status));
      assert_same_detections (&want, &got, options.threshold, what);
      total += want.count;
      g_free (what);
    }
  g_test_message ("%s: worst layer diff %g, %zu reference detections",
      case_name (c), worst, total);
  /* Not a comparison of nothing. */
  g_assert_cmpuint (total, >, 0);
  yolo_detections_free (&want);
  yolo_detections_free (&got);
  yolo_input_free (input);
  nn_net_free (net);
  close_case (&o);
}

/* One thread keeping every output against three threads reusing memory:
 * every output the plan still holds is bit for bit the same, and so are
 * the detections; the plan's arena is smaller than all outputs together. */
static void
test_plan_and_threads (gconstpointer data)
{
  const Case *c = data;
  Opened o;
  NnNet *keep, *reuse;
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections a, b;
  YoloStatus status;
  NnNetBytes kb, rb;
  YoloPool *pool;
  int n, reused = 0;

  open_case (c, &o);
  keep = new_net (&o, 1, TRUE);
  /* On a pool of the caller's, as a model shares its own. */
  pool = yolo_pool_new (3);
  reuse = nn_net_new_pooled (&o.cfg, o.weights, pool, FALSE, &status);
  g_assert_nonnull (reuse);
  n = nn_net_layer_count (keep);
  input = yolo_input_new (o.ref);
  options_for (c, &options);
  yolo_detections_init (&a);
  yolo_detections_init (&b);
  for (int i = 0; i < 2; i++)
    for (int lb = 0; lb < 2; lb++) {
      g_assert_true (
          yolo_input_fill (input, &images[i]->frame, lb != 0, &status));
      g_assert_true (nn_net_forward (keep, 0, n, input->data, &status));
      g_assert_true (nn_net_forward (reuse, 0, n, input->data, &status));
      reused = 0;
      for (int l = 0; l < n; l++) {
        NnTensorView x, y;
        CfgLayerType t = o.cfg.layers[l].type;
        g_assert_true (nn_net_output (keep, l, &x));
        if (!nn_net_output (reuse, l, &y)) {
          /* Decoding reads these: never reused. */
          g_assert_true (t != CFG_LAYER_YOLO && t != CFG_LAYER_REGION);
          g_assert_cmpint (l, <, n - 1);
          reused++;
          continue;
        }
        if (memcmp (x.data, y.data, sizeof (float) * x.c * x.h * x.w) != 0)
          g_error ("%s: layer %d differs between 1 thread keeping all and 3 "
                   "threads reusing",
              case_name (c), l);
      }
      g_assert_true (
          nn_net_boxes (keep, input->source_width, input->source_height,
              lb != 0, options.threshold, options.nms, o.labels, &a, &status));
      g_assert_true (
          nn_net_boxes (reuse, input->source_width, input->source_height,
              lb != 0, options.threshold, options.nms, o.labels, &b, &status));
      assert_identical_detections (&a, &b);
    }
  nn_net_bytes (keep, &kb);
  nn_net_bytes (reuse, &rb);
  g_test_message ("%s: arena %zu bytes reusing, %zu keeping all, outputs "
                  "%zu, weights %zu, workspace %zu; %d of %d outputs reused",
      case_name (c), rb.arena_bytes, kb.arena_bytes, rb.outputs_bytes,
      rb.weight_bytes, rb.workspace_bytes, reused, n);
  g_assert_cmpuint (kb.arena_bytes, >=, kb.outputs_bytes);
  g_assert_cmpuint (rb.outputs_bytes, ==, kb.outputs_bytes);
  g_assert_cmpuint (rb.weight_bytes, ==, kb.weight_bytes);
  g_assert_cmpuint (rb.weight_bytes, >, 0);
  /* Every net here of 4 layers or more has outputs nothing reads later;
   * zoo-background's two layers both live to decoding. */
  if (n >= 4) {
    g_assert_cmpuint (rb.arena_bytes, <, rb.outputs_bytes);
    g_assert_cmpint (reused, >, 0);
  } else {
    g_assert_cmpint (reused, ==, 0);
  }
  yolo_detections_free (&a);
  yolo_detections_free (&b);
  yolo_input_free (input);
  nn_net_free (keep);
  nn_net_free (reuse);
  yolo_pool_free (pool);
  close_case (&o);
}

/* [0, k) then [k, n) on the reusing plan equal one full run, for every k;
 * a range whose earlier outputs are not held is refused. */
static void
test_ranges (gconstpointer data)
{
  const Case *c = data;
  Opened o;
  NnNet *net, *fresh;
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections full, split;
  YoloStatus status;
  int n;

  open_case (c, &o);
  net = new_net (&o, 2, FALSE);
  fresh = new_net (&o, 1, FALSE);
  n = nn_net_layer_count (net);
  input = yolo_input_new (o.ref);
  options_for (c, &options);
  yolo_detections_init (&full);
  yolo_detections_init (&split);
  g_assert_true (yolo_input_fill (input, &images[0]->frame, FALSE, &status));
  g_assert_true (nn_net_forward (net, 0, n, input->data, &status));
  g_assert_true (nn_net_boxes (net, input->source_width, input->source_height,
      FALSE, options.threshold, options.nms, o.labels, &full, &status));
  g_assert_cmpuint (full.count, >, 0);
  for (int k = 1; k < n; k++) {
    if (!nn_net_forward (net, 0, k, input->data, &status)
        || !nn_net_forward (net, k, n, NULL, &status))
      g_error ("%s cut %d: %s", case_name (c), k, status.message);
    g_assert_true (nn_net_boxes (net, input->source_width, input->source_height,
        FALSE, options.threshold, options.nms, o.labels, &split, &status));
    assert_identical_detections (&full, &split);
  }
  /* Across two nets: the head's outputs that the cut hands over, set in
   * the tail, are all it needs. */
  for (int k = 1; k < n; k++) {
    NnNet *tail = new_net (&o, 1, FALSE);
    g_assert_true (nn_net_forward (net, 0, k, input->data, &status));
    for (int l = 0; l < k; l++) {
      NnTensorView v;
      if (!nn_net_reads_across (net, k, l))
        continue;
      g_assert_true (nn_net_output (net, l, &v));
      g_assert_true (nn_net_set_output (tail, l, v.data));
    }
    if (!nn_net_forward (tail, k, n, NULL, &status))
      g_error ("%s tail from %d: %s", case_name (c), k, status.message);
    g_assert_true (
        nn_net_boxes (tail, input->source_width, input->source_height, FALSE,
            options.threshold, options.nms, o.labels, &split, &status));
    assert_identical_detections (&full, &split);
    nn_net_free (tail);
  }
  /* Nothing ran in fresh: decoding and a tail both say what is missing. */
  g_assert_false (nn_net_boxes (fresh, 100, 100, FALSE, 0.5f, 0.45f, NULL,
      &split, &status));
  g_assert_nonnull (strstr (status.message, "does not hold"));
  g_assert_false (nn_net_forward (fresh, n - 1, n, NULL, &status));
  g_assert_nonnull (strstr (status.message, "does not hold"));
  g_assert_false (nn_net_forward (fresh, 0, n + 1, input->data, &status));
  g_assert_false (nn_net_forward (fresh, 0, n, NULL, &status));
  yolo_detections_free (&full);
  yolo_detections_free (&split);
  yolo_input_free (input);
  nn_net_free (net);
  nn_net_free (fresh);
  close_case (&o);
}

/* What crosses a cut, as yolo_model_run_layers() hands it over
 * (test_fast_engine.c's handover-contents): yolov3-tiny cut at 17 needs
 * layer 8 (route 20 reads it), 13 (route 17) and 16 (the layer before the
 * cut, and a yolo layer). */
static void
test_reads_across (void)
{
  Opened o;
  NnNet *net;
  int want[] = { 8, 13, 16 }, got = 0;

  open_case (&cases[7], &o);
  net = new_net (&o, 1, FALSE);
  for (int l = 0; l < 17; l++)
    if (nn_net_reads_across (net, 17, l)) {
      g_assert_cmpint (got, <, 3);
      g_assert_cmpint (l, ==, want[got++]);
    }
  g_assert_cmpint (got, ==, 3);
  g_assert_false (nn_net_reads_across (net, 17, 17));
  nn_net_free (net);
  close_case (&o);
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

static void
add_cases (void)
{
  static const char *const shipped[] = { "yolo-fastest-1.1",
    "yolo-fastest-1.1-xl", "MobileNetV2-YOLOv3-Nano-coco", "yolo-lite-coco",
    "yolo-lite-voc", "yolo-fastest-1.1_body", "yoloface-500k" };

  for (guint i = 0; i < G_N_ELEMENTS (shipped); i++)
    cases[case_count++] = (Case){ .name = shipped[i] };
  cases[case_count++] = (Case){ .cfg = "/usr/share/darknet/cfg/yolov3-tiny.cfg",
    .labels = "/usr/share/darknet/data/coco.names",
    .threshold = 0.32f };
  cases[case_count++] = (Case){ .cfg = "/usr/share/darknet/cfg/yolov2-tiny.cfg",
    .labels = "/usr/share/darknet/data/coco.names",
    .threshold = 0.0085f };
  for (int i = 0; i < nn_zoo_count; i++)
    cases[case_count++] = (Case){ .zoo = &nn_zoo[i],
      .threshold = nn_zoo[i].threshold,
      .minor = 2 };
  /* Darknet reads connected weights transposed above version 1000. */
  cases[case_count++] = (Case){ .zoo = &nn_zoo[1],
    .threshold = nn_zoo[1].threshold,
    .major = 1001 };
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("yoloswitch-nn-XXXXXX", NULL);
  images[0] = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  images[1] = test_image_load ("person.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  add_cases ();
  for (int i = 0; i < case_count; i++) {
    gchar *p
        = g_strdup_printf ("/nn/matches-darknet/%s", case_name (&cases[i]));
    g_test_add_data_func (p, &cases[i], test_matches_darknet);
    g_free (p);
    p = g_strdup_printf ("/nn/plan-and-threads/%s", case_name (&cases[i]));
    g_test_add_data_func (p, &cases[i], test_plan_and_threads);
    g_free (p);
  }
  g_test_add_data_func ("/nn/ranges/yolo-fastest-1.1", &cases[0], test_ranges);
  g_test_add_data_func ("/nn/ranges/yolov3-tiny", &cases[7], test_ranges);
  g_test_add_data_func ("/nn/ranges/zoo-region", &cases[9], test_ranges);
  g_test_add_func ("/nn/reads-across", test_reads_across);
  ret = g_test_run ();

  remove_tmp_dir ();
  g_free (tmp_dir);
  test_image_free (images[0]);
  test_image_free (images[1]);
  return ret;
}
