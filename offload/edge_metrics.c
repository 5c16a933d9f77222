/* Prometheus text for yoloswitch-edge; see edge_metrics.h. */
#include "edge_metrics.h"

/* Upper bounds of the inference histogram, in seconds. */
static const double infer_bounds[EDGE_INFER_BUCKETS]
    = { 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0 };

void
edge_metrics_add (gint64 *counter, gint64 n)
{
  __atomic_add_fetch (counter, n, __ATOMIC_RELAXED);
}

static gint64
get (const gint64 *counter)
{
  return __atomic_load_n (counter, __ATOMIC_RELAXED);
}

/* Any worker thread. */
void
edge_metrics_observe_inference (EdgeMetrics *m, gint64 infer_us)
{
  for (int i = 0; i < EDGE_INFER_BUCKETS; i++)
    if (infer_us <= infer_bounds[i] * 1e6) {
      edge_metrics_add (&m->infer_bucket[i], 1);
      break;
    }
  edge_metrics_add (&m->infer_count, 1);
  edge_metrics_add (&m->infer_sum_us, infer_us);
}

static void
counter (GString *out, const char *name, const char *help, gint64 value)
{
  g_string_append_printf (out,
      "# HELP %s %s\n# TYPE %s counter\n%s %" G_GINT64_FORMAT "\n", name, help,
      name, name, value);
}

static void
gauge (GString *out, const char *name, const char *help, gint64 value)
{
  g_string_append_printf (out,
      "# HELP %s %s\n# TYPE %s gauge\n%s %" G_GINT64_FORMAT "\n", name, help,
      name, name, value);
}

/* Service thread. */
void
edge_metrics_render (EdgeMetrics *m, int workers, GString *out)
{
  static const char *errors[EDGE_ERROR_CODES]
      = { NULL, "malformed", "version", "too-large", "unauthorized",
          "unsupported", "sequence", "shutdown", "internal" };
  gint64 cumulative = 0;
  char bound[G_ASCII_DTOSTR_BUF_SIZE];

  counter (out, "yoloswitch_edge_frames_received_total",
      "FRAME messages fully received", get (&m->frames_received));
  counter (out, "yoloswitch_edge_bytes_received_total",
      "FRAME payload bytes received", get (&m->bytes_received));
  counter (out, "yoloswitch_edge_frames_decoded_total",
      "Frames decoded (including decode-only reference frames)",
      get (&m->frames_decoded));
  counter (out, "yoloswitch_edge_frames_inferred_total",
      "Frames that got inference and a RESULT", get (&m->frames_inferred));
  g_string_append (out,
      "# HELP yoloswitch_edge_frames_dropped_total Frames answered with DROP, "
      "by reason\n# TYPE yoloswitch_edge_frames_dropped_total counter\n");
  for (int r = 1; r < EDGE_DROP_REASONS; r++)
    g_string_append_printf (out,
        "yoloswitch_edge_frames_dropped_total{reason=\"%s\"} %" G_GINT64_FORMAT
        "\n",
        ys_drop_reason_name ((uint8_t) r), get (&m->dropped[r]));
  g_string_append (out,
      "# HELP yoloswitch_edge_errors_total ERROR messages sent (each closes "
      "its connection), by code\n# TYPE yoloswitch_edge_errors_total "
      "counter\n");
  for (int e = 1; e < EDGE_ERROR_CODES; e++)
    g_string_append_printf (out,
        "yoloswitch_edge_errors_total{code=\"%s\"} %" G_GINT64_FORMAT "\n",
        errors[e], get (&m->errors_sent[e]));
  g_string_append (out,
      "# HELP yoloswitch_edge_frames_refused_total Frames refused by a limit "
      "of the FRAME path (docs/PROTOCOL.md), by limit\n"
      "# TYPE yoloswitch_edge_frames_refused_total counter\n");
  {
    static const char *limits[] = { "max-frame-pixels", "size-mismatch",
      "max-pending-bytes", "expected-finish", "reorder-lost" };
    const gint64 *values[] = { &m->refused_pixels, &m->refused_size_mismatch,
      &m->refused_pending_bytes, &m->refused_expected_finish,
      &m->refused_stuck };
    for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
      g_string_append_printf (out,
          "yoloswitch_edge_frames_refused_total{limit=\"%s\"} "
          "%" G_GINT64_FORMAT "\n",
          limits[i], get (values[i]));
  }
  counter (out, "yoloswitch_edge_pictures_reordered_total",
      "H.264 pictures that came out of the decoder after a later packet "
      "(B-frames)",
      get (&m->pictures_reordered));
  counter (out, "yoloswitch_edge_connections_total",
      "WebSocket connections accepted", get (&m->connections_total));
  gauge (out, "yoloswitch_edge_clients", "Open WebSocket connections",
      g_atomic_int_get (&m->clients));
  gauge (out, "yoloswitch_edge_queue_depth",
      "Frames waiting for decoding or inference, all clients",
      g_atomic_int_get (&m->queue_depth));
  gauge (out, "yoloswitch_edge_workers", "Inference workers", workers);
  g_string_append (out,
      "# HELP yoloswitch_edge_inference_seconds Network, boxes and NMS per "
      "frame\n# TYPE yoloswitch_edge_inference_seconds histogram\n");
  for (int i = 0; i < EDGE_INFER_BUCKETS; i++) {
    cumulative += get (&m->infer_bucket[i]);
    g_ascii_formatd (bound, sizeof (bound), "%g", infer_bounds[i]);
    g_string_append_printf (out,
        "yoloswitch_edge_inference_seconds_bucket{le=\"%s\"} %" G_GINT64_FORMAT
        "\n",
        bound, cumulative);
  }
  g_ascii_formatd (bound, sizeof (bound), "%.6f", get (&m->infer_sum_us) / 1e6);
  g_string_append_printf (out,
      "yoloswitch_edge_inference_seconds_bucket{le=\"+Inf\"} %" G_GINT64_FORMAT
      "\nyoloswitch_edge_inference_seconds_sum %s\n"
      "yoloswitch_edge_inference_seconds_count %" G_GINT64_FORMAT "\n",
      get (&m->infer_count), bound, get (&m->infer_count));
  g_ascii_formatd (bound, sizeof (bound), "%.6f",
      get (&m->decode_sum_us) / 1e6);
  g_string_append_printf (out,
      "# HELP yoloswitch_edge_decode_seconds_total Time spent decoding\n"
      "# TYPE yoloswitch_edge_decode_seconds_total counter\n"
      "yoloswitch_edge_decode_seconds_total %s\n",
      bound);
}
