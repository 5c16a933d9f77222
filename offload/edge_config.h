/* yoloswitch-edge settings: defaults, then the --config key file, then the
 * command line, each overriding the one before.  Every number is a row of
 * edge_config.c's option table (default, range, --help). */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_CONFIG_H
#define YOLOSWITCH_OFFLOAD_EDGE_CONFIG_H

#include <glib.h>

typedef struct {
  char *address; /* listen address */
  int port; /* 0: the kernel picks a free one */
  char *name; /* sent in the server HELLO */
  char *model; /* model name or cfg path's stem, see yolo/model_paths.c */
  char *model_dir;
  /* the model catalog's folder (edge_catalog.h); NULL: the served model's
   * folder; "none": no catalog */
  char *catalog_dir;
  int catalog_scan_ms; /* how often the folder is rescanned */
  int max_downloads; /* model files sent at once */
  int download_stall_ms; /* a download whose client takes nothing: closed */
  int workers; /* inference threads, each with its own model instance */
  int threads; /* kernel threads per worker's model (0: cores / workers) */
  char *token; /* NULL: no token needed */
  char *tls_cert, *tls_key; /* PEM paths; both set: wss:// only */
  int max_message_bytes;
  int queue_depth; /* frames per client waiting for inference */
  int deadline_ms; /* default per-frame deadline */
  int max_clients;
  int drain_timeout_ms; /* SIGTERM: longest wait for in-flight frames */

  /* The FRAME path's limits (docs/PROTOCOL.md, "Limits"). */
  gint64 max_frame_pixels; /* width * height, FRAME header and bitstream */
  gint64 max_pending_bytes; /* packet bytes one client may have waiting */
  /* what all clients together may make the server hold (edge_budget.c) */
  gint64 memory_budget_bytes;
  int log_level; /* EdgeLogLevel, edge_log.h */

  /* Connection limits: what one client, or one address, may hold
   * (docs/PROTOCOL.md "Limits"). */
  int send_queue_bytes; /* answers queued for one client: reading stops */
  int send_stall_ms; /* a full send queue for this long: closed */
  int socket_send_bytes; /* SO_SNDBUF of each client socket; 0: kernel's */
  int hello_timeout_ms; /* from the upgrade to a valid HELLO */
  int idle_timeout_ms; /* after HELLO, without a byte received; 0: none */
  int max_unauthenticated; /* connections without a valid HELLO yet */
  int max_per_address; /* WebSocket connections from one address */
  int auth_backoff_ms; /* first refusal after wrong tokens; 0: none */
  int auth_backoff_max_ms; /* longest refusal */
  int auth_table_size; /* addresses remembered for the backoff */
} EdgeConfig;

/* Fills config from argv; false with *error (a sentence to print) on bad
 * options, an unreadable config or token file. */
gboolean edge_config_parse (EdgeConfig *config, int *argc, char ***argv,
    GError **error);
void edge_config_clear (EdgeConfig *config);

#endif
