/* The reference engine: Darknet's own forward functions, one layer at a
 * time, so a range of layers can run and be timed per layer. */
#include "engine.h"

int
engine_profile_kind (const layer *l)
{
  switch (l->type) {
    case CONVOLUTIONAL:
      if (l->groups > 1)
        return l->groups == l->c && l->n == l->c ? YOLO_PROFILE_CONV_DEPTHWISE
                                                 : YOLO_PROFILE_CONV_GROUPED;
      return l->size == 1 && l->stride == 1 ? YOLO_PROFILE_CONV_1X1
                                            : YOLO_PROFILE_CONV_GEMM;
    case MAXPOOL: return YOLO_PROFILE_MAXPOOL;
    case ROUTE: return YOLO_PROFILE_ROUTE;
    case SHORTCUT: return YOLO_PROFILE_SHORTCUT;
    case UPSAMPLE: return YOLO_PROFILE_UPSAMPLE;
    case YOLO:
    case REGION: return YOLO_PROFILE_DETECTION;
    default: return YOLO_PROFILE_OTHER;
  }
}

void
darknet_forward_range (network *net, int from, int to, YoloProfile *profile)
{
  /* What network_predict() sets before forward_network(). */
  net->train = 0;
  net->truth = 0;
  net->delta = 0;
  for (int i = from; i < to; i++) {
    layer *l = &net->layers[i];
    double t0 = yolo_now_ms ();

    net->index = i;
    l->forward (*l, *net);
    net->input = l->output;
    if (profile != NULL) {
      int kind = engine_profile_kind (l);
      profile->ms[kind] += yolo_now_ms () - t0;
      profile->layers[kind]++;
    }
  }
}
