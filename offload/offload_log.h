/* Where the offload libraries' own logs go: libwebsockets', libavcodec's
 * (the encoder and its codec, x264's banners included) and the client's.
 *
 * offload/ does not know GStreamer, so the owner of the process installs
 * a hook (the plugin: GStreamer debug categories).  Without one, errors
 * and warnings go to stderr with a prefix and libav keeps its own
 * logging, which is what a command-line tool wants.
 *
 * Threads: set the hook once, before any client or encoder exists (the
 * plugin does it in plugin_init); messages come from any thread. */
#ifndef YOLOSWITCH_OFFLOAD_LOG_H
#define YOLOSWITCH_OFFLOAD_LOG_H

#include <stdbool.h>

typedef enum {
  YS_LOG_FROM_LWS, /* libwebsockets */
  YS_LOG_FROM_LIBAV, /* libavcodec, libavutil, the codecs under them */
  YS_LOG_FROM_CLIENT, /* the yoloswitch.v2 client itself */
} YsLogSource;

typedef enum {
  YS_LOG_ERROR,
  YS_LOG_WARNING,
  YS_LOG_INFO,
  YS_LOG_DEBUG,
  YS_LOG_TRACE,
} YsLogLevel;

/* One message, without its trailing newline. */
typedef void (*YsLogFunc) (YsLogSource source, YsLogLevel level,
    const char *message, void *user);
/* Whether a message would be shown: those that would not are never
 * formatted.  NULL: all are. */
typedef bool (
    *YsLogEnabledFunc) (YsLogSource source, YsLogLevel level, void *user);

/* Installs the hook (func NULL: back to stderr) and routes libav's log
 * through it (av_log_set_callback: for the whole process). */
void ys_offload_set_log_func (YsLogFunc func, YsLogEnabledFunc enabled,
    void *user);

/* Sets libwebsockets' log levels (those the hook shows now) and its emit
 * function; each new client calls it, as lws' setting is process-wide. */
void ys_offload_log_setup_lws (void);

void ys_offload_log (YsLogSource source, YsLogLevel level, const char *format,
    ...) __attribute__ ((format (printf, 3, 4)));

const char *ys_log_source_name (YsLogSource source);

#endif
