/* Settings of yoloswitch-edge; see edge_config.h. */
#include "edge_config.h"

#include "edge_log.h"

#include <glib/gstdio.h>

#include <string.h>
#include <unistd.h>

#define GROUP "edge"

static void
set_defaults (EdgeConfig *c)
{
  memset (c, 0, sizeof (*c));
  c->address = g_strdup ("127.0.0.1");
  c->name = g_strdup ("yoloswitch-edge");
  c->model = g_strdup ("yolo-fastest-1.1-xl");
  c->workers = 1;
  c->threads = 0; /* auto: the cores shared out among the workers */
  c->max_message_bytes = 4 << 20;
  c->queue_depth = 4;
  c->deadline_ms = 1000;
  c->max_clients = 64;
  c->drain_timeout_ms = 10000;
  /* The FRAME path: 4096x4096 is more than any model here takes in (320 to
   * 608 pixels a side) and keeps one picture under ~75 MB (YUV, RGB). */
  c->max_frame_pixels = 4096 * 4096;
  c->max_pending_bytes = 4 << 20;
  c->log_level = EDGE_LOG_INFO;
}

/* Reads a token file: its first line, without surrounding whitespace. */
static gboolean
read_token_file (const char *path, char **token, GError **error)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  g_strstrip (text);
  if (strchr (text, '\n') != NULL)
    *strchr (text, '\n') = '\0';
  if (text[0] == '\0') {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "Token file %s is empty; put the token on its first line", path);
    g_free (text);
    return FALSE;
  }
  g_free (*token);
  *token = text;
  return TRUE;
}

static void
take_string (GKeyFile *kf, const char *key, char **field)
{
  char *v = g_key_file_get_string (kf, GROUP, key, NULL);
  if (v != NULL) {
    g_free (*field);
    *field = v;
  }
}

static gboolean
take_int (GKeyFile *kf, const char *key, int *field, GError **error)
{
  GError *e = NULL;
  int v;

  if (!g_key_file_has_key (kf, GROUP, key, NULL))
    return TRUE;
  v = g_key_file_get_integer (kf, GROUP, key, &e);
  if (e != NULL) {
    g_propagate_prefixed_error (error, e, "[%s] %s: ", GROUP, key);
    return FALSE;
  }
  *field = v;
  return TRUE;
}

/* ---- the FRAME path's options (frame size, backlog, log level) ---- */

static gboolean
take_int64 (GKeyFile *kf, const char *key, gint64 *field, GError **error)
{
  GError *e = NULL;
  gint64 v;

  if (!g_key_file_has_key (kf, GROUP, key, NULL))
    return TRUE;
  v = g_key_file_get_int64 (kf, GROUP, key, &e);
  if (e != NULL) {
    g_propagate_prefixed_error (error, e, "[%s] %s: ", GROUP, key);
    return FALSE;
  }
  *field = v;
  return TRUE;
}

static gboolean
take_log_level (const char *text, int *field, GError **error)
{
  EdgeLogLevel level;

  if (!edge_log_level_parse (text, &level)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "log-level \"%s\" is none of error, warn, info, debug", text);
    return FALSE;
  }
  *field = (int) level;
  return TRUE;
}

static gboolean
load_frame_keys (EdgeConfig *c, GKeyFile *kf, GError **error)
{
  char *level = g_key_file_get_string (kf, GROUP, "log-level", NULL);
  gboolean ok = take_int64 (kf, "max-frame-pixels", &c->max_frame_pixels, error)
      && take_int64 (kf, "max-pending-bytes", &c->max_pending_bytes, error)
      && (level == NULL || take_log_level (level, &c->log_level, error));

  g_free (level);
  return ok;
}

/* A frame the decoder may allocate for: the protocol's 16384x16384 at
 * most.  At least one message of backlog: the frame that just came. */
static const char *
check_frame_ranges (EdgeConfig *c)
{
  if (c->max_frame_pixels < 64 * 64
      || c->max_frame_pixels > (gint64) 16384 * 16384)
    return "max-frame-pixels must be 4096..268435456 (64x64 to 16384x16384)";
  if (c->max_pending_bytes < 4096 || c->max_pending_bytes > G_MAXINT32)
    return "max-pending-bytes must be 4096..2147483647";
  if (c->max_pending_bytes < c->max_message_bytes)
    c->max_pending_bytes = c->max_message_bytes;
  return NULL;
}

static gboolean
load_key_file (EdgeConfig *c, const char *path, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  char *token_file = NULL;
  gboolean ok = FALSE;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    goto out;
  take_string (kf, "address", &c->address);
  take_string (kf, "name", &c->name);
  take_string (kf, "model", &c->model);
  take_string (kf, "model-dir", &c->model_dir);
  take_string (kf, "token", &c->token);
  take_string (kf, "token-file", &token_file);
  take_string (kf, "tls-cert", &c->tls_cert);
  take_string (kf, "tls-key", &c->tls_key);
  if (!take_int (kf, "port", &c->port, error)
      || !take_int (kf, "workers", &c->workers, error)
      || !take_int (kf, "threads", &c->threads, error)
      || !take_int (kf, "max-message-bytes", &c->max_message_bytes, error)
      || !take_int (kf, "queue-depth", &c->queue_depth, error)
      || !take_int (kf, "deadline-ms", &c->deadline_ms, error)
      || !take_int (kf, "max-clients", &c->max_clients, error)
      || !take_int (kf, "drain-timeout-ms", &c->drain_timeout_ms, error))
    goto out;
  if (token_file != NULL && !read_token_file (token_file, &c->token, error))
    goto out;
  if (!load_frame_keys (c, kf, error))
    goto out;
  ok = TRUE;
out:
  g_free (token_file);
  g_key_file_free (kf);
  return ok;
}

static gboolean
check_ranges (EdgeConfig *c, GError **error)
{
  const char *bad = NULL;

  if (c->port < 0 || c->port > 65535)
    bad = "port must be 0..65535 (0 picks a free port)";
  else if (c->workers < 1 || c->workers > 64)
    bad = "workers must be 1..64";
  else if (c->threads < 0 || c->threads > 64)
    bad = "threads must be 1..64";
  else if (c->max_message_bytes < 4096)
    bad = "max-message-bytes must be at least 4096";
  else if (c->queue_depth < 1 || c->queue_depth > 64)
    bad = "queue-depth must be 1..64";
  else if (c->deadline_ms < 1)
    bad = "deadline-ms must be at least 1";
  else if (c->max_clients < 1)
    bad = "max-clients must be at least 1";
  else if ((c->tls_cert == NULL) != (c->tls_key == NULL))
    bad = "tls-cert and tls-key go together: give both for wss://, or "
          "neither for ws://";
  if (bad == NULL)
    bad = check_frame_ranges (c);
  if (bad != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s", bad);
    return FALSE;
  }
  /* Checked here so a wrong path is named, not a TLS library failure. */
  for (int i = 0; i < 2 && c->tls_cert != NULL; i++) {
    const char *path = i == 0 ? c->tls_cert : c->tls_key;
    if (g_access (path, R_OK) != 0) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
          "cannot read the TLS %s %s: give a readable PEM file",
          i == 0 ? "certificate" : "private key", path);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
edge_config_parse (EdgeConfig *c, int *argc, char ***argv, GError **error)
{
  char *config_path = NULL, *token_file = NULL, *address = NULL;
  char *name = NULL, *model = NULL, *model_dir = NULL, *token = NULL;
  char *tls_cert = NULL, *tls_key = NULL;
  int port = -1, workers = -1, threads = -1, max_bytes = -1, depth = -1;
  int deadline = -1, max_clients = -1;
  gint64 max_pixels = -1, max_pending = -1;
  char *log_level = NULL;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Key file with an [edge] group; command-line options override it",
        "FILE" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address,
        "Address to listen on (default 127.0.0.1; 0.0.0.0 for every "
        "interface)",
        "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
        "Port (default 0: a free port, printed on the first line)", "PORT" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name,
        "Server name sent to clients (default yoloswitch-edge)", "NAME" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model,
        "Model name (default yolo-fastest-1.1-xl)", "NAME" },
    { "model-dir", 0, 0, G_OPTION_ARG_FILENAME, &model_dir,
        "Directory searched first for the model", "DIR" },
    { "workers", 'w', 0, G_OPTION_ARG_INT, &workers,
        "Inference workers, each with its own model instance (default 1)",
        "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
        "Inference threads per worker (default: cores / workers)", "N" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token,
        "Clients must send this token in HELLO (default: none needed)",
        "TOKEN" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
        "Read the token from the first line of FILE", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
        "Serve wss:// with this PEM certificate (needs --tls-key)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
        "PEM private key of --tls-cert", "FILE" },
    { "max-message-bytes", 0, 0, G_OPTION_ARG_INT, &max_bytes,
        "Largest message accepted (default 4194304)", "BYTES" },
    { "queue-depth", 0, 0, G_OPTION_ARG_INT, &depth,
        "Frames per client waiting for inference before the oldest is "
        "dropped; clients keep at most this many in flight (default 4)",
        "N" },
    { "deadline-ms", 0, 0, G_OPTION_ARG_INT, &deadline,
        "Default time from a frame's arrival to the end of its inference "
        "(default 1000)",
        "MS" },
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
        "Most connections at once (default 64)", "N" },
    { "max-frame-pixels", 0, 0, G_OPTION_ARG_INT64, &max_pixels,
        "Largest frame (width x height) decoded, from the FRAME header and "
        "the bitstream; larger is ERROR too-large (default 16777216, "
        "4096x4096)",
        "PIXELS" },
    { "max-pending-bytes", 0, 0, G_OPTION_ARG_INT64, &max_pending,
        "Packet bytes one client may have waiting for decoding; a frame "
        "beyond gets DROP backlog (default 4194304, at least "
        "--max-message-bytes)",
        "BYTES" },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
        "error, warn, info (default) or debug; libav and libwebsockets "
        "messages go through the same log",
        "LEVEL" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new ("- yoloswitch edge server");
  gboolean ok = FALSE;

  set_defaults (c);
  g_option_context_set_summary (ctx,
      "Runs a YOLO model for yolooffload clients over WebSockets "
      "(subprotocol yoloswitch.v2, docs/PROTOCOL.md).\n"
      "HTTP on the same port: /healthz and /metrics (Prometheus).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    goto out;
  if (config_path != NULL && !load_key_file (c, config_path, error))
    goto out;
#define OVERRIDE_STR(opt, field)                                               \
  if (opt != NULL) {                                                           \
    g_free (c->field);                                                         \
    c->field = opt;                                                            \
    opt = NULL;                                                                \
  }
  OVERRIDE_STR (address, address);
  OVERRIDE_STR (name, name);
  OVERRIDE_STR (model, model);
  OVERRIDE_STR (model_dir, model_dir);
  OVERRIDE_STR (token, token);
  OVERRIDE_STR (tls_cert, tls_cert);
  OVERRIDE_STR (tls_key, tls_key);
#undef OVERRIDE_STR
  if (token_file != NULL && !read_token_file (token_file, &c->token, error))
    goto out;
  if (port >= 0)
    c->port = port;
  if (workers >= 0)
    c->workers = workers;
  if (threads >= 0)
    c->threads = threads;
  if (max_bytes >= 0)
    c->max_message_bytes = max_bytes;
  if (depth >= 0)
    c->queue_depth = depth;
  if (deadline >= 0)
    c->deadline_ms = deadline;
  if (max_clients >= 0)
    c->max_clients = max_clients;
  if (max_pixels >= 0)
    c->max_frame_pixels = max_pixels;
  if (max_pending >= 0)
    c->max_pending_bytes = max_pending;
  if (log_level != NULL && !take_log_level (log_level, &c->log_level, error))
    goto out;
  ok = check_ranges (c, error);
  if (ok && c->threads == 0) {
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    c->threads = cores > c->workers ? (int) (cores / c->workers) : 1;
  }
out:
  g_free (config_path);
  g_free (token_file);
  g_free (address);
  g_free (name);
  g_free (model);
  g_free (model_dir);
  g_free (token);
  g_free (tls_cert);
  g_free (tls_key);
  g_free (log_level);
  g_option_context_free (ctx);
  return ok;
}

void
edge_config_clear (EdgeConfig *c)
{
  g_free (c->address);
  g_free (c->name);
  g_free (c->model);
  g_free (c->model_dir);
  g_free (c->token);
  g_free (c->tls_cert);
  g_free (c->tls_key);
  memset (c, 0, sizeof (*c));
}
