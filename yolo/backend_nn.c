/* The fast engine's backend: our own network (yolo/nn/net.h) in-process,
 * no libdarknet, no BLAS, nothing loaded at run time.
 *
 * The backend owns the model's thread pool and hands it to the network
 * (nn_net_new_pooled), so the `threads` setting is per model.  Layers run
 * one nn_net_forward() call each, so that each layer's time goes to its
 * kind in the profile; a call costs a few checks.  Layer outputs live in
 * the network's planned arena: unless keep_outputs, an output's memory is
 * reused once nothing later reads it, which the plan never does to what a
 * run's later layers or box decoding still read (the handover's tensors). */
#include "backend.h"

#include "net.h"
#include "status.h"
#include "threadpool.h"

#include <stdlib.h>
#include <string.h>

struct YoloBackendModel {
  NnNet *net;
  YoloPool *pool;
  int layer_count;
  YoloProfileKind *kinds; /* per layer: the profile bucket its time goes to */
};

/* The bucket of a layer, as the Darknet engine's engine_profile_kind() does
 * it from Darknet's layer, so both engines' profiles compare kind for kind;
 * where the network chose an implementation that names a bucket (a 1x1
 * convolution with padding runs as conv_gemm), its choice counts. */
static YoloProfileKind
profile_kind (const CfgLayer *l, const char *impl)
{
  YoloProfileKind kind;

  switch (l->type) {
    case CFG_LAYER_CONVOLUTIONAL:
      if (l->groups > 1 && !(l->groups == l->in_c && l->filters == l->in_c))
        return YOLO_PROFILE_CONV_GROUPED;
      if (l->groups > 1)
        kind = YOLO_PROFILE_CONV_DEPTHWISE;
      else if (l->size == 1 && l->stride == 1)
        kind = YOLO_PROFILE_CONV_1X1;
      else
        kind = YOLO_PROFILE_CONV_GEMM;
      break;
    case CFG_LAYER_MAXPOOL: return YOLO_PROFILE_MAXPOOL;
    case CFG_LAYER_ROUTE: return YOLO_PROFILE_ROUTE;
    case CFG_LAYER_SHORTCUT: return YOLO_PROFILE_SHORTCUT;
    case CFG_LAYER_UPSAMPLE: return YOLO_PROFILE_UPSAMPLE;
    case CFG_LAYER_YOLO:
    case CFG_LAYER_REGION: return YOLO_PROFILE_DETECTION;
    default: return YOLO_PROFILE_OTHER;
  }
  for (int k = YOLO_PROFILE_CONV_1X1; k <= YOLO_PROFILE_CONV_DEPTHWISE; k++)
    if (impl != NULL && strcmp (impl, yolo_profile_kind_name (k)) == 0)
      return (YoloProfileKind) k;
  return kind;
}

static void nn_backend_free (YoloBackendModel *b);

static YoloBackendModel *
nn_backend_open (const YoloModelFiles *files, const CfgNetwork *cfg,
    YoloEngine engine, int threads, bool keep_outputs, YoloStatus *status)
{
  YoloBackendModel *b = calloc (1, sizeof (*b));

  (void) engine; /* one variant: model.c gives this backend "fast" only */
  if (b == NULL)
    goto oom;
  b->layer_count = cfg->layer_count;
  b->kinds = calloc ((size_t) cfg->layer_count, sizeof (YoloProfileKind));
  b->pool = yolo_pool_new (threads);
  if (b->kinds == NULL || b->pool == NULL)
    goto oom;
  b->net = nn_net_new_pooled (cfg, files->weights_path, b->pool, keep_outputs,
      status);
  if (b->net == NULL)
    goto fail;
  for (int i = 0; i < cfg->layer_count; i++)
    b->kinds[i] = profile_kind (&cfg->layers[i], nn_net_layer_impl (b->net, i));
  return b;

oom:
  yolo_fail (status, YOLO_ERR_LOAD, "Out of memory opening model \"%s\".",
      files->name);
fail:
  nn_backend_free (b);
  return NULL;
}

static void
nn_backend_free (YoloBackendModel *b)
{
  if (b == NULL)
    return;
  /* The net runs on the pool: it goes first. */
  nn_net_free (b->net);
  if (b->pool != NULL)
    yolo_pool_free (b->pool);
  free (b->kinds);
  free (b);
}

static bool
nn_backend_forward (YoloBackendModel *b, int from, int to, const float *input,
    YoloProfile *profile, YoloStatus *status)
{
  for (int i = from; i < to; i++) {
    double t0 = yolo_now_ms ();

    if (!nn_net_forward (b->net, i, i + 1, i == from ? input : NULL, status))
      return false;
    if (profile != NULL) {
      profile->ms[b->kinds[i]] += yolo_now_ms () - t0;
      profile->layers[b->kinds[i]]++;
    }
  }
  return true;
}

static const float *
nn_backend_layer_output (YoloBackendModel *b, int layer)
{
  NnTensorView view;

  return nn_net_output (b->net, layer, &view) ? view.data : NULL;
}

static bool
nn_backend_set_layer_output (YoloBackendModel *b, int layer, const float *data)
{
  return nn_net_set_output (b->net, layer, data);
}

static bool
nn_backend_decode (YoloBackendModel *b, const YoloDecodeRequest *request,
    YoloDetections *out, YoloStatus *status)
{
  return nn_net_boxes (b->net, request->source_width, request->source_height,
      request->letterbox, request->options->threshold, request->options->nms,
      request->labels, out, status);
}

static const YoloBackendOps nn_ops = {
  .abi = YOLO_BACKEND_ABI,
  .name = "fast",
  .open = nn_backend_open,
  .forward = nn_backend_forward,
  .layer_output = nn_backend_layer_output,
  .set_layer_output = nn_backend_set_layer_output,
  .decode = nn_backend_decode,
  .free = nn_backend_free,
};

const YoloBackendOps *
yolo_backend_nn (void)
{
  return &nn_ops;
}
