/* The Darknet backend: the reference engine, stock libdarknet, built as the
 * module yoloswitch-darknet.so (see backend.h) so that only processes that
 * open such a model map libdarknet and OpenBLAS.
 *
 * The network is built by load_network() from the sanitized cfg text
 * (CfgNetwork.darknet_text), after model.c has checked everything Darknet
 * would exit() on, and runs Darknet's own forward functions on it. */
#include "darknet_backend.h"

#include "darknet_init.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Darknet prints its layer table on stderr while loading.  Silencing it means
 * swapping fd 2, which must not race with another model load. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* Writes the sanitized cfg text where Darknet can read it. */
static bool
write_temp_cfg (const char *text, char *path, size_t pathlen)
{
  const char *dir = getenv ("TMPDIR");
  size_t len = strlen (text);
  int fd;
  bool ok;

  snprintf (path, pathlen, "%s/yoloswitch-cfg-XXXXXX",
      dir != NULL && *dir != '\0' ? dir : "/tmp");
  fd = mkstemp (path);
  if (fd < 0)
    return false;
  ok = write (fd, text, len) == (ssize_t) len;
  close (fd);
  if (!ok)
    unlink (path);
  return ok;
}

static network *
load_darknet_quietly (const YoloModelFiles *files, const char *cfg_text,
    YoloStatus *status)
{
  network *net;
  int saved = -1, devnull;
  bool verbose = getenv ("YOLOSWITCH_DARKNET_VERBOSE") != NULL;
  char cfg_path[4096];

  if (!write_temp_cfg (cfg_text, cfg_path, sizeof (cfg_path))) {
    yolo_fail (status, YOLO_ERR_LOAD,
        "Cannot write a temporary file for Darknet in $TMPDIR or /tmp: %s",
        strerror (errno));
    return NULL;
  }

  pthread_mutex_lock (&load_lock);
  if (!verbose) {
    fflush (stderr);
    saved = dup (STDERR_FILENO);
    devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && devnull >= 0)
      dup2 (devnull, STDERR_FILENO);
    if (devnull >= 0)
      close (devnull);
  }
  /* Darknet's API takes non-const strings but does not modify them. */
  yolo_darknet_skip_random_init (true);
  net = load_network (cfg_path, (char *) files->weights_path, 0);
  yolo_darknet_skip_random_init (false);
  if (net != NULL)
    set_batch_network (net, 1);
  if (saved >= 0) {
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
  }
  pthread_mutex_unlock (&load_lock);
  unlink (cfg_path);
  if (net == NULL)
    yolo_fail (status, YOLO_ERR_LOAD,
        "Darknet could not build model \"%s\" from %s; rerun with "
        "YOLOSWITCH_DARKNET_VERBOSE=1 to see its log.",
        files->name, files->cfg_path);
  return net;
}

/* free_network() misses these; without this every open/close leaks the
 * workspace (megabytes) and glibc keeps the heap from shrinking. */
static void
free_darknet (network *net)
{
  for (int i = 0; i < net->n; i++)
    if (net->layers[i].type == YOLO) {
      free (net->layers[i].mask);
      net->layers[i].mask = NULL;
    }
  free (net->workspace);
  free (net->seen);
  free (net->t);
  free (net->cost);
  free (net->steps);
  free (net->scales);
  net->workspace = NULL;
  free_network (net);
}

/* model.c and handover.c read layer shapes from the cfg: Darknet must have
 * built the same ones, or a handover would copy the wrong sizes. */
static bool
matches_cfg (const network *net, const CfgNetwork *cfg)
{
  if (net->w != cfg->width || net->h != cfg->height
      || net->n != cfg->layer_count)
    return false;
  for (int i = 0; i < net->n; i++) {
    const layer *l = &net->layers[i];
    const CfgLayer *c = &cfg->layers[i];
    if (l->out_c != c->out_c || l->out_h != c->out_h || l->out_w != c->out_w
        || l->outputs != c->out_c * c->out_h * c->out_w)
      return false;
  }
  return true;
}

static void darknet_backend_free (YoloBackendModel *b);

/* Stock Darknet's forward_batchnorm_layer() copies into l.x, which
 * make_batchnorm_layer() allocates only for training: a [batchnorm] layer
 * crashes it on the first frame, so it is refused before Darknet loads. */
static bool
refuse_batchnorm (const YoloModelFiles *files, const CfgNetwork *cfg,
    YoloStatus *status)
{
  for (int i = 0; i < cfg->layer_count; i++) {
    if (cfg->layers[i].type != CFG_LAYER_BATCHNORM)
      continue;
    yolo_fail (status, YOLO_ERR_CFG_UNSUPPORTED,
        "Model cfg %s line %d: a [batchnorm] layer crashes stock Darknet; "
        "open this model with engine=fast, which runs it.",
        files->cfg_path, cfg->layers[i].line);
    return true;
  }
  return false;
}

static YoloBackendModel *
darknet_backend_open (const YoloModelFiles *files, const CfgNetwork *cfg,
    YoloEngine engine, int threads, bool keep_outputs, YoloStatus *status)
{
  YoloBackendModel *b = calloc (1, sizeof (*b));

  /* Only engine=darknet comes here; Darknet runs its layers on one
   * thread and keeps every output. */
  (void) engine;
  (void) threads;
  (void) keep_outputs;
  if (b == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    return NULL;
  }
  if (refuse_batchnorm (files, cfg, status))
    goto fail;
  b->classes = cfg->classes;
  b->net = load_darknet_quietly (files, cfg->darknet_text, status);
  if (b->net == NULL)
    goto fail;
  if (!matches_cfg (b->net, cfg)) {
    yolo_fail (status, YOLO_ERR_LOAD,
        "Darknet built model \"%s\" from %s with other layer shapes than "
        "its cfg describes; rerun with YOLOSWITCH_DARKNET_VERBOSE=1 to see "
        "its log.",
        files->name, files->cfg_path);
    goto fail;
  }
  return b;

fail:
  darknet_backend_free (b);
  return NULL;
}

static void
darknet_backend_free (YoloBackendModel *b)
{
  if (b == NULL)
    return;
  if (b->net != NULL)
    free_darknet (b->net);
  free (b);
}

/* The network struct is restored afterwards, as network_predict() does:
 * free_network() frees net->input, which must stay Darknet's own buffer. */
static bool
darknet_backend_forward (YoloBackendModel *b, int from, int to,
    const float *input, YoloProfile *profile, YoloStatus *status)
{
  network saved = *b->net;

  /* Darknet's forward functions read their input without writing it. */
  b->net->input = from == 0 ? (float *) input : b->net->layers[from - 1].output;
  b->net->train = 0;
  b->net->truth = 0;
  b->net->delta = 0;
  darknet_forward_range (b->net, from, to, profile);
  *b->net = saved;
  b->ran = true;
  (void) status;
  return true;
}

/* Darknet keeps every layer's output, so each stays valid until the next
 * run writes it again. */
static const float *
darknet_backend_layer_output (YoloBackendModel *b, int index)
{
  return b->ran ? b->net->layers[index].output : NULL;
}

static bool
darknet_backend_set_layer_output (YoloBackendModel *b, int index,
    const float *data)
{
  const layer *l = &b->net->layers[index];

  memcpy (l->output, data, sizeof (float) * (size_t) l->outputs);
  return true;
}

static const YoloBackendOps darknet_ops = {
  .abi = YOLO_BACKEND_ABI,
  .name = "darknet",
  .open = darknet_backend_open,
  .forward = darknet_backend_forward,
  .layer_output = darknet_backend_layer_output,
  .set_layer_output = darknet_backend_set_layer_output,
  .decode = darknet_backend_decode,
  .free = darknet_backend_free,
};

/* The module's one exported symbol (it is built with hidden visibility). */
__attribute__ ((visibility ("default"))) const YoloBackendOps *
yoloswitch_backend_entry (unsigned abi, unsigned layout);

const YoloBackendOps *
yoloswitch_backend_entry (unsigned abi, unsigned layout)
{
  if (abi != YOLO_BACKEND_ABI || layout != YOLO_BACKEND_LAYOUT)
    return NULL;
  return &darknet_ops;
}
