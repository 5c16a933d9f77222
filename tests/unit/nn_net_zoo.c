#include "nn_net_zoo.h"

#include <math.h>
#include <stdio.h>

#include "cfg.h"

/* Region with softmax, grouped and depthwise convolutions, shortcut with
 * alpha, beta and an activation, dropout, negative upsample,
 * reorg both ways, a route naming one layer twice, maxpool's default
 * padding. */
static const char zoo_region[]
    = "[net]\nwidth=64\nheight=64\nchannels=3\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"
      "batch_normalize=1\nactivation=leaky\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
      "groups=2\nactivation=elu\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"
      "groups=8\nbatch_normalize=1\nactivation=relu\n"
      "[shortcut]\nfrom=-2\nalpha=0.5\nbeta=2\nactivation=tanh\n"
      "[dropout]\nprobability=.5\n"
      "[upsample]\nstride=-2\nscale=0.25\n"
      "[reorg]\nstride=2\n"
      "[route]\nlayers=-1,-1\n"
      "[reorg]\nstride=2\nreverse=1\n"
      "[maxpool]\nsize=3\nstride=2\n"
      "[convolutional]\nfilters=35\nsize=1\nactivation=linear\n"
      "[region]\nanchors=0.5,0.8, 1.2,1.5, 2,2.5, 3.1,2.2, "
      "4,4.4\nclasses=2\nnum=5\ncoords=4\nsoftmax=1\n";

/* Every other activation (the first convolution takes Darknet's default,
 * logistic), positive upsample, route, two yolo layers one of them after
 * avgpool and a connected layer with batch-norm. */
static const char zoo_yolo[]
    = "[net]\nwidth=32\nheight=32\nchannels=3\n"
      "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=loggy\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=selu\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=relie\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=plse\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=hardtan\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=lhtan\n"
      "[convolutional]\nfilters=4\nsize=1\nactivation=ramp\n"
      "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=stair\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[upsample]\nstride=2\n"
      "[route]\nlayers=-1,8\n"
      "[convolutional]\nfilters=16\nsize=1\nactivation=linear\n"
      "[yolo]\nmask=0,1\nanchors=10,14, 23,27, 37,58\nclasses=3\nnum=3\n"
      "[route]\nlayers=11\n"
      "[avgpool]\n"
      "[connected]\noutput=8\nbatch_normalize=1\nactivation=linear\n"
      "[yolo]\nmask=2\nanchors=10,14, 23,27, 37,58\nclasses=3\nnum=3\n";

/* Region with background: its softmax spans the objectness slot. */
static const char zoo_background[]
    = "[net]\nwidth=32\nheight=32\nchannels=3\n"
      "[convolutional]\nfilters=12\nsize=3\nstride=2\npad=1\n"
      "activation=leaky\n"
      "[region]\nanchors=1,1, 2,3\nclasses=1\nnum=2\ncoords=4\n"
      "softmax=1\nbackground=1\n";

/* Stock Darknet crashes on a [batchnorm] layer (its forward copies into
 * an l.x it never allocates): this one is checked against the formula
 * alone, not against Darknet. */
static const char zoo_batchnorm[]
    = "[net]\nwidth=32\nheight=32\nchannels=3\n"
      "[convolutional]\nfilters=6\nsize=3\nstride=2\npad=1\n"
      "activation=leaky\n"
      "[batchnorm]\n"
      "[region]\nclasses=1\nnum=1\n";

const ZooCfg nn_zoo_batchnorm = { "zoo-batchnorm", zoo_batchnorm, 1, 0.3f };

const ZooCfg nn_zoo[] = {
  { "zoo-region", zoo_region, 2, 0.3f },
  { "zoo-yolo", zoo_yolo, 3, 0.2f },
  { "zoo-background", zoo_background, 1, 0.3f },
};
const int nn_zoo_count = G_N_ELEMENTS (nn_zoo);

void
nn_zoo_write (const ZooCfg *z, const char *dir, gchar **cfg_path,
    gchar **labels_path)
{
  GString *names = g_string_new (NULL);

  *cfg_path = g_strdup_printf ("%s/%s.cfg", dir, z->name);
  *labels_path = g_strdup_printf ("%s/%s.names", dir, z->name);
  g_assert_true (g_file_set_contents (*cfg_path, z->text, -1, NULL));
  for (int i = 0; i < z->classes; i++)
    g_string_append_printf (names, "class%d\n", i);
  g_assert_true (g_file_set_contents (*labels_path, names->str, -1, NULL));
  g_string_free (names, TRUE);
}

static void
put_range (FILE *f, GRand *rand, size_t n, double lo, double hi)
{
  for (size_t i = 0; i < n; i++) {
    float v = (float) g_rand_double_range (rand, lo, hi);
    fwrite (&v, sizeof (v), 1, f);
  }
}

static void
put_bn (FILE *f, GRand *rand, size_t n)
{
  put_range (f, rand, n, 0.5, 1.5); /* scales */
  put_range (f, rand, n, -0.1, 0.1); /* means */
  put_range (f, rand, n, 0.5, 1.5); /* variances */
}

void
nn_zoo_write_weights (const char *cfg_path, const char *weights_path, int major,
    int minor, guint32 seed)
{
  CfgNetwork net;
  YoloStatus status;
  GRand *rand = g_rand_new_with_seed (seed);
  gint32 version[3] = { major, minor, 0 };
  gboolean long_seen = major * 10 + minor >= 2 && major < 1000 && minor < 1000;
  guint64 seen = 0;
  FILE *f;

  if (!cfg_network_load (cfg_path, &net, &status))
    g_error ("%s", status.message);
  f = fopen (weights_path, "wb");
  g_assert_nonnull (f);
  fwrite (version, sizeof (gint32), 3, f);
  fwrite (&seen, long_seen ? 8 : 4, 1, f);
  for (int i = 0; i < net.layer_count; i++) {
    const CfgLayer *l = &net.layers[i];
    if (l->type == CFG_LAYER_CONVOLUTIONAL) {
      size_t per = (size_t) l->in_c / l->groups * l->size * l->size;
      double bound = sqrt (3.0 / per);
      put_range (f, rand, (size_t) l->filters, -0.1, 0.1);
      if (l->batch_normalize)
        put_bn (f, rand, (size_t) l->filters);
      put_range (f, rand, per * l->filters, -bound, bound);
    } else if (l->type == CFG_LAYER_CONNECTED) {
      size_t in = (size_t) l->in_c * l->in_h * l->in_w;
      /* Transposed or not, random values are random: the layout only
       * matters in that both engines must read the same file alike. */
      put_range (f, rand, (size_t) l->out_c, -0.1, 0.1);
      put_range (f, rand, in * l->out_c, -sqrt (3.0 / in), sqrt (3.0 / in));
      if (l->batch_normalize)
        put_bn (f, rand, (size_t) l->out_c);
    } else if (l->type == CFG_LAYER_BATCHNORM) {
      put_bn (f, rand, (size_t) l->in_c);
    }
  }
  fclose (f);
  cfg_network_clear (&net);
  g_rand_free (rand);
}
