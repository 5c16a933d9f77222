/* Running a range of layers, and the tensors handed across a cut: a run
 * that stops at layer `cut` leaves exactly what layers >= cut still read,
 * so another instance of the model (possibly in another process, once the
 * tensors are sent) can finish it.  The split-inference path starts here. */
#include "model_internal.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

bool
yolo_model_layer_output (const YoloModel *m, int index, YoloTensor *view)
{
  const CfgLayer *l;
  const float *data;

  if (index < 0 || index >= m->cfg.layer_count)
    return false;
  /* Before any run, or once the engine reused the memory, there is no
   * output to show. */
  data = m->backend->layer_output (m->impl, index);
  if (data == NULL)
    return false;
  l = &m->cfg.layers[index];
  view->layer = index;
  view->c = l->out_c;
  view->h = l->out_h;
  view->w = l->out_w;
  /* The view is read-only (yolo.h); YoloTensor's data is not const
   * because handovers own and fill theirs. */
  view->data = (float *) data;
  return true;
}

static size_t
layer_floats (const CfgLayer *l)
{
  return (size_t) l->out_c * l->out_h * l->out_w;
}

/* Marks in need[] the layers before `cut` whose outputs layers >= cut read:
 * the cfg's wiring, the same for every engine. */
static void
needed_across (const CfgNetwork *net, int cut, unsigned char *need)
{
  need[cut - 1] = 1;
  for (int i = 0; i < cut; i++)
    if (net->layers[i].type == CFG_LAYER_YOLO
        || net->layers[i].type == CFG_LAYER_REGION)
      need[i] = 1;
  for (int i = cut; i < net->layer_count; i++) {
    const CfgLayer *l = &net->layers[i];
    if (l->type == CFG_LAYER_ROUTE) {
      for (int k = 0; k < l->ref_count; k++)
        if (l->refs[k] < cut)
          need[l->refs[k]] = 1;
    } else if (l->type == CFG_LAYER_SHORTCUT && l->from < cut) {
      need[l->from] = 1;
    }
  }
}

static bool
make_handover (YoloModel *m, int cut, int sw, int sh, bool letterbox,
    YoloHandover *out, YoloStatus *status)
{
  unsigned char *need = calloc (cut, 1);
  size_t n = 0;

  yolo_handover_free (out);
  if (need == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  needed_across (&m->cfg, cut, need);
  for (int i = 0; i < cut; i++)
    n += need[i];
  out->tensors = calloc (n, sizeof (YoloTensor));
  if (out->tensors == NULL) {
    free (need);
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  }
  out->cut = cut;
  out->source_width = sw;
  out->source_height = sh;
  out->letterbox = letterbox;
  for (int i = 0; i < cut; i++) {
    const CfgLayer *l = &m->cfg.layers[i];
    const float *src;
    YoloTensor *t;
    if (!need[i])
      continue;
    src = m->backend->layer_output (m->impl, i);
    if (src == NULL) {
      free (need);
      yolo_handover_free (out);
      return yolo_fail (status, YOLO_ERR_LOAD,
          "The %s engine did not keep the output of layer %d of model "
          "\"%s\" for the handover at cut %d: a bug, please report it.",
          yolo_engine_name (m->engine), i, m->files.name, cut);
    }
    t = &out->tensors[out->count++];
    t->layer = i;
    t->c = l->out_c;
    t->h = l->out_h;
    t->w = l->out_w;
    t->data = malloc (sizeof (float) * layer_floats (l));
    if (t->data == NULL) {
      free (need);
      yolo_handover_free (out);
      return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    }
    memcpy (t->data, src, sizeof (float) * layer_floats (l));
  }
  free (need);
  return true;
}

bool
yolo_model_handover_layout (const YoloModel *m, int cut, YoloHandover *out,
    YoloStatus *status)
{
  unsigned char *need;
  size_t n = 0;

  yolo_handover_free (out);
  if (cut < 1 || cut >= m->cfg.layer_count)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Cut %d is not inside model \"%s\" (1 to %d).", cut, m->files.name,
        m->cfg.layer_count - 1);
  need = calloc (cut, 1);
  if (need == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  needed_across (&m->cfg, cut, need);
  for (int i = 0; i < cut; i++)
    n += need[i];
  out->tensors = calloc (n, sizeof (YoloTensor));
  if (out->tensors == NULL) {
    free (need);
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  }
  out->cut = cut;
  for (int i = 0; i < cut; i++) {
    const CfgLayer *l = &m->cfg.layers[i];
    if (need[i])
      out->tensors[out->count++]
          = (YoloTensor){ i, l->out_c, l->out_h, l->out_w, NULL };
  }
  free (need);
  return true;
}

/* Copies a handover into this instance's layer outputs; checks it fits. */
static bool
take_handover (YoloModel *m, const YoloHandover *in, YoloStatus *status)
{
  unsigned char *need = calloc (in->cut, 1);
  bool ok = true;

  if (need == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
  needed_across (&m->cfg, in->cut, need);
  for (size_t i = 0; i < in->count && ok; i++) {
    const YoloTensor *t = &in->tensors[i];
    const CfgLayer *l;
    if (t->layer < 0 || t->layer >= in->cut) {
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "Handover tensor for layer %d lies outside the cut at %d.", t->layer,
          in->cut);
      break;
    }
    l = &m->cfg.layers[t->layer];
    if (t->c != l->out_c || t->h != l->out_h || t->w != l->out_w) {
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "Handover tensor for layer %d is %dx%dx%d but model \"%s\" makes "
          "%dx%dx%d there.",
          t->layer, t->c, t->h, t->w, m->files.name, l->out_c, l->out_h,
          l->out_w);
      break;
    }
    /* An engine may keep outputs no later layer reads in memory it shares
     * with ones that are read: a tensor the cut does not need could
     * overwrite one it does. */
    if (need[t->layer] != 1) {
      ok = need[t->layer] == 2
          ? yolo_fail (status, YOLO_ERR_INPUT,
              "Handover for cut %d gives layer %d's output twice.", in->cut,
              t->layer)
          : yolo_fail (status, YOLO_ERR_INPUT,
              "Handover tensor for layer %d is not needed: the layers after "
              "the cut at %d of model \"%s\" do not read it.",
              t->layer, in->cut, m->files.name);
      break;
    }
    if (!m->backend->set_layer_output (m->impl, t->layer, t->data)) {
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "The %s engine keeps no buffer for layer %d of model \"%s\": it "
          "cannot continue a run cut there.",
          yolo_engine_name (m->engine), t->layer, m->files.name);
      break;
    }
    need[t->layer] = 2; /* taken */
  }
  for (int i = 0; i < in->cut && ok; i++)
    if (need[i] == 1)
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "Handover for cut %d lacks the output of layer %d.", in->cut, i);
  free (need);
  return ok;
}

bool
yolo_model_run_layers (YoloModel *m, int from, int to, const YoloInput *input,
    const YoloHandover *in, const YoloInferOptions *options, YoloHandover *out,
    YoloDetections *dets, YoloStatus *status)
{
  int n = m->cfg.layer_count, sw, sh;
  bool letterbox;
  const float *start = NULL;

  if (from < 0 || to > n || from >= to)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Layer range [%d, %d) is not within model \"%s\"'s %d layers.", from,
        to, m->files.name, n);
  if (from == 0) {
    if (input == NULL || input->width != m->cfg.width
        || input->height != m->cfg.height)
      return yolo_fail (status, YOLO_ERR_INPUT,
          "Running from layer 0 needs a %dx%d input tensor.", m->cfg.width,
          m->cfg.height);
    start = input->data;
    sw = input->source_width;
    sh = input->source_height;
    letterbox = input->letterbox;
  } else {
    if (in == NULL || in->cut != from)
      return yolo_fail (status, YOLO_ERR_INPUT,
          "Running from layer %d needs the handover of a run that stopped "
          "there.",
          from);
    if (!take_handover (m, in, status))
      return false;
    sw = in->source_width;
    sh = in->source_height;
    letterbox = in->letterbox;
  }
  if (!model_forward_range (m, from, to, start, status))
    return false;
  if (to < n)
    return out != NULL
        ? make_handover (m, to, sw, sh, letterbox, out, status)
        : yolo_fail (status, YOLO_ERR_INPUT,
            "Stopping at layer %d needs somewhere to put the handover.", to);
  if (dets == NULL || options == NULL)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Running to the last layer needs options and a detection list.");
  return model_decode (m, sw, sh, letterbox, options, dets, status);
}
