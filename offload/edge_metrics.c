/* Prometheus text for yoloswitch-edge; see edge_metrics.h. */
#include "edge_metrics.h"

/* Upper bounds of the inference histogram, in seconds. */
static const double infer_bounds[EDGE_INFER_BUCKETS]
    = { 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0 };

const char *
edge_close_reason_name (EdgeCloseReason reason)
{
  static const char *names[EDGE_CLOSE_REASONS]
      = { "hello-timeout", "evicted", "idle-timeout", "send-stalled",
          "client-error", "memory-budget", "unmasked" };
  return reason < EDGE_CLOSE_REASONS ? names[reason] : "?";
}

const char *
edge_refuse_reason_name (EdgeRefuseReason reason)
{
  static const char *names[EDGE_REFUSE_REASONS]
      = { "subprotocol", "draining", "per-address", "unauthenticated", "full" };
  return reason < EDGE_REFUSE_REASONS ? names[reason] : "?";
}

void
edge_metrics_add (gint64 *counter, gint64 n)
{
  __atomic_add_fetch (counter, n, __ATOMIC_RELAXED);
}

void
edge_metrics_set (gint64 *gauge, gint64 value)
{
  __atomic_store_n (gauge, value, __ATOMIC_RELAXED);
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
          "unsupported", "sequence", "shutdown", "internal", "mismatch" };
  gint64 cumulative = 0;
  char bound[G_ASCII_DTOSTR_BUF_SIZE];

  counter (out, "yoloswitch_edge_frames_received_total",
      "FRAME messages fully received", get (&m->frames_received));
  counter (out, "yoloswitch_edge_bytes_received_total",
      "FRAME payload bytes received", get (&m->bytes_received));
  counter (out, "yoloswitch_edge_frames_decoded_total",
      "Frames decoded (including decode-only reference frames)",
      get (&m->frames_decoded));
  counter (out, "yoloswitch_edge_frames_skipped_total",
      "Frames already dropped that a later keyframe made needless to decode",
      get (&m->frames_skipped));
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
      "max-pending-bytes", "expected-finish", "reorder-lost", "unread" };
    const gint64 *values[] = { &m->refused_pixels, &m->refused_size_mismatch,
      &m->refused_pending_bytes, &m->refused_expected_finish, &m->refused_stuck,
      &m->refused_unread };
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
  g_string_append (out,
      "# HELP yoloswitch_edge_model_swaps_total Model reloads (SIGHUP), by "
      "outcome: taken over, failed to load (the old model serves on), the "
      "same model again (nothing to do)\n"
      "# TYPE yoloswitch_edge_model_swaps_total counter\n");
  g_string_append_printf (out,
      "yoloswitch_edge_model_swaps_total{result=\"swapped\"} %" G_GINT64_FORMAT
      "\nyoloswitch_edge_model_swaps_total{result=\"failed\"} "
      "%" G_GINT64_FORMAT "\nyoloswitch_edge_model_swaps_total"
      "{result=\"unchanged\"} %" G_GINT64_FORMAT "\n",
      get (&m->model_swaps), get (&m->model_swaps_failed),
      get (&m->model_swaps_unchanged));
  gauge (out, "yoloswitch_edge_model_generation",
      "The model running: 1 for the one loaded at start, + 1 per swap",
      get (&m->model_generation));
  gauge (out, "yoloswitch_edge_model_load_microseconds",
      "The last model load (every worker's copy), on a thread of its own",
      get (&m->model_load_us));
  gauge (out, "yoloswitch_edge_memory_budget_bytes",
      "What all clients may make the server hold (--memory-budget-bytes)",
      get (&m->budget_limit));
  gauge (out, "yoloswitch_edge_memory_budget_used_bytes",
      "Of it, charged now: messages being received, frames waiting, "
      "decoded pictures",
      get (&m->budget_used));
  counter (out, "yoloswitch_edge_memory_budget_refused_total",
      "Charges refused: a frame dropped or a message failed, by a client "
      "over its share of a full budget",
      get (&m->budget_refused));
  counter (out, "yoloswitch_edge_connections_total",
      "WebSocket connections accepted", get (&m->connections_total));
  gauge (out, "yoloswitch_edge_clients", "Open WebSocket connections",
      g_atomic_int_get (&m->clients));
  gauge (out, "yoloswitch_edge_clients_unauthenticated",
      "Open WebSocket connections still without a valid HELLO",
      g_atomic_int_get (&m->clients_unauthenticated));
  g_string_append (out,
      "# HELP yoloswitch_edge_closed_total Connections the server closed "
      "without an ERROR of its own, by reason\n"
      "# TYPE yoloswitch_edge_closed_total counter\n");
  for (int r = 0; r < EDGE_CLOSE_REASONS; r++)
    g_string_append_printf (out,
        "yoloswitch_edge_closed_total{reason=\"%s\"} %" G_GINT64_FORMAT "\n",
        edge_close_reason_name (r), get (&m->closed[r]));
  g_string_append (out,
      "# HELP yoloswitch_edge_refused_total WebSocket upgrades answered with "
      "an HTTP error, by reason\n"
      "# TYPE yoloswitch_edge_refused_total counter\n");
  for (int r = 0; r < EDGE_REFUSE_REASONS; r++)
    g_string_append_printf (out,
        "yoloswitch_edge_refused_total{reason=\"%s\"} %" G_GINT64_FORMAT "\n",
        edge_refuse_reason_name (r), get (&m->refused[r]));
  counter (out, "yoloswitch_edge_auth_failures_total",
      "HELLOs with a wrong token", get (&m->auth_failures));
  counter (out, "yoloswitch_edge_auth_throttled_total",
      "HELLOs refused unchecked: their address sent wrong tokens",
      get (&m->auth_throttled));
  counter (out, "yoloswitch_edge_reading_paused_total",
      "Times a client's send queue filled and the server stopped reading it",
      get (&m->reading_paused));
  counter (out, "yoloswitch_edge_pings_ignored_total",
      "PINGs left unanswered because their client's send queue was full",
      get (&m->pings_ignored));
  gauge (out, "yoloswitch_edge_send_queue_bytes",
      "Bytes of answers queued for sending, all clients",
      get (&m->send_queue_bytes));
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
