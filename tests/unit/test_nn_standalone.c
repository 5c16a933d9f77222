/* yolo/nn on its own: this program is built from the Darknet-free sources
 * only (yolo/nn, the cfg checker, status, thread pool, preprocessing, the
 * shared vocabulary), runs the shipped local and edge models on dog.jpg and
 * person.jpg, finds the reference detections of ../shared/models/README.md,
 * and maps neither libdarknet nor OpenCV, GDAL or OpenBLAS. */
#include <glib.h>
#include <string.h>

#include "cfg.h"
#include "metrics.h"
#include "net.h"
#include "test_images.h"
#include "yolo.h"

/* preprocess.c sizes a YoloInput from its model: the one model call it
 * makes, answered here without a model. */
static int input_w, input_h;

int
yolo_model_input_width (const YoloModel *model)
{
  return input_w;
}

int
yolo_model_input_height (const YoloModel *model)
{
  return input_h;
}

static char **
read_labels (const char *path, int *count)
{
  gchar *text;
  gchar **lines;
  GPtrArray *out = g_ptr_array_new ();

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++) {
    g_strchomp (lines[i]);
    if (*lines[i] != '\0')
      g_ptr_array_add (out, g_strdup (lines[i]));
  }
  *count = (int) out->len;
  g_ptr_array_add (out, NULL);
  g_strfreev (lines);
  g_free (text);
  return (char **) g_ptr_array_free (out, FALSE);
}

static void
test_no_darknet_mapped (void)
{
  static const char *const absent[]
      = { "libdarknet", "libopencv", "libgdal", "libopenblas", NULL };
  gchar *maps;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  for (int i = 0; absent[i] != NULL; i++)
    if (strstr (maps, absent[i]) != NULL)
      g_error ("%s is mapped", absent[i]);
  g_free (maps);
}

static void
test_references_found (gconstpointer data)
{
  const char *name = data;
  gchar *cfg_path = g_strdup_printf ("%s/%s.cfg", test_models_dir (), name);
  gchar *weights = g_strdup_printf ("%s/%s.weights", test_models_dir (), name);
  gchar *names = g_strdup_printf ("%s/coco.names", test_models_dir ());
  static const char *const images[] = { "dog.jpg", "person.jpg" };
  CfgNetwork cfg;
  YoloStatus status;
  NnNet *net;
  YoloInput *input;
  YoloDetections dets;
  int label_count;
  char **labels = read_labels (names, &label_count);

  g_assert_true (cfg_network_load (cfg_path, &cfg, &status));
  g_assert_cmpint (label_count, ==, cfg.classes);
  net = nn_net_new (&cfg, weights, 2, FALSE, &status);
  if (net == NULL)
    g_error ("%s", status.message);
  input_w = cfg.width;
  input_h = cfg.height;
  input = yolo_input_new (NULL);
  yolo_detections_init (&dets);
  for (guint i = 0; i < G_N_ELEMENTS (images); i++) {
    TestImage *img = test_image_load (images[i], 1.0, YOLO_PIXEL_RGB, 0);
    const TestReference *refs;
    int nrefs = test_references (name, images[i], &refs);

    g_assert_cmpint (nrefs, >, 0);
    g_assert_true (yolo_input_fill (input, &img->frame, FALSE, &status));
    g_assert_true (nn_net_forward (net, 0, nn_net_layer_count (net),
        input->data, &status));
    g_assert_true (nn_net_boxes (net, input->source_width, input->source_height,
        FALSE, YOLO_DEFAULT_THRESHOLD, YOLO_DEFAULT_NMS,
        (const char *const *) labels, &dets, &status));
    /* As test_yolo_model.c checks the reference engine. */
    g_assert_cmpint ((int) dets.count, ==, nrefs);
    for (int r = 0; r < nrefs; r++) {
      YoloDetection want
          = { .x = refs[r].x, .y = refs[r].y, .w = refs[r].w, .h = refs[r].h };
      gboolean found = FALSE;
      for (size_t k = 0; k < dets.count; k++) {
        const YoloDetection *d = &dets.items[k];
        if (strcmp (d->label, refs[r].label) != 0)
          continue;
        g_assert_cmpfloat (yolo_box_iou (d, &want), >=, 0.9);
        g_assert_cmpfloat (ABS (d->confidence - refs[r].confidence), <=, 0.02);
        found = TRUE;
      }
      if (!found)
        g_error ("%s on %s: no %s detection", name, images[i], refs[r].label);
    }
    test_image_free (img);
  }
  yolo_detections_free (&dets);
  yolo_input_free (input);
  nn_net_free (net);
  cfg_network_clear (&cfg);
  g_strfreev (labels);
  /* After running: nothing loaded Darknet on the way. */
  test_no_darknet_mapped ();
  g_free (cfg_path);
  g_free (weights);
  g_free (names);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/nn-standalone/references/yolo-fastest-1.1",
      "yolo-fastest-1.1", test_references_found);
  g_test_add_data_func ("/nn-standalone/references/yolo-fastest-1.1-xl",
      "yolo-fastest-1.1-xl", test_references_found);
  return g_test_run ();
}
