#include "random_weights.h"

#include <math.h>
#include <stdio.h>

#include "cfg.h"

static void
put (FILE *f, float v)
{
  fwrite (&v, sizeof (v), 1, f);
}

gboolean
test_write_random_weights (const char *cfg_path, const char *weights_path,
    guint32 seed)
{
  CfgNetwork net;
  YoloStatus status;
  GRand *rand = g_rand_new_with_seed (seed);
  FILE *f;
  gint32 version[3] = { 0, 2, 0 };
  guint64 seen = 0;

  if (!cfg_network_load (cfg_path, &net, &status)) {
    g_printerr ("%s\n", status.message);
    g_rand_free (rand);
    return FALSE;
  }
  f = fopen (weights_path, "wb");
  g_assert_nonnull (f);
  fwrite (version, sizeof (gint32), 3, f);
  fwrite (&seen, sizeof (seen), 1, f);
  for (int i = 0; i < net.layer_count; i++) {
    const CfgLayer *l = &net.layers[i];
    size_t kernel;
    double bound;
    if (l->weight_floats == 0)
      continue;
    g_assert_cmpint (l->type, ==, CFG_LAYER_CONVOLUTIONAL);
    kernel
        = l->weight_floats - (size_t) l->filters * (l->batch_normalize ? 4 : 1);
    bound = sqrt (3.0 / ((double) kernel / l->filters));
    for (int k = 0; k < l->filters; k++)
      put (f, g_rand_double_range (rand, -0.1, 0.1)); /* biases */
    if (l->batch_normalize) {
      for (int k = 0; k < l->filters; k++)
        put (f, g_rand_double_range (rand, 0.5, 1.5)); /* scales */
      for (int k = 0; k < l->filters; k++)
        put (f, g_rand_double_range (rand, -0.1, 0.1)); /* means */
      for (int k = 0; k < l->filters; k++)
        put (f, g_rand_double_range (rand, 0.5, 1.5)); /* variances */
    }
    for (size_t k = 0; k < kernel; k++)
      put (f, g_rand_double_range (rand, -bound, bound));
  }
  fclose (f);
  cfg_network_clear (&net);
  g_rand_free (rand);
  return TRUE;
}
