/* Small synthetic cfgs for test_nn_net.c that reach every layer type and
 * activation the shipped models do not (connected, batchnorm, dropout,
 * reorg both ways, negative upsample, shortcut alpha/beta, avgpool,
 * region softmax and background), with random weights in any header
 * version. */
#ifndef YOLOSWITCH_TEST_NN_NET_ZOO_H
#define YOLOSWITCH_TEST_NN_NET_ZOO_H

#include <glib.h>

typedef struct {
  const char *name;
  const char *text; /* the cfg */
  int classes;
  float threshold; /* random weights: just under their scores */
} ZooCfg;

extern const ZooCfg nn_zoo[];
extern const int nn_zoo_count;
/* Not comparable with Darknet, which crashes on it. */
extern const ZooCfg nn_zoo_batchnorm;

/* Writes dir/<name>.cfg and dir/<name>.names; the paths are returned. */
void nn_zoo_write (const ZooCfg *z, const char *dir, gchar **cfg_path,
    gchar **labels_path);

/* Random, fan-in-scaled weights for any cfg (convolutional, connected and
 * batchnorm layers) with the given header; a major or minor above 1000
 * stores connected weights transposed, as Darknet then expects. */
void nn_zoo_write_weights (const char *cfg_path, const char *weights_path,
    int major, int minor, guint32 seed);

#endif
