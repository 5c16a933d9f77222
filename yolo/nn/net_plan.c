/* The memory plan: every layer output in one arena.
 *
 * A layer's output lives until the last layer that reads it: the next
 * layer (a route reads only the layers it names), the routes and shortcuts
 * that name it, and box decoding for yolo/region outputs and the network's
 * last output.  Outputs whose lives do not overlap share a slot, sized for
 * the largest of them; slots are handed out greedily in layer order, best
 * fit first.  With keep_outputs every layer has its own slot, so each
 * output stays readable after a run.
 *
 * Split inference runs [0, k) and [k, n) separately: the plan is made for
 * the whole network, so an output a later range reads is never reused
 * before that range runs.  nn_output_valid() says whether a slot still
 * holds the output of the layer that asked. */
#include "net_internal.h"

#include "status.h"

#include <stdlib.h>
#include <string.h>

/* Slot sizes are rounded to 64 bytes, so every output starts aligned. */
#define SLOT_ALIGN_FLOATS 16

static void
mark_reads (NnNet *net)
{
  int n = net->layer_count;

  for (int i = 0; i < n; i++)
    net->layers[i].last_use = i;
  for (int j = 0; j < n; j++) {
    NnLayer *l = &net->layers[j];
    /* Never lowered: a yolo/region layer read by the next one is still
     * read by decoding. */
    if (j > 0 && l->p.type != CFG_LAYER_ROUTE
        && net->layers[j - 1].last_use < j)
      net->layers[j - 1].last_use = j;
    for (int r = 0; l->p.type == CFG_LAYER_ROUTE && r < l->p.ref_count; r++)
      if (net->layers[l->p.refs[r]].last_use < j)
        net->layers[l->p.refs[r]].last_use = j;
    if (l->p.type == CFG_LAYER_SHORTCUT && net->layers[l->p.from].last_use < j)
      net->layers[l->p.from].last_use = j;
    if (l->p.type == CFG_LAYER_YOLO || l->p.type == CFG_LAYER_REGION
        || j == n - 1)
      l->last_use = n;
  }
}

bool
nn_plan_build (NnNet *net, YoloStatus *status)
{
  int n = net->layer_count;
  size_t *size = calloc ((size_t) n, sizeof (size_t));
  int *busy_until = malloc (sizeof (int) * (size_t) n);
  size_t total = 0, offset = 0;

  net->slot_owner = malloc (sizeof (int) * (size_t) n);
  net->computed = calloc ((size_t) n, sizeof (bool));
  if (size == NULL || busy_until == NULL || net->slot_owner == NULL
      || net->computed == NULL)
    goto oom;
  mark_reads (net);
  net->slot_count = 0;
  for (int i = 0; i < n; i++) {
    NnLayer *l = &net->layers[i];
    size_t need = (nn_layer_outputs (l) + SLOT_ALIGN_FLOATS - 1)
        / SLOT_ALIGN_FLOATS * SLOT_ALIGN_FLOATS;
    int best = -1;

    net->outputs_floats += nn_layer_outputs (l);
    /* A slot is free when its last occupant's readers have all run, i.e.
     * before layer i: layer i still reads what its last_use == i. */
    for (int s = 0; !net->keep_outputs && s < net->slot_count; s++) {
      if (busy_until[s] >= i)
        continue;
      if (best < 0
          || (size[s] >= need ? size[best] < need || size[s] < size[best]
                              : size[best] < need && size[s] > size[best]))
        best = s;
    }
    if (best < 0)
      best = net->slot_count++;
    if (size[best] < need)
      size[best] = need;
    busy_until[best] = l->last_use;
    l->slot = best;
  }
  for (int s = 0; s < net->slot_count; s++) {
    size_t at = offset;
    offset += size[s];
    size[s] = at; /* from here on: the slot's offset */
    net->slot_owner[s] = -1;
  }
  total = offset;
  for (int i = 0; i < n; i++)
    net->layers[i].offset = size[net->layers[i].slot];
  net->arena_floats = total;
  net->arena = aligned_alloc (64, sizeof (float) * (total ? total : 16));
  free (size);
  free (busy_until);
  if (net->arena == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD,
        "Out of memory: the layer outputs need %zu bytes.",
        sizeof (float) * total);
  return true;

oom:
  free (size);
  free (busy_until);
  return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory planning layers");
}

bool
nn_output_valid (const NnNet *net, int layer)
{
  return layer >= 0 && layer < net->layer_count && net->computed[layer]
      && net->slot_owner[net->layers[layer].slot] == layer;
}

bool
nn_net_reads_across (const NnNet *net, int cut, int layer)
{
  return layer >= 0 && layer < cut && cut <= net->layer_count
      && net->layers[layer].last_use >= cut;
}
