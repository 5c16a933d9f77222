/* Settings of yoloswitch-edge; see edge_config.h. */
#include "edge_config.h"

#include "cpus.h"
#include "edge_log.h"

#include <glib/gstdio.h>

#include <string.h>
#include <unistd.h>

#define GROUP "edge"

/* ---- numeric options --------------------------------------------------------
 * Every number the server takes, in one table that drives the defaults, the
 * key file, the command line (--help) and the range checks.  The limits on
 * what a client may make the server hold or compute are documented in
 * docs/PROTOCOL.md "Limits". */

typedef struct {
  const char *key; /* key-file key and long option */
  char short_name;
  glong offset; /* of the field in EdgeConfig */
  gboolean wide; /* the field is a gint64, not an int */
  gint64 def, min, max;
  const char *help, *arg;
} NumOption;

#define INT_FIELD(f) G_STRUCT_OFFSET (EdgeConfig, f), FALSE
#define WIDE_FIELD(f) G_STRUCT_OFFSET (EdgeConfig, f), TRUE
#define MiB (1 << 20)

static const NumOption options[] = {
  { "port", 'p', INT_FIELD (port), 0, 0, 65535,
      "Port (default 0: a free port, printed on the first line)", "PORT" },
  { "workers", 'w', INT_FIELD (workers), 1, 1, 64,
      "Inference workers, each with its own model instance (default 1)", "N" },
  { "threads", 't', INT_FIELD (threads), 0, 0, 64,
      "Inference threads per worker (default 0: usable cores / workers)", "N" },
  { "queue-depth", 0, INT_FIELD (queue_depth), 4, 1, 64,
      "Frames per client waiting for inference before the oldest is "
      "dropped; clients keep at most this many in flight (default 4)",
      "N" },
  { "deadline-ms", 0, INT_FIELD (deadline_ms), 1000, 1, 3600000,
      "Default time from a frame's arrival to the end of its inference "
      "(default 1000)",
      "MS" },
  { "max-clients", 0, INT_FIELD (max_clients), 64, 1, 100000,
      "Clients that sent a valid HELLO, at once; connections still "
      "waiting for theirs count under --max-unauthenticated (default 64)",
      "N" },
  { "drain-timeout-ms", 0, INT_FIELD (drain_timeout_ms), 10000, 0, 3600000,
      "On SIGTERM, the longest wait for frames in flight (default 10000)",
      "MS" },
  /* What one client may make the server hold, and all of them. */
  { "max-message-bytes", 0, INT_FIELD (max_message_bytes), 4 * MiB, 4096,
      G_MAXINT32, "Largest message accepted (default 4194304)", "BYTES" },
  /* 4096x2160 (DCI 4K): more than any camera here sends and any model
   * takes in (320 to 608 pixels a side); each worker keeps RGB and
   * resizing buffers of the largest frame it decoded (~40 MB at this). */
  { "max-frame-pixels", 0, WIDE_FIELD (max_frame_pixels), 4096 * 2160, 64 * 64,
      (gint64) 16384 * 16384,
      "Largest frame (width x height) decoded, from the FRAME header and "
      "the bitstream; larger is ERROR too-large (default 8847360, "
      "4096x2160)",
      "PIXELS" },
  { "max-pending-bytes", 0, WIDE_FIELD (max_pending_bytes), 4 * MiB, 4096,
      G_MAXINT32,
      "Packet bytes one client may have waiting for decoding; a frame "
      "beyond gets DROP backlog (default 4194304, at least "
      "--max-message-bytes)",
      "BYTES" },
  /* 64 (--max-clients) VGA H.264 cameras need ~3.6 MiB each: the decoder
   * (1.5), three pictures, a message and a few waiting frames. */
  { "memory-budget-bytes", 0, WIDE_FIELD (memory_budget_bytes), 256 * MiB,
      16 * MiB, (gint64) 1 << 40,
      "What all clients together may make the server hold: messages being "
      "received, frames waiting, decoded pictures (default 268435456)",
      "BYTES" },
  /* The model catalog (GET /models, edge_http.h). */
  { "catalog-scan-ms", 0, INT_FIELD (catalog_scan_ms), 2000, 100, 3600000,
      "How often the catalog folder is rescanned for new or changed models "
      "(default 2000)",
      "MS" },
  { "max-downloads", 0, INT_FIELD (max_downloads), 8, 1, 10000,
      "Model files sent at once; more get 503 with Retry-After (default 8)",
      "N" },
  { "download-stall-ms", 0, INT_FIELD (download_stall_ms), 30000, 1000, 3600000,
      "A download whose client takes no bytes this long is closed (default "
      "30000)",
      "MS" },
  /* Connections. */
  { "send-queue-bytes", 0, INT_FIELD (send_queue_bytes), 256 << 10, 4096,
      1 << 30,
      "Answers queued for one client before the server stops reading from "
      "it and stops answering its PINGs (default 262144)",
      "BYTES" },
  { "socket-send-bytes", 0, INT_FIELD (socket_send_bytes), 256 << 10, 0,
      64 * MiB,
      "Kernel send buffer of each client socket (SO_SNDBUF), on top of "
      "--send-queue-bytes; 0 lets the kernel grow it, to 4 MB on Linux "
      "(default 262144)",
      "BYTES" },
  { "send-stall-ms", 0, INT_FIELD (send_stall_ms), 10000, 100, 3600000,
      "A client whose send queue stays full this long is closed (default "
      "10000)",
      "MS" },
  { "hello-timeout-ms", 0, INT_FIELD (hello_timeout_ms), 5000, 100, 600000,
      "Time from the WebSocket upgrade to a valid HELLO (default 5000)", "MS" },
  { "idle-timeout-ms", 0, INT_FIELD (idle_timeout_ms), 60000, 0, 86400000,
      "After HELLO, a client that sends nothing this long is closed (default "
      "60000; 0: never)",
      "MS" },
  /* Cheap (a message before HELLO is 16 KiB at most, and charged to the
   * memory budget), and many, so clients reconnecting in a loop from
   * many addresses cannot keep every place young. */
  { "max-unauthenticated", 0, INT_FIELD (max_unauthenticated), 256, 1, 100000,
      "Connections still waiting for a valid HELLO, counted apart from "
      "--max-clients (default 256)",
      "N" },
  { "max-per-address", 0, INT_FIELD (max_per_address), 16, 1, 100000,
      "WebSocket connections from one source address; raise it when "
      "cameras share an address behind NAT (default 16)",
      "N" },
  { "auth-backoff-ms", 0, INT_FIELD (auth_backoff_ms), 1000, 0, 3600000,
      "After a second wrong token from an address, its HELLOs are refused "
      "unchecked this long, doubling with each further one (default 1000; "
      "0: no throttling)",
      "MS" },
  { "auth-backoff-max-ms", 0, INT_FIELD (auth_backoff_max_ms), 60000, 1,
      86400000, "Longest refusal after wrong tokens (default 60000)", "MS" },
  { "auth-table-size", 0, INT_FIELD (auth_table_size), 1024, 1, 1000000,
      "Addresses remembered for the token backoff; the oldest is forgotten "
      "first (default 1024)",
      "N" },
};

/* Values outside int are caught by the range check first. */
static void
set_num (EdgeConfig *c, const NumOption *o, gint64 v)
{
  if (o->wide)
    G_STRUCT_MEMBER (gint64, c, o->offset) = v;
  else
    G_STRUCT_MEMBER (int, c, o->offset) = (int) v;
}

static gboolean
check_num (const NumOption *o, gint64 v, GError **error)
{
  if (v >= o->min && v <= o->max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "%s must be %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
      ", not %" G_GINT64_FORMAT,
      o->key, o->min, o->max, v);
  return FALSE;
}

static gboolean
load_nums (EdgeConfig *c, GKeyFile *kf, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (options); i++) {
    GError *e = NULL;
    gint64 v;

    if (!g_key_file_has_key (kf, GROUP, options[i].key, NULL))
      continue;
    v = g_key_file_get_int64 (kf, GROUP, options[i].key, &e);
    if (e != NULL) {
      g_propagate_prefixed_error (error, e, "[%s] %s: ", GROUP, options[i].key);
      return FALSE;
    }
    if (!check_num (&options[i], v, error)) {
      g_prefix_error (error, "[%s] ", GROUP);
      return FALSE;
    }
    set_num (c, &options[i], v);
  }
  return TRUE;
}

/* Command-line values land in `given` (G_MININT64: not given). */
static GOptionEntry *
num_entries (gint64 *given)
{
  GOptionEntry *e = g_new0 (GOptionEntry, G_N_ELEMENTS (options) + 1);

  for (gsize i = 0; i < G_N_ELEMENTS (options); i++) {
    given[i] = G_MININT64;
    e[i].long_name = options[i].key;
    e[i].short_name = options[i].short_name;
    e[i].arg = G_OPTION_ARG_INT64;
    e[i].arg_data = &given[i];
    e[i].description = options[i].help;
    e[i].arg_description = options[i].arg;
  }
  return e;
}

static gboolean
override_nums (EdgeConfig *c, const gint64 *given, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (options); i++) {
    if (given[i] == G_MININT64)
      continue;
    if (!check_num (&options[i], given[i], error)) {
      g_prefix_error (error, "--");
      return FALSE;
    }
    set_num (c, &options[i], given[i]);
  }
  return TRUE;
}

/* The rules between options. */
static gboolean
check_together (EdgeConfig *c, GError **error)
{
  const char *bad = NULL;

  if (c->auth_backoff_max_ms < c->auth_backoff_ms)
    bad = "auth-backoff-max-ms must be at least auth-backoff-ms";
  else if ((c->tls_cert == NULL) != (c->tls_key == NULL))
    bad = "tls-cert and tls-key go together: give both for wss://, or "
          "neither for ws://";
  if (bad != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s", bad);
    return FALSE;
  }
  /* At least one message of backlog: the frame that just came. */
  if (c->max_pending_bytes < c->max_message_bytes)
    c->max_pending_bytes = c->max_message_bytes;
  if (c->threads == 0) {
    int cores = yolo_usable_cores ();
    c->threads = cores > c->workers ? cores / c->workers : 1;
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

/* ---- strings ---------------------------------------------------------------- */

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

/* The string options, as given on the command line (NULL: not given); the
 * same keys in the key file. */
typedef struct {
  char *address, *name, *model, *model_dir, *catalog_dir, *token, *token_file;
  char *tls_cert, *tls_key, *log_level;
} Strings;

#define STRING_KEYS(X)                                                         \
  X (address, "address")                                                       \
  X (name, "name")                                                             \
  X (model, "model")                                                           \
  X (model_dir, "model-dir")                                                   \
  X (catalog_dir, "catalog-dir")                                               \
  X (token, "token")                                                           \
  X (token_file, "token-file")                                                 \
  X (tls_cert, "tls-cert")                                                     \
  X (tls_key, "tls-key")                                                       \
  X (log_level, "log-level")

static void
strings_clear (Strings *s)
{
#define FREE(field, key) g_clear_pointer (&s->field, g_free);
  STRING_KEYS (FREE)
#undef FREE
}

/* Moves what `s` has into the config (token file read, log level parsed). */
static gboolean
apply_strings (EdgeConfig *c, Strings *s, GError **error)
{
#define MOVE(dst)                                                              \
  if (s->dst != NULL) {                                                        \
    g_free (c->dst);                                                           \
    c->dst = g_steal_pointer (&s->dst);                                        \
  }
  MOVE (address);
  MOVE (name);
  MOVE (model);
  MOVE (model_dir);
  MOVE (catalog_dir);
  MOVE (token);
  MOVE (tls_cert);
  MOVE (tls_key);
#undef MOVE
  if (s->token_file != NULL
      && !read_token_file (s->token_file, &c->token, error))
    return FALSE;
  return s->log_level == NULL
      || take_log_level (s->log_level, &c->log_level, error);
}

static gboolean
load_key_file (EdgeConfig *c, const char *path, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  Strings s = { NULL };
  gboolean ok = FALSE;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    goto out;
#define TAKE(field, key) s.field = g_key_file_get_string (kf, GROUP, key, NULL);
  STRING_KEYS (TAKE)
#undef TAKE
  ok = load_nums (c, kf, error) && apply_strings (c, &s, error);
out:
  strings_clear (&s);
  g_key_file_free (kf);
  return ok;
}

static void
set_defaults (EdgeConfig *c)
{
  memset (c, 0, sizeof (*c));
  c->address = g_strdup ("127.0.0.1");
  c->name = g_strdup ("yoloswitch-edge");
  c->model = g_strdup ("yolo-fastest-1.1-xl");
  c->log_level = EDGE_LOG_INFO;
  for (gsize i = 0; i < G_N_ELEMENTS (options); i++)
    set_num (c, &options[i], options[i].def);
}

gboolean
edge_config_parse (EdgeConfig *c, int *argc, char ***argv, GError **error)
{
  char *config_path = NULL;
  Strings s = { NULL };
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Key file with an [edge] group; command-line options override it",
        "FILE" },
    { "address", 'a', 0, G_OPTION_ARG_STRING, &s.address,
        "Address to listen on (default 127.0.0.1; 0.0.0.0 for every "
        "interface)",
        "ADDR" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &s.name,
        "Server name sent to clients (default yoloswitch-edge)", "NAME" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &s.model,
        "Model name (default yolo-fastest-1.1-xl)", "NAME" },
    { "model-dir", 0, 0, G_OPTION_ARG_FILENAME, &s.model_dir,
        "Directory searched first for the model", "DIR" },
    { "catalog-dir", 0, 0, G_OPTION_ARG_FILENAME, &s.catalog_dir,
        "Models listed at GET /models and served at /models/NAME/FILE "
        "(default: the served model's folder; none: no catalog)",
        "DIR" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &s.token,
        "Clients must send this token in HELLO (default: none needed)",
        "TOKEN" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &s.token_file,
        "Read the token from the first line of FILE", "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &s.tls_cert,
        "Serve wss:// with this PEM certificate (needs --tls-key)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &s.tls_key,
        "PEM private key of --tls-cert", "FILE" },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &s.log_level,
        "error, warn, info (default) or debug; libav and libwebsockets "
        "messages go through the same log",
        "LEVEL" },
    { NULL },
  };
  gint64 given[G_N_ELEMENTS (options)];
  GOptionEntry *numbers = num_entries (given);
  GOptionContext *ctx = g_option_context_new ("- yoloswitch edge server");
  gboolean ok = FALSE;

  set_defaults (c);
  g_option_context_set_summary (ctx,
      "Runs a YOLO model for yolooffload clients over WebSockets "
      "(subprotocol yoloswitch.v2, docs/PROTOCOL.md).\n"
      "HTTP on the same port: /healthz, /metrics (Prometheus), and the "
      "model catalog at /models (docs/MODELS.md).\n"
      "SIGHUP: load the --model's files again (a new version) beside the "
      "running model and swap to it, keeping every connection; SIGTERM: "
      "finish the frames in flight and exit.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_main_entries (ctx, numbers, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    goto out;
  if (config_path != NULL && !load_key_file (c, config_path, error))
    goto out;
  ok = apply_strings (c, &s, error) && override_nums (c, given, error)
      && check_together (c, error);
out:
  g_free (config_path);
  strings_clear (&s);
  g_option_context_free (ctx);
  g_free (numbers);
  return ok;
}

void
edge_config_clear (EdgeConfig *c)
{
  g_free (c->address);
  g_free (c->name);
  g_free (c->model);
  g_free (c->model_dir);
  g_free (c->catalog_dir);
  g_free (c->token);
  g_free (c->tls_cert);
  g_free (c->tls_key);
  memset (c, 0, sizeof (*c));
}
