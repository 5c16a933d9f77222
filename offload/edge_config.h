/* yoloswitch-edge settings: defaults, then the --config key file, then the
 * command line, each overriding the one before. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_CONFIG_H
#define YOLOSWITCH_OFFLOAD_EDGE_CONFIG_H

#include <glib.h>

typedef struct {
  char *address; /* listen address */
  int port; /* 0: the kernel picks a free one */
  char *name; /* sent in the server HELLO */
  char *model; /* model name or cfg path's stem, see yolo/model_paths.c */
  char *model_dir;
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
  int log_level; /* EdgeLogLevel, edge_log.h */
} EdgeConfig;

/* Fills config from argv; false with *error (a sentence to print) on bad
 * options, an unreadable config or token file. */
gboolean edge_config_parse (EdgeConfig *config, int *argc, char ***argv,
    GError **error);
void edge_config_clear (EdgeConfig *config);

#endif
