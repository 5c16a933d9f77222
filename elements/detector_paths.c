/* Building paths from the settings, for the subclasses' prepare: the
 * local model as the model properties say, the edge session as the edge
 * properties say.  A failure posts the error a person reads. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_private.h"

#include "edge_path.h"
#include "local_path.h"

#include <string.h>

#define GST_CAT_DEFAULT (GST_YOLO_DETECTOR_GET_CLASS (self)->debug)
#define CLASS(self) GST_YOLO_DETECTOR_GET_CLASS (self)

/* ---- building paths, for prepare ---------------------------------------------------- */

gboolean
ys_detector_local_spec (GstYoloDetector *self, const YsDetectorSettings *st,
    gboolean playing, YoloModelSpec *spec, gboolean *held)
{
  spec->name = st->local_model;
  spec->model_dir = st->model_dir;
  spec->cfg_path = st->config;
  spec->weights_path = st->weights;
  spec->labels_path = st->labels;
  *held = FALSE;
  /* Explicit paths name the model; the default name only fills the rest. */
  if (st->config != NULL
      && g_strcmp0 (st->local_model, YOLO_DEFAULT_LOCAL_MODEL) == 0)
    spec->name = NULL;
  /* A model the search path lacks comes from the model cache (not one
   * given by its files). */
  if (spec->cfg_path != NULL)
    return TRUE;
  if (playing)
    return ys_detector_model_dir_quiet (self, st, spec->name, &spec->model_dir,
        held);
  return ys_detector_model_dir (self, st, spec->name, &spec->model_dir);
}

YsPath *
ys_detector_local_path (GstYoloDetector *self, const YsDetectorSettings *st,
    int input_width, int input_height)
{
  YsLocalWorkerOptions o;
  YoloStatus status = { 0 };
  YsPath *path;
  gchar search[8192];
  gboolean held;

  memset (&o, 0, sizeof (o));
  if (!ys_detector_local_spec (self, st, FALSE, &o.spec, &held))
    return NULL;
  o.spec.engine = (YoloEngine) st->engine;
  o.spec.threads = (int) st->threads;
  o.spec.input_width = input_width;
  o.spec.input_height = input_height;
  yolo_infer_options_init (&o.options);
  o.options.threshold = st->threshold;
  o.options.nms = st->nms;
  o.options.letterbox = st->letterbox;
  o.latency_budget_ms
      = st->mode == GST_YOLO_DETECTOR_MODE_SYNC ? st->latency_budget_ms : 0;
  path = ys_local_path_new (&o, &status);
  if (path != NULL)
    return path;

  yolo_model_search_path (st->model_dir, search, sizeof (search));
  switch (status.code) {
    case YOLO_ERR_MODEL_NOT_FOUND:
    case YOLO_ERR_CFG_MISSING:
    case YOLO_ERR_WEIGHTS_MISSING:
    case YOLO_ERR_LABELS_MISSING:
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", status.message),
          ("yolo error %s; model search path: %s",
              yolo_error_name (status.code), search));
      break;
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s", status.message),
          ("yolo error %s; model search path: %s",
              yolo_error_name (status.code), search));
      break;
  }
  return NULL;
}

YsPath *
ys_detector_edge_path (GstYoloDetector *self, const YsDetectorSettings *st,
    int codec, double pace_fps, int fps, int latency_budget_ms,
    int behind_after_ms)
{
  YsEdgePathOptions o;
  YsPath *path;
  char *why = NULL;

  if (st->server == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("No edge server set: set server=ws://HOST:PORT/ (start one with "
         "yoloswitch-edge)"),
        (NULL));
    return NULL;
  }
  memset (&o, 0, sizeof (o));
  o.session.server = st->server;
  o.session.token = st->token;
  o.session.tls_ca_file = st->tls_ca_file;
  o.session.model = st->edge_model;
  o.session.client_name = GST_OBJECT_NAME (self);
  o.session.codec = (YsCodec) codec;
  o.session.hw_encoder = st->hw_encoder;
  o.session.encoder_options = st->encoder_options;
  o.session.fps = fps;
  o.session.max_in_flight = st->max_in_flight;
  o.session.max_labels = st->max_labels;
  o.session.latency_budget_ms = latency_budget_ms;
  o.behind_after_ms = behind_after_ms;
  o.pace_fps = pace_fps;
  path = ys_edge_path_new (&o, &why);
  if (path == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", why), (NULL));
    g_free (why);
  }
  return path;
}

YsPath *
ys_detector_split_path (GstYoloDetector *self, const YsDetectorSettings *st,
    double pace_fps, int latency_budget_ms, int behind_after_ms)
{
  YsSplitHeadOptions head;
  YsEdgePathOptions o;
  YsPath *path;
  char *why = NULL;
  gchar search[8192];

  if (st->server == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("No edge server set: set server=ws://HOST:PORT/ (start one with "
         "yoloswitch-edge, loading the same model)"),
        (NULL));
    return NULL;
  }
  memset (&head, 0, sizeof (head));
  head.spec.name = st->edge_model;
  head.spec.model_dir = st->model_dir;
  head.spec.threads = (int) st->threads;
  head.cut = st->cut;
  head.bits = st->bits;
  head.letterbox = st->letterbox;
  memset (&o, 0, sizeof (o));
  o.session.server = st->server;
  o.session.token = st->token;
  o.session.tls_ca_file = st->tls_ca_file;
  o.session.model = st->edge_model;
  o.session.client_name = GST_OBJECT_NAME (self);
  o.session.max_in_flight = st->max_in_flight;
  o.session.max_labels = st->max_labels;
  o.session.latency_budget_ms = latency_budget_ms;
  o.pace_fps = pace_fps;
  o.behind_after_ms = behind_after_ms;
  o.split = &head;
  path = ys_edge_path_new (&o, &why);
  if (path == NULL) {
    yolo_model_search_path (st->model_dir, search, sizeof (search));
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", why),
        ("model search path: %s", search));
    g_free (why);
  }
  return path;
}

YsProfile *
ys_detector_single_profile (YsPathKind kind, const char *model)
{
  YsProfile *p = g_new0 (YsProfile, 1);

  p->config_count = 1;
  p->configs = g_new0 (YsProfileConfig, 1);
  p->configs[0].path = kind;
  p->configs[0].model = g_strdup (model != NULL ? model : "");
  p->configs[0].pareto = true;
  return p;
}

void
ys_detector_fixed_delivery (YsSwitcherOptions *o, YsProfile *profile,
    const YsDetectorSettings *st)
{
  o->profile = profile;
  o->fixed_config = 0;
  o->delivery = st->mode == GST_YOLO_DETECTOR_MODE_SYNC ? YS_DELIVER_SYNC
                                                        : YS_DELIVER_ASYNC;
  o->latency_budget_ms = st->latency_budget_ms;
}
