/* The memory plan: every layer output in one arena.
 *
 * A layer's output lives until the last layer that reads it: the next
 * layer (a route reads only the layers it names), the routes and shortcuts
 * that name it, and box decoding for yolo/region outputs and the network's
 * last output.  Outputs whose lives do not overlap may share memory: each
 * is placed at an offset of the arena, largest first, in the tightest gap
 * left by the outputs live at the same time (place()); sizes are in each
 * output's layout (packed ones padded to whole blocks).  A packed shortcut or dropout whose input nothing later
 * reads runs in place, in its input's slot.  With keep_outputs every
 * layer has its own slot, so each
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

/* Output sizes are rounded to 64 bytes, so every output starts aligned. */
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
nn_plan_in_place (const NnNet *net, int i)
{
  const NnLayer *l = &net->layers[i];

  /* Elementwise packed ops may write over their input (kernels.h: the
   * shortcut's out may be x) once nothing after them reads it. */
  return i > 0 && l->packed
      && (l->p.type == CFG_LAYER_SHORTCUT || l->p.type == CFG_LAYER_DROPOUT)
      && net->layers[i - 1].last_use == i
      && nn_layer_floats (net, &net->layers[i - 1]) == nn_layer_floats (net, l);
}

/* One block of the arena: a layer's output, or an in-place chain of them,
 * live over layers [first, last]. */
typedef struct {
  int first, last;
  size_t size, offset;
  bool placed;
} Buffer;

static bool
lives_overlap (const Buffer *a, const Buffer *b)
{
  return a->first <= b->last && b->first <= a->last;
}

/* Largest first, each at the lowest-waste gap between the already placed
 * buffers that are live at the same time (best fit), else above them:
 * the peak of live bytes, not the sum of the largest output per slot,
 * sizes the arena.  Returns the arena's floats. */
static size_t
place (Buffer *buf, int count)
{
  int *order = malloc (sizeof (int) * (size_t) count);
  int *near = malloc (sizeof (int) * (size_t) count);
  size_t total = 0;

  if (order == NULL || near == NULL) {
    free (order);
    free (near);
    return 0;
  }
  for (int k = 0; k < count; k++) {
    int j = k;
    /* insertion sort: by size down, then by first use */
    for (; j > 0 && buf[order[j - 1]].size < buf[k].size; j--)
      order[j] = order[j - 1];
    order[j] = k;
  }
  for (int k = 0; k < count; k++) {
    Buffer *b = &buf[order[k]];
    size_t at = 0, best = (size_t) -1, best_gap = (size_t) -1;
    int m = 0;
    /* the placed buffers live with b, by offset */
    for (int o = 0; o < count; o++) {
      int j;
      if (!buf[o].placed || !lives_overlap (&buf[o], b))
        continue;
      for (j = m++; j > 0 && buf[near[j - 1]].offset > buf[o].offset; j--)
        near[j] = near[j - 1];
      near[j] = o;
    }
    for (int j = 0; j < m; j++) {
      const Buffer *o = &buf[near[j]];
      if (o->offset > at && o->offset - at >= b->size
          && o->offset - at < best_gap) {
        best = at;
        best_gap = o->offset - at;
      }
      if (o->offset + o->size > at)
        at = o->offset + o->size;
    }
    b->offset = best != (size_t) -1 ? best : at;
    b->placed = true;
    if (b->offset + b->size > total)
      total = b->offset + b->size;
  }
  free (order);
  free (near);
  return total;
}

bool
nn_plan_build (NnNet *net, YoloStatus *status)
{
  int n = net->layer_count;
  Buffer *buf = calloc ((size_t) n, sizeof (Buffer));
  size_t total = 0;

  net->slot_owner = malloc (sizeof (int) * (size_t) n);
  net->slot_offset = calloc ((size_t) n, sizeof (size_t));
  net->slot_size = calloc ((size_t) n, sizeof (size_t));
  net->slot_stamp = calloc ((size_t) n, sizeof (unsigned long));
  net->computed = calloc ((size_t) n, sizeof (bool));
  if (buf == NULL || net->slot_owner == NULL || net->slot_offset == NULL
      || net->slot_size == NULL || net->slot_stamp == NULL
      || net->computed == NULL)
    goto oom;
  mark_reads (net);
  net->slot_count = 0;
  for (int i = 0; i < n; i++) {
    NnLayer *l = &net->layers[i];
    size_t need = (nn_layer_floats (net, l) + SLOT_ALIGN_FLOATS - 1)
        / SLOT_ALIGN_FLOATS * SLOT_ALIGN_FLOATS;
    Buffer *b;

    net->outputs_floats += nn_layer_floats (net, l);
    if (!net->keep_outputs && nn_plan_in_place (net, i)) {
      l->slot = net->layers[i - 1].slot;
      if (buf[l->slot].last < l->last_use)
        buf[l->slot].last = l->last_use;
      continue;
    }
    l->slot = net->slot_count++;
    b = &buf[l->slot];
    b->size = need;
    /* Keeping every output: all live at once, nothing shared. */
    b->first = net->keep_outputs ? 0 : i;
    b->last = net->keep_outputs ? n : l->last_use;
  }
  total = place (buf, net->slot_count);
  if (total == 0 && net->slot_count > 0)
    goto oom;
  for (int s = 0; s < net->slot_count; s++) {
    net->slot_owner[s] = -1;
    net->slot_offset[s] = buf[s].offset;
    net->slot_size[s] = buf[s].size;
  }
  for (int i = 0; i < n; i++)
    net->layers[i].offset = buf[net->layers[i].slot].offset;
  net->arena_floats = total;
  net->arena = aligned_alloc (64, sizeof (float) * (total ? total : 16));
  free (buf);
  if (net->arena == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD,
        "Out of memory: the layer outputs need %zu bytes.",
        sizeof (float) * total);
  return true;

oom:
  free (buf);
  return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory planning layers");
}

void
nn_plan_written (NnNet *net, int layer)
{
  int s = net->layers[layer].slot;

  net->computed[layer] = true;
  net->slot_owner[s] = layer;
  net->slot_stamp[s] = ++net->stamp;
}

/* Held: it ran (or was set), its slot still holds it, and no buffer that
 * shares some of its memory has been written since. */
bool
nn_output_valid (const NnNet *net, int layer)
{
  int s;

  if (layer < 0 || layer >= net->layer_count || !net->computed[layer])
    return false;
  s = net->layers[layer].slot;
  if (net->slot_owner[s] != layer)
    return false;
  for (int t = 0; t < net->slot_count; t++)
    if (t != s && net->slot_stamp[t] > net->slot_stamp[s]
        && net->slot_offset[t] < net->slot_offset[s] + net->slot_size[s]
        && net->slot_offset[s] < net->slot_offset[t] + net->slot_size[t])
      return false;
  return true;
}

bool
nn_net_reads_across (const NnNet *net, int cut, int layer)
{
  return layer >= 0 && layer < cut && cut <= net->layer_count
      && net->layers[layer].last_use >= cut;
}
