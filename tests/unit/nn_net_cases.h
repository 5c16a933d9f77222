/* The cases test_nn_net.c and test_nn_net_ranges.c run yolo/nn on:
 * every shipped model, yolov3-tiny / yolov2-tiny with random weights and
 * the synthetic cfgs of nn_net_zoo.c, each opened with stock Darknet as the
 * reference, and the kernels tables to run them with (every one this CPU
 * runs, best first, then NULL: the plain-C path). */
#ifndef YOLOSWITCH_TEST_NN_NET_CASES_H
#define YOLOSWITCH_TEST_NN_NET_CASES_H

#include <glib.h>

#include "cfg.h"
#include "net.h"
#include "nn_net_zoo.h"
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

typedef struct {
  YoloModel *ref; /* stock Darknet */
  CfgNetwork cfg;
  gchar *weights;
  const char **labels;
} Opened;

/* Filled by nn_cases_setup(): cases[0] is yolo-fastest-1.1, cases[7]
 * yolov3-tiny, cases[9] zoo-region. */
extern Case cases[16];
extern int case_count;
extern const NnKernels *isas[8];
extern int isa_count;
extern TestImage *images[2]; /* dog.jpg, person.jpg */

void nn_cases_setup (void);
void nn_cases_teardown (void);

const char *case_name (const Case *c);
void open_case (const Case *c, Opened *o);
void close_case (Opened *o);
/* A net on the given kernels (NULL: plain C), on pool when not NULL. */
NnNet *new_net_on (const Opened *o, const NnKernels *k, int threads,
    YoloPool *pool, gboolean keep);
/* On the best table. */
NnNet *new_net (const Opened *o, int threads, gboolean keep);
const char *isa_name (const NnKernels *k);
/* How many layers run packed. */
int packed_layers (const NnNet *net);
void options_for (const Case *c, YoloInferOptions *options);
void assert_same_detections (const YoloDetections *a, const YoloDetections *b,
    float threshold, const char *what);
void assert_identical_detections (const YoloDetections *a,
    const YoloDetections *b);

#endif
