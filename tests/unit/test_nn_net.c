/* yolo/nn (our graph, weights, memory plan, executor and box decoding,
 * no libdarknet) against stock Darknet: every layer's output within 1e-3
 * (relative to the layer's largest value when above 1) and the same
 * detections, on every shipped model, yolov3-tiny / yolov2-tiny with random
 * weights and the synthetic cfgs of nn_net_zoo.c, on dog.jpg and
 * person.jpg, letterboxed and not, with every kernels table this CPU runs
 * (packed execution) and without (plain C).  Then, per table: 1 and 2
 * threads and the memory plan's reuse change no bit; layer ranges equal
 * full runs, in one net and across two (packed outputs handed over as
 * NCHW: test_nn_net_ranges.c); outputs the plan reused say so.  Weights
 * files and the layers Darknet cannot run: test_nn_files.c. */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_net_cases.h"

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
  NnNet *nets[G_N_ELEMENTS (isas)];
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections want, got;
  YoloStatus status;
  double worst[G_N_ELEMENTS (isas)] = { 0 };
  size_t total = 0;

  open_case (c, &o);
  for (int k = 0; k < isa_count; k++)
    nets[k] = new_net_on (&o, isas[k], 2, NULL, TRUE);
  input = yolo_input_new (o.ref);
  options_for (c, &options);
  yolo_detections_init (&want);
  yolo_detections_init (&got);
  for (int i = 0; i < 2; i++)
    for (int lb = 0; lb < 2; lb++) {
      g_assert_true (
          yolo_input_fill (input, &images[i]->frame, lb != 0, &status));
      g_assert_true (yolo_model_run (o.ref, input, &options, &want, &status));
      for (int k = 0; k < isa_count; k++) {
        NnNet *net = nets[k];
        gchar *what = g_strdup_printf ("%s %s image %d letterbox %d",
            case_name (c), isa_name (isas[k]), i, lb);
        if (!nn_net_forward (net, 0, nn_net_layer_count (net), input->data,
                &status))
          g_error ("%s: %s", what, status.message);
        compare_layers (&o, net, what, &worst[k]);
        g_assert_true (nn_net_boxes (net, input->source_width,
            input->source_height, lb != 0, options.threshold, options.nms,
            o.labels, &got, &status));
        assert_same_detections (&want, &got, options.threshold, what);
        g_free (what);
      }
      total += want.count;
    }
  for (int k = 0; k < isa_count; k++) {
    g_test_message ("%s %s: worst layer diff %g, %d of %d layers packed",
        case_name (c), isa_name (isas[k]), worst[k], packed_layers (nets[k]),
        nn_net_layer_count (nets[k]));
    /* The first layer of every case here is a convolution the kernels
     * take: a table that ran nothing packed would test nothing. */
    if (isas[k] != NULL)
      g_assert_cmpint (packed_layers (nets[k]), >, 0);
    else
      g_assert_cmpint (packed_layers (nets[k]), ==, 0);
    nn_net_free (nets[k]);
  }
  g_test_message ("%s: %zu reference detections", case_name (c), total);
  /* Not a comparison of nothing. */
  g_assert_cmpuint (total, >, 0);
  yolo_detections_free (&want);
  yolo_detections_free (&got);
  yolo_input_free (input);
  close_case (&o);
}

/* Per kernels table: one thread keeping every output against two threads
 * reusing memory: every output the plan still holds is bit for bit the
 * same, and so are the detections; the plan's arena is smaller than all
 * outputs together. */
static void
plan_and_threads (const Case *c, Opened *o, const NnKernels *k)
{
  NnNet *keep, *reuse;
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections a, b;
  YoloStatus status;
  NnNetBytes kb, rb;
  YoloPool *pool;
  int n, reused = 0;

  keep = new_net_on (o, k, 1, NULL, TRUE);
  /* On a pool of the caller's, as a model shares its own. */
  pool = yolo_pool_new (2);
  reuse = new_net_on (o, k, 0, pool, FALSE);
  n = nn_net_layer_count (keep);
  input = yolo_input_new (o->ref);
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
        CfgLayerType t = o->cfg.layers[l].type;
        g_assert_true (nn_net_output (keep, l, &x));
        if (!nn_net_output (reuse, l, &y)) {
          /* Decoding reads these: never reused. */
          g_assert_true (t != CFG_LAYER_YOLO && t != CFG_LAYER_REGION);
          g_assert_cmpint (l, <, n - 1);
          reused++;
          continue;
        }
        if (memcmp (x.data, y.data, sizeof (float) * x.c * x.h * x.w) != 0)
          g_error ("%s %s: layer %d (%s) differs between 1 thread keeping "
                   "all and 2 threads reusing",
              case_name (c), isa_name (k), l, nn_net_layer_impl (keep, l));
      }
      g_assert_true (
          nn_net_boxes (keep, input->source_width, input->source_height,
              lb != 0, options.threshold, options.nms, o->labels, &a, &status));
      g_assert_true (
          nn_net_boxes (reuse, input->source_width, input->source_height,
              lb != 0, options.threshold, options.nms, o->labels, &b, &status));
      assert_identical_detections (&a, &b);
    }
  nn_net_bytes (keep, &kb);
  nn_net_bytes (reuse, &rb);
  g_test_message ("%s %s: arena %zu bytes reusing, %zu keeping all, outputs "
                  "%zu, weights %zu, workspace %zu; %d of %d outputs reused",
      case_name (c), isa_name (k), rb.arena_bytes, kb.arena_bytes,
      rb.outputs_bytes, rb.weight_bytes, rb.workspace_bytes, reused, n);
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
}

static void
test_plan_and_threads (gconstpointer data)
{
  const Case *c = data;
  Opened o;

  open_case (c, &o);
  for (int k = 0; k < isa_count; k++)
    plan_and_threads (c, &o, isas[k]);
  close_case (&o);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  nn_cases_setup ();
  for (int i = 0; i < case_count; i++) {
    gchar *p
        = g_strdup_printf ("/nn/matches-darknet/%s", case_name (&cases[i]));
    g_test_add_data_func (p, &cases[i], test_matches_darknet);
    g_free (p);
    p = g_strdup_printf ("/nn/plan-and-threads/%s", case_name (&cases[i]));
    g_test_add_data_func (p, &cases[i], test_plan_and_threads);
    g_free (p);
  }
  ret = g_test_run ();
  nn_cases_teardown ();
  return ret;
}
