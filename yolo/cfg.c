/* Darknet cfg loading: the network as a whole (input, every layer in turn,
 * the classes), the cfg text Darknet gets, and the weights file's size.
 * Reading the file is cfg_file.c, each layer's rule and range checks
 * cfg_check.c. */
#include "cfg_internal.h"

#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    const CfgOption *o = &cfg->options[sec->first_option];
    ok = text_add (&t, "\n[", sec->type, "]\n");
    for (int k = 0; k < sec->option_count && ok; k++)
      ok = text_add (&t, o[k].key, "=", o[k].value)
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

static bool
read_net (const CfgFile *cfg, int width, int height, CfgNetwork *net,
    YoloStatus *status)
{
  CfgCtx ctx = { cfg, &cfg->sections[0], -1, status };

  if (!cfg_is_type (ctx.sec, "net", "network"))
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s must start with [net], not [%s]: this is not a Darknet "
        "network cfg.",
        cfg->path, ctx.sec->type);
  if (cfg_option (&ctx, "width") == NULL || cfg_option (&ctx, "height") == NULL
      || cfg_option (&ctx, "channels") == NULL)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s: [net] needs width, height and channels=3.", cfg->path);
  if (!cfg_int (&ctx, "width", 0, 1, CFG_MAX_INPUT_SIDE, &net->width)
      || !cfg_int (&ctx, "height", 0, 1, CFG_MAX_INPUT_SIDE, &net->height)
      || !cfg_int (&ctx, "channels", 0, 3, 3, &net->channels))
    return false;
  if (width > 0 || height > 0) {
    /* Every layer's shape follows from the input's, and the weights do not
     * depend on it; only the strides (32 for these YOLOs) constrain it. */
    if (width < 32 || height < 32 || width % 32 != 0 || height % 32 != 0
        || width > CFG_MAX_INPUT_SIDE || height > CFG_MAX_INPUT_SIDE)
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Input size %dx%d for %s: width and height must be multiples of 32 "
          "(the network's largest stride) from 32 to %d, e.g. 256x256 or "
          "416x416.",
          width, height, cfg->path, CFG_MAX_INPUT_SIDE);
    net->width = width;
    net->height = height;
  }
  if (cfg->count < 2)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s has no layers.", cfg->path);
  return true;
}

/* Totals over the layers, bounded so that a cfg of a few KB cannot make
 * Darknet allocate more than CFG_MAX_NETWORK_FLOATS for its outputs. */
static bool
add_totals (const CfgFile *cfg, CfgNetwork *net, const CfgLayer *l,
    uint64_t *outputs, YoloStatus *status)
{
  *outputs += (uint64_t) l->out_w * l->out_h * l->out_c;
  net->weight_floats += l->weight_floats;
  if (*outputs > CFG_MAX_NETWORK_FLOATS)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d: the layers up to this one need %" PRIu64
        " floats of outputs, more than the %" PRIu64 " yoloswitch accepts "
        "for one network: lower the input size.",
        cfg->path, l->line, *outputs, (uint64_t) CFG_MAX_NETWORK_FLOATS);
  if (net->weight_floats > CFG_MAX_WEIGHT_FLOATS)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d: the layers up to this one have %zu weights, "
        "more than the %" PRIu64 " yoloswitch accepts for one network.",
        cfg->path, l->line, net->weight_floats,
        (uint64_t) CFG_MAX_WEIGHT_FLOATS);
  if (l->classes > 0) {
    if (net->classes != 0 && net->classes != l->classes)
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s: detection layers disagree on classes (%d vs %d at "
          "line %d).",
          cfg->path, net->classes, l->classes, l->line);
    net->classes = l->classes;
  }
  return true;
}

/* Everything after reading: takes cfg and frees it. */
static bool
network_from (CfgFile *cfg, int width, int height, CfgNetwork *net,
    YoloStatus *status)
{
  const char *path = cfg->path;
  uint64_t outputs = 0;
  const CfgLayer *last;
  bool ok = false;

  if (!read_net (cfg, width, height, net, status))
    goto done;

  net->layer_count = cfg->count - 1;
  net->layers = calloc ((size_t) net->layer_count, sizeof (CfgLayer));
  if (net->layers == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", path);
    goto done;
  }
  for (int i = 0; i < net->layer_count; i++) {
    CfgLayer *l = &net->layers[i];
    CfgCtx ctx = { cfg, &cfg->sections[i + 1], i, status };
    l->line = ctx.sec->line;
    if (i == 0) {
      l->in_c = net->channels;
      l->in_h = net->height;
      l->in_w = net->width;
    } else {
      l->in_c = net->layers[i - 1].out_c;
      l->in_h = net->layers[i - 1].out_h;
      l->in_w = net->layers[i - 1].out_w;
    }
    if (!cfg_infer_layer (&ctx, net)
        || !add_totals (cfg, net, l, &outputs, status))
      goto done;
  }
  if (!write_darknet_text (cfg, net)) {
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
  /* Darknet's get_network_boxes() sizes every box's class probabilities
   * by the last layer's classes: after any other layer (0 classes) the
   * detection layers write past them. */
  last = &net->layers[net->layer_count - 1];
  if (last->type != CFG_LAYER_YOLO && last->type != CFG_LAYER_REGION) {
    yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s: the last layer (line %d) must be [yolo] or [region]: "
        "Darknet decodes boxes with the last layer's class count.",
        path, last->line);
    goto done;
  }
  ok = true;

done:
  cfg_file_free (cfg);
  if (!ok)
    cfg_network_clear (net);
  return ok;
}

bool
cfg_network_load_sized (const char *path, int width, int height,
    CfgNetwork *net, YoloStatus *status)
{
  CfgFile cfg;

  memset (net, 0, sizeof (*net));
  if (!cfg_file_read (&cfg, path, status)) {
    cfg_file_free (&cfg);
    return false;
  }
  return network_from (&cfg, width, height, net, status);
}

bool
cfg_network_parse (const char *name, const char *text, size_t len, int width,
    int height, CfgNetwork *net, YoloStatus *status)
{
  CfgFile cfg;

  memset (net, 0, sizeof (*net));
  if (!cfg_file_parse (&cfg, name, text, len, status)) {
    cfg_file_free (&cfg);
    return false;
  }
  return network_from (&cfg, width, height, net, status);
}

float
cfg_float (const CfgCtx *ctx, const char *key, float fallback)
{
  const char *v = cfg_option_value (ctx, key);

  return v == NULL ? fallback : (float) strtod (v, NULL);
}

void
cfg_float_list (const CfgCtx *ctx, const char *key, float *out, int n)
{
  const char *v = cfg_option_value (ctx, key);

  for (int i = 0; i < n && v != NULL; i++) {
    out[i] = (float) strtod (v, NULL);
    v = strchr (v, ',');
    if (v != NULL)
      v++;
  }
}

void
cfg_network_clear (CfgNetwork *net)
{
  for (int i = 0; net->layers != NULL && i < net->layer_count; i++) {
    free (net->layers[i].refs);
    free (net->layers[i].mask);
    free (net->layers[i].anchors);
  }
  free (net->layers);
  free (net->darknet_text);
  memset (net, 0, sizeof (*net));
}

size_t
cfg_weights_bytes (const CfgNetwork *net, int major, int minor)
{
  size_t header = 3 * sizeof (int32_t);
  /* Darknet's test, major * 10 + minor in int, as it wraps on x86 but
   * without the signed overflow: both must read the same header size. */
  int32_t version = (int32_t) ((uint32_t) major * 10u + (uint32_t) minor);

  if (version >= 2 && major < 1000 && minor < 1000)
    header += sizeof (uint64_t);
  else
    header += sizeof (int32_t);
  return header + net->weight_floats * sizeof (float);
}

bool
cfg_check_weights (const CfgNetwork *net, const char *path, YoloStatus *status)
{
  /* O_NONBLOCK: a FIFO given as the path must not hang the check before
   * fstat() refuses it (no effect on regular files). */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  FILE *f = fd >= 0 ? fdopen (fd, "rb") : NULL;
  int32_t version[3];
  struct stat st;
  size_t want;

  if (f == NULL) {
    int err = errno;
    if (fd >= 0)
      close (fd);
    return yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Cannot read model weights %s: %s. Download them with "
        "scripts/fetch-models.sh or pass the right path.",
        path, strerror (err));
  }
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
  /* Counted as model.c's read_labels() counts them. */
  while (fgets (line, sizeof (line), f) != NULL)
    if (strcspn (line, "\r\n") != 0 && n < INT32_MAX)
      n++;
  fclose (f);
  return n;
}
