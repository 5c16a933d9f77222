/* Building a network from a checked cfg: the layers and their parameters,
 * the kernels table, how each layer runs (chosen here, once), the weights,
 * the memory plan, the im2col workspace and conversion buffers, and the
 * thread pool. */
#include "net_internal.h"

#include "cpu.h"
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

/* How a layer runs in plain C; nn_packed_choose() then moves the layers
 * the kernels cover onto them. */
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

/* The table options ask for; false with status set when YOLOSWITCH_ISA
 * cannot be honoured.  "plain" there means none. */
static bool
pick_kernels (const NnNetOptions *o, const NnKernels **k, YoloStatus *status)
{
  const char *forced = getenv ("YOLOSWITCH_ISA");
  char err[256] = "";

  *k = NULL;
  if (o->kernels_given) {
    *k = o->kernels;
    return true;
  }
  if (forced != NULL && strcmp (forced, "plain") == 0)
    return true;
  *k = nn_kernels_select (err, sizeof err);
  if (*k == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD,
        "%s (YOLOSWITCH_ISA=plain runs without the kernels).", err);
  return true;
}

/* One buffer of n floats (NULL when n is 0); false when out of memory. */
static bool
alloc_scratch (float **p, size_t n)
{
  if (n == 0)
    return true;
  *p = nn_alloc_floats (n);
  return *p != NULL;
}

static bool
alloc_workspace (NnNet *net, YoloStatus *status)
{
  for (int i = 0; i < net->layer_count; i++) {
    size_t need = nn_conv_workspace (&net->layers[i]);
    if (need > net->workspace_floats)
      net->workspace_floats = need;
  }
  nn_packed_scratch_sizes (net);
  if (!alloc_scratch (&net->workspace, net->workspace_floats)
      || !alloc_scratch (&net->unpack_a, net->unpack_a_floats)
      || !alloc_scratch (&net->unpack_b, net->unpack_b_floats)
      || !alloc_scratch (&net->pack_in, net->pack_in_floats))
    return yolo_fail (status, YOLO_ERR_LOAD,
        "Out of memory: convolutions need %zu bytes of workspace.",
        sizeof (float)
            * (net->workspace_floats + net->unpack_a_floats
                + net->unpack_b_floats + net->pack_in_floats));
  return true;
}

void
nn_net_options_init (NnNetOptions *options)
{
  memset (options, 0, sizeof *options);
  options->threads = 1;
}

NnNet *
nn_net_new_with (const CfgNetwork *cfg, const char *weights_path,
    const NnNetOptions *o, YoloStatus *status)
{
  NnNet *net = calloc (1, sizeof (*net));
  const NnKernels *kernels;

  if (net == NULL || cfg->layer_count < 1) {
    yolo_fail (status, YOLO_ERR_LOAD,
        net == NULL ? "Out of memory" : "The cfg has no layers.");
    free (net);
    return NULL;
  }
  if (!pick_kernels (o, &kernels, status)) {
    free (net);
    return NULL;
  }
  net->kernels = kernels;
  net->owns_pool = o->pool == NULL;
  net->pool = o->pool != NULL ? o->pool
                              : yolo_pool_new (o->threads > 0 ? o->threads : 1);
  net->width = cfg->width;
  net->height = cfg->height;
  net->channels = cfg->channels;
  net->classes = cfg->classes;
  net->keep_outputs = o->keep_outputs;
  net->layer_count = cfg->layer_count;
  net->layers = calloc ((size_t) cfg->layer_count, sizeof (NnLayer));
  net->unpacked = calloc ((size_t) cfg->layer_count, sizeof (float *));
  if (net->layers == NULL || net->unpacked == NULL || net->pool == NULL
      || !copy_layers (net, cfg)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory building the network");
    goto fail;
  }
  nn_packed_choose (net);
  if (!nn_weights_load (net, cfg, weights_path, status))
    goto fail;
  if (!nn_packed_weights (net)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory packing the weights");
    goto fail;
  }
  if (!nn_plan_build (net, status) || !alloc_workspace (net, status))
    goto fail;
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
  NnNetOptions o;

  nn_net_options_init (&o);
  o.threads = threads;
  o.keep_outputs = keep_outputs;
  return nn_net_new_with (cfg, weights_path, &o, status);
}

NnNet *
nn_net_new_pooled (const CfgNetwork *cfg, const char *weights_path,
    YoloPool *pool, bool keep_outputs, YoloStatus *status)
{
  NnNetOptions o;

  nn_net_options_init (&o);
  o.pool = pool;
  o.keep_outputs = keep_outputs;
  return nn_net_new_with (cfg, weights_path, &o, status);
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
    nn_packed_free (l);
    if (net->unpacked != NULL)
      free (net->unpacked[i]);
  }
  free (net->layers);
  free (net->unpacked);
  nn_free (net->unpack_a);
  nn_free (net->unpack_b);
  nn_free (net->pack_in);
  if (net->pool != NULL && net->owns_pool)
    yolo_pool_free (net->pool);
  free (net->arena);
  nn_free (net->workspace);
  free (net->slot_owner);
  free (net->slot_offset);
  free (net->slot_size);
  free (net->slot_stamp);
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
    kept += nn_packed_weight_floats (l);
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
  bytes->workspace_bytes = sizeof (float)
      * (net->workspace_floats + net->unpack_a_floats + net->unpack_b_floats
          + net->pack_in_floats);
}

const char *
nn_net_layer_impl (const NnNet *net, int layer)
{
  if (layer < 0 || layer >= net->layer_count)
    return NULL;
  return net->layers[layer].impl->name;
}

const char *
nn_net_isa (const NnNet *net)
{
  return net->kernels != NULL ? net->kernels->name : "plain";
}
