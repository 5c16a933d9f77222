/* Reading a Darknet .weights file without Darknet.
 *
 * The file is memory-mapped read-only, checked to be exactly the size the
 * cfg needs (cfg_weights_bytes(): Darknet itself reads a short file
 * silently and runs on garbage), and walked layer by layer in Darknet's
 * order: convolutional layers hold biases, then with batch_normalize
 * scales, rolling means and variances, then the kernels; connected layers
 * biases, weights, then the batch-norm triple; [batchnorm] layers the
 * triple alone.  Batch-norm is folded as Darknet's inference computes it,
 * scale / (sqrt (variance) + .000001f) (the fast engine's fold_conv), and
 * only the folded floats are kept: the mapping is gone when loading ends. */
#include "net_internal.h"

#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  const unsigned char *at, *end;
} Reader;

/* Next n floats of the file (its size was checked: never past the end). */
static const unsigned char *
take (Reader *r, size_t n)
{
  const unsigned char *p = r->at;

  r->at += n * sizeof (float);
  return p;
}

static float
flt (const unsigned char *p, size_t i)
{
  float v;

  /* The mapping holds floats at 4-byte offsets, but say so portably. */
  memcpy (&v, p + i * sizeof (float), sizeof (v));
  return v;
}

/* out = a * (x ...) + b per output: a, b from the batch-norm triple. */
static void
fold (const unsigned char *bias, const unsigned char *scales,
    const unsigned char *mean, const unsigned char *var, int o, float *a,
    float *b)
{
  *a = 1.f;
  *b = flt (bias, (size_t) o);
  if (scales != NULL) {
    *a = flt (scales, (size_t) o) / (sqrtf (flt (var, (size_t) o)) + .000001f);
    *b = flt (bias, (size_t) o) - flt (mean, (size_t) o) * *a;
  }
}

static bool
alloc_layer (NnLayer *l, size_t weights, size_t biases)
{
  l->weights = malloc (sizeof (float) * (weights ? weights : 1));
  l->bias = malloc (sizeof (float) * (biases ? biases : 1));
  return l->weights != NULL && l->bias != NULL;
}

static bool
load_conv (NnLayer *l, Reader *r)
{
  int n = l->p.filters;
  size_t per = (size_t) l->p.in_c / l->p.groups * l->p.size * l->p.size;
  const unsigned char *bias = take (r, (size_t) n), *scales = NULL,
                      *mean = NULL, *var = NULL, *w;

  if (l->p.batch_normalize) {
    scales = take (r, (size_t) n);
    mean = take (r, (size_t) n);
    var = take (r, (size_t) n);
  }
  w = take (r, per * n);
  if (!alloc_layer (l, per * n, (size_t) n))
    return false;
  for (int o = 0; o < n; o++) {
    float a, b;
    fold (bias, scales, mean, var, o, &a, &b);
    for (size_t i = 0; i < per; i++)
      l->weights[o * per + i] = flt (w, o * per + i) * a;
    l->bias[o] = b;
  }
  return true;
}

/* transposed: the file holds [inputs][outputs] (Darknet transposes when
 * the header's major or minor is above 1000). */
static bool
load_connected (NnLayer *l, Reader *r, bool transposed)
{
  int n = l->p.out_c;
  size_t k = nn_layer_inputs (l);
  const unsigned char *bias = take (r, (size_t) n), *w = take (r, k * n);
  const unsigned char *scales = NULL, *mean = NULL, *var = NULL;

  if (l->p.batch_normalize) {
    scales = take (r, (size_t) n);
    mean = take (r, (size_t) n);
    var = take (r, (size_t) n);
  }
  if (!alloc_layer (l, k * n, (size_t) n))
    return false;
  for (int o = 0; o < n; o++) {
    float a, b;
    fold (bias, scales, mean, var, o, &a, &b);
    for (size_t i = 0; i < k; i++)
      l->weights[o * k + i]
          = flt (w, transposed ? i * (size_t) n + o : o * k + i) * a;
    l->bias[o] = b;
  }
  return true;
}

/* Darknet's [batchnorm] adds zero biases it never reads from the file. */
static bool
load_batchnorm (NnLayer *l, Reader *r)
{
  int c = l->p.in_c;
  const unsigned char *scales = take (r, (size_t) c), *mean = take (r, c),
                      *var = take (r, (size_t) c);

  if (!alloc_layer (l, (size_t) c, (size_t) c))
    return false;
  for (int i = 0; i < c; i++) {
    l->weights[i] = flt (scales, i) / (sqrtf (flt (var, i)) + .000001f);
    l->bias[i] = -flt (mean, i) * l->weights[i];
  }
  return true;
}

bool
nn_weights_load (NnNet *net, const CfgNetwork *cfg, const char *path,
    YoloStatus *status)
{
  /* O_NONBLOCK: a FIFO given as the path must not hang the load before
   * fstat() refuses it (no effect on regular files). */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  void *map = MAP_FAILED;
  int32_t head[3];
  size_t want;
  Reader r;
  bool ok = false;

  if (fd < 0)
    return yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Cannot read model weights %s: %s. Download them with "
        "scripts/fetch-models.sh or pass the right path.",
        path, strerror (errno));
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Model weights %s is not a regular file.", path);
    goto done;
  }
  if ((size_t) st.st_size < sizeof (head)) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s is %lld bytes, too short for a Darknet weights "
        "header: the download was cut off. Fetch it again.",
        path, (long long) st.st_size);
    goto done;
  }
  map = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Cannot map model weights %s: %s.", path, strerror (errno));
    goto done;
  }
  /* The size is checked on what is mapped, not on an earlier stat. */
  memcpy (head, map, sizeof (head));
  want = cfg_weights_bytes (cfg, head[0], head[1]);
  if ((size_t) st.st_size != want) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s is %lld bytes but its cfg needs exactly %zu "
        "(%zu parameters): the file is %s, or belongs to another cfg.",
        path, (long long) st.st_size, want, cfg->weight_floats,
        (size_t) st.st_size < want ? "truncated" : "too long");
    goto done;
  }
  r.at = (const unsigned char *) map + (want - cfg->weight_floats * 4);
  r.end = (const unsigned char *) map + want;
  for (int i = 0; i < net->layer_count; i++) {
    NnLayer *l = &net->layers[i];
    bool loaded = true;
    switch (l->p.type) {
      case CFG_LAYER_CONVOLUTIONAL: loaded = load_conv (l, &r); break;
      case CFG_LAYER_CONNECTED:
        loaded = load_connected (l, &r, head[0] > 1000 || head[1] > 1000);
        break;
      case CFG_LAYER_BATCHNORM: loaded = load_batchnorm (l, &r); break;
      default: break;
    }
    if (!loaded) {
      yolo_fail (status, YOLO_ERR_LOAD, "Out of memory loading %s", path);
      goto done;
    }
  }
  net->weight_floats = cfg->weight_floats;
  ok = r.at == r.end;
  if (!ok)
    yolo_fail (status, YOLO_ERR_LOAD,
        "Model weights %s: internal error, the layers read %zu of %zu bytes.",
        path, (size_t) (r.at - (const unsigned char *) map), want);

done:
  if (map != MAP_FAILED)
    munmap (map, (size_t) st.st_size);
  close (fd);
  return ok;
}
