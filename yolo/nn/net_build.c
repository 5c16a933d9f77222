/* Building a network from a checked cfg: the layers and their parameters,
 * how each runs (chosen here, once), the weights, the memory plan, the
 * im2col workspace and the thread pool. */
#include "net_internal.h"

#include "status.h"

#include <stdlib.h>
#include <string.h>

size_t
nn_conv_workspace (const NnLayer *l)
{
  if (l->impl != &nn_impl_conv_gemm)
    return 0;
  return (size_t) l->p.in_c / l->p.groups * l->p.size * l->p.size * l->p.out_h
      * l->p.out_w;
}

/* The one place that decides how a layer runs.  The packed kernels will be
 * chosen here too, by shape and by what the CPU can do. */
void
nn_layer_choose (NnLayer *l)
{
  const CfgLayer *p = &l->p;

  switch (p->type) {
    case CFG_LAYER_CONVOLUTIONAL:
      if (p->groups == p->in_c && p->groups == p->filters)
        l->impl = &nn_impl_conv_depthwise;
      else if (p->size == 1 && p->stride == 1 && p->padding == 0)
        l->impl = &nn_impl_conv_1x1;
      else
        l->impl = &nn_impl_conv_gemm;
      break;
    case CFG_LAYER_CONNECTED: l->impl = &nn_impl_connected; break;
    case CFG_LAYER_MAXPOOL: l->impl = &nn_impl_maxpool; break;
    case CFG_LAYER_AVGPOOL: l->impl = &nn_impl_avgpool; break;
    case CFG_LAYER_ROUTE: l->impl = &nn_impl_route; break;
    case CFG_LAYER_SHORTCUT: l->impl = &nn_impl_shortcut; break;
    case CFG_LAYER_UPSAMPLE: l->impl = &nn_impl_upsample; break;
    case CFG_LAYER_REORG: l->impl = &nn_impl_reorg; break;
    /* The checker accepts [softmax] only as the last layer and wants a
     * detection layer there: kept for when it runs softmax heads. */
    case CFG_LAYER_SOFTMAX: l->impl = &nn_impl_softmax; break;
    case CFG_LAYER_YOLO: l->impl = &nn_impl_yolo; break;
    case CFG_LAYER_REGION: l->impl = &nn_impl_region; break;
    case CFG_LAYER_BATCHNORM: l->impl = &nn_impl_batchnorm; break;
    /* Identity at inference; Darknet shares the input's buffer, we copy
     * (dropout is rare and small in detectors). */
    case CFG_LAYER_DROPOUT: l->impl = &nn_impl_copy; break;
  }
}

static void *
dup_array (const void *p, size_t bytes, bool *ok)
{
  void *q;

  if (p == NULL)
    return NULL;
  q = malloc (bytes);
  if (q == NULL)
    *ok = false;
  else
    memcpy (q, p, bytes);
  return q;
}

static bool
copy_layers (NnNet *net, const CfgNetwork *cfg)
{
  bool ok = true;

  for (int i = 0; i < cfg->layer_count && ok; i++) {
    NnLayer *l = &net->layers[i];
    const CfgLayer *c = &cfg->layers[i];
    l->p = *c;
    l->p.refs = dup_array (c->refs, sizeof (int) * (size_t) c->ref_count, &ok);
    l->p.mask = dup_array (c->mask, sizeof (int) * (size_t) c->mask_count, &ok);
    l->p.anchors
        = dup_array (c->anchors, sizeof (float) * 2 * (size_t) c->num, &ok);
    nn_layer_choose (l);
  }
  return ok;
}

static NnNet *
build (const CfgNetwork *cfg, const char *weights_path, YoloPool *pool,
    int threads, bool keep_outputs, YoloStatus *status)
{
  NnNet *net = calloc (1, sizeof (*net));

  if (net == NULL || cfg->layer_count < 1) {
    yolo_fail (status, YOLO_ERR_LOAD,
        net == NULL ? "Out of memory" : "The cfg has no layers.");
    free (net);
    return NULL;
  }
  net->owns_pool = pool == NULL;
  net->pool = pool != NULL ? pool : yolo_pool_new (threads > 0 ? threads : 1);
  net->width = cfg->width;
  net->height = cfg->height;
  net->channels = cfg->channels;
  net->classes = cfg->classes;
  net->keep_outputs = keep_outputs;
  net->layer_count = cfg->layer_count;
  net->layers = calloc ((size_t) cfg->layer_count, sizeof (NnLayer));
  if (net->layers == NULL || net->pool == NULL || !copy_layers (net, cfg)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory building the network");
    goto fail;
  }
  if (!nn_weights_load (net, cfg, weights_path, status)
      || !nn_plan_build (net, status))
    goto fail;
  for (int i = 0; i < net->layer_count; i++) {
    size_t need = nn_conv_workspace (&net->layers[i]);
    if (need > net->workspace_floats)
      net->workspace_floats = need;
  }
  if (net->workspace_floats > 0) {
    net->workspace = malloc (sizeof (float) * net->workspace_floats);
    if (net->workspace == NULL) {
      yolo_fail (status, YOLO_ERR_LOAD,
          "Out of memory: convolutions need %zu bytes of workspace.",
          sizeof (float) * net->workspace_floats);
      goto fail;
    }
  }
  yolo_status_ok (status);
  return net;

fail:
  nn_net_free (net);
  return NULL;
}

NnNet *
nn_net_new (const CfgNetwork *cfg, const char *weights_path, int threads,
    bool keep_outputs, YoloStatus *status)
{
  return build (cfg, weights_path, NULL, threads, keep_outputs, status);
}

NnNet *
nn_net_new_pooled (const CfgNetwork *cfg, const char *weights_path,
    YoloPool *pool, bool keep_outputs, YoloStatus *status)
{
  return build (cfg, weights_path, pool, 0, keep_outputs, status);
}

void
nn_net_free (NnNet *net)
{
  if (net == NULL)
    return;
  for (int i = 0; net->layers != NULL && i < net->layer_count; i++) {
    NnLayer *l = &net->layers[i];
    free (l->weights);
    free (l->bias);
    free (l->p.refs);
    free (l->p.mask);
    free (l->p.anchors);
  }
  free (net->layers);
  if (net->pool != NULL && net->owns_pool)
    yolo_pool_free (net->pool);
  free (net->arena);
  free (net->workspace);
  free (net->slot_owner);
  free (net->computed);
  free (net->dets);
  free (net->probs);
  free (net->candidates);
  free (net);
}

int
nn_net_layer_count (const NnNet *net)
{
  return net->layer_count;
}

void
nn_net_bytes (const NnNet *net, NnNetBytes *bytes)
{
  size_t kept = 0;

  for (int i = 0; i < net->layer_count; i++) {
    const NnLayer *l = &net->layers[i];
    if (l->weights == NULL)
      continue;
    switch (l->p.type) {
      case CFG_LAYER_CONVOLUTIONAL:
        kept += (size_t) l->p.filters
            * ((size_t) l->p.in_c / l->p.groups * l->p.size * l->p.size + 1);
        break;
      case CFG_LAYER_CONNECTED:
        kept += (size_t) l->p.out_c * (nn_layer_inputs (l) + 1);
        break;
      default: kept += 2 * (size_t) l->p.in_c; break;
    }
  }
  bytes->weight_bytes = sizeof (float) * kept;
  bytes->arena_bytes = sizeof (float) * net->arena_floats;
  bytes->outputs_bytes = sizeof (float) * net->outputs_floats;
  bytes->workspace_bytes = sizeof (float) * net->workspace_floats;
}

const char *
nn_net_layer_impl (const NnNet *net, int layer)
{
  if (layer < 0 || layer >= net->layer_count)
    return NULL;
  return net->layers[layer].impl->name;
}
