/* Shape inference and range checks, one rule per layer type.  The rules
 * mirror pjreddie Darknet's parser.c and make_*_layer() (defaults, padding
 * formulas, weights layout) so that the sizes we compute are the sizes
 * Darknet will allocate and read; every integer is range-checked before any
 * arithmetic, and sizes are computed in 64 bits against CFG_MAX_* (cfg.h).
 *
 * Accepted ranges (docs/MODEL_FILES.md has the same table with the why):
 *
 *   section         key               default    accepted
 *   [net]           width, height     -          1..8192 (32..8192, x32, when overridden)
 *                   channels          -          3
 *   [convolutional] filters           1          1..65536
 *                   size              1          1..64
 *                   stride            1          1..64
 *                   pad               0          0..1 (1: padding = size/2)
 *                   padding           0          0..64
 *                   groups            1          1..65536, divides input and filters
 *                   batch_normalize   0          0..1
 *                   flipped           0          0
 *   [maxpool]       stride            1          1..64
 *                   size              stride     1..64
 *                   padding           size-1     0..64
 *   [route]         layers            -          1..32 entries, each -index..index-1
 *   [shortcut]      from              -          -index..index-1, same width and height
 *   [upsample]      stride            2          -64..-1, 1..64
 *   [connected]     output            1          1..65536
 *                   batch_normalize   0          0..1
 *   [reorg]         stride            1          1..64, stride^2 divides channels
 *                   reverse           0          0..1
 *                   flatten, extra    0          0
 *   [softmax]       groups            1          1..inputs, divides inputs; last layer only
 *   [dropout]       -                            not the first layer
 *   [yolo]          classes           20         1..10000
 *                   num               1          1..64
 *                   mask              0..num-1   1..64 entries, each 0..num-1
 *                   anchors           -          exactly 2 x num values
 *   [region]        classes           20         1..10000
 *                   coords            4          4
 *                   num               1          1..64
 *                   background        0          0..1
 *                   anchors           -          exactly 2 x num values
 *   every layer     numload, dontload, dontloadscales   0
 *
 * Every layer's output, weights and workspace: at most CFG_MAX_TENSOR_FLOATS;
 * all outputs together CFG_MAX_NETWORK_FLOATS, all weights
 * CFG_MAX_WEIGHT_FLOATS. */
#include "cfg_internal.h"

#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE_FACTOR 64 /* size, stride, padding */
#define MAX_FILTERS 65536
#define MAX_CLASSES 10000
#define MAX_ANCHORS 64
#define MAX_ROUTE 32

/* a x b, or UINT64_MAX (above every bound) when it overflows. */
static uint64_t
mul (uint64_t a, uint64_t b)
{
  uint64_t r;
  return __builtin_mul_overflow (a, b, &r) ? UINT64_MAX : r;
}

static bool
check_tensor (const CfgCtx *ctx, const char *what, uint64_t floats)
{
  char msg[256];

  if (floats <= CFG_MAX_TENSOR_FLOATS)
    return true;
  snprintf (msg, sizeof (msg),
      "needs %s%" PRIu64 " floats for its %s, more than the %" PRIu64
      " yoloswitch accepts for one tensor: lower the input size or the "
      "filters",
      floats == UINT64_MAX ? "over " : "", floats, what,
      (uint64_t) CFG_MAX_TENSOR_FLOATS);
  return cfg_shape_fail (ctx, msg);
}

/* Training keys that change what Darknet reads from the .weights:
 * numload replaces the filter count while loading (more than filters= and
 * it reads past its buffers), the others skip parts of the file. */
static bool
check_load_keys (const CfgCtx *ctx)
{
  static const char *const keys[]
      = { "numload", "dontload", "dontloadscales", NULL };

  for (int i = 0; keys[i] != NULL; i++) {
    int v;
    if (!cfg_int (ctx, keys[i], 0, 0, 0, &v))
      return false;
  }
  return true;
}

/* Darknet silently runs an unknown activation as ReLU: refuse it instead
 * (newer cfgs use mish or swish, which this Darknet lacks).  *out is the
 * CfgActivation named, -1 when the key is absent. */
static bool
check_activation (const CfgCtx *ctx, int *out)
{
  /* In CfgActivation's order. */
  static const char *const known[] = { "logistic", "loggy", "relu", "elu",
    "selu", "relie", "plse", "hardtan", "lhtan", "linear", "ramp", "leaky",
    "tanh", "stair", NULL };
  const CfgOption *act = cfg_option (ctx, "activation");
  char what[CFG_MAX_LINE + 96];

  *out = -1;
  if (act == NULL)
    return true;
  for (int i = 0; known[i] != NULL; i++)
    if (strcmp (act->value, known[i]) == 0) {
      *out = i;
      return true;
    }
  snprintf (what, sizeof (what),
      "uses activation=%.80s, which Darknet does not have (it would silently "
      "run ReLU instead)",
      act->value);
  return cfg_fail (ctx, YOLO_ERR_CFG_UNSUPPORTED, act->line, what);
}

/* Darknet copies anchors= into a buffer of 2 x num floats unchecked. */
static bool
check_anchors (const CfgCtx *ctx, int num)
{
  const CfgOption *o = cfg_option (ctx, "anchors");
  int n = cfg_list_count (ctx, "anchors");
  char what[160];

  if (o == NULL || n == 2 * num)
    return true;
  if (*o->value == '\0')
    snprintf (what, sizeof (what),
        "has an empty anchors=: list %d values or leave the key out", 2 * num);
  else
    snprintf (what, sizeof (what), "lists %d anchor values but num=%d needs %d",
        n, num, 2 * num);
  return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
}

static bool
oom (const CfgCtx *ctx)
{
  return yolo_fail (ctx->status, YOLO_ERR_LOAD, "Out of memory reading %s",
      ctx->cfg->path);
}

/* Darknet's biases for num anchors: .5 each, then anchors= over them
 * (check_anchors() has checked the count). */
static bool
read_anchors (const CfgCtx *ctx, CfgLayer *l, int num)
{
  l->num = num;
  l->anchors = malloc (sizeof (float) * 2 * (size_t) num);
  if (l->anchors == NULL)
    return oom (ctx);
  for (int i = 0; i < 2 * num; i++)
    l->anchors[i] = .5f;
  if (cfg_option (ctx, "anchors") != NULL)
    cfg_float_list (ctx, "anchors", l->anchors, 2 * num);
  return true;
}

/* A layer reference (negative: relative) within the earlier layers. */
static bool
layer_ref (const CfgCtx *ctx, const char *key, int *out)
{
  int ref;

  if (cfg_option (ctx, key) == NULL)
    return cfg_shape_fail (ctx, "needs from=");
  if (ctx->index == 0)
    return cfg_shape_fail (ctx,
        "cannot be the first layer: it has no "
        "earlier layer to name");
  if (!cfg_int (ctx, key, 0, -ctx->index, ctx->index - 1, &ref))
    return false;
  *out = ref < 0 ? ctx->index + ref : ref;
  return true;
}

static bool
infer_conv (const CfgCtx *ctx, CfgLayer *l, int64_t *ow, int64_t *oh,
    int64_t *oc)
{
  int n, size, stride, pad, padding, groups, bn, flipped;
  uint64_t per_filter;

  if (!cfg_int (ctx, "filters", 1, 1, MAX_FILTERS, &n)
      || !cfg_int (ctx, "size", 1, 1, MAX_SIDE_FACTOR, &size)
      || !cfg_int (ctx, "stride", 1, 1, MAX_SIDE_FACTOR, &stride)
      || !cfg_int (ctx, "pad", 0, 0, 1, &pad)
      || !cfg_int (ctx, "padding", 0, 0, MAX_SIDE_FACTOR, &padding)
      || !cfg_int (ctx, "groups", 1, 1, MAX_FILTERS, &groups)
      || !cfg_int (ctx, "batch_normalize", 0, 0, 1, &bn)
      /* Transposes c*size*size x n weights into a buffer of c/groups. */
      || !cfg_int (ctx, "flipped", 0, 0, 0, &flipped))
    return false;
  if (pad)
    padding = size / 2;
  if (l->in_c % groups != 0 || n % groups != 0)
    return cfg_shape_fail (ctx,
        "has groups that do not divide its input or output channels");
  l->type = CFG_LAYER_CONVOLUTIONAL;
  l->size = size;
  l->stride = stride;
  l->padding = padding;
  l->groups = groups;
  l->filters = n;
  l->batch_normalize = bn != 0;
  *oc = n;
  *ow = ((int64_t) l->in_w + 2 * padding - size) / stride + 1;
  *oh = ((int64_t) l->in_h + 2 * padding - size) / stride + 1;
  per_filter = mul ((uint64_t) (l->in_c / groups), (uint64_t) size * size);
  if (!check_tensor (ctx, "weights", mul (per_filter, (uint64_t) n)))
    return false;
  if (*ow >= 1 && *oh >= 1
      && !check_tensor (ctx, "workspace",
          mul (mul ((uint64_t) *ow, (uint64_t) *oh), per_filter)))
    return false;
  l->weight_floats = (size_t) n * (bn ? 4 : 1) + (size_t) per_filter * n;
  return true;
}

static bool
infer_route (const CfgCtx *ctx, const CfgNetwork *net, CfgLayer *l, int64_t *ow,
    int64_t *oh, int64_t *oc)
{
  int refs[MAX_ROUTE], n;

  if (cfg_option (ctx, "layers") == NULL)
    return cfg_shape_fail (ctx,
        "needs layers= with 1 to 32 comma-separated layer indexes");
  if (ctx->index == 0)
    return cfg_shape_fail (ctx,
        "cannot be the first layer: it has no "
        "earlier layer to name");
  if (!cfg_int_list (ctx, "layers", -ctx->index, ctx->index - 1, refs,
          MAX_ROUTE, &n))
    return false;
  l->type = CFG_LAYER_ROUTE;
  l->refs = malloc (sizeof (int) * (size_t) n);
  if (l->refs == NULL)
    return oom (ctx);
  l->ref_count = n;
  *oc = 0;
  for (int i = 0; i < n; i++) {
    const CfgLayer *from
        = &net->layers[refs[i] < 0 ? ctx->index + refs[i] : refs[i]];
    l->refs[i] = refs[i] < 0 ? ctx->index + refs[i] : refs[i];
    if (i == 0) {
      *ow = from->out_w;
      *oh = from->out_h;
    } else if (from->out_w != *ow || from->out_h != *oh) {
      return cfg_shape_fail (ctx,
          "concatenates layers of different widths or heights");
    }
    *oc += from->out_c;
  }
  return true;
}

static bool
infer_reorg (const CfgCtx *ctx, CfgLayer *l, int64_t *ow, int64_t *oh,
    int64_t *oc)
{
  int stride, reverse, flatten, extra;
  int64_t s2;

  if (!cfg_int (ctx, "stride", 1, 1, MAX_SIDE_FACTOR, &stride)
      || !cfg_int (ctx, "reverse", 0, 0, 1, &reverse)
      || !cfg_int (ctx, "flatten", 0, 0, 0, &flatten)
      || !cfg_int (ctx, "extra", 0, 0, 0, &extra))
    return false;
  /* Darknet's reorg_cpu() divides by c / stride^2 and indexes as if every
   * dimension divided evenly: anything else reads or writes out of bounds. */
  s2 = (int64_t) stride * stride;
  if (l->in_c % s2 != 0)
    return cfg_shape_fail (ctx,
        "needs input channels divisible by stride x stride");
  if (!reverse && (l->in_w % stride != 0 || l->in_h % stride != 0))
    return cfg_shape_fail (ctx,
        "needs input width and height divisible by its stride");
  l->type = CFG_LAYER_REORG;
  l->stride = stride;
  l->reverse = reverse != 0;
  if (reverse) {
    *ow = (int64_t) l->in_w * stride;
    *oh = (int64_t) l->in_h * stride;
    *oc = l->in_c / s2;
  } else {
    *ow = l->in_w / stride;
    *oh = l->in_h / stride;
    *oc = l->in_c * s2;
  }
  return true;
}

static bool
infer_yolo (const CfgCtx *ctx, CfgLayer *l)
{
  int classes, total, masks[MAX_ANCHORS], n;
  const CfgOption *mask;

  if (!cfg_int (ctx, "classes", 20, 1, MAX_CLASSES, &classes)
      || !cfg_int (ctx, "num", 1, 1, MAX_ANCHORS, &total)
      || !cfg_int_list (ctx, "mask", 0, MAX_ANCHORS - 1, masks, MAX_ANCHORS,
          &n))
    return false;
  mask = cfg_option (ctx, "mask");
  if (mask == NULL)
    n = total;
  if (l->in_c != n * (classes + 5)) {
    char what[160];
    snprintf (what, sizeof (what),
        "expects %d input channels (%d anchors x (%d classes + 5)) but the "
        "layer before gives %d",
        n * (classes + 5), n, classes, l->in_c);
    return cfg_shape_fail (ctx, what);
  }
  for (int i = 0; mask != NULL && i < n; i++)
    if (masks[i] >= total) {
      char what[CFG_MAX_LINE + 128];
      snprintf (what, sizeof (what),
          "has mask=%.80s with a mask index outside 0 .. num-1 (num=%d)",
          mask->value, total);
      return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, mask->line, what);
    }
  if (!check_anchors (ctx, total) || !read_anchors (ctx, l, total))
    return false;
  l->mask = malloc (sizeof (int) * (size_t) n);
  if (l->mask == NULL)
    return oom (ctx);
  l->mask_count = n;
  for (int i = 0; i < n; i++)
    l->mask[i] = mask != NULL ? masks[i] : i;
  l->type = CFG_LAYER_YOLO;
  l->classes = classes;
  return true;
}

static bool
infer_region (const CfgCtx *ctx, CfgLayer *l)
{
  int classes, coords, num, background, softmax;

  if (!cfg_int (ctx, "classes", 20, 1, MAX_CLASSES, &classes)
      /* Darknet tests it for non-zero only. */
      || !cfg_int (ctx, "softmax", 0, INT32_MIN, INT32_MAX, &softmax)
      || !cfg_int (ctx, "coords", 4, 4, 4, &coords)
      || !cfg_int (ctx, "num", 1, 1, MAX_ANCHORS, &num)
      /* Darknet's region softmax spans classes + background entries of
       * an anchor's classes + 1: more than 1 runs past the output. */
      || !cfg_int (ctx, "background", 0, 0, 1, &background))
    return false;
  if (l->in_c != num * (coords + classes + 1)) {
    char what[160];
    snprintf (what, sizeof (what),
        "expects %d input channels but the layer before gives %d",
        num * (coords + classes + 1), l->in_c);
    return cfg_shape_fail (ctx, what);
  }
  if (!check_anchors (ctx, num) || !read_anchors (ctx, l, num))
    return false;
  l->coords = coords;
  l->softmax = softmax != 0;
  l->background = background != 0;
  l->type = CFG_LAYER_REGION;
  l->classes = classes;
  return true;
}

/* The simple layers: pools, resampling, pass-through. */
static bool
infer_other (const CfgCtx *ctx, const CfgNetwork *net, CfgLayer *l, int64_t *ow,
    int64_t *oh, int64_t *oc)
{
  const CfgSection *sec = ctx->sec;
  int w = l->in_w, h = l->in_h, c = l->in_c;

  if (cfg_is_type (sec, "maxpool", "max")) {
    int size, stride, padding;
    if (!cfg_int (ctx, "stride", 1, 1, MAX_SIDE_FACTOR, &stride)
        || !cfg_int (ctx, "size", stride, 1, MAX_SIDE_FACTOR, &size)
        || !cfg_int (ctx, "padding", size - 1, 0, MAX_SIDE_FACTOR, &padding))
      return false;
    l->type = CFG_LAYER_MAXPOOL;
    l->size = size;
    l->stride = stride;
    l->padding = padding;
    *ow = ((int64_t) w + padding - size) / stride + 1;
    *oh = ((int64_t) h + padding - size) / stride + 1;
  } else if (cfg_is_type (sec, "avgpool", "avg")) {
    l->type = CFG_LAYER_AVGPOOL;
    *ow = *oh = 1;
  } else if (cfg_is_type (sec, "shortcut", NULL)) {
    int from = 0;
    if (!layer_ref (ctx, "from", &from))
      return false;
    /* Darknet asserts (aborts) in the forward pass on unequal ratios;
     * yoloswitch's models add equal shapes. */
    if (net->layers[from].out_w != w || net->layers[from].out_h != h)
      return cfg_shape_fail (ctx,
          "adds a layer of another width or height than its input");
    l->type = CFG_LAYER_SHORTCUT;
    l->from = from;
    l->alpha = cfg_float (ctx, "alpha", 1);
    l->beta = cfg_float (ctx, "beta", 1);
  } else if (cfg_is_type (sec, "upsample", NULL)) {
    int stride;
    if (!cfg_int (ctx, "stride", 2, -MAX_SIDE_FACTOR, MAX_SIDE_FACTOR, &stride))
      return false;
    if (stride == 0)
      return cfg_shape_fail (ctx, "has stride=0");
    l->type = CFG_LAYER_UPSAMPLE;
    l->stride = stride > 0 ? stride : -stride;
    l->reverse = stride < 0;
    l->scale = cfg_float (ctx, "scale", 1);
    *ow = stride > 0 ? (int64_t) w * stride : w / -stride;
    *oh = stride > 0 ? (int64_t) h * stride : h / -stride;
  } else if (cfg_is_type (sec, "dropout", NULL)) {
    /* Darknet shares the previous layer's output buffer. */
    if (ctx->index == 0)
      return cfg_shape_fail (ctx, "cannot be the first layer");
    l->type = CFG_LAYER_DROPOUT;
  } else if (cfg_is_type (sec, "softmax", "soft")) {
    int groups;
    uint64_t inputs = (uint64_t) w * h * c;
    if (!cfg_int (ctx, "groups", 1, 1, MAX_FILTERS, &groups))
      return false;
    if (inputs % (uint64_t) groups != 0)
      return cfg_shape_fail (ctx,
          "has groups that do not divide its inputs (Darknet aborts)");
    /* Darknet gives a softmax no width, height or channels: a layer after
     * it would see an empty image and abort. */
    if (ctx->index != net->layer_count - 1)
      return cfg_shape_fail (ctx, "must be the last layer");
    l->type = CFG_LAYER_SOFTMAX;
    l->groups = groups;
    l->temperature = cfg_float (ctx, "temperature", 1);
  } else if (cfg_is_type (sec, "batchnorm", NULL)) {
    l->type = CFG_LAYER_BATCHNORM;
    l->weight_floats = (size_t) c * 3;
  } else if (cfg_is_type (sec, "connected", "conn")) {
    int outputs, bn;
    uint64_t inputs = (uint64_t) w * h * c;
    if (!cfg_int (ctx, "output", 1, 1, MAX_FILTERS, &outputs)
        || !cfg_int (ctx, "batch_normalize", 0, 0, 1, &bn))
      return false;
    if (!check_tensor (ctx, "weights", mul (inputs, (uint64_t) outputs)))
      return false;
    l->type = CFG_LAYER_CONNECTED;
    l->batch_normalize = bn != 0;
    *oc = outputs;
    *ow = *oh = 1;
    l->weight_floats
        = (size_t) outputs * (bn ? 4 : 1) + (size_t) inputs * outputs;
  } else {
    return yolo_fail (ctx->status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s: layer %d [%s] at line %d is a layer type yoloswitch "
        "does not run. Supported: convolutional, maxpool, avgpool, route, "
        "shortcut, upsample, dropout, softmax, batchnorm, connected, reorg, "
        "yolo, region.",
        ctx->cfg->path, ctx->index, sec->type, sec->line);
  }
  return true;
}

bool
cfg_infer_layer (const CfgCtx *ctx, CfgNetwork *net)
{
  const CfgSection *sec = ctx->sec;
  CfgLayer *l = &net->layers[ctx->index];
  int64_t ow = l->in_w, oh = l->in_h, oc = l->in_c;
  int act;
  bool ok;

  if (!check_activation (ctx, &act) || !check_load_keys (ctx))
    return false;
  /* Darknet exit()s when these files cannot be opened, and the shipped
   * YOLO family never needs them. */
  if (cfg_option (ctx, "map") != NULL || cfg_option (ctx, "tree") != NULL)
    return yolo_fail (ctx->status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s: layer %d [%s] at line %d reads a class map or tree "
        "file (map=/tree=), which yoloswitch does not support.",
        ctx->cfg->path, ctx->index, sec->type, sec->line);

  if (cfg_is_type (sec, "convolutional", "conv"))
    ok = infer_conv (ctx, l, &ow, &oh, &oc);
  else if (cfg_is_type (sec, "route", NULL))
    ok = infer_route (ctx, net, l, &ow, &oh, &oc);
  else if (cfg_is_type (sec, "reorg", NULL))
    ok = infer_reorg (ctx, l, &ow, &oh, &oc);
  else if (cfg_is_type (sec, "yolo", NULL))
    ok = infer_yolo (ctx, l);
  else if (cfg_is_type (sec, "region", NULL))
    ok = infer_region (ctx, l);
  else
    ok = infer_other (ctx, net, l, &ow, &oh, &oc);
  if (!ok)
    return false;
  /* Darknet's defaults: logistic for convolutional and connected layers,
   * linear for shortcuts. */
  if (act >= 0)
    l->activation = (CfgActivation) act;
  else
    l->activation
        = l->type == CFG_LAYER_SHORTCUT ? CFG_ACT_LINEAR : CFG_ACT_LOGISTIC;

  if (ow < 1 || oh < 1 || oc < 1)
    return cfg_shape_fail (ctx,
        "produces an empty output: the input is too small for it");
  /* Each factor is at most the product, so each fits an int after this. */
  if (!check_tensor (ctx, "output",
          mul (mul ((uint64_t) ow, (uint64_t) oh), (uint64_t) oc)))
    return false;
  l->out_w = (int) ow;
  l->out_h = (int) oh;
  l->out_c = (int) oc;
  return true;
}
