/* Loading and running a model with libdarknet.
 *
 * Everything Darknet would exit() on is checked first (cfg.c): files that
 * cannot be opened, unknown layers, weights of the wrong size.  Running a
 * range of layers and the handover across a cut are in handover.c. */
#include "model_internal.h"

#include "darknet_init.h"
#include "status.h"

#include <darknet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Darknet prints its layer table on stderr while loading.  Silencing it means
 * swapping fd 2, which must not race with another model load. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
yolo_engine_name (YoloEngine engine)
{
  return engine == YOLO_ENGINE_DARKNET ? "darknet" : "fast";
}

bool
yolo_engine_from_name (const char *name, YoloEngine *engine)
{
  if (strcmp (name, "fast") == 0)
    *engine = YOLO_ENGINE_FAST;
  else if (strcmp (name, "darknet") == 0)
    *engine = YOLO_ENGINE_DARKNET;
  else
    return false;
  return true;
}

void
yolo_infer_options_init (YoloInferOptions *options)
{
  options->threshold = YOLO_DEFAULT_THRESHOLD;
  options->nms = YOLO_DEFAULT_NMS;
  options->letterbox = false;
}

static bool
read_labels (YoloModel *m, YoloStatus *status)
{
  FILE *f = fopen (m->files.labels_path, "r");
  char line[1024];

  if (f == NULL)
    return yolo_fail (status, YOLO_ERR_LABELS_MISSING,
        "Cannot read labels %s for model \"%s\": set labels to the .names "
        "file that lists its %d classes.",
        m->files.labels_path, m->files.name, m->cfg.classes);
  m->labels = calloc (m->cfg.classes, sizeof (char *));
  while (m->labels != NULL && fgets (line, sizeof (line), f) != NULL) {
    size_t n = strcspn (line, "\r\n");
    line[n] = '\0';
    if (n == 0)
      continue;
    if (m->label_count < m->cfg.classes)
      m->labels[m->label_count] = strdup (line);
    m->label_count++;
  }
  fclose (f);
  if (m->labels == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading labels");
  if (m->label_count != m->cfg.classes)
    return yolo_fail (status, YOLO_ERR_LABELS_COUNT,
        "Labels %s list %d classes but model \"%s\" detects %d: use the "
        ".names file the model was trained with.",
        m->files.labels_path, m->label_count, m->files.name, m->cfg.classes);
  return true;
}

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

YoloModel *
yolo_model_open (const YoloModelSpec *spec, YoloStatus *status)
{
  YoloModel *m = calloc (1, sizeof (*m));
  double t0 = yolo_now_ms ();

  if (m == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    return NULL;
  }
  if (!yolo_model_resolve (spec, &m->files, status))
    goto fail;
  if (!cfg_network_load_sized (m->files.cfg_path, spec->input_width,
          spec->input_height, &m->cfg, status))
    goto fail;
  if (!cfg_check_weights (&m->cfg, m->files.weights_path, status))
    goto fail;
  if (!read_labels (m, status))
    goto fail;

  m->net = load_darknet_quietly (&m->files, m->cfg.darknet_text, status);
  if (m->net == NULL)
    goto fail;
  if (m->net->w != m->cfg.width || m->net->h != m->cfg.height
      || m->net->n != m->cfg.layer_count) {
    yolo_fail (status, YOLO_ERR_LOAD,
        "Darknet could not build model \"%s\" from %s; rerun with "
        "YOLOSWITCH_DARKNET_VERBOSE=1 to see its log.",
        m->files.name, m->files.cfg_path);
    goto fail;
  }
  m->input = yolo_input_new (m);
  if (m->input == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    goto fail;
  }
  m->engine = spec->engine;
  m->threads = spec->threads > 0 ? spec->threads
                                 : (int) sysconf (_SC_NPROCESSORS_ONLN);
  if (m->threads < 1)
    m->threads = 1;
  if (m->engine == YOLO_ENGINE_FAST
      && (m->fast = fast_engine_new (m->net, m->threads, status)) == NULL)
    goto fail;
  m->load_ms = yolo_now_ms () - t0;
  yolo_status_ok (status);
  return m;

fail:
  yolo_model_close (m);
  return NULL;
}

void
yolo_model_close (YoloModel *m)
{
  if (m == NULL)
    return;
  fast_engine_free (m->fast);
  yolo_nms_scratch_free (&m->nms);
  if (m->net != NULL)
    free_darknet (m->net);
  for (int i = 0; m->labels != NULL && i < m->cfg.classes; i++)
    free (m->labels[i]);
  free (m->labels);
  yolo_input_free (m->input);
  cfg_network_clear (&m->cfg);
  free (m);
}

const char *
yolo_model_name (const YoloModel *m)
{
  return m->files.name;
}

const YoloModelFiles *
yolo_model_files (const YoloModel *m)
{
  return &m->files;
}

int
yolo_model_input_width (const YoloModel *m)
{
  return m->cfg.width;
}

int
yolo_model_input_height (const YoloModel *m)
{
  return m->cfg.height;
}

int
yolo_model_class_count (const YoloModel *m)
{
  return m->cfg.classes;
}

const char *
yolo_model_label (const YoloModel *m, int class_id)
{
  if (class_id < 0 || class_id >= m->cfg.classes)
    return "?";
  return m->labels[class_id];
}

double
yolo_model_load_ms (const YoloModel *m)
{
  return m->load_ms;
}

YoloEngine
yolo_model_engine (const YoloModel *m)
{
  return m->engine;
}

int
yolo_model_threads (const YoloModel *m)
{
  return m->threads;
}

int
yolo_model_layer_count (const YoloModel *m)
{
  return m->net->n;
}

const char *
yolo_profile_kind_name (YoloProfileKind kind)
{
  static const char *const names[YOLO_PROFILE_KINDS] = {
    "conv_1x1",
    "conv_gemm",
    "conv_depthwise",
    "conv_grouped",
    "maxpool",
    "route",
    "shortcut",
    "upsample",
    "detection",
    "other",
    "decode",
  };
  return (unsigned) kind < YOLO_PROFILE_KINDS ? names[kind] : "unknown";
}

void
yolo_model_profile (const YoloModel *m, YoloProfile *profile)
{
  *profile = m->profile;
}

void
yolo_model_profile_reset (YoloModel *m)
{
  memset (&m->profile, 0, sizeof (m->profile));
}

/* Runs [from, to) on `input`, the input of layer `from`.  The network
 * struct is restored afterwards, as network_predict() does: free_network()
 * frees net->input, which must stay Darknet's own buffer. */
void
model_forward_range (YoloModel *m, int from, int to, float *input)
{
  network saved = *m->net;

  m->net->input = input;
  m->net->train = 0;
  m->net->truth = 0;
  m->net->delta = 0;
  if (m->fast != NULL)
    fast_engine_forward (m->fast, m->net, from, to, &m->profile);
  else
    darknet_forward_range (m->net, from, to, &m->profile);
  *m->net = saved;
}

static float
clampf (float v, float lo, float hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

static int
by_confidence (const void *a, const void *b)
{
  const YoloDetection *x = a, *y = b;
  if (x->confidence != y->confidence)
    return x->confidence < y->confidence ? 1 : -1;
  return x->class_id - y->class_id;
}

/* Darknet's YOLO/region decoding and NMS over the detection layers'
 * outputs, boxes scaled to the source frame. */
bool
model_decode (YoloModel *m, int source_width, int source_height, bool letterbox,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status)
{
  int nboxes = 0;
  detection *dets;
  float sw = (float) source_width, sh = (float) source_height;

  /* With a plain resize the boxes must not be "un-letterboxed": asking for
   * them relative to the network size makes Darknet's correction a no-op. */
  if (letterbox)
    dets = get_network_boxes (m->net, source_width, source_height,
        options->threshold, 0.5f, NULL, 1, &nboxes);
  else
    dets = get_network_boxes (m->net, m->net->w, m->net->h, options->threshold,
        0.5f, NULL, 1, &nboxes);
  /* The darknet engine stays stock from end to end, as the reference. */
  if (options->nms > 0 && m->engine == YOLO_ENGINE_DARKNET)
    do_nms_sort (dets, nboxes, m->cfg.classes, options->nms);
  else if (options->nms > 0
      && !yolo_nms_darknet (dets, nboxes, m->cfg.classes, options->nms,
          &m->nms)) {
    free_detections (dets, nboxes);
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  }

  yolo_detections_clear (out);
  for (int i = 0; i < nboxes; i++) {
    box b = dets[i].bbox;
    float x0 = clampf ((b.x - b.w / 2) * sw, 0, sw);
    float y0 = clampf ((b.y - b.h / 2) * sh, 0, sh);
    float x1 = clampf ((b.x + b.w / 2) * sw, 0, sw);
    float y1 = clampf ((b.y + b.h / 2) * sh, 0, sh);
    if (x1 <= x0 || y1 <= y0)
      continue;
    for (int j = 0; j < m->cfg.classes; j++) {
      if (dets[i].prob[j] > options->threshold) {
        YoloDetection d = {
          .class_id = j,
          .label = m->labels[j],
          .confidence = dets[i].prob[j],
          .x = x0,
          .y = y0,
          .w = x1 - x0,
          .h = y1 - y0,
        };
        if (!yolo_detections_append (out, &d)) {
          free_detections (dets, nboxes);
          return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
        }
      }
    }
  }
  free_detections (dets, nboxes);
  if (out->count > 1)
    qsort (out->items, out->count, sizeof (YoloDetection), by_confidence);
  return true;
}

bool
yolo_model_run (YoloModel *m, const YoloInput *input,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status)
{
  double t0 = yolo_now_ms (), t1;

  if (input->width != m->cfg.width || input->height != m->cfg.height)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Input tensor is %dx%d but model \"%s\" takes %dx%d.", input->width,
        input->height, m->files.name, m->cfg.width, m->cfg.height);

  model_forward_range (m, 0, m->net->n, input->data);
  t1 = yolo_now_ms ();
  if (!model_decode (m, input->source_width, input->source_height,
          input->letterbox, options, out, status))
    return false;
  out->infer_ms = yolo_now_ms () - t0;
  m->profile.ms[YOLO_PROFILE_DECODE] += yolo_now_ms () - t1;
  m->profile.layers[YOLO_PROFILE_DECODE]++;
  m->profile.runs++;
  yolo_status_ok (status);
  return true;
}

bool
yolo_model_detect (YoloModel *m, const YoloFrame *frame,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status)
{
  if (!yolo_input_fill (m->input, frame, options->letterbox, status))
    return false;
  return yolo_model_run (m, m->input, options, out, status);
}
