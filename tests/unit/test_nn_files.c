/* yolo/nn's files without Darknet (built from the Darknet-free sources
 * only, like test_nn_standalone.c): weights files refused with a sentence
 * (missing, short, long, headerless, another cfg's), both header versions
 * read alike; the [batchnorm] layer, on which stock Darknet crashes,
 * against its formula; cfgs Darknet cannot decode refused; NaN weights
 * decoded without overrun. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "net.h"
#include "nn_net_zoo.h"
#include "test_images.h"

static gchar *tmp_dir;

/* path holding `len` bytes of `data`, then `extra` zero bytes. */
static gchar *
write_file (const char *name, const char *data, gsize len, gsize extra)
{
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  gchar *buf = g_malloc0 (len + extra + 1);

  memcpy (buf, data, len);
  g_assert_true (g_file_set_contents (path, buf, (gssize) (len + extra), NULL));
  g_free (buf);
  return path;
}

static void
assert_refused (const CfgNetwork *cfg, const char *path, YoloError code,
    const char *words)
{
  YoloStatus status;
  NnNet *net = nn_net_new (cfg, path, 1, FALSE, &status);

  g_assert_null (net);
  g_assert_cmpint (status.code, ==, code);
  if (strstr (status.message, words) == NULL)
    g_error ("\"%s\" does not say \"%s\"", status.message, words);
}

/* Missing, short, long, headerless weights are refused with a sentence;
 * the same floats behind a version 0.1 header (4-byte seen) give the same
 * network as behind 0.2 (8-byte seen). */
static void
test_weights_files (void)
{
  gchar *cfg_path
      = g_build_filename (test_models_dir (), "yolo-fastest-1.1.cfg", NULL);
  gchar *weights
      = g_build_filename (test_models_dir (), "yolo-fastest-1.1.weights", NULL);
  CfgNetwork cfg;
  float *input;
  gchar *data, *path;
  gsize len;
  gint32 head[3];
  GString *v1 = g_string_new (NULL);
  gint32 seen4 = 0;
  NnNet *a, *b;
  YoloStatus status;
  int n;

  g_assert_true (cfg_network_load (cfg_path, &cfg, &status));
  g_assert_true (g_file_get_contents (weights, &data, &len, NULL));
  memcpy (head, data, sizeof (head));
  /* The shipped file's header: version 0.2, an 8-byte "seen". */
  g_assert_cmpint (head[0] * 10 + head[1], >=, 2);

  path = g_build_filename (tmp_dir, "missing.weights", NULL);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_MISSING, "missing.weights");
  g_free (path);
  assert_refused (&cfg, tmp_dir, YOLO_ERR_WEIGHTS_MISSING,
      "not a regular file");
  /* A FIFO nobody writes: refused at once, not waited on. */
  path = g_build_filename (tmp_dir, "fifo.weights", NULL);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_MISSING, "not a regular file");
  g_free (path);
  path = write_file ("short.weights", data, len - 100, 0);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_SIZE, "truncated");
  g_free (path);
  path = write_file ("long.weights", data, len, 4);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_SIZE, "too long");
  g_free (path);
  path = write_file ("header.weights", data, 8, 0);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_SIZE, "too short");
  g_free (path);
  path = write_file ("empty.weights", data, 0, 0);
  assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_SIZE, "too short");
  g_free (path);
  /* Another cfg's weights: the sizes disagree. */
  {
    gchar *zoo_cfg, *labels;
    nn_zoo_write (&nn_zoo[0], tmp_dir, &zoo_cfg, &labels);
    path = g_build_filename (tmp_dir, "zoo-region.weights", NULL);
    nn_zoo_write_weights (zoo_cfg, path, 0, 2, 99);
    assert_refused (&cfg, path, YOLO_ERR_WEIGHTS_SIZE, "another cfg");
    g_free (path);
    g_free (zoo_cfg);
    g_free (labels);
  }

  head[0] = 0;
  head[1] = 1;
  g_string_append_len (v1, (const char *) head, sizeof (head));
  g_string_append_len (v1, (const char *) &seen4, sizeof (seen4));
  g_string_append_len (v1, data + 20, (gssize) (len - 20));
  path = write_file ("v01.weights", v1->str, v1->len, 0);
  a = nn_net_new (&cfg, weights, 1, TRUE, &status);
  g_assert_nonnull (a);
  b = nn_net_new (&cfg, path, 1, TRUE, &status);
  if (b == NULL)
    g_error ("%s", status.message);
  n = nn_net_layer_count (a);
  input = g_new (float, 3 * cfg.width * cfg.height);
  for (int i = 0; i < 3 * cfg.width * cfg.height; i++)
    input[i] = (float) (i % 251) / 251.f;
  g_assert_true (nn_net_forward (a, 0, n, input, &status));
  g_assert_true (nn_net_forward (b, 0, n, input, &status));
  for (int l = 0; l < n; l++) {
    NnTensorView x, y;
    g_assert_true (nn_net_output (a, l, &x));
    g_assert_true (nn_net_output (b, l, &y));
    g_assert_cmpmem (x.data, sizeof (float) * x.c * x.h * x.w, y.data,
        sizeof (float) * y.c * y.h * y.w);
  }
  g_free (input);
  nn_net_free (a);
  nn_net_free (b);
  g_free (path);
  g_string_free (v1, TRUE);
  g_free (data);
  cfg_network_clear (&cfg);
  g_free (cfg_path);
  g_free (weights);
}

/* [batchnorm] against Darknet's formula, (x - mean) / (sqrt (var) +
 * .000001f) * scale, on the weights file's own numbers. */
static void
test_batchnorm_layer (void)
{
  gchar *cfg_path, *labels, *weights, *data;
  gsize len;
  CfgNetwork cfg;
  YoloStatus status;
  NnNet *net;
  NnTensorView in, out;
  float input[3 * 32 * 32], scale[6], mean[6], var[6];
  GRand *rand = g_rand_new_with_seed (7);
  size_t at;

  nn_zoo_write (&nn_zoo_batchnorm, tmp_dir, &cfg_path, &labels);
  weights = g_build_filename (tmp_dir, "zoo-batchnorm.weights", NULL);
  nn_zoo_write_weights (cfg_path, weights, 0, 2, 5);
  g_assert_true (cfg_network_load (cfg_path, &cfg, &status));
  net = nn_net_new (&cfg, weights, 2, TRUE, &status);
  g_assert_nonnull (net);
  g_assert_cmpstr (nn_net_layer_impl (net, 1), ==, "batchnorm");
  for (guint i = 0; i < G_N_ELEMENTS (input); i++)
    input[i] = (float) g_rand_double (rand);
  g_assert_true (nn_net_forward (net, 0, 3, input, &status));
  g_assert_true (nn_net_output (net, 0, &in));
  g_assert_true (nn_net_output (net, 1, &out));
  g_assert_cmpint (out.c, ==, 6);
  /* After the header (20 bytes) and the convolution's biases and kernels. */
  g_assert_true (g_file_get_contents (weights, &data, &len, NULL));
  at = 20 + sizeof (float) * (6 + 6 * 27);
  g_assert_cmpuint (len, ==, at + sizeof (float) * 18);
  memcpy (scale, data + at, sizeof (scale));
  memcpy (mean, data + at + 24, sizeof (mean));
  memcpy (var, data + at + 48, sizeof (var));
  for (int c = 0; c < 6; c++)
    for (int i = 0; i < 16 * 16; i++) {
      float x = in.data[c * 256 + i];
      float want = (x - mean[c]) / (sqrtf (var[c]) + .000001f) * scale[c];
      g_assert_cmpfloat_with_epsilon (out.data[c * 256 + i], want, 1e-5);
    }
  nn_net_free (net);
  cfg_network_clear (&cfg);
  g_rand_free (rand);
  g_free (data);
  g_free (weights);
  g_free (cfg_path);
  g_free (labels);
}

/* Darknet sizes the boxes' class probabilities by the last layer: cfgs
 * ending in anything but a detection layer are refused (under ASan,
 * stock Darknet's get_region_detections() wrote past them). */
static void
test_last_layer_detects (void)
{
  static const char *const cfgs[] = {
    "[net]\nwidth=32\nheight=32\nchannels=3\n"
    "[convolutional]\nfilters=12\nsize=3\nstride=2\npad=1\n"
    "[region]\nclasses=1\nnum=2\n"
    "[softmax]\ngroups=4\n",
    "[net]\nwidth=32\nheight=32\nchannels=3\n"
    "[convolutional]\nfilters=6\nsize=1\n"
    "[yolo]\nclasses=1\nnum=1\n"
    "[convolutional]\nfilters=6\nsize=1\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cfgs); i++) {
    CfgNetwork cfg;
    YoloStatus status;
    g_assert_false (cfg_network_parse ("last.cfg", cfgs[i], strlen (cfgs[i]), 0,
        0, &cfg, &status));
    g_assert_cmpint (status.code, ==, YOLO_ERR_CFG_UNSUPPORTED);
    g_assert_nonnull (strstr (status.message, "last layer"));
  }
}

/* Weights that are all NaN (a hostile file of the right size): every
 * objectness is NaN, no box passes the threshold, and decoding counts and
 * fills the same candidates (Darknet's two tests disagree on NaN and it
 * writes past its boxes). */
static void
test_nan_weights (void)
{
  gchar *cfg_path, *labels, *weights, *data;
  gsize len;
  CfgNetwork cfg;
  YoloStatus status;
  YoloDetections dets;
  NnNet *net;
  float input[3 * 32 * 32], nan = NAN;

  nn_zoo_write (&nn_zoo[1], tmp_dir, &cfg_path, &labels);
  weights = g_build_filename (tmp_dir, "nan.weights", NULL);
  nn_zoo_write_weights (cfg_path, weights, 0, 2, 5);
  g_assert_true (g_file_get_contents (weights, &data, &len, NULL));
  for (gsize at = 20; at + 4 <= len; at += 4)
    memcpy (data + at, &nan, 4);
  g_assert_true (g_file_set_contents (weights, data, (gssize) len, NULL));
  g_assert_true (cfg_network_load (cfg_path, &cfg, &status));
  net = nn_net_new (&cfg, weights, 1, FALSE, &status);
  g_assert_nonnull (net);
  for (guint i = 0; i < G_N_ELEMENTS (input); i++)
    input[i] = 0.5f;
  yolo_detections_init (&dets);
  g_assert_true (
      nn_net_forward (net, 0, nn_net_layer_count (net), input, &status));
  g_assert_true (
      nn_net_boxes (net, 640, 480, TRUE, 0.2f, 0.45f, NULL, &dets, &status));
  g_assert_cmpuint (dets.count, ==, 0);
  /* Frame sizes the box correction cannot take are refused. */
  g_assert_false (
      nn_net_boxes (net, 0, 480, TRUE, 0.2f, 0.45f, NULL, &dets, &status));
  g_assert_false (nn_net_boxes (net, 640, 1 << 20, TRUE, 0.2f, 0.45f, NULL,
      &dets, &status));
  g_assert_cmpint (status.code, ==, YOLO_ERR_INPUT);
  yolo_detections_free (&dets);
  nn_net_free (net);
  cfg_network_clear (&cfg);
  g_free (data);
  g_free (weights);
  g_free (cfg_path);
  g_free (labels);
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
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("yoloswitch-nn-files-XXXXXX", NULL);
  g_test_add_func ("/nn-files/weights", test_weights_files);
  g_test_add_func ("/nn-files/batchnorm-layer", test_batchnorm_layer);
  g_test_add_func ("/nn-files/last-layer-detects", test_last_layer_detects);
  g_test_add_func ("/nn-files/nan-weights", test_nan_weights);
  ret = g_test_run ();
  remove_tmp_dir ();
  g_free (tmp_dir);
  return ret;
}
