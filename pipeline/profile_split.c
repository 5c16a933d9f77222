/* yoloswitch-profile's split rungs; see profile_split.h. */
#include "profile_split.h"

#include "clock.h"
#include "metrics.h"
#include "split_codec.h"
#include "split_zstd.h"

#include <stdlib.h>

/* Everything one frame goes through, timed. */
typedef struct {
  YoloInput *input;
  YoloHandover head, layout, back;
  YsSplitOptions options;
  YoloDetections d;
  double *head_ms, *dequant_ms, *tail_ms;
  double bytes;
} Run;

static bool
run_frame (YoloModel *m, Run *r, const YoloFrame *frame, int cut,
    const YoloInferOptions *infer, int k, char *error, size_t error_size)
{
  int64_t t0 = yolo_now_us (), t1, t2;
  uint8_t *packet = NULL, *packed;
  size_t len = 0, packed_len;
  YoloStatus status;
  bool ok;

  if (!yolo_input_fill (r->input, frame, infer->letterbox, &status)
      || !yolo_model_run_layers (m, 0, cut, r->input, NULL, NULL, &r->head,
          NULL, &status)) {
    g_strlcpy (error, status.message, error_size);
    return false;
  }
  if (!ys_split_encode (&r->head, &r->options, &packet, &len, error,
          error_size))
    return false;
  /* As the split path sends it to our server (which takes zstd): packed
   * when that is smaller.  The head's time includes packing. */
  if (ys_split_zstd_pack (packet, len, &packed, &packed_len)) {
    free (packet);
    packet = packed;
    len = packed_len;
  }
  t1 = yolo_now_us ();
  ok = ys_split_decode (packet, len, &r->layout, r->options.model_hash,
      frame->width, frame->height, &r->back, NULL, error, error_size);
  free (packet);
  t2 = yolo_now_us ();
  if (!ok)
    return false;
  if (!yolo_model_run_layers (m, cut, yolo_model_layer_count (m), NULL,
          &r->back, infer, NULL, &r->d, &status)) {
    g_strlcpy (error, status.message, error_size);
    return false;
  }
  r->head_ms[k] = (double) (t1 - t0) / 1000.0;
  r->dequant_ms[k] = (double) (t2 - t1) / 1000.0;
  r->tail_ms[k] = (double) (yolo_now_us () - t2) / 1000.0;
  r->bytes += (double) len;
  return true;
}

bool
ys_profile_measure_split (YoloModel *m, const YsSplitProfileFrames *f, int cut,
    int bits, YsProfileConfig *c, GError **error)
{
  YoloScoreTotals totals = { 0 };
  YoloStatus status;
  char why[768] = "";
  Run r = { 0 };
  bool ok = true;

  r.options = (YsSplitOptions){ bits, true, YS_SPLIT_RANGE_MINMAX, 0 };
  r.input = yolo_input_new (m);
  yolo_handover_init (&r.head);
  yolo_handover_init (&r.layout);
  yolo_handover_init (&r.back);
  yolo_detections_init (&r.d);
  r.head_ms = g_new (double, MAX (f->n, 1));
  r.dequant_ms = g_new (double, MAX (f->n, 1));
  r.tail_ms = g_new (double, MAX (f->n, 1));
  if (!yolo_model_hash (m, &r.options.model_hash, &status)
      || !yolo_model_handover_layout (m, cut, &r.layout, &status)) {
    g_strlcpy (why, status.message, sizeof why);
    ok = false;
  }
  for (int k = 0; ok && k < f->n; k++) {
    YoloFrameScore s;
    ok = run_frame (m, &r, f->frames[k], cut, f->infer, k, why, sizeof why);
    if (ok) {
      yolo_score_frame (f->reference[k].items, f->reference[k].count, r.d.items,
          r.d.count, &s);
      yolo_score_totals_add (&totals, &s);
    }
  }
  if (ok) {
    c->path = YS_PATH_SPLIT;
    c->model = g_strdup (yolo_model_name (m));
    c->codec = g_strdup ("tensor");
    c->width = yolo_model_input_width (m);
    c->height = yolo_model_input_height (m);
    c->scale = 1;
    c->cut = cut;
    c->bits = bits;
    c->bytes_per_frame = r.bytes / MAX (f->n, 1);
    c->encode_ms = yolo_median (r.head_ms, (size_t) f->n);
    c->decode_ms = yolo_median (r.dequant_ms, (size_t) f->n);
    c->infer_ms = yolo_median (r.tail_ms, (size_t) f->n);
    c->iou_accuracy = yolo_score_totals_iou_accuracy (&totals);
    c->f1 = yolo_score_totals_f1 (&totals);
  } else {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "split cut %d, %d bits: %s", cut, bits, why);
  }
  g_free (r.head_ms);
  g_free (r.dequant_ms);
  g_free (r.tail_ms);
  yolo_detections_free (&r.d);
  yolo_handover_free (&r.head);
  yolo_handover_free (&r.layout);
  yolo_handover_free (&r.back);
  yolo_input_free (r.input);
  return ok;
}
