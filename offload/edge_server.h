/* yoloswitch-edge: the edge server behind `yolooffload`.
 *
 * One libwebsockets service thread does all socket I/O: it parses messages
 * (protocol.c), ACKs each FRAME the moment it has arrived, queues it for
 * its client and writes whatever the workers produced.  Inference workers,
 * each with its own model instance, take clients round-robin, decode their
 * frames in order (H.264 needs every frame as a reference) and run the
 * model on the newest one; older waiting frames get DROP "overload"
 * (latest frame wins) and frames past their deadline DROP "deadline".
 * HTTP on the same port serves /healthz and /metrics. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_SERVER_H
#define YOLOSWITCH_OFFLOAD_EDGE_SERVER_H

#include "edge_config.h"

#include <glib.h>

typedef struct EdgeServer EdgeServer;

/* Loads one model per worker, listens and starts the workers.  NULL with
 * *error (a sentence for a person) if the model or the port fails. */
EdgeServer *edge_server_new (const EdgeConfig *config, GError **error);

/* The port actually listened on (config port 0: the kernel's pick). */
int edge_server_port (const EdgeServer *server);

/* Serves until edge_server_request_stop(), then drains: refuses new
 * connections, answers new frames with DROP "shutdown", finishes the
 * frames already received, sends their results, and returns. */
void edge_server_run (EdgeServer *server);

/* Async-signal-safe: may be called from a signal handler. */
void edge_server_request_stop (EdgeServer *server);
/* Loads the model's files again beside the running one and swaps to it
 * without closing a connection (SIGHUP; docs/MODELS.md "Hot swap on the
 * edge"). Any thread, signal handlers included. */
void edge_server_request_reload (EdgeServer *server);

void edge_server_free (EdgeServer *server);

#endif
