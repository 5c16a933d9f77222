/* Darknet cfg parsing and shape inference.  The rules mirror pjreddie
 * Darknet's parser.c (defaults, padding formulas, weights layout) so that
 * the sizes we compute are the sizes Darknet will read.
 *
 * Why this file is long: one rule per layer type, each a few lines, and
 * they must be read together (a route's shape depends on the layers it
 * names); the file is what a review of what we accept from a model file
 * (issue 13) has to audit in one place. */
#include "cfg.h"

#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_OPTIONS 64
#define MAX_KEY 64
#define MAX_VALUE 1024
#define MAX_LAYERS 4096

typedef struct {
  char key[MAX_KEY];
  char value[MAX_VALUE];
} CfgOption;

typedef struct {
  char type[64];
  int line;
  int option_count;
  CfgOption options[MAX_OPTIONS];
} CfgSection;

typedef struct {
  const char *path;
  CfgSection *sections;
  int count;
  int capacity;
} CfgFile;

static char *
strip (char *s)
{
  char *end;

  while (isspace ((unsigned char) *s))
    s++;
  end = s + strlen (s);
  while (end > s && isspace ((unsigned char) end[-1]))
    *--end = '\0';
  return s;
}

static bool
cfg_file_read (CfgFile *cfg, const char *path, YoloStatus *status)
{
  FILE *f;
  char line[MAX_VALUE + MAX_KEY + 16];
  int lineno = 0;

  memset (cfg, 0, sizeof (*cfg));
  cfg->path = path;
  f = fopen (path, "r");
  if (f == NULL)
    return yolo_fail (status, YOLO_ERR_CFG_MISSING,
        "Cannot read model cfg %s: %s. Check the path, or pass the model by "
        "name with a model dir that holds it.",
        path, strerror (errno));

  while (fgets (line, sizeof (line), f) != NULL) {
    char *s, *eq;
    CfgSection *sec;

    lineno++;
    if (strlen (line) + 1 < sizeof (line) && strchr (line, '\n') == NULL
        && !feof (f)) {
      fclose (f);
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d holds a NUL byte: this is not a Darknet cfg "
          "text file.",
          path, lineno);
    }
    if (strchr (line, '\n') == NULL && !feof (f)) {
      fclose (f);
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d is longer than %d characters: this is not a "
          "Darknet cfg file.",
          path, lineno, (int) sizeof (line) - 2);
    }
    s = strip (line);
    if (*s == '\0' || *s == '#' || *s == ';')
      continue;
    if (*s == '[') {
      char *close = strchr (s, ']');
      if (close == NULL || close - s - 1 >= (long) sizeof (sec->type)) {
        fclose (f);
        return yolo_fail (status, YOLO_ERR_CFG_INVALID,
            "Model cfg %s line %d: malformed section header \"%s\".", path,
            lineno, s);
      }
      if (cfg->count == cfg->capacity) {
        int cap = cfg->capacity ? cfg->capacity * 2 : 64;
        CfgSection *grown;
        if (cap > MAX_LAYERS + 1) {
          fclose (f);
          return yolo_fail (status, YOLO_ERR_CFG_INVALID,
              "Model cfg %s has more than %d sections.", path, MAX_LAYERS);
        }
        grown = realloc (cfg->sections, sizeof (CfgSection) * cap);
        if (grown == NULL) {
          fclose (f);
          return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s",
              path);
        }
        cfg->sections = grown;
        cfg->capacity = cap;
      }
      sec = &cfg->sections[cfg->count++];
      memset (sec, 0, sizeof (*sec));
      memcpy (sec->type, s + 1, close - s - 1);
      sec->line = lineno;
      continue;
    }
    eq = strchr (s, '=');
    if (eq == NULL || cfg->count == 0) {
      fclose (f);
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d: expected \"key=value\" inside a [section], "
          "got \"%s\".",
          path, lineno, s);
    }
    *eq = '\0';
    sec = &cfg->sections[cfg->count - 1];
    if (sec->option_count == MAX_OPTIONS) {
      fclose (f);
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d: more than %d options in one section.", path,
          lineno, MAX_OPTIONS);
    }
    snprintf (sec->options[sec->option_count].key, MAX_KEY, "%s", strip (s));
    snprintf (sec->options[sec->option_count].value, MAX_VALUE, "%s",
        strip (eq + 1));
    sec->option_count++;
  }
  fclose (f);
  if (cfg->count == 0)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s has no [sections]: this is not a Darknet cfg file.",
        path);
  return true;
}

static const char *
option (const CfgSection *sec, const char *key)
{
  for (int i = 0; i < sec->option_count; i++)
    if (strcmp (sec->options[i].key, key) == 0)
      return sec->options[i].value;
  return NULL;
}

/* Reads an integer option; false (with status) when present but not a number. */
static bool
option_int (const CfgFile *cfg, const CfgSection *sec, const char *key,
    int fallback, int *out, YoloStatus *status)
{
  const char *v = option (sec, key);
  char *end;
  long n;

  if (v == NULL) {
    *out = fallback;
    return true;
  }
  errno = 0;
  n = strtol (v, &end, 10);
  if (errno != 0 || end == v || *strip (end) != '\0' || n < INT32_MIN
      || n > INT32_MAX)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s, [%s] at line %d: %s=%s is not an integer.", cfg->path,
        sec->type, sec->line, key, v);
  *out = (int) n;
  return true;
}

/* Parses a comma-separated integer list ("layers=-1,-4"). */
static int
option_int_list (const CfgSection *sec, const char *key, int *out, int max)
{
  const char *v = option (sec, key);
  int n = 0;

  if (v == NULL)
    return 0;
  while (*v != '\0') {
    char *end;
    long x = strtol (v, &end, 10);
    if (end == v || n == max)
      return -1;
    out[n++] = (int) x;
    while (isspace ((unsigned char) *end))
      end++;
    if (*end == ',')
      end++;
    else if (*end != '\0')
      return -1;
    v = end;
  }
  return n;
}

/* Darknet silently runs an unknown activation as ReLU: refuse it instead
 * (newer cfgs use mish or swish, which this Darknet lacks). */
static bool
check_activation (const CfgFile *cfg, const CfgSection *sec, int index,
    YoloStatus *status)
{
  static const char *const known[] = { "logistic", "loggy", "relu", "elu",
    "selu", "relie", "plse", "hardtan", "lhtan", "linear", "ramp", "leaky",
    "tanh", "stair", NULL };
  const char *act = option (sec, "activation");

  if (act == NULL)
    return true;
  for (int i = 0; known[i] != NULL; i++)
    if (strcmp (act, known[i]) == 0)
      return true;
  return yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
      "Model cfg %s: layer %d [%s] at line %d uses activation=%s, which "
      "Darknet does not have (it would silently run ReLU instead).",
      cfg->path, index, sec->type, sec->line, act);
}

/* Counts the comma-separated values of a list option; 0 if absent. */
static int
count_list (const CfgSection *sec, const char *key)
{
  const char *v = option (sec, key);
  int n = 1;

  if (v == NULL || *v == '\0')
    return 0;
  for (; *v; v++)
    n += *v == ',';
  return n;
}

static bool
is_type (const CfgSection *sec, const char *a, const char *b)
{
  return strcmp (sec->type, a) == 0
      || (b != NULL && strcmp (sec->type, b) == 0);
}

static bool
shape_fail (YoloStatus *status, const CfgFile *cfg, const CfgSection *sec,
    int index, const char *what)
{
  return yolo_fail (status, YOLO_ERR_CFG_INVALID,
      "Model cfg %s: layer %d [%s] at line %d %s.", cfg->path, index, sec->type,
      sec->line, what);
}

/* Resolves a layer reference the way Darknet does: negative is relative. */
static bool
layer_ref (const CfgFile *cfg, const CfgSection *sec, int index, int ref,
    int *out, YoloStatus *status)
{
  int abs_index = ref < 0 ? index + ref : ref;
  if (abs_index < 0 || abs_index >= index) {
    char what[128];
    snprintf (what, sizeof (what),
        "refers to layer %d, which is not an earlier layer", ref);
    return shape_fail (status, cfg, sec, index, what);
  }
  *out = abs_index;
  return true;
}

/* Darknet copies anchors= into a buffer of 2 x num floats unchecked. */
static bool
check_anchors (const CfgFile *cfg, const CfgSection *sec, int index, int num,
    YoloStatus *status)
{
  int n = count_list (sec, "anchors");
  char what[160];

  if (n == 0 || n == 2 * num)
    return true;
  snprintf (what, sizeof (what), "lists %d anchor values but num=%d needs %d",
      n, num, 2 * num);
  return shape_fail (status, cfg, sec, index, what);
}

static bool
infer_layer (const CfgFile *cfg, const CfgSection *sec, int index,
    CfgNetwork *net, YoloStatus *status)
{
  CfgLayer *l = &net->layers[index];
  int c = l->in_c, h = l->in_h, w = l->in_w;

#define INT_OPT(key, def, var)                                                 \
  if (!option_int (cfg, sec, key, def, &var, status))                          \
  return false

  l->out_c = c;
  l->out_h = h;
  l->out_w = w;

  if (!check_activation (cfg, sec, index, status))
    return false;
  /* Darknet exit()s when these files cannot be opened, and the shipped
   * YOLO family never needs them. */
  if (option (sec, "map") != NULL || option (sec, "tree") != NULL)
    return yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s: layer %d [%s] at line %d reads a class map or tree "
        "file (map=/tree=), which yoloswitch does not support.",
        cfg->path, index, sec->type, sec->line);

  if (is_type (sec, "convolutional", "conv")) {
    int n, size, stride, pad, padding, groups, bn;
    INT_OPT ("filters", 1, n);
    INT_OPT ("size", 1, size);
    INT_OPT ("stride", 1, stride);
    INT_OPT ("pad", 0, pad);
    INT_OPT ("padding", 0, padding);
    INT_OPT ("groups", 1, groups);
    INT_OPT ("batch_normalize", 0, bn);
    if (pad)
      padding = size / 2;
    if (n < 1 || size < 1 || stride < 1 || groups < 1 || padding < 0)
      return shape_fail (status, cfg, sec, index,
          "needs filters, size, stride and groups >= 1");
    if (c % groups != 0 || n % groups != 0)
      return shape_fail (status, cfg, sec, index,
          "has groups that do not divide its input or output channels");
    l->type = CFG_LAYER_CONVOLUTIONAL;
    l->filters = n;
    l->batch_normalize = bn != 0;
    l->out_c = n;
    l->out_w = (w + 2 * padding - size) / stride + 1;
    l->out_h = (h + 2 * padding - size) / stride + 1;
    l->weight_floats
        = (size_t) n * (bn ? 4 : 1) + (size_t) (c / groups) * n * size * size;
  } else if (is_type (sec, "maxpool", "max")) {
    int size, stride, padding;
    INT_OPT ("stride", 1, stride);
    INT_OPT ("size", stride, size);
    INT_OPT ("padding", size - 1, padding);
    if (size < 1 || stride < 1)
      return shape_fail (status, cfg, sec, index, "needs size and stride >= 1");
    l->type = CFG_LAYER_MAXPOOL;
    l->out_w = (w + padding - size) / stride + 1;
    l->out_h = (h + padding - size) / stride + 1;
  } else if (is_type (sec, "avgpool", "avg")) {
    l->type = CFG_LAYER_AVGPOOL;
    l->out_w = l->out_h = 1;
  } else if (is_type (sec, "route", NULL)) {
    int refs[32];
    int n = option_int_list (sec, "layers", refs, 32);
    if (n <= 0)
      return shape_fail (status, cfg, sec, index,
          "needs layers= with 1 to 32 comma-separated layer indexes");
    l->type = CFG_LAYER_ROUTE;
    l->out_c = 0;
    for (int i = 0; i < n; i++) {
      int from = 0;
      if (!layer_ref (cfg, sec, index, refs[i], &from, status))
        return false;
      if (i == 0) {
        l->out_w = net->layers[from].out_w;
        l->out_h = net->layers[from].out_h;
      } else if (net->layers[from].out_w != l->out_w
          || net->layers[from].out_h != l->out_h) {
        return shape_fail (status, cfg, sec, index,
            "concatenates layers of different widths or heights");
      }
      l->out_c += net->layers[from].out_c;
    }
  } else if (is_type (sec, "shortcut", NULL)) {
    int ref, from;
    const char *v = option (sec, "from");
    if (v == NULL)
      return shape_fail (status, cfg, sec, index, "needs from=");
    INT_OPT ("from", 0, ref);
    if (!layer_ref (cfg, sec, index, ref, &from, status))
      return false;
    l->type = CFG_LAYER_SHORTCUT;
  } else if (is_type (sec, "upsample", NULL)) {
    int stride;
    INT_OPT ("stride", 2, stride);
    if (stride == 0)
      return shape_fail (status, cfg, sec, index, "has stride=0");
    l->type = CFG_LAYER_UPSAMPLE;
    if (stride > 0) {
      l->out_w = w * stride;
      l->out_h = h * stride;
    } else {
      l->out_w = w / -stride;
      l->out_h = h / -stride;
    }
  } else if (is_type (sec, "dropout", NULL)) {
    l->type = CFG_LAYER_DROPOUT;
  } else if (is_type (sec, "softmax", "soft")) {
    l->type = CFG_LAYER_SOFTMAX;
  } else if (is_type (sec, "batchnorm", NULL)) {
    l->type = CFG_LAYER_BATCHNORM;
    l->weight_floats = (size_t) c * 3;
  } else if (is_type (sec, "connected", "conn")) {
    int outputs, bn;
    INT_OPT ("output", 1, outputs);
    INT_OPT ("batch_normalize", 0, bn);
    if (outputs < 1)
      return shape_fail (status, cfg, sec, index, "needs output >= 1");
    l->type = CFG_LAYER_CONNECTED;
    l->out_c = outputs;
    l->out_w = l->out_h = 1;
    l->weight_floats
        = (size_t) outputs * (bn ? 4 : 1) + (size_t) c * h * w * outputs;
  } else if (is_type (sec, "reorg", NULL)) {
    int stride, reverse;
    INT_OPT ("stride", 1, stride);
    INT_OPT ("reverse", 0, reverse);
    if (stride < 1)
      return shape_fail (status, cfg, sec, index, "needs stride >= 1");
    l->type = CFG_LAYER_REORG;
    if (reverse) {
      l->out_w = w * stride;
      l->out_h = h * stride;
      l->out_c = c / (stride * stride);
    } else {
      l->out_w = w / stride;
      l->out_h = h / stride;
      l->out_c = c * stride * stride;
    }
  } else if (is_type (sec, "yolo", NULL)) {
    int classes, total, masks[64], n;
    INT_OPT ("classes", 20, classes);
    INT_OPT ("num", 1, total);
    n = option_int_list (sec, "mask", masks, 64);
    if (n < 0)
      return shape_fail (status, cfg, sec, index, "has a malformed mask=");
    if (n == 0)
      n = total;
    if (classes < 1)
      return shape_fail (status, cfg, sec, index, "needs classes >= 1");
    if (c != n * (classes + 5)) {
      char what[160];
      snprintf (what, sizeof (what),
          "expects %d input channels (%d anchors x (%d classes + 5)) but the "
          "layer before gives %d",
          n * (classes + 5), n, classes, c);
      return shape_fail (status, cfg, sec, index, what);
    }
    for (int i = 0; i < n && option (sec, "mask") != NULL; i++)
      if (masks[i] < 0 || masks[i] >= total)
        return shape_fail (status, cfg, sec, index,
            "has a mask index outside 0 .. num-1");
    if (!check_anchors (cfg, sec, index, total, status))
      return false;
    l->type = CFG_LAYER_YOLO;
    l->classes = classes;
  } else if (is_type (sec, "region", NULL)) {
    int classes, coords, num;
    INT_OPT ("classes", 20, classes);
    INT_OPT ("coords", 4, coords);
    INT_OPT ("num", 1, num);
    if (classes < 1)
      return shape_fail (status, cfg, sec, index, "needs classes >= 1");
    if (c != num * (coords + classes + 1)) {
      char what[160];
      snprintf (what, sizeof (what),
          "expects %d input channels but the layer before gives %d",
          num * (coords + classes + 1), c);
      return shape_fail (status, cfg, sec, index, what);
    }
    if (!check_anchors (cfg, sec, index, num, status))
      return false;
    l->type = CFG_LAYER_REGION;
    l->classes = classes;
  } else {
    return yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s: layer %d [%s] at line %d is a layer type yoloswitch "
        "does not run. Supported: convolutional, maxpool, avgpool, route, "
        "shortcut, upsample, dropout, softmax, batchnorm, connected, reorg, "
        "yolo, region.",
        cfg->path, index, sec->type, sec->line);
  }
#undef INT_OPT

  if (l->out_w < 1 || l->out_h < 1 || l->out_c < 1)
    return shape_fail (status, cfg, sec, index,
        "produces an empty output: the input is too small for it");
  return true;
}

/* Appends printf output to a growing buffer; false when out of memory. */
typedef struct {
  char *data;
  size_t len, cap;
} Text;

static bool
text_add (Text *t, const char *a, const char *b, const char *c)
{
  size_t need = strlen (a) + strlen (b) + strlen (c) + 1;

  if (t->len + need > t->cap) {
    size_t cap = (t->cap + need) * 2;
    char *p = realloc (t->data, cap);
    if (p == NULL)
      return false;
    t->data = p;
    t->cap = cap;
  }
  t->len += (size_t) sprintf (t->data + t->len, "%s%s%s", a, b, c);
  return true;
}

static bool
write_darknet_text (const CfgFile *cfg, CfgNetwork *net)
{
  Text t = { 0 };
  char head[160];
  bool ok;

  snprintf (head, sizeof (head),
      "[net]\nbatch=1\nsubdivisions=1\nwidth=%d\nheight=%d\nchannels=%d\n",
      net->width, net->height, net->channels);
  ok = text_add (&t, head, "", "");
  for (int i = 1; i < cfg->count && ok; i++) {
    const CfgSection *sec = &cfg->sections[i];
    ok = text_add (&t, "\n[", sec->type, "]\n");
    for (int k = 0; k < sec->option_count && ok; k++)
      ok = text_add (&t, sec->options[k].key, "=", sec->options[k].value)
          && text_add (&t, "\n", "", "");
  }
  if (!ok) {
    free (t.data);
    return false;
  }
  net->darknet_text = t.data;
  return true;
}

bool
cfg_network_load (const char *path, CfgNetwork *net, YoloStatus *status)
{
  return cfg_network_load_sized (path, 0, 0, net, status);
}

bool
cfg_network_load_sized (const char *path, int width, int height,
    CfgNetwork *net, YoloStatus *status)
{
  CfgFile cfg;
  const CfgSection *head;
  bool ok = false;

  memset (net, 0, sizeof (*net));
  if (!cfg_file_read (&cfg, path, status))
    goto done;

  head = &cfg.sections[0];
  if (!is_type (head, "net", "network")) {
    yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s must start with [net], not [%s]: this is not a Darknet "
        "network cfg.",
        path, head->type);
    goto done;
  }
  if (!option_int (&cfg, head, "width", 0, &net->width, status)
      || !option_int (&cfg, head, "height", 0, &net->height, status)
      || !option_int (&cfg, head, "channels", 0, &net->channels, status))
    goto done;
  if (net->width < 1 || net->height < 1 || net->channels != 3) {
    yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s: [net] needs width and height >= 1 and channels=3 "
        "(has width=%d height=%d channels=%d).",
        path, net->width, net->height, net->channels);
    goto done;
  }
  if (width > 0 || height > 0) {
    /* Every layer's shape follows from the input's, and the weights do not
     * depend on it; only the strides (32 for these YOLOs) constrain it. */
    if (width < 32 || height < 32 || width % 32 != 0 || height % 32 != 0) {
      yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Input size %dx%d for %s: width and height must be multiples of 32 "
          "(the network's largest stride), e.g. 256x256 or 416x416.",
          width, height, path);
      goto done;
    }
    net->width = width;
    net->height = height;
  }
  if (cfg.count < 2) {
    yolo_fail (status, YOLO_ERR_CFG_INVALID, "Model cfg %s has no layers.",
        path);
    goto done;
  }

  net->layer_count = cfg.count - 1;
  net->layers = calloc (net->layer_count, sizeof (CfgLayer));
  if (net->layers == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", path);
    goto done;
  }
  for (int i = 0; i < net->layer_count; i++) {
    CfgLayer *l = &net->layers[i];
    const CfgSection *sec = &cfg.sections[i + 1];
    l->line = sec->line;
    if (i == 0) {
      l->in_c = net->channels;
      l->in_h = net->height;
      l->in_w = net->width;
    } else {
      l->in_c = net->layers[i - 1].out_c;
      l->in_h = net->layers[i - 1].out_h;
      l->in_w = net->layers[i - 1].out_w;
    }
    if (!infer_layer (&cfg, sec, i, net, status))
      goto done;
    net->weight_floats += l->weight_floats;
    if (l->classes > 0) {
      if (net->classes != 0 && net->classes != l->classes) {
        yolo_fail (status, YOLO_ERR_CFG_INVALID,
            "Model cfg %s: detection layers disagree on classes (%d vs %d at "
            "line %d).",
            path, net->classes, l->classes, l->line);
        goto done;
      }
      net->classes = l->classes;
    }
  }
  if (!write_darknet_text (&cfg, net)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", path);
    goto done;
  }
  if (net->classes == 0) {
    yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s has no [yolo] or [region] layer: it is not a YOLO "
        "detector.",
        path);
    goto done;
  }
  ok = true;

done:
  free (cfg.sections);
  if (!ok)
    cfg_network_clear (net);
  return ok;
}

void
cfg_network_clear (CfgNetwork *net)
{
  free (net->layers);
  free (net->darknet_text);
  memset (net, 0, sizeof (*net));
}

size_t
cfg_weights_bytes (const CfgNetwork *net, int major, int minor)
{
  size_t header = 3 * sizeof (int32_t);
  if (major * 10 + minor >= 2 && major < 1000 && minor < 1000)
    header += sizeof (uint64_t);
  else
    header += sizeof (int32_t);
  return header + net->weight_floats * sizeof (float);
}

bool
cfg_check_weights (const CfgNetwork *net, const char *path, YoloStatus *status)
{
  FILE *f = fopen (path, "rb");
  int32_t version[3];
  struct stat st;
  size_t want;

  if (f == NULL)
    return yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Cannot read model weights %s: %s. Download them with "
        "scripts/fetch-models.sh or pass the right path.",
        path, strerror (errno));
  if (fstat (fileno (f), &st) != 0 || !S_ISREG (st.st_mode)) {
    fclose (f);
    return yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Model weights %s is not a regular file.", path);
  }
  if (fread (version, sizeof (int32_t), 3, f) != 3) {
    fclose (f);
    return yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s is %lld bytes, too short for a Darknet weights "
        "header: the download was cut off. Fetch it again.",
        path, (long long) st.st_size);
  }
  fclose (f);
  want = cfg_weights_bytes (net, version[0], version[1]);
  if ((size_t) st.st_size != want)
    return yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s is %lld bytes but its cfg needs exactly %zu "
        "(%zu parameters): the file is %s, or belongs to another cfg.",
        path, (long long) st.st_size, want, net->weight_floats,
        (size_t) st.st_size < want ? "truncated" : "too long");
  return true;
}

int
cfg_count_labels (const char *path)
{
  FILE *f = fopen (path, "r");
  char line[1024];
  int n = 0;

  if (f == NULL)
    return -1;
  while (fgets (line, sizeof (line), f) != NULL)
    if (*strip (line) != '\0')
      n++;
  fclose (f);
  return n;
}
