/* Micro-benchmark of the nn kernels (yolo/nn) on a real model's layer
 * shapes: each layer of the cfg run alone, 1 thread, per ISA table this CPU
 * can run; ms per layer kind and GFLOP/s (convolutions: 2 flops per
 * multiply-add of the real channels, padding lanes not counted).  Random
 * weights and inputs: the kernels' speed does not depend on the values.
 *
 *   yoloswitch-kernels-bench [--isa NAME] [--reps N] [--layers] [--wall]
 *       model.cfg [width height]
 *
 * Times are this thread's CPU time (--wall: the wall clock).
 *
 * Also prints, per pack width, how much work the padding of channel counts
 * to whole blocks adds on this model (the question whether pack 16 pays
 * on AVX-512 for these channel counts).  Not a test: figures from a busy
 * machine are indications only. */
#include "cpu.h"
#include "kernels.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 512

typedef enum {
  K_CONV1X1,
  K_DEPTHWISE,
  K_FIRST,
  K_CONV,
  K_MAXPOOL,
  K_UPSAMPLE,
  K_SHORTCUT,
  K_ROUTE,
  K_NONE,
  K_COUNT
} Kind;

static const char *const kind_names[K_COUNT]
    = { "conv 1x1", "depthwise", "first conv", "conv kxk", "maxpool",
        "upsample", "shortcut", "route concat", "-" };

typedef struct {
  Kind kind;
  int c, h, w; /* output */
  int in_c, in_h, in_w;
  NnConv conv;
  int size, stride, pad; /* maxpool / upsample */
  int from[4], n_from; /* route parts, shortcut's other input */
  double flops;
} Layer;

typedef struct {
  Layer l[MAX_LAYERS];
  int n;
} Net;

static int use_wall_clock;

static double
now_ms (void)
{
  /* This thread's CPU time unless --wall: on a shared machine the wall
   * clock counts the other processes' turns on our core. */
  struct timespec ts;
  clock_gettime (use_wall_clock ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID,
      &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static NnAct
parse_act (const char *v)
{
  if (strcmp (v, "leaky") == 0)
    return NN_ACT_LEAKY;
  if (strcmp (v, "relu") == 0)
    return NN_ACT_RELU;
  if (strcmp (v, "logistic") == 0)
    return NN_ACT_LOGISTIC;
  return NN_ACT_LINEAR;
}

/* The section's keys, as read so far. */
typedef struct {
  char type[128];
  int filters, size, stride, pad, padding, groups, has_padding;
  char act[128], layers[128], from[128];
} Section;

static int
resolve (int ref, int at)
{
  return ref < 0 ? at + ref : ref;
}

/* Turns a finished section into layer net->n, shapes from the previous. */
static int
add_layer (Net *net, const Section *s, int *c, int *h, int *w)
{
  Layer *l = &net->l[net->n];
  int i = net->n;
  memset (l, 0, sizeof *l);
  l->in_c = *c, l->in_h = *h, l->in_w = *w;
  l->kind = K_NONE;
  if (strcmp (s->type, "convolutional") == 0) {
    NnConv *cv = &l->conv;
    cv->cin = *c;
    cv->cout = s->filters;
    cv->k = s->size;
    cv->stride = s->stride;
    cv->pad = s->pad ? s->size / 2 : s->padding;
    cv->groups = s->groups;
    cv->act = parse_act (s->act);
    *c = cv->cout;
    *h = nn_conv_out_side (*h, cv->k, cv->stride, cv->pad);
    *w = nn_conv_out_side (*w, cv->k, cv->stride, cv->pad);
    if (i == 0)
      l->kind = K_FIRST;
    else if (cv->groups > 1)
      l->kind = K_DEPTHWISE;
    else if (cv->k == 1 && cv->stride == 1)
      l->kind = K_CONV1X1;
    else
      l->kind = K_CONV;
    l->flops
        = 2.0 * cv->cout * *h * *w * (cv->cin / cv->groups) * cv->k * cv->k;
  } else if (strcmp (s->type, "maxpool") == 0) {
    l->kind = K_MAXPOOL;
    l->size = s->size;
    l->stride = s->stride;
    l->pad = s->has_padding ? s->padding : s->size - 1;
    *h = nn_maxpool_out_side (*h, l->size, l->stride, l->pad);
    *w = nn_maxpool_out_side (*w, l->size, l->stride, l->pad);
    l->flops = (double) *c * *h * *w * l->size * l->size;
  } else if (strcmp (s->type, "upsample") == 0) {
    l->kind = K_UPSAMPLE;
    l->stride = s->stride;
    *h *= s->stride;
    *w *= s->stride;
  } else if (strcmp (s->type, "shortcut") == 0) {
    l->kind = K_SHORTCUT;
    l->from[0] = resolve (atoi (s->from), i);
    l->n_from = 1;
    l->flops = 2.0 * *c * *h * *w;
  } else if (strcmp (s->type, "route") == 0) {
    const char *p = s->layers;
    l->kind = K_ROUTE;
    *c = 0;
    while (*p && l->n_from < 4) {
      int at = resolve ((int) strtol (p, (char **) &p, 10), i);
      if (at < 0 || at >= i)
        return -1;
      l->from[l->n_from++] = at;
      *c += net->l[at].c;
      *h = net->l[at].h;
      *w = net->l[at].w;
      while (*p == ',' || isspace ((unsigned char) *p))
        p++;
    }
    if (l->n_from == 1)
      l->kind = K_NONE; /* a reference, no copy */
  }
  l->c = *c, l->h = *h, l->w = *w;
  net->n++;
  return 0;
}

static void
section_reset (Section *s, const char *type)
{
  memset (s, 0, sizeof *s);
  snprintf (s->type, sizeof s->type, "%s", type);
  s->size = 1;
  s->stride = 1;
  s->groups = 1;
  snprintf (s->act, sizeof s->act, "logistic");
}

static int
load_cfg (const char *path, int width, int height, Net *net)
{
  FILE *f = fopen (path, "r");
  char line[1100];
  Section s;
  int c = 3, h = height, w = width, in_net = 0, have = 0;

  if (!f)
    return -1;
  net->n = 0;
  while (fgets (line, sizeof line, f)) {
    char key[64], val[128], *eq, *k, *v, *e;
    for (e = line + strlen (line); e > line && isspace ((unsigned char) e[-1]);)
      *--e = '\0';
    k = line;
    while (isspace ((unsigned char) *k))
      k++;
    if (*k == '#' || *k == ';' || *k == '\0')
      continue;
    if (*k == '[') {
      if (have && !in_net && add_layer (net, &s, &c, &h, &w) < 0)
        goto fail;
      *strchr (k, ']') = '\0';
      in_net = strcmp (k + 1, "net") == 0 || strcmp (k + 1, "network") == 0;
      section_reset (&s, k + 1);
      have = 1;
      if (net->n >= MAX_LAYERS - 1)
        goto fail;
      continue;
    }
    if (!(eq = strchr (k, '=')))
      continue;
    *eq = '\0';
    v = eq + 1;
    sscanf (k, "%63s", key);
    while (isspace ((unsigned char) *v))
      v++;
    snprintf (val, sizeof val, "%s", v);
    if (in_net) {
      if (!width && strcmp (key, "width") == 0)
        w = atoi (val);
      if (!height && strcmp (key, "height") == 0)
        h = atoi (val);
      if (strcmp (key, "channels") == 0)
        c = atoi (val);
    } else if (strcmp (key, "filters") == 0) {
      s.filters = atoi (val);
    } else if (strcmp (key, "size") == 0) {
      s.size = atoi (val);
    } else if (strcmp (key, "stride") == 0) {
      s.stride = atoi (val);
    } else if (strcmp (key, "pad") == 0) {
      s.pad = atoi (val);
    } else if (strcmp (key, "padding") == 0) {
      s.padding = atoi (val);
      s.has_padding = 1;
    } else if (strcmp (key, "groups") == 0) {
      s.groups = atoi (val);
    } else if (strcmp (key, "activation") == 0) {
      snprintf (s.act, sizeof s.act, "%s", val);
    } else if (strcmp (key, "layers") == 0) {
      snprintf (s.layers, sizeof s.layers, "%s", val);
    } else if (strcmp (key, "from") == 0) {
      snprintf (s.from, sizeof s.from, "%s", val);
    }
  }
  if (have && !in_net && add_layer (net, &s, &c, &h, &w) < 0)
    goto fail;
  fclose (f);
  return 0;
fail:
  fclose (f);
  return -1;
}

static void
fill_random (float *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    v[i] = (float) rand () / RAND_MAX - 0.5f;
}

static void
random_tensor (NnTensor *t, int c, int h, int w, int pack)
{
  float *x = malloc ((size_t) c * h * w * sizeof (float));
  nn_tensor_alloc (t, c, h, w, pack);
  fill_random (x, (size_t) c * h * w);
  nn_pack_nchw (x, t);
  free (x);
}

/* One run of layer l; the tensors and weights are set up by bench_layer. */
typedef struct {
  const NnKernels *k;
  const Layer *l;
  NnTensor in, in2, out, parts[4];
  float *packed;
  NnConvFn conv;
} Run;

static void
run_once (Run *r)
{
  const Layer *l = r->l;
  NnTensor *o = &r->out;
  switch (l->kind) {
    case K_CONV1X1:
    case K_DEPTHWISE:
    case K_FIRST:
    case K_CONV:
      r->conv (&l->conv, r->packed, &r->in, o, 0, o->blocks, 0, o->h);
      break;
    case K_MAXPOOL:
      r->k->maxpool (&r->in, o, l->size, l->stride, l->pad, 0, o->blocks, 0,
          o->h);
      break;
    case K_UPSAMPLE:
      r->k->upsample (&r->in, o, l->stride, 1.f, 0, o->blocks, 0, o->h);
      break;
    case K_SHORTCUT:
      r->k->shortcut (&r->in, &r->in2, 1.f, 1.f, NN_ACT_LINEAR, o, 0, o->blocks,
          0, o->h);
      break;
    case K_ROUTE:
      for (int j = 0, c0 = 0; j < l->n_from; c0 += r->parts[j++].c)
        nn_concat_channels (o, c0, &r->parts[j]);
      break;
    default: break;
  }
}

/* Median ms of 5 timings, each over enough repetitions for ~2 ms. */
static double
bench_layer (const NnKernels *k, const Net *net, int i, int reps)
{
  const Layer *l = &net->l[i];
  Run r = { .k = k, .l = l };
  double t[5], ms;
  int n = reps;

  if (l->kind == K_NONE)
    return 0;
  if (l->kind == K_ROUTE)
    for (int j = 0; j < l->n_from; j++)
      random_tensor (&r.parts[j], net->l[l->from[j]].c, l->h, l->w, k->pack);
  else
    random_tensor (&r.in, l->in_c, l->in_h, l->in_w,
        l->kind == K_FIRST ? 1 : k->pack);
  if (l->kind == K_SHORTCUT)
    random_tensor (&r.in2, l->c, l->h, l->w, k->pack);
  nn_tensor_alloc (&r.out, l->c, l->h, l->w, k->pack);
  if (l->kind <= K_CONV) {
    size_t nw = (size_t) l->conv.cout * (l->conv.cin / l->conv.groups)
        * l->conv.k * l->conv.k;
    float *w = malloc (nw * sizeof (float));
    float *b = malloc (l->conv.cout * sizeof (float));
    fill_random (w, nw);
    fill_random (b, l->conv.cout);
    r.packed = nn_alloc_floats (k->conv_packed_floats (&l->conv));
    k->conv_pack (&l->conv, w, b, r.packed);
    r.conv = nn_conv_fn (k, &l->conv);
    free (w);
    free (b);
  }
  if (n <= 0) {
    double t0 = now_ms ();
    run_once (&r);
    ms = now_ms () - t0;
    n = ms > 2 ? 1 : (int) (2 / (ms + 1e-4)) + 1;
  }
  for (int j = 0; j < 5; j++) {
    double t0 = now_ms ();
    for (int rep = 0; rep < n; rep++)
      run_once (&r);
    t[j] = (now_ms () - t0) / n;
  }
  for (int a = 0; a < 5; a++)
    for (int b = a + 1; b < 5; b++)
      if (t[b] < t[a]) {
        double x = t[a];
        t[a] = t[b];
        t[b] = x;
      }
  nn_tensor_clear (&r.in);
  nn_tensor_clear (&r.in2);
  for (int j = 0; j < 4; j++)
    nn_tensor_clear (&r.parts[j]);
  nn_tensor_clear (&r.out);
  nn_free (r.packed);
  return t[2];
}

static int
round_up (int c, int p)
{
  return (c + p - 1) / p * p;
}

/* Multiply-adds and activation floats with channel counts rounded to
 * whole blocks of p, over the real ones. */
static void
print_padding (const Net *net)
{
  printf ("padding of channels to whole blocks (extra work over real):\n");
  for (int p = 4; p <= 16; p *= 2) {
    double mac = 0, mac_p = 0, act = 0, act_p = 0;
    for (int i = 0; i < net->n; i++) {
      const Layer *l = &net->l[i];
      double hw = (double) l->h * l->w;
      act += l->c * hw;
      act_p += round_up (l->c, p) * hw;
      if (l->kind > K_CONV)
        continue;
      if (l->kind == K_DEPTHWISE) {
        mac += l->c * hw * l->conv.k * l->conv.k;
        mac_p += round_up (l->c, p) * hw * l->conv.k * l->conv.k;
      } else {
        mac += l->c * hw * l->conv.cin * l->conv.k * l->conv.k;
        mac_p += round_up (l->c, p) * hw * l->conv.cin * l->conv.k * l->conv.k;
      }
    }
    printf ("  pack %2d: multiply-adds +%.1f %%, activations +%.1f %%\n", p,
        100 * (mac_p / mac - 1), 100 * (act_p / act - 1));
  }
}

static void
bench_isa (const NnKernels *k, const Net *net, int reps, int per_layer)
{
  double ms[K_COUNT] = { 0 }, flops[K_COUNT] = { 0 }, total = 0;
  int count[K_COUNT] = { 0 };

  printf ("\n%s (pack %d), 1 thread:\n", k->name, k->pack);
  for (int i = 0; i < net->n; i++) {
    const Layer *l = &net->l[i];
    double t = bench_layer (k, net, i, reps);
    ms[l->kind] += t;
    flops[l->kind] += l->flops;
    count[l->kind]++;
    total += t;
    if (per_layer && l->kind != K_NONE)
      printf ("  %3d %-12s %4d x %3d x %3d -> %4d x %3d x %3d  %7.3f ms"
              "  %6.2f GFLOP/s\n",
          i, kind_names[l->kind], l->in_c, l->in_h, l->in_w, l->c, l->h, l->w,
          t, l->flops / t / 1e6);
  }
  for (int kd = 0; kd < K_NONE; kd++) {
    if (!count[kd])
      continue;
    printf ("  %-12s %3d layers  %8.3f ms", kind_names[kd], count[kd], ms[kd]);
    if (flops[kd] > 0 && kd <= K_CONV)
      printf ("  %6.2f GFLOP/s", flops[kd] / ms[kd] / 1e6);
    printf ("\n");
  }
  printf ("  %-12s             %8.3f ms\n", "total", total);
}

int
main (int argc, char **argv)
{
  const char *isa = NULL, *cfg = NULL;
  int reps = 0, per_layer = 0, width = 0, height = 0, pos = 0;
  const NnKernels *list[8];
  int n;
  static Net net;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--isa") == 0 && i + 1 < argc)
      isa = argv[++i];
    else if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi (argv[++i]);
    else if (strcmp (argv[i], "--layers") == 0)
      per_layer = 1;
    else if (strcmp (argv[i], "--wall") == 0)
      use_wall_clock = 1;
    else if (pos == 0 && ++pos)
      cfg = argv[i];
    else if (pos == 1 && ++pos)
      width = atoi (argv[i]);
    else if (pos == 2 && ++pos)
      height = atoi (argv[i]);
  }
  if (!cfg) {
    fprintf (stderr,
        "usage: %s [--isa NAME] [--reps N] [--layers] [--wall] "
        "model.cfg [width height]\n",
        argv[0]);
    return 2;
  }
  if (load_cfg (cfg, width, height, &net) < 0) {
    fprintf (stderr, "cannot read %s (or a route points outside it)\n", cfg);
    return 1;
  }
  printf ("%s: %d layers, input %d x %d\n", cfg, net.n, net.l[0].in_w,
      net.l[0].in_h);
  print_padding (&net);
  if (isa) {
    char err[256];
    list[0] = nn_kernels_by_name (isa, err, sizeof err);
    if (!list[0]) {
      fprintf (stderr, "%s\n", err);
      return 1;
    }
    n = 1;
  } else {
    const NnKernels *all[8];
    int n_all = nn_kernels_compiled (all, 8);
    n = nn_kernels_available (list, 8);
    for (int i = 0; i < n_all; i++)
      if (!nn_kernels_runnable (all[i]))
        printf ("(%s: this CPU cannot run it, skipped)\n", all[i]->name);
  }
  srand (14);
  for (int i = 0; i < n; i++)
    bench_isa (list[i], &net, reps, per_layer);
  return 0;
}
