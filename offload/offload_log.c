/* The offload libraries' log hook; see offload_log.h. */
#include "offload_log.h"

#include <glib.h>
#include <libavutil/log.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Set once before any thread logs (offload_log.h), read by all. */
static YsLogFunc hook_func;
static YsLogEnabledFunc hook_enabled;
static void *hook_user;

const char *
ys_log_source_name (YsLogSource source)
{
  switch (source) {
    case YS_LOG_FROM_LWS: return "libwebsockets";
    case YS_LOG_FROM_LIBAV: return "libav";
    case YS_LOG_FROM_CLIENT: return "client";
  }
  return "?";
}

static bool
enabled (YsLogSource source, YsLogLevel level)
{
  if (hook_func == NULL)
    return level <= YS_LOG_WARNING;
  return hook_enabled == NULL || hook_enabled (source, level, hook_user);
}

/* Any thread: one finished line to the hook, or to stderr. */
static void
emit (YsLogSource source, YsLogLevel level, char *line)
{
  size_t n = strlen (line);

  /* lws and libav end their lines with a newline; the hook's messages
   * have none. */
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  if (n == 0)
    return;
  if (hook_func != NULL)
    hook_func (source, level, line, hook_user);
  else
    g_printerr ("yoloswitch %s: %s\n", ys_log_source_name (source), line);
}

static void
vlog (YsLogSource source, YsLogLevel level, const char *format, va_list args)
{
  char *line;

  if (!enabled (source, level))
    return;
  line = g_strdup_vprintf (format, args);
  emit (source, level, line);
  g_free (line);
}

void
ys_offload_log (YsLogSource source, YsLogLevel level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vlog (source, level, format, args);
  va_end (args);
}

/* ---- libwebsockets --------------------------------------------------------- */

static YsLogLevel
lws_level (int level)
{
  if (level & LLL_ERR)
    return YS_LOG_ERROR;
  if (level & LLL_WARN)
    return YS_LOG_WARNING;
  if (level & (LLL_NOTICE | LLL_USER))
    return YS_LOG_INFO;
  if (level & LLL_INFO)
    return YS_LOG_DEBUG;
  return YS_LOG_TRACE;
}

/* lws' service thread (or whichever thread called lws). */
static void
lws_emit (int level, const char *line)
{
  char *copy = g_strdup (line);
  emit (YS_LOG_FROM_LWS, lws_level (level), copy);
  g_free (copy);
}

void
ys_offload_log_setup_lws (void)
{
  /* lws formats only the levels asked for: those the hook shows now
   * (GST_DEBUG is read before the plugin loads, so this is what the
   * user asked for). */
  int levels = 0;

  if (enabled (YS_LOG_FROM_LWS, YS_LOG_ERROR))
    levels |= LLL_ERR;
  if (enabled (YS_LOG_FROM_LWS, YS_LOG_WARNING))
    levels |= LLL_WARN;
  if (enabled (YS_LOG_FROM_LWS, YS_LOG_INFO))
    levels |= LLL_NOTICE | LLL_USER;
  if (enabled (YS_LOG_FROM_LWS, YS_LOG_DEBUG))
    levels |= LLL_INFO;
  if (enabled (YS_LOG_FROM_LWS, YS_LOG_TRACE))
    levels |= LLL_DEBUG | LLL_PARSER | LLL_HEADER | LLL_EXT | LLL_CLIENT
        | LLL_LATENCY;
  lws_set_log_level (levels, lws_emit);
}

/* ---- libav ---------------------------------------------------------------- */

static YsLogLevel
av_level (int level)
{
  if (level <= AV_LOG_ERROR)
    return YS_LOG_ERROR;
  if (level <= AV_LOG_WARNING)
    return YS_LOG_WARNING;
  if (level <= AV_LOG_INFO)
    return YS_LOG_INFO;
  if (level <= AV_LOG_DEBUG)
    return YS_LOG_DEBUG;
  return YS_LOG_TRACE;
}

/* Any thread (x264 logs from its own). */
static void
av_callback (void *avcl, int level, const char *format, va_list args)
{
  /* libav's own callback keeps this across calls so that a line written
   * in pieces gets its "[libx264 @ 0x...]" prefix once; per thread here,
   * as pieces of one line come from one thread. */
  static __thread int print_prefix = 1;
  YsLogLevel ys = av_level (level);
  char line[1024];

  if (!enabled (YS_LOG_FROM_LIBAV, ys))
    return;
  av_log_format_line2 (avcl, level, format, args, line, sizeof (line),
      &print_prefix);
  emit (YS_LOG_FROM_LIBAV, ys, line);
}

void
ys_offload_set_log_func (YsLogFunc func, YsLogEnabledFunc enabled_func,
    void *user)
{
  hook_func = func;
  hook_enabled = enabled_func;
  hook_user = user;
  av_log_set_callback (func != NULL ? av_callback : av_log_default_callback);
  ys_offload_log_setup_lws ();
}
