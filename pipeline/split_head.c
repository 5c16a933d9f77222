/* The device's half of split inference; see split_head.h. */
#include "split_head.h"

#include "clock.h"
#include "split_codec.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

struct YsSplitHead {
  YoloModel *model;
  YoloInput *input;
  YoloHandover handover;
  uint64_t hash;
  int layers, cut, bits;
  bool letterbox;
  /* The cost model (ys_split_head_predict), read from any thread: */
  GMutex costs_lock;
  double *start_ms; /* per layer, measured at start */
  double *now_ms; /* per layer, smoothed over the runs since */
  int ran_cut; /* the cut of the last frame's run; 0: none yet */
  int costs_cut; /* the cut of the last run, the warm-up's too; 0: none */
  /* The head's time to costs_cut, smoothed as the layers are (one slow
   * frame on a loaded machine must not read as a slow head), and the part
   * of it besides its layers (fitting the frame, quantizing and packing
   * the handover; below 0 when the layers, smoothed apart, still weigh a
   * slow start more than the runs do). */
  double head_ms;
  double overhead_ms;
};

/* Each new run's weight in head_ms, as yolo_model_layer_times weighs a
 * layer's. */
#define HEAD_TIME_WEIGHT 0.2

static bool warm_up (YsSplitHead *h, YoloStatus *status);

/* The whole model twice on a blank input (the first run touches its
 * memory for the first time and is not counted): each layer's time here,
 * at start, for every cut the decision engine may weigh. */
static bool
measure_start (YsSplitHead *h, YoloStatus *status)
{
  YoloInferOptions options;
  YoloDetections dets;
  bool ok = true;

  yolo_infer_options_init (&options);
  yolo_detections_init (&dets);
  h->input->source_width = h->input->width;
  h->input->source_height = h->input->height;
  for (int run = 0; run < 2 && ok; run++) {
    yolo_model_profile_reset (h->model);
    ok = yolo_model_run (h->model, h->input, &options, &dets, status);
  }
  yolo_detections_free (&dets);
  if (ok)
    yolo_model_layer_times (h->model, h->start_ms, h->layers);
  return ok;
}

static bool
bits_ok (int bits)
{
  return bits == 4 || bits == 6 || bits == 8;
}

YsSplitHead *
ys_split_head_new (const YsSplitHeadOptions *o, YoloStatus *status)
{
  YsSplitHead *h = g_new0 (YsSplitHead, 1);

  yolo_handover_init (&h->handover);
  g_mutex_init (&h->costs_lock);
  h->letterbox = o->letterbox;
  h->bits = o->bits > 0 ? o->bits : 8;
  h->model = yolo_model_open (&o->spec, status);
  if (h->model == NULL || !yolo_model_hash (h->model, &h->hash, status))
    goto fail;
  h->layers = yolo_model_layer_count (h->model);
  h->input = yolo_input_new (h->model);
  h->start_ms = g_new0 (double, h->layers);
  h->now_ms = g_new0 (double, h->layers);
  h->cut = o->cut > 0 ? o->cut : ys_split_head_default_cut (h);
  if (!ys_split_head_configure (h, h->cut, h->bits)) {
    status->code = YOLO_ERR_INPUT;
    snprintf (status->message, sizeof status->message,
        "Split cut %d with %d bits is not possible for model \"%s\": the cut "
        "must be 1 to %d and the bits 4, 6 or 8.",
        o->cut, h->bits, yolo_model_name (h->model), h->layers - 1);
    goto fail;
  }
  if (!measure_start (h, status) || !warm_up (h, status))
    goto fail;
  return h;

fail:
  ys_split_head_free (h);
  return NULL;
}

void
ys_split_head_free (YsSplitHead *h)
{
  if (h == NULL)
    return;
  yolo_handover_free (&h->handover);
  yolo_input_free (h->input);
  yolo_model_close (h->model);
  g_free (h->start_ms);
  g_free (h->now_ms);
  g_mutex_clear (&h->costs_lock);
  g_free (h);
}

uint64_t
ys_split_head_model_hash (const YsSplitHead *h)
{
  return h->hash;
}

const char *
ys_split_head_model_name (const YsSplitHead *h)
{
  return yolo_model_name (h->model);
}

int
ys_split_head_layer_count (const YsSplitHead *h)
{
  return h->layers;
}

int
ys_split_head_cut (const YsSplitHead *h)
{
  return h->cut;
}

int
ys_split_candidate_cuts (const YoloModel *model, int *cuts, int max)
{
  int layers = yolo_model_layer_count (model), n = 0;
  size_t fewest = SIZE_MAX;
  YoloHandover layout;
  YoloStatus status;

  yolo_handover_init (&layout);
  for (int cut = 1; cut < layers && n < max; cut++) {
    size_t values = 0;
    if (!yolo_model_handover_layout (model, cut, &layout, &status))
      continue;
    for (size_t i = 0; i < layout.count; i++)
      values += (size_t) layout.tensors[i].c * layout.tensors[i].h
          * layout.tensors[i].w;
    if (values < fewest) {
      fewest = values;
      cuts[n++] = cut;
    }
  }
  yolo_handover_free (&layout);
  return n;
}

int
ys_split_head_default_cut (YsSplitHead *h)
{
  int cuts[256];
  int n = ys_split_candidate_cuts (h->model, cuts, G_N_ELEMENTS (cuts));

  return n > 0 ? cuts[n - 1] : h->layers - 1;
}

bool
ys_split_head_configure (YsSplitHead *h, int cut, int bits)
{
  if (cut < 1 || cut >= h->layers || !bits_ok (bits))
    return false;
  h->cut = cut;
  h->bits = bits;
  return true;
}

/* Sum of per-layer times over [from, to). */
static double
sum (const double *ms, int from, int to)
{
  double total = 0;
  for (int i = from; i < to; i++)
    total += ms[i];
  return total;
}

/* After a run to h->cut that took head_ms in all; a frame's run (not
 * the warm-up at start) also marks the cut as running.  A new cut's
 * smoothed time starts from what the model predicted for it. */
static void
note_costs (YsSplitHead *h, double head_ms, bool frame)
{
  double before = h->costs_cut == h->cut ? h->head_ms : 0;

  if (before <= 0 && h->costs_cut > 0)
    before = ys_split_head_predict (h, h->cut, NULL);
  g_mutex_lock (&h->costs_lock);
  yolo_model_layer_times (h->model, h->now_ms, h->layers);
  if (frame)
    h->ran_cut = h->cut;
  h->costs_cut = h->cut;
  h->head_ms
      = before > 0 ? before + HEAD_TIME_WEIGHT * (head_ms - before) : head_ms;
  h->overhead_ms = h->head_ms - sum (h->now_ms, 0, h->cut);
  g_mutex_unlock (&h->costs_lock);
}

/* The head on frame (NULL: on the input as it is) and its packet. */
static bool
run_head (YsSplitHead *h, const YoloFrame *frame, uint8_t **packet, size_t *len,
    double *head_ms, char *error, size_t error_size)
{
  YsSplitOptions o = { h->bits, true, YS_SPLIT_RANGE_MINMAX, h->hash };
  int64_t t0 = yolo_now_us ();
  YoloStatus status;
  bool ok;

  if ((frame != NULL
          && !yolo_input_fill (h->input, frame, h->letterbox, &status))
      || !yolo_model_run_layers (h->model, 0, h->cut, h->input, NULL, NULL,
          &h->handover, NULL, &status)) {
    snprintf (error, error_size, "%s", status.message);
    return false;
  }
  /* Per-channel [min, max] ranges: the only scheme that kept every box at
   * every cut (docs/SPLIT.md, "Which quantization wins"). */
  ok = ys_split_encode (&h->handover, &o, packet, len, error, error_size);
  *head_ms = (double) (yolo_now_us () - t0) / 1000.0;
  if (ok)
    note_costs (h, *head_ms, frame != NULL);
  return ok;
}

/* The head once to its cut on the blank input, the packet made and
 * dropped: the first run allocates the handover and the packet's buffers
 * and touches them, a cost the first frame must not carry into the
 * estimates (on a loaded machine it read 143 ms against 20 warm, and the
 * switcher left split on that one frame). */
static bool
warm_up (YsSplitHead *h, YoloStatus *status)
{
  uint8_t *packet = NULL;
  size_t len = 0;
  double ms;
  bool ok = run_head (h, NULL, &packet, &len, &ms, status->message,
      sizeof status->message);

  free (packet);
  if (!ok)
    status->code = YOLO_ERR_INPUT;
  return ok;
}

bool
ys_split_head_run (YsSplitHead *h, const YoloFrame *frame, uint8_t **packet,
    size_t *len, double *head_ms, char *error, size_t error_size)
{
  return run_head (h, frame, packet, len, head_ms, error, error_size);
}

int
ys_split_head_running_cut (YsSplitHead *h)
{
  int cut;
  g_mutex_lock (&h->costs_lock);
  cut = h->ran_cut;
  g_mutex_unlock (&h->costs_lock);
  return cut;
}

double
ys_split_head_predict (YsSplitHead *h, int cut, double *tail_share)
{
  double head = 0, speed, all;

  if (tail_share != NULL)
    *tail_share = 0;
  if (cut < 1 || cut >= h->layers)
    return 0;
  g_mutex_lock (&h->costs_lock);
  /* Layers the runs reach are timed as they run; those past the last
   * run's cut kept their start times, which scale by how much faster or
   * slower the layers that run have become since (load, clock). */
  if (h->costs_cut > 0) {
    double then = sum (h->start_ms, 0, h->costs_cut);
    int reached = MIN (cut, h->costs_cut);
    speed = then > 0 ? sum (h->now_ms, 0, h->costs_cut) / then : 1.0;
    head = h->overhead_ms + sum (h->now_ms, 0, reached)
        + speed * sum (h->start_ms, reached, cut);
    head = MAX (head, 1e-3);
  } else {
    head = sum (h->start_ms, 0, cut);
  }
  all = sum (h->start_ms, 0, h->layers);
  if (tail_share != NULL)
    *tail_share = all > 0 ? sum (h->start_ms, cut, h->layers) / all : 0;
  g_mutex_unlock (&h->costs_lock);
  return head;
}
