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
  const layer *l;

  if (index < 0 || index >= m->net->n)
    return false;
  l = &m->net->layers[index];
  view->layer = index;
  view->c = l->out_c;
  view->h = l->out_h;
  view->w = l->out_w;
  view->data = l->output;
  return true;
}

void
yolo_handover_init (YoloHandover *h)
{
  memset (h, 0, sizeof (*h));
}

void
yolo_handover_free (YoloHandover *h)
{
  for (size_t i = 0; i < h->count; i++)
    free (h->tensors[i].data);
  free (h->tensors);
  yolo_handover_init (h);
}

/* Marks in need[] the layers before `cut` whose outputs layers >= cut read. */
static void
needed_across (const network *net, int cut, unsigned char *need)
{
  need[cut - 1] = 1;
  for (int i = 0; i < cut; i++)
    if (net->layers[i].type == YOLO || net->layers[i].type == REGION)
      need[i] = 1;
  for (int i = cut; i < net->n; i++) {
    const layer *l = &net->layers[i];
    if (l->type == ROUTE) {
      for (int k = 0; k < l->n; k++)
        if (l->input_layers[k] < cut)
          need[l->input_layers[k]] = 1;
    } else if (l->type == SHORTCUT && l->index < cut) {
      need[l->index] = 1;
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
  needed_across (m->net, cut, need);
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
    const layer *l = &m->net->layers[i];
    YoloTensor *t;
    if (!need[i])
      continue;
    t = &out->tensors[out->count++];
    t->layer = i;
    t->c = l->out_c;
    t->h = l->out_h;
    t->w = l->out_w;
    t->data = malloc (sizeof (float) * l->outputs);
    if (t->data == NULL) {
      free (need);
      yolo_handover_free (out);
      return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory");
    }
    memcpy (t->data, l->output, sizeof (float) * l->outputs);
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
  needed_across (m->net, in->cut, need);
  for (size_t i = 0; i < in->count && ok; i++) {
    const YoloTensor *t = &in->tensors[i];
    layer *l;
    if (t->layer < 0 || t->layer >= in->cut) {
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "Handover tensor for layer %d lies outside the cut at %d.", t->layer,
          in->cut);
      break;
    }
    l = &m->net->layers[t->layer];
    if (t->c != l->out_c || t->h != l->out_h || t->w != l->out_w) {
      ok = yolo_fail (status, YOLO_ERR_INPUT,
          "Handover tensor for layer %d is %dx%dx%d but model \"%s\" makes "
          "%dx%dx%d there.",
          t->layer, t->c, t->h, t->w, m->files.name, l->out_c, l->out_h,
          l->out_w);
      break;
    }
    memcpy (l->output, t->data, sizeof (float) * l->outputs);
    need[t->layer] = 0;
  }
  for (int i = 0; i < in->cut && ok; i++)
    if (need[i])
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
  int n = m->net->n, sw, sh;
  bool letterbox;
  float *start;

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
    start = m->net->layers[from - 1].output;
    sw = in->source_width;
    sh = in->source_height;
    letterbox = in->letterbox;
  }
  model_forward_range (m, from, to, start);
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
