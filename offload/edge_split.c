/* yoloswitch-edge: finishing a split FRAME (codec 16, issue 15).  The
 * device ran layers [0, cut) of this server's model and sent what layers
 * >= cut still read, quantized (offload/tensor_packet.h); a worker checks
 * the packet against its model's own handover at that cut, dequantizes it
 * and runs the tail.  The header (hash, cut range) was checked on arrival
 * (edge_frame_in.c); the shapes are checked here, before anything is
 * allocated for them.
 *
 * What it may cost: the dequantized floats (and a compressed packet's
 * plain form) are bounded by the model's own handover at that cut (not by
 * what the packet claims) and charged to the memory budget before they are
 * allocated; past it the frame gets DROP backlog, like a waiting frame
 * that finds no room. */
#include "edge_internal.h"
#include "edge_log.h"
#include "split_codec.h"

#include <string.h>

/* What zstd's one-shot decoder allocates (ZSTD_estimateDCtxSize () is
 * 95 KB in Debian's 1.5.4), rounded up. */
#define EDGE_SPLIT_ZSTD_CONTEXT_BYTES (160 * 1024)

struct EdgeSplit {
  YoloModel *model;
  guint64 hash;
  int layers;
  /* per cut 1 .. layers - 1, computed on first use: the model's handover
   * layout, its dequantized bytes, what a compressed packet costs on top
   * (its plain form and zstd's context), the recent tail times */
  YoloHandover *layouts;
  gboolean *layout_known;
  gint64 *layout_bytes, *unpack_bytes;
  EdgeRecentTimes *tails;
  YoloHandover handover; /* the frame being finished */
};

EdgeSplit *
edge_split_new (YoloModel *model, guint64 hash)
{
  EdgeSplit *s = g_new0 (EdgeSplit, 1);

  s->model = model;
  s->hash = hash;
  s->layers = yolo_model_layer_count (model);
  s->layouts = g_new0 (YoloHandover, s->layers);
  for (int i = 0; i < s->layers; i++)
    yolo_handover_init (&s->layouts[i]);
  s->layout_known = g_new0 (gboolean, s->layers);
  s->layout_bytes = g_new0 (gint64, s->layers);
  s->unpack_bytes = g_new0 (gint64, s->layers);
  s->tails = g_new0 (EdgeRecentTimes, s->layers);
  yolo_handover_init (&s->handover);
  return s;
}

void
edge_split_free (EdgeSplit *s)
{
  if (s == NULL)
    return;
  for (int i = 0; i < s->layers; i++)
    yolo_handover_free (&s->layouts[i]);
  yolo_handover_free (&s->handover);
  g_free (s->layouts);
  g_free (s->layout_known);
  g_free (s->layout_bytes);
  g_free (s->unpack_bytes);
  g_free (s->tails);
  g_free (s);
}

/* The cut was checked on arrival (1 .. layers - 1). */
static int
packet_cut (const EdgeSplit *s, const EdgePending *p)
{
  int cut = ys_split_packet_cut (p->packet, p->packet_len);
  return CLAMP (cut, 1, s->layers - 1);
}

EdgeRecentTimes *
edge_split_recent (EdgeSplit *s, const EdgePending *p)
{
  return &s->tails[packet_cut (s, p)];
}

/* The layout at a cut and what its floats take; FALSE with the library's
 * sentence if the model has none there. */
static gboolean
layout_at (EdgeSplit *s, int cut, YoloStatus *status)
{
  const YoloHandover *l = &s->layouts[cut];
  gint64 bytes = 0, plain = YS_TENSOR_HEADER_SIZE;

  if (s->layout_known[cut])
    return TRUE;
  if (!yolo_model_handover_layout (s->model, cut, &s->layouts[cut], status))
    return FALSE;
  for (size_t i = 0; i < l->count; i++) {
    gint64 values
        = (gint64) l->tensors[i].c * l->tensors[i].h * l->tensors[i].w;
    /* its floats, and its part of a compressed packet's plain form (at
     * most 8 bits a value, a range a channel: split_zstd.h) */
    bytes += values * (gint64) sizeof (float);
    plain += values + 8 + 8 * (gint64) l->tensors[i].c;
  }
  /* The parser's range table (ys_split_decode) and the tensor array. */
  s->layout_bytes[cut] = bytes
      + (gint64) (YS_TENSOR_MAX_RANGES * sizeof (YoloQuantRange)
          + l->count * sizeof (YoloTensor));
  s->unpack_bytes[cut] = plain + EDGE_SPLIT_ZSTD_CONTEXT_BYTES;
  s->layout_known[cut] = TRUE;
  return TRUE;
}

gboolean
edge_split_finish (EdgeSplit *s, EdgeConn *conn, EdgePending *p,
    const YoloInferOptions *options, YoloDetections *dets)
{
  int cut = packet_cut (s, p);
  YoloStatus status;
  YsSplitFault fault;
  char error[512];
  gint64 t0, charged;
  gboolean ok;

  if (!layout_at (s, cut, &status)) {
    edge_conn_refuse (conn, YS_ERR_MISMATCH, status.message);
    return FALSE;
  }
  charged = s->layout_bytes[cut];
  if (p->packet_len > 2 && (p->packet[2] & YS_TENSOR_ZSTD) != 0)
    charged += s->unpack_bytes[cut];
  if (!edge_budget_charge (charged, conn)) {
    edge_drop_once (conn, p, YS_DROP_BACKLOG, 0);
    return FALSE;
  }
  t0 = g_get_monotonic_time ();
  ok = ys_split_decode (p->packet, p->packet_len, &s->layouts[cut], s->hash,
      p->width, p->height, &s->handover, &fault, error, sizeof error);
  p->decode_us = g_get_monotonic_time () - t0;
  if (!ok && fault == YS_SPLIT_FAULT_NO_MEMORY) {
    edge_log (EDGE_LOG_ERROR, "%s: frame %u: %s", conn->peer,
        p->header.frame_id, error);
    edge_drop_once (conn, p, YS_DROP_BACKLOG, 0);
  } else if (!ok) {
    /* A client that sends what this model cannot take will send it
     * again: told why, and closed, like a stream over the size limit. */
    edge_conn_refuse (conn,
        fault == YS_SPLIT_FAULT_MISMATCH ? YS_ERR_MISMATCH : YS_ERR_MALFORMED,
        error);
  } else if (!yolo_model_run_layers (s->model, cut, s->layers, NULL,
                 &s->handover, options, NULL, dets, &status)) {
    edge_log (EDGE_LOG_ERROR, "%s: frame %u: the tail from cut %d: %s",
        conn->peer, p->header.frame_id, cut, status.message);
    edge_drop_once (conn, p, YS_DROP_DECODE_ERROR, 0);
    ok = FALSE;
  }
  yolo_handover_free (&s->handover);
  edge_budget_charge (-charged, conn);
  return ok;
}
