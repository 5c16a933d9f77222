/* Loading and running a model: what does not depend on the engine.
 *
 * Everything an engine would fail on is checked first (cfg.c): files that
 * cannot be opened, unknown layers, weights of the wrong size, labels; then
 * the engine's backend (backend.h) builds the network.  Running a range of
 * layers and the handover across a cut are in handover.c. */
#include "model_internal.h"

#include "cpus.h"

#include "status.h"
#include "weights_q8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each new run's share of a layer's smoothed time: a fifth, so that a
 * change of load shows within a few frames and one slow run does not. */
#define LAYER_TIME_WEIGHT 0.2

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

/* Which backend runs an engine: "fast" is our own network, in-process;
 * only "darknet" loads the Darknet module (and libdarknet with it). */
static const YoloBackendOps *
backend_for (YoloEngine engine, YoloStatus *status)
{
  switch (engine) {
    case YOLO_ENGINE_FAST: return yolo_backend_nn ();
    case YOLO_ENGINE_DARKNET: return yolo_backend_darknet (status);
  }
  yolo_fail (status, YOLO_ERR_INPUT, "Unknown engine %d: use fast or darknet.",
      (int) engine);
  return NULL;
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
  /* 8-bit weights (weights_q8.h) become the float file they stand for,
   * in memory, before either engine or the hash reads them. */
  if (yolo_q8_is_file (m->files.weights_path)) {
    m->q8_fd = yolo_q8_expand (m->files.weights_path, &m->cfg, status);
    if (m->q8_fd < 0)
      goto fail;
    m->q8 = true;
    memcpy (m->q8_source, m->files.weights_path, sizeof (m->q8_source));
    snprintf (m->files.weights_path, sizeof (m->files.weights_path),
        "/proc/self/fd/%d", m->q8_fd);
  }
  if (!cfg_check_weights (&m->cfg, m->files.weights_path, status))
    goto fail;
  if (!read_labels (m, status))
    goto fail;

  m->input = yolo_input_new (m);
  m->layer_ms = calloc ((size_t) m->cfg.layer_count, sizeof (double));
  if (m->input == NULL || m->layer_ms == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    goto fail;
  }
  m->engine = spec->engine;
  /* 0: every core the process may use.  The pool hands tasks out as
   * threads come free, so a core the rest of the pipeline takes slows a
   * layer down instead of stalling it on a descheduled thread. */
  m->threads = spec->threads > 0 ? spec->threads : yolo_usable_cores ();
  if (m->threads < 1)
    m->threads = 1;
  m->backend = backend_for (m->engine, status);
  if (m->backend == NULL)
    goto fail;
  m->keep_layer_outputs = spec->keep_layer_outputs;
  m->impl = m->backend->open (&m->files, &m->cfg, m->engine, m->threads,
      m->keep_layer_outputs, status);
  if (m->impl == NULL)
    goto fail;
  if (m->q8) {
    /* The hash reads the expanded floats: taken now, the in-memory copy
     * can go (the engine holds its own), and messages name the file. */
    uint64_t hash;
    if (!yolo_model_hash (m, &hash, status))
      goto fail;
    close (m->q8_fd);
    m->q8 = false;
    memcpy (m->files.weights_path, m->q8_source, sizeof (m->q8_source));
  }
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
  if (m->impl != NULL)
    m->backend->free (m->impl);
  for (int i = 0; m->labels != NULL && i < m->cfg.classes; i++)
    free (m->labels[i]);
  free (m->labels);
  yolo_input_free (m->input);
  free (m->layer_ms);
  cfg_network_clear (&m->cfg);
  if (m->q8)
    close (m->q8_fd);
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
  return m->cfg.layer_count;
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
  memset (m->layer_ms, 0, (size_t) m->cfg.layer_count * sizeof (double));
}

int
yolo_model_layer_times (const YoloModel *m, double *ms, int n)
{
  int layers = m->cfg.layer_count;
  memcpy (ms, m->layer_ms,
      (size_t) (n < layers ? n : layers) * sizeof (double));
  return layers;
}

bool
model_forward_range (YoloModel *m, int from, int to, const float *input,
    YoloStatus *status)
{
  /* One layer at a time (the engines run their ranges so anyway): each
   * layer's time is what a split predicts its cuts from. */
  for (int i = from; i < to; i++) {
    double t0 = yolo_now_ms (), ms;
    if (!m->backend->forward (m->impl, i, i + 1, i == from ? input : NULL,
            &m->profile, status))
      return false;
    ms = yolo_now_ms () - t0;
    m->layer_ms[i] = m->layer_ms[i] > 0
        ? m->layer_ms[i] + LAYER_TIME_WEIGHT * (ms - m->layer_ms[i])
        : ms;
  }
  return true;
}

static int
by_confidence (const void *a, const void *b)
{
  const YoloDetection *x = a, *y = b;
  if (x->confidence != y->confidence)
    return x->confidence < y->confidence ? 1 : -1;
  return x->class_id - y->class_id;
}

/* The order is ours, not the engine's, so every engine lists the same
 * detections the same way. */
bool
model_decode (YoloModel *m, int source_width, int source_height, bool letterbox,
    const YoloInferOptions *options, YoloDetections *out, YoloStatus *status)
{
  YoloDecodeRequest request = {
    .source_width = source_width,
    .source_height = source_height,
    .letterbox = letterbox,
    .options = options,
    .labels = (const char *const *) m->labels,
  };

  if (!m->backend->decode (m->impl, &request, out, status))
    return false;
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

  if (!model_forward_range (m, 0, m->cfg.layer_count, input->data, status))
    return false;
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
