/* Packed execution: the layers the kernels (kernels.h) cover run on NCHWc
 * tensors in the arena, and their outputs stay packed for the next such
 * layer.  Decided once at load, in layer order:
 *
 *   convolutional  packed when a kernel fits (groups 1 or depthwise) and
 *                  the activation is fused (linear, leaky, relu, logistic)
 *   maxpool, upsample (not reversed), dropout
 *                  packed when their input is
 *   shortcut       packed when both inputs are, with the same channels
 *   route          packed when every layer it names is
 *
 * Everything else (reorg, avgpool, connected, softmax, batchnorm, other
 * groups, unfused activations, yolo and region for box decoding) stays in
 * plain C on NCHW: nn_net_forward() unpacks such a layer's input, a packed
 * convolution packs an NCHW input (the first layer's planar input goes to
 * conv_direct as it is: pack 1).
 *
 * Threads: each op is split into tasks over output rows x blocks, more
 * tasks than threads (the pool hands them out as threads come free, so a
 * thread another process preempts holds up one small task, not half the
 * layer).  The kernels compute each output the same way whatever the
 * slicing, so any thread count gives the same bits. */
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

/* Tasks per thread, and the least work (multiply-adds, or cells read) that
 * makes a task worth handing out (a pool hand-out costs about a lock). */
#define TASKS_PER_THREAD 4
#define MIN_TASK_WORK 16384.0

typedef struct {
  NnConv conv;
  NnConvFn fn;
  float *weights; /* conv_pack's output */
  size_t floats;
} NnPackedConv;

/* The activations the kernels fuse into their stores. */
static bool
fused_act (CfgActivation a, NnAct *act)
{
  switch (a) {
    case CFG_ACT_LINEAR: *act = NN_ACT_LINEAR; return true;
    case CFG_ACT_LEAKY: *act = NN_ACT_LEAKY; return true;
    case CFG_ACT_RELU: *act = NN_ACT_RELU; return true;
    case CFG_ACT_LOGISTIC: *act = NN_ACT_LOGISTIC; return true;
    default: return false;
  }
}

/* The kernels' description of a conv layer; NULL fn when none fits. */
static NnConvFn
conv_of (const NnNet *net, const NnLayer *l, NnConv *c)
{
  const CfgLayer *p = &l->p;

  memset (c, 0, sizeof *c);
  c->cin = p->in_c;
  c->cout = p->filters;
  c->k = p->size;
  c->stride = p->stride;
  c->pad = p->padding;
  c->groups = p->groups;
  if (!fused_act (p->activation, &c->act))
    return NULL;
  return nn_conv_fn (net->kernels, c);
}

static bool
is_packed (const NnNet *net, int layer)
{
  return layer >= 0 && net->layers[layer].packed;
}

static void run_conv_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);
static void run_maxpool_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);
static void run_upsample_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);
static void run_shortcut_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);
static void run_route_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);
static void run_copy_packed (NnNet *net, const NnLayer *l, const float *in,
    float *out);

static const NnImpl conv_packed = { "conv_packed", run_conv_packed };
static const NnImpl conv1x1_packed = { "conv1x1_packed", run_conv_packed };
static const NnImpl depthwise_packed = { "depthwise_packed", run_conv_packed };
static const NnImpl maxpool_packed = { "maxpool_packed", run_maxpool_packed };
static const NnImpl upsample_packed
    = { "upsample_packed", run_upsample_packed };
static const NnImpl shortcut_packed
    = { "shortcut_packed", run_shortcut_packed };
static const NnImpl route_packed = { "route_packed", run_route_packed };
static const NnImpl copy_packed = { "copy_packed", run_copy_packed };

static const NnImpl *
choose (const NnNet *net, int i)
{
  const NnLayer *l = &net->layers[i];
  const CfgLayer *p = &l->p;
  bool prev = is_packed (net, i - 1);
  NnConv c;
  NnConvFn fn;
  NnAct act;

  switch (p->type) {
    case CFG_LAYER_CONVOLUTIONAL:
      fn = conv_of (net, l, &c);
      if (fn == NULL)
        return NULL;
      if (fn == net->kernels->conv1x1)
        return &conv1x1_packed;
      return fn == net->kernels->depthwise ? &depthwise_packed : &conv_packed;
    case CFG_LAYER_MAXPOOL: return prev ? &maxpool_packed : NULL;
    case CFG_LAYER_UPSAMPLE:
      return prev && !p->reverse && p->stride > 0 ? &upsample_packed : NULL;
    case CFG_LAYER_DROPOUT: return prev ? &copy_packed : NULL;
    case CFG_LAYER_SHORTCUT: {
      const CfgLayer *f = &net->layers[p->from].p;
      if (!prev || !is_packed (net, p->from) || f->out_c != p->out_c
          || f->out_h != p->out_h || f->out_w != p->out_w
          || !fused_act (p->activation, &act))
        return NULL;
      return &shortcut_packed;
    }
    case CFG_LAYER_ROUTE:
      for (int r = 0; r < p->ref_count; r++)
        if (!is_packed (net, p->refs[r]))
          return NULL;
      return &route_packed;
    default: return NULL;
  }
}

void
nn_packed_choose (NnNet *net)
{
  for (int i = 0; net->kernels != NULL && i < net->layer_count; i++) {
    const NnImpl *impl = choose (net, i);
    if (impl != NULL) {
      net->layers[i].impl = impl;
      net->layers[i].packed = true;
    }
  }
}

bool
nn_packed_weights (NnNet *net)
{
  const NnKernels *k = net->kernels;

  for (int i = 0; k != NULL && i < net->layer_count; i++) {
    NnLayer *l = &net->layers[i];
    NnPackedConv *pc;
    if (!l->packed || l->p.type != CFG_LAYER_CONVOLUTIONAL)
      continue;
    pc = calloc (1, sizeof (*pc));
    if (pc == NULL)
      return false;
    l->impl_state = pc;
    pc->fn = conv_of (net, l, &pc->conv);
    pc->floats = k->conv_packed_floats (&pc->conv);
    pc->weights = nn_alloc_floats (pc->floats);
    if (pc->weights == NULL)
      return false;
    k->conv_pack (&pc->conv, l->weights, l->bias, pc->weights);
    /* What runs packed keeps no NCHW copy. */
    free (l->weights);
    free (l->bias);
    l->weights = l->bias = NULL;
  }
  return true;
}

void
nn_packed_free (NnLayer *l)
{
  NnPackedConv *pc = l->impl_state;

  if (pc == NULL)
    return;
  nn_free (pc->weights);
  free (pc);
  l->impl_state = NULL;
}

size_t
nn_packed_weight_floats (const NnLayer *l)
{
  const NnPackedConv *pc = l->impl_state;

  return pc != NULL ? pc->floats : 0;
}

NnTensor
nn_layer_tensor (const NnNet *net, int layer)
{
  const NnLayer *l = &net->layers[layer];
  int pack = l->packed ? net->kernels->pack : 1;
  NnTensor t = {
    .c = l->p.out_c,
    .h = l->p.out_h,
    .w = l->p.out_w,
    .pack = pack,
    .blocks = (l->p.out_c + pack - 1) / pack,
    .data = net->arena + l->offset,
  };

  return t;
}

static size_t
max_size (size_t a, size_t b)
{
  return a > b ? a : b;
}

void
nn_packed_scratch_sizes (NnNet *net)
{
  for (int i = 0; net->kernels != NULL && i < net->layer_count; i++) {
    const NnLayer *l = &net->layers[i];
    const NnPackedConv *pc = l->impl_state;
    bool prev = is_packed (net, i - 1);
    if (!l->packed) {
      if (prev && l->p.type != CFG_LAYER_ROUTE && !nn_unpacks_in_place (l))
        net->unpack_a_floats = max_size (net->unpack_a_floats,
            nn_layer_outputs (&net->layers[i - 1]));
      if (l->p.type == CFG_LAYER_SHORTCUT && is_packed (net, l->p.from))
        net->unpack_b_floats = max_size (net->unpack_b_floats,
            nn_layer_outputs (&net->layers[l->p.from]));
    } else if (pc != NULL && !prev && pc->fn != net->kernels->conv_direct) {
      net->pack_in_floats = max_size (net->pack_in_floats,
          nn_tensor_floats (l->p.in_c, l->p.in_h, l->p.in_w,
              net->kernels->pack));
    }
  }
}

const float *
nn_nchw_of (NnNet *net, int layer, float *scratch)
{
  NnTensor t;

  if (!net->layers[layer].packed)
    return nn_output_of (net, layer);
  t = nn_layer_tensor (net, layer);
  nn_unpack_nchw (&t, scratch);
  return scratch;
}

typedef enum { OP_CONV, OP_MAXPOOL, OP_UPSAMPLE, OP_SHORTCUT } Op;

typedef struct {
  Op op;
  const NnLayer *l;
  const NnKernels *k;
  NnTensor in, in2, out;
  NnAct act;
  int rgroups, bgroups;
} Job;

/* Pool threads: rows and blocks of one task.  Block slices are whole
 * pairs of blocks, the AVX-512 build's convolution columns: a column cut
 * by a slice would be computed twice. */
static void
task (void *ctx, int t, int count)
{
  const Job *j = ctx;
  const CfgLayer *p = &j->l->p;
  int b0, b1, y0, y1;

  yolo_pool_split (j->out.blocks, t / j->rgroups, j->bgroups, 2, &b0, &b1);
  yolo_pool_split (j->out.h, t % j->rgroups, j->rgroups, 1, &y0, &y1);
  if (b0 >= b1 || y0 >= y1)
    return;
  switch (j->op) {
    case OP_CONV: {
      const NnPackedConv *pc = j->l->impl_state;
      pc->fn (&pc->conv, pc->weights, &j->in, (NnTensor *) &j->out, b0, b1, y0,
          y1);
      break;
    }
    case OP_MAXPOOL:
      j->k->maxpool (&j->in, (NnTensor *) &j->out, p->size, p->stride,
          p->padding, b0, b1, y0, y1);
      break;
    case OP_UPSAMPLE:
      j->k->upsample (&j->in, (NnTensor *) &j->out, p->stride, p->scale, b0, b1,
          y0, y1);
      break;
    case OP_SHORTCUT:
      j->k->shortcut (&j->in, &j->in2, p->alpha, p->beta, j->act,
          (NnTensor *) &j->out, b0, b1, y0, y1);
      break;
  }
}

/* Splits the job (work: its multiply-adds or cells read) into tasks and
 * runs them: one task on one thread, so a lone thread pays no split. */
static void
run_job (NnNet *net, Job *j, double work)
{
  int threads = yolo_pool_threads (net->pool);
  int want = threads * TASKS_PER_THREAD;
  int pairs = (j->out.blocks + 1) / 2;

  if (threads <= 1 || work / MIN_TASK_WORK < want)
    want = threads <= 1 ? 1 : (int) (work / MIN_TASK_WORK);
  if (want < 1)
    want = 1;
  j->rgroups = want < j->out.h ? want : j->out.h;
  j->bgroups = (want + j->rgroups - 1) / j->rgroups;
  if (j->bgroups > pairs)
    j->bgroups = pairs;
  yolo_pool_run (net->pool, task, j, j->rgroups * j->bgroups);
}

static int
index_of (const NnNet *net, const NnLayer *l)
{
  return (int) (l - net->layers);
}

static double
out_cells (const NnTensor *t)
{
  return (double) t->blocks * t->h * t->w * t->pack;
}

static void
run_conv_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  const NnPackedConv *pc = l->impl_state;
  int i = index_of (net, l);
  Job j = { .op = OP_CONV, .l = l, .k = net->kernels };

  j.out = nn_layer_tensor (net, i);
  if (is_packed (net, i - 1)) {
    j.in = nn_layer_tensor (net, i - 1);
  } else {
    /* NCHW: the network input, or a plain layer's output. */
    j.in = (NnTensor){ .c = l->p.in_c,
      .h = l->p.in_h,
      .w = l->p.in_w,
      .pack = 1,
      .blocks = l->p.in_c,
      .data = (float *) in };
    if (pc->fn != net->kernels->conv_direct) {
      NnTensor packed = j.in;
      packed.pack = net->kernels->pack;
      packed.blocks = (packed.c + packed.pack - 1) / packed.pack;
      packed.data = net->pack_in;
      nn_pack_nchw (in, &packed);
      j.in = packed;
    }
  }
  run_job (net, &j,
      out_cells (&j.out) * (l->p.in_c / l->p.groups) * l->p.size * l->p.size);
}

static void
run_maxpool_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  int i = index_of (net, l);
  Job j = { .op = OP_MAXPOOL, .l = l, .k = net->kernels };

  j.in = nn_layer_tensor (net, i - 1);
  j.out = nn_layer_tensor (net, i);
  run_job (net, &j, out_cells (&j.out) * l->p.size * l->p.size);
}

static void
run_upsample_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  int i = index_of (net, l);
  Job j = { .op = OP_UPSAMPLE, .l = l, .k = net->kernels };

  j.in = nn_layer_tensor (net, i - 1);
  j.out = nn_layer_tensor (net, i);
  run_job (net, &j, out_cells (&j.out));
}

static void
run_shortcut_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  int i = index_of (net, l);
  Job j = { .op = OP_SHORTCUT, .l = l, .k = net->kernels };

  fused_act (l->p.activation, &j.act);
  j.in = nn_layer_tensor (net, i - 1);
  j.in2 = nn_layer_tensor (net, l->p.from);
  j.out = nn_layer_tensor (net, i);
  run_job (net, &j, out_cells (&j.out));
}

/* Whole blocks where a part starts on a block boundary (every shipped
 * model's routes), lane by lane otherwise; memory-bound, one thread. */
static void
run_route_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  NnTensor dst = nn_layer_tensor (net, index_of (net, l));
  int c0 = 0;

  for (int r = 0; r < l->p.ref_count; r++) {
    NnTensor src = nn_layer_tensor (net, l->p.refs[r]);
    nn_concat_channels (&dst, c0, &src);
    c0 += src.c;
  }
}

/* Dropout: identity at inference, nothing to do in place. */
static void
run_copy_packed (NnNet *net, const NnLayer *l, const float *in, float *out)
{
  if (out != in)
    memcpy (out, in, sizeof (float) * nn_layer_floats (net, l));
}
