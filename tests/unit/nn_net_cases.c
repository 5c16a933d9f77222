/* The cases and kernels tables of nn_net_cases.h. */
#include "nn_net_cases.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "random_weights.h"

Case cases[16];
int case_count;
const NnKernels *isas[8];
int isa_count;
TestImage *images[2];
static gchar *tmp_dir;

#ifdef NN_TEST_AVX2X2
extern const NnKernels nn_kernels_avx2x2;
#endif

const char *
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

void
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

void
close_case (Opened *o)
{
  yolo_model_close (o->ref);
  cfg_network_clear (&o->cfg);
  g_free (o->weights);
  g_free (o->labels);
}

NnNet *
new_net_on (const Opened *o, const NnKernels *k, int threads, YoloPool *pool,
    gboolean keep)
{
  YoloStatus status;
  NnNetOptions options;
  NnNet *net;

  nn_net_options_init (&options);
  options.threads = threads;
  options.pool = pool;
  options.keep_outputs = keep;
  options.kernels_given = TRUE;
  options.kernels = k;
  net = nn_net_new_with (&o->cfg, o->weights, &options, &status);
  if (net == NULL)
    g_error ("nn_net_new_with: %s", status.message);
  g_assert_cmpstr (nn_net_isa (net), ==, k != NULL ? k->name : "plain");
  return net;
}

NnNet *
new_net (const Opened *o, int threads, gboolean keep)
{
  return new_net_on (o, isas[0], threads, NULL, keep);
}

const char *
isa_name (const NnKernels *k)
{
  return k != NULL ? k->name : "plain";
}

int
packed_layers (const NnNet *net)
{
  int n = 0;

  for (int l = 0; l < nn_net_layer_count (net); l++)
    n += g_str_has_suffix (nn_net_layer_impl (net, l), "_packed");
  return n;
}

void
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
void
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

void
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

void
nn_cases_setup (void)
{
  tmp_dir = g_dir_make_tmp ("yoloswitch-nn-XXXXXX", NULL);
  images[0] = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  images[1] = test_image_load ("person.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  add_cases ();
  /* The tests pick tables themselves; the override has its own test. */
  g_unsetenv ("YOLOSWITCH_ISA");
  isa_count = nn_kernels_available (isas, (int) G_N_ELEMENTS (isas) - 2);
#ifdef NN_TEST_AVX2X2
  /* The AVX-512 build's two-block columns, on AVX2 (meson.build). */
  for (int k = 0; k < isa_count; k++)
    if (strcmp (isas[k]->name, "avx2") == 0) {
      isas[isa_count++] = &nn_kernels_avx2x2;
      break;
    }
#endif
  /* Under the sanitizers (tests/meson.build) one table and the plain-C
   * path: the tables are one source built per ISA, so a memory error one
   * makes the best one makes too, and each table costs minutes there. */
  if (g_getenv ("YOLOSWITCH_TEST_ONE_TABLE") != NULL && isa_count > 1)
    isa_count = 1;
  isas[isa_count++] = NULL;
}

void
nn_cases_teardown (void)
{
  remove_tmp_dir ();
  g_free (tmp_dir);
  test_image_free (images[0]);
  test_image_free (images[1]);
}
