/* yoloswitch-edge's log: one line per event on stderr,
 * "yoloswitch-edge: LEVEL: text", below a level set by --log-level.
 * libav and libwebsockets messages are routed through it, so a person (or
 * a log collector) sees one format and one switch.
 *
 * Every line is made printable before it is written: a control character
 * or a byte outside ASCII becomes \xNN, so text a client or a bitstream
 * supplied (a HELLO name, a libav message quoting a stream) cannot forge a
 * line or move a terminal's cursor. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_LOG_H
#define YOLOSWITCH_OFFLOAD_EDGE_LOG_H

#include <glib.h>
#include <stddef.h>

typedef enum {
  EDGE_LOG_ERROR = 0,
  EDGE_LOG_WARN = 1,
  EDGE_LOG_INFO = 2,
  EDGE_LOG_DEBUG = 3,
} EdgeLogLevel;

/* "error", "warn", "info", "debug"; false for anything else. */
gboolean edge_log_level_parse (const char *text, EdgeLogLevel *level);

/* Main thread, before any other thread logs: sets the level and routes
 * libav's and libwebsockets' logs here (lws: call again after anything
 * else set its emitter). */
void edge_log_init (EdgeLogLevel level);
void edge_log_route_lws (void);

gboolean edge_log_enabled (EdgeLogLevel level);

/* Any thread. */
void edge_log (EdgeLogLevel level, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

/* A printable copy of len bytes a peer sent, at most max of them (then
 * "..."): backslash, quote and every byte outside printable ASCII become
 * escapes.  g_free() it. */
char *edge_log_escape (const char *text, size_t len, size_t max);

#endif
