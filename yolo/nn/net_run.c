/* Running a range of layers: which outputs each layer reads, whether they
 * are still held, and the layer's implementation on them; NCHW views of
 * packed outputs and NCHW outputs handed in. */
#include "net_internal.h"

#include "status.h"

#include <stdlib.h>
#include <string.h>

/* Layer `reader` needs layer `layer`'s output: false with a sentence when
 * the arena no longer (or never) held it. */
static bool
need (const NnNet *net, int reader, int layer, YoloStatus *status)
{
  if (nn_output_valid (net, layer))
    return true;
  return yolo_fail (status, YOLO_ERR_INPUT,
      "Layer %d reads layer %d's output, which this network does not hold: "
      "run the layers before it first, or hand it over with "
      "nn_net_set_output().",
      reader, layer);
}

static bool
check_reads (const NnNet *net, int i, int from, YoloStatus *status)
{
  const NnLayer *l = &net->layers[i];

  if (l->p.type == CFG_LAYER_ROUTE) {
    for (int r = 0; r < l->p.ref_count; r++)
      if (!need (net, i, l->p.refs[r], status))
        return false;
    return true;
  }
  if (l->p.type == CFG_LAYER_SHORTCUT && !need (net, i, l->p.from, status))
    return false;
  return i == 0 || (i == from && from == 0) || need (net, i, i - 1, status);
}

bool
nn_net_forward (NnNet *net, int from, int to, const float *input,
    YoloStatus *status)
{
  if (from < 0 || to > net->layer_count || from >= to)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Layer range [%d, %d) is not within the network's %d layers.", from, to,
        net->layer_count);
  if (from == 0 && input == NULL)
    return yolo_fail (status, YOLO_ERR_INPUT,
        "Running from layer 0 needs the network input.");
  for (int i = from; i < to; i++)
    net->computed[i] = false;
  /* Layer from's input is layer from-1's output: held like it, so routes
   * and shortcuts after the cut find it too. */
  if (from > 0 && input != NULL)
    nn_net_set_output (net, from - 1, input);

  for (int i = from; i < to; i++) {
    NnLayer *l = &net->layers[i];
    const float *in = i == 0 ? input : nn_output_of (net, i - 1);

    if (!check_reads (net, i, from, status))
      return false;
    /* A plain layer after a packed one: its input as NCHW (routes read
     * the layers they name themselves). */
    if (!l->packed && i > 0 && net->layers[i - 1].packed
        && l->p.type != CFG_LAYER_ROUTE)
      in = nn_nchw_of (net, i - 1,
          nn_unpacks_in_place (l) ? nn_output_of (net, i) : net->unpack_a);
    l->impl->run (net, l, in, nn_output_of (net, i));
    nn_plan_written (net, i);
  }
  yolo_status_ok (status);
  return true;
}

bool
nn_net_output (const NnNet *net, int layer, NnTensorView *view)
{
  const NnLayer *l;

  if (!nn_output_valid (net, layer))
    return false;
  l = &net->layers[layer];
  view->c = l->p.out_c;
  view->h = l->p.out_h;
  view->w = l->p.out_w;
  view->data = net->arena + l->offset;
  if (l->packed) {
    /* The array is the net's, its elements are not: filled on demand. */
    float **copy = &net->unpacked[layer];
    NnTensor t = nn_layer_tensor (net, layer);
    if (*copy == NULL)
      *copy = malloc (sizeof (float) * nn_layer_outputs (l));
    if (*copy == NULL)
      return false;
    nn_unpack_nchw (&t, *copy);
    view->data = *copy;
  }
  return true;
}

bool
nn_net_set_output (NnNet *net, int layer, const float *data)
{
  if (layer < 0 || layer >= net->layer_count || data == NULL)
    return false;
  if (net->layers[layer].packed) {
    NnTensor t = nn_layer_tensor (net, layer);
    nn_pack_nchw (data, &t);
  } else {
    memmove (nn_output_of (net, layer), data,
        sizeof (float) * nn_layer_outputs (&net->layers[layer]));
  }
  nn_plan_written (net, layer);
  return true;
}
