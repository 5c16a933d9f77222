/* A cut's handover through a split packet and back (offload/split_codec.h)
 * on the real edge model, yolo-fastest-1.1-xl, at every cut, on dog.jpg:
 *
 * - 8 bits, a [min, max] range per channel (the default): the tail gives
 *   every unsplit box (>= 0.5) again, same class, IoU >= 0.95, confidence
 *   within 0.03, and no box the unsplit model does not have;
 * - the other schemes (per tensor; the seed paper's mu +- 3 sigma; 6 and 4
 *   bits) are measured and printed, and none may beat the default's worst
 *   IoU (the claim in tensor_quant.h);
 * - a packet for another model, another cut or a lying shape is refused
 *   with a sentence naming the mismatch. */
#include <glib.h>
#include <string.h>

#include "metrics.h"
#include "split_codec.h"
#include "split_zstd.h"
#include "test_images.h"
#include "yolo.h"

#define MODEL "yolo-fastest-1.1-xl"
#define HASH G_GUINT64_CONSTANT (0xfeedfacecafebeef)

static YoloModel *model;
static TestImage *dog;
static YoloInput *input;

static void
detect (float threshold, YoloDetections *dets)
{
  YoloInferOptions options;
  YoloStatus status;

  yolo_infer_options_init (&options);
  options.threshold = threshold;
  yolo_detections_init (dets);
  g_assert_true (
      yolo_model_detect (model, &dog->frame, &options, dets, &status));
}

/* Over the boxes of `want` at or above 0.5: the worst IoU with the best
 * box of the same class in `got`, and that box's confidence difference. */
typedef struct {
  double iou, conf;
} Worst;

static void
measure (const YoloDetections *want, const YoloDetections *got, Worst *worst)
{
  for (size_t i = 0; i < want->count; i++) {
    const YoloDetection *w = &want->items[i];
    double best = 0, diff = 1;
    if (w->confidence < 0.5f)
      continue;
    for (size_t j = 0; j < got->count; j++) {
      const YoloDetection *g = &got->items[j];
      if (g->class_id == w->class_id && yolo_box_iou (w, g) > best) {
        best = yolo_box_iou (w, g);
        diff = ABS (g->confidence - w->confidence);
      }
    }
    worst->iou = MIN (worst->iou, best);
    worst->conf = MAX (worst->conf, diff);
  }
}

/* Head [0, cut) to a packet of `bits`, then the packet to a handover and
 * the tail [cut, n); returns the packet's size. */
static size_t
split_run (int cut, const YsSplitOptions *o, YoloDetections *dets)
{
  YoloHandover head, layout, back;
  YoloInferOptions options;
  YoloStatus status;
  char error[512];
  guint8 *packet;
  size_t len;

  yolo_handover_init (&head);
  yolo_handover_init (&layout);
  yolo_handover_init (&back);
  yolo_infer_options_init (&options);
  options.threshold = 0.3f;
  yolo_detections_init (dets);
  if (!yolo_model_run_layers (model, 0, cut, input, NULL, NULL, &head, NULL,
          &status))
    g_error ("cut %d head: %s", cut, status.message);
  if (!ys_split_encode (&head, o, &packet, &len, error, sizeof error))
    g_error ("cut %d encode: %s", cut, error);
  g_assert_cmpint (ys_split_packet_cut (packet, len), ==, cut);
  g_assert_true (yolo_model_handover_layout (model, cut, &layout, &status));
  if (!ys_split_decode (packet, len, &layout, HASH, dog->frame.width,
          dog->frame.height, &back, NULL, error, sizeof error))
    g_error ("cut %d decode: %s", cut, error);
  g_assert_cmpint (back.source_width, ==, head.source_width);
  g_assert_cmpint (back.source_height, ==, head.source_height);
  g_assert_true (back.letterbox == head.letterbox);
  if (!yolo_model_run_layers (model, cut, yolo_model_layer_count (model), NULL,
          &back, &options, NULL, dets, &status))
    g_error ("cut %d tail: %s", cut, status.message);
  g_free (packet);
  yolo_handover_free (&head);
  yolo_handover_free (&layout);
  yolo_handover_free (&back);
  return len;
}

typedef struct {
  const char *name;
  YsSplitOptions o;
} Scheme;

static const Scheme schemes[] = {
  { "8 bits, min-max per channel", { 8, TRUE, YS_SPLIT_RANGE_MINMAX, HASH } },
  { "8 bits, min-max per tensor", { 8, FALSE, YS_SPLIT_RANGE_MINMAX, HASH } },
  { "8 bits, 3 sigma per channel", { 8, TRUE, YS_SPLIT_RANGE_SIGMA3, HASH } },
  { "8 bits, 3 sigma per tensor", { 8, FALSE, YS_SPLIT_RANGE_SIGMA3, HASH } },
  { "6 bits, min-max per channel", { 6, TRUE, YS_SPLIT_RANGE_MINMAX, HASH } },
  { "4 bits, min-max per channel", { 4, TRUE, YS_SPLIT_RANGE_MINMAX, HASH } },
};

/* One scheme over every cut: the worst box both ways, the smallest
 * packet. */
static Worst
every_cut (const Scheme *s, const YoloDetections *full)
{
  int n = yolo_model_layer_count (model), best = 0;
  size_t smallest = G_MAXSIZE;
  Worst worst = { 1, 0 };

  for (int cut = 1; cut < n; cut++) {
    YoloDetections split;
    size_t len = split_run (cut, &s->o, &split);
    measure (full, &split, &worst); /* every unsplit box found */
    measure (&split, full, &worst); /* and no new one */
    if (len < smallest)
      smallest = len, best = cut;
    yolo_detections_free (&split);
  }
  g_test_message ("%s: worst IoU %.3f, worst confidence difference %.3f; "
                  "smallest packet at cut %d, %zu bytes",
      s->name, worst.iou, worst.conf, best, smallest);
  return worst;
}

static void
test_default_keeps_every_box (void)
{
  YoloDetections full;
  Worst w;

  detect (0.3f, &full);
  w = every_cut (&schemes[0], &full);
  g_assert_cmpfloat (w.iou, >=, 0.95);
  g_assert_cmpfloat (w.conf, <=, 0.03);
  yolo_detections_free (&full);
}

static void
test_schemes_compared (void)
{
  YoloDetections full;
  Worst best;

  detect (0.3f, &full);
  best = every_cut (&schemes[0], &full);
  for (size_t i = 1; i < G_N_ELEMENTS (schemes); i++) {
    Worst w = every_cut (&schemes[i], &full);
    g_assert_cmpfloat (w.iou, <=, best.iou);
  }
  yolo_detections_free (&full);
}

/* What the server refuses before it allocates a tensor. */
static void
test_mismatches_refused (void)
{
  YsSplitOptions o = { 8, TRUE, YS_SPLIT_RANGE_MINMAX, HASH };
  YoloHandover head, layout, back;
  YoloStatus status;
  YsSplitFault fault;
  char error[512];
  guint8 *packet;
  size_t len;
  const int cut = 20;

  yolo_handover_init (&head);
  yolo_handover_init (&layout);
  yolo_handover_init (&back);
  g_assert_true (yolo_model_run_layers (model, 0, cut, input, NULL, NULL, &head,
      NULL, &status));
  g_assert_true (ys_split_encode (&head, &o, &packet, &len, error, 512));

  g_assert_true (yolo_model_handover_layout (model, cut, &layout, &status));
  g_assert_false (ys_split_decode (packet, len, &layout, HASH + 1, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "model hash"));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MISMATCH);
  g_assert_cmpuint (back.count, ==, 0);

  g_assert_true (yolo_model_handover_layout (model, cut + 1, &layout, &status));
  g_assert_false (ys_split_decode (packet, len, &layout, HASH, 768, 576, &back,
      &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "at cut 21"));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MISMATCH);

  /* A packet that does not parse is malformed, not a mismatch. */
  g_assert_true (yolo_model_handover_layout (model, cut, &layout, &status));
  g_assert_false (ys_split_decode (packet, len - 1, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MALFORMED);
  g_assert_cmpuint (ys_split_packet_hash (packet, len), ==, HASH);
  g_assert_cmpuint (ys_split_packet_hash (packet, 15), ==, 0);

  /* The layout's shape changed under the same cut: named. */
  g_assert_true (yolo_model_handover_layout (model, cut, &layout, &status));
  layout.tensors[0].c++;
  g_assert_false (ys_split_decode (packet, len, &layout, HASH, 768, 576, &back,
      &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "but the model hands over layer"));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MISMATCH);

  g_assert_false (yolo_model_handover_layout (model, 0, &layout, &status));
  g_assert_false (yolo_model_handover_layout (model,
      yolo_model_layer_count (model), &layout, &status));
  g_free (packet);
  yolo_handover_free (&head);
  yolo_handover_free (&layout);
}

/* zstd on the wire (split_zstd.h): at cut 61 and 4 bits the packet the
 * switcher uses shrinks (the 4-bit codes of small activations repeat) and
 * decodes to exactly the plain packet's tensors; a compressed packet that
 * says another size than the model's handover, holds another, or has
 * bytes after its frame is refused with a sentence, and nothing larger
 * than the handover is ever decompressed. */
static void
test_zstd_packets (void)
{
  YsSplitOptions o = { 4, TRUE, YS_SPLIT_RANGE_MINMAX, HASH };
  YoloHandover head, layout, plain, back;
  YoloStatus status;
  YsSplitFault fault;
  char error[512];
  guint8 *packet, *packed, *bad;
  size_t len, packed_len;
  const int cut = 61;

  yolo_handover_init (&head);
  yolo_handover_init (&layout);
  yolo_handover_init (&plain);
  yolo_handover_init (&back);
  g_assert_true (yolo_model_run_layers (model, 0, cut, input, NULL, NULL, &head,
      NULL, &status));
  g_assert_true (ys_split_encode (&head, &o, &packet, &len, error, 512));
  g_assert_true (ys_split_zstd_pack (packet, len, &packed, &packed_len));
  g_test_message ("cut 61, 4 bits: %zu bytes plain, %zu with zstd", len,
      packed_len);
  g_assert_cmpuint (packed_len, <, len * 95 / 100);
  g_assert_true (ys_split_zstd_is_packed (packed, packed_len));
  g_assert_false (ys_split_zstd_is_packed (packet, len));
  g_assert_cmpuint (ys_split_packet_cut (packed, packed_len), ==, cut);
  g_assert_cmpuint (ys_split_packet_hash (packed, packed_len), ==, HASH);

  g_assert_true (yolo_model_handover_layout (model, cut, &layout, &status));
  g_assert_true (ys_split_decode (packet, len, &layout, HASH, 768, 576, &plain,
      NULL, error, sizeof error));
  if (!ys_split_decode (packed, packed_len, &layout, HASH, 768, 576, &back,
          &fault, error, sizeof error))
    g_error ("compressed packet refused: %s", error);
  g_assert_cmpuint (back.count, ==, plain.count);
  for (size_t i = 0; i < back.count; i++) {
    const YoloTensor *a = &plain.tensors[i], *b = &back.tensors[i];
    g_assert_cmpint (a->layer, ==, b->layer);
    g_assert_true (
        memcmp (a->data, b->data, sizeof (float) * a->c * a->h * a->w) == 0);
  }

  /* Its declared size off by one: refused before decompressing. */
  bad = g_memdup2 (packed, packed_len);
  bad[16]++;
  g_assert_false (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "handover at its cut and bit depth takes"));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MALFORMED);
  g_free (bad);
  /* Another bit depth in its header: the handover it claims is another. */
  bad = g_memdup2 (packed, packed_len);
  bad[1] = 8;
  g_assert_false (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MALFORMED);
  g_free (bad);
  /* Cut short, or a byte after the frame. */
  g_assert_false (ys_split_decode (packed, packed_len - 1, &layout, HASH, 768,
      576, &back, &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "zstd frame"));
  bad = g_malloc (packed_len + 1);
  memcpy (bad, packed, packed_len);
  bad[packed_len] = 0;
  g_assert_false (ys_split_decode (bad, packed_len + 1, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "after its zstd frame"));
  g_free (bad);
  /* A pre-standard (v0.7) or skippable frame's magic, an unknown flag, or
   * another tensor count: refused from the header, nothing decompressed. */
  {
    const guint8 magics[][4]
        = { { 0x27, 0xb5, 0x2f, 0xfd }, { 0x50, 0x2a, 0x4d, 0x18 } };
    for (int m = 0; m < 2; m++) {
      bad = g_memdup2 (packed, packed_len);
      memcpy (bad + 20, magics[m], 4);
      g_assert_false (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576,
          &back, &fault, error, sizeof error));
      g_assert_nonnull (strstr (error, "no legacy or skippable"));
      g_free (bad);
    }
  }
  bad = g_memdup2 (packed, packed_len);
  bad[2] |= 0x08;
  g_assert_false (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_nonnull (strstr (error, "flags 0x"));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MALFORMED);
  g_free (bad);
  bad = g_memdup2 (packed, packed_len);
  bad[3]++;
  g_assert_false (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576,
      &back, &fault, error, sizeof error));
  g_assert_cmpint (fault, ==, YS_SPLIT_FAULT_MISMATCH);
  g_free (bad);
  /* A corrupted frame body: zstd's checks, not a crash. */
  bad = g_memdup2 (packed, packed_len);
  for (size_t k = 40; k < packed_len; k += 97)
    bad[k] ^= 0x5a;
  error[0] = '\0';
  if (ys_split_decode (bad, packed_len, &layout, HASH, 768, 576, &back, &fault,
          error, sizeof error))
    g_assert_cmpuint (back.count, ==, layout.count);
  else
    g_assert_cmpuint (strlen (error), >, 0);
  g_free (bad);
  /* The plain parser never takes the compressed form. */
  {
    YsTensorPacket p;
    static YoloQuantRange ranges[YS_TENSOR_MAX_RANGES];
    g_assert_false (ys_tensor_packet_parse (packed, packed_len, &p, ranges,
        error, sizeof error));
  }
  /* A packet zstd cannot shrink goes as it is. */
  {
    guint8 tiny[24] = { 1, 8, 0, 1, 5, 0, 0, 0 }, *out;
    size_t out_len;
    g_assert_false (ys_split_zstd_pack (tiny, sizeof tiny, &out, &out_len));
    g_assert_null (out);
  }
  free (packed);
  g_free (packet);
  yolo_handover_free (&head);
  yolo_handover_free (&layout);
  yolo_handover_free (&plain);
  yolo_handover_free (&back);
}

/* Both ends agree on a model by its hash: the same files and input size
 * give the same value in every instance (and on every machine: pinned
 * here, so that a change of the function shows up as a test to update
 * and a protocol note, not as servers refusing older devices), other
 * weights or another input size another. */
static void
test_model_hash (void)
{
  YoloModelSpec spec = { .name = MODEL, .model_dir = test_models_dir () };
  YoloModel *again, *other, *smaller;
  YoloStatus status;
  guint64 h, h2, h3, h4;

  g_assert_true (yolo_model_hash (model, &h, &status));
  g_assert_true (yolo_model_hash (model, &h2, &status)); /* from memory */
  g_assert_cmpuint (h, ==, h2);
  again = yolo_model_open (&spec, &status);
  g_assert_nonnull (again);
  g_assert_true (yolo_model_hash (again, &h2, &status));
  g_assert_cmpuint (h, ==, h2);
  g_test_message ("%s: %016" G_GINT64_MODIFIER "x", MODEL, h);
  g_assert_true (h == G_GUINT64_CONSTANT (0xc659994e11139ce0));
  spec.name = "yolo-fastest-1.1";
  other = yolo_model_open (&spec, &status);
  g_assert_true (yolo_model_hash (other, &h3, &status));
  g_assert_cmpuint (h3, !=, h);
  spec.name = MODEL;
  spec.input_width = spec.input_height = 256;
  smaller = yolo_model_open (&spec, &status);
  g_assert_true (yolo_model_hash (smaller, &h4, &status));
  g_assert_cmpuint (h4, !=, h);
  yolo_model_close (again);
  yolo_model_close (other);
  yolo_model_close (smaller);
}

int
main (int argc, char **argv)
{
  YoloModelSpec spec = { .name = MODEL, .model_dir = NULL, .threads = 1 };
  YoloStatus status;
  int ret;

  g_test_init (&argc, &argv, NULL);
  spec.model_dir = test_models_dir ();
  model = yolo_model_open (&spec, &status);
  if (model == NULL)
    g_error ("cannot open %s: %s", MODEL, status.message);
  dog = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  input = yolo_input_new (model);
  g_assert_true (yolo_input_fill (input, &dog->frame, FALSE, &status));
  g_test_add_func ("/split/default-keeps-every-box",
      test_default_keeps_every_box);
  g_test_add_func ("/split/schemes-compared", test_schemes_compared);
  g_test_add_func ("/split/mismatches-refused", test_mismatches_refused);
  g_test_add_func ("/split/model-hash", test_model_hash);
  g_test_add_func ("/split/zstd-packets", test_zstd_packets);
  ret = g_test_run ();
  yolo_input_free (input);
  test_image_free (dog);
  yolo_model_close (model);
  return ret;
}
