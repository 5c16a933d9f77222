/* yolo/nn's layer ranges and what the packed path runs (the cases of
 * nn_net_cases.h): [0, k) then [k, n) equal one full run for every k, in
 * one net and across two, on the best kernels table (packed outputs handed
 * over as NCHW through nn_net_output() / nn_net_set_output()) and plain C;
 * what crosses a cut; which layers run packed and what memory they take;
 * YOLOSWITCH_ISA. */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_net_cases.h"

/* [0, k) then [k, n) on the reusing plan equal one full run, for every k;
 * a range whose earlier outputs are not held is refused. */
static void
ranges (const Case *c, Opened *o, const NnKernels *kernels)
{
  NnNet *net, *fresh;
  YoloInput *input;
  YoloInferOptions options;
  YoloDetections full, split;
  YoloStatus status;
  int n;

  net = new_net_on (o, kernels, 2, NULL, FALSE);
  fresh = new_net_on (o, kernels, 1, NULL, FALSE);
  n = nn_net_layer_count (net);
  input = yolo_input_new (o->ref);
  options_for (c, &options);
  yolo_detections_init (&full);
  yolo_detections_init (&split);
  g_assert_true (yolo_input_fill (input, &images[0]->frame, FALSE, &status));
  g_assert_true (nn_net_forward (net, 0, n, input->data, &status));
  g_assert_true (nn_net_boxes (net, input->source_width, input->source_height,
      FALSE, options.threshold, options.nms, o->labels, &full, &status));
  g_assert_cmpuint (full.count, >, 0);
  for (int k = 1; k < n; k++) {
    if (!nn_net_forward (net, 0, k, input->data, &status)
        || !nn_net_forward (net, k, n, NULL, &status))
      g_error ("%s cut %d: %s", case_name (c), k, status.message);
    g_assert_true (nn_net_boxes (net, input->source_width, input->source_height,
        FALSE, options.threshold, options.nms, o->labels, &split, &status));
    assert_identical_detections (&full, &split);
  }
  /* Across two nets: the head's outputs that the cut hands over, set in
   * the tail, are all it needs. */
  for (int k = 1; k < n; k++) {
    NnNet *tail = new_net_on (o, kernels, 1, NULL, FALSE);
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
            options.threshold, options.nms, o->labels, &split, &status));
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
}

/* The best table (packed outputs handed over as NCHW) and plain C. */
static void
test_ranges (gconstpointer data)
{
  const Case *c = data;
  Opened o;

  open_case (c, &o);
  ranges (c, &o, isas[0]);
  /* Plain C on the small nets only: yolo-fastest-1.1's 131 cuts, each
   * run twice, take minutes there (and under ASan). */
  if (o.cfg.layer_count < 64)
    ranges (c, &o, NULL);
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

/* yolo-fastest-1.1 and yolov3-tiny run packed end to end on every table:
 * every layer but the yolo heads (which decoding reads as NCHW), and the
 * memory the layer outputs and conversions take is less than on the plain
 * path (no im2col columns; the packed sizes pad only the yolo heads'
 * 255 channels to 256). */
static void
test_packed_layers (gconstpointer data)
{
  const Case *c = data;
  Opened o;
  NnNet *plain;
  NnNetBytes pb;

  open_case (c, &o);
  plain = new_net_on (&o, NULL, 1, NULL, FALSE);
  nn_net_bytes (plain, &pb);
  for (int k = 0; k < isa_count && isas[k] != NULL; k++) {
    NnNet *net = new_net_on (&o, isas[k], 1, NULL, FALSE);
    NnNetBytes b;
    for (int l = 0; l < nn_net_layer_count (net); l++) {
      const char *impl = nn_net_layer_impl (net, l);
      if (o.cfg.layers[l].type == CFG_LAYER_YOLO)
        g_assert_cmpstr (impl, ==, "yolo");
      else if (!g_str_has_suffix (impl, "_packed"))
        g_error ("%s %s: layer %d runs %s, not packed", case_name (c),
            isa_name (isas[k]), l, impl);
    }
    nn_net_bytes (net, &b);
    g_test_message ("%s %s: arena %zu + workspace %zu bytes, plain %zu + %zu;"
                    " weights %zu, plain %zu",
        case_name (c), isa_name (isas[k]), b.arena_bytes, b.workspace_bytes,
        pb.arena_bytes, pb.workspace_bytes, b.weight_bytes, pb.weight_bytes);
    g_assert_cmpuint (b.arena_bytes + b.workspace_bytes, <,
        pb.arena_bytes + pb.workspace_bytes);
    nn_net_free (net);
  }
  nn_net_free (plain);
  close_case (&o);
}

/* YOLOSWITCH_ISA picks the table of nets built with the defaults; one this
 * build or CPU lacks fails the load with a sentence. */
static void
test_isa_override (void)
{
  Opened o;
  NnNet *net;
  YoloStatus status;

  open_case (&cases[0], &o);
  g_unsetenv ("YOLOSWITCH_ISA");
  net = nn_net_new (&o.cfg, o.weights, 1, FALSE, &status);
  g_assert_nonnull (net);
  g_assert_cmpstr (nn_net_isa (net), ==, isas[0]->name);
  nn_net_free (net);
  g_setenv ("YOLOSWITCH_ISA", "generic", TRUE);
  net = nn_net_new (&o.cfg, o.weights, 1, FALSE, &status);
  g_assert_cmpstr (nn_net_isa (net), ==, "generic");
  g_assert_cmpint (packed_layers (net), >, 0);
  nn_net_free (net);
  g_setenv ("YOLOSWITCH_ISA", "plain", TRUE);
  net = nn_net_new (&o.cfg, o.weights, 1, FALSE, &status);
  g_assert_cmpstr (nn_net_isa (net), ==, "plain");
  g_assert_cmpint (packed_layers (net), ==, 0);
  nn_net_free (net);
  g_setenv ("YOLOSWITCH_ISA", "vax", TRUE);
  g_assert_null (nn_net_new (&o.cfg, o.weights, 1, FALSE, &status));
  g_assert_nonnull (strstr (status.message, "vax"));
  g_unsetenv ("YOLOSWITCH_ISA");
  close_case (&o);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  nn_cases_setup ();
  g_test_add_data_func ("/nn/ranges/yolo-fastest-1.1", &cases[0], test_ranges);
  g_test_add_data_func ("/nn/ranges/yolov3-tiny", &cases[7], test_ranges);
  g_test_add_data_func ("/nn/ranges/zoo-region", &cases[9], test_ranges);
  g_test_add_func ("/nn/reads-across", test_reads_across);
  g_test_add_data_func ("/nn/packed-layers/yolo-fastest-1.1", &cases[0],
      test_packed_layers);
  g_test_add_data_func ("/nn/packed-layers/yolov3-tiny", &cases[7],
      test_packed_layers);
  g_test_add_func ("/nn/isa-override", test_isa_override);
  ret = g_test_run ();
  nn_cases_teardown ();
  return ret;
}
