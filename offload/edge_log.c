/* yoloswitch-edge's log; see edge_log.h. */
#include "edge_log.h"

#include "protocol.h"

#include <libavutil/log.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gint current_level = EDGE_LOG_INFO; /* atomic */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

gboolean
edge_log_level_parse (const char *text, EdgeLogLevel *level)
{
  for (int i = 0; i < (int) G_N_ELEMENTS (level_names); i++)
    if (g_ascii_strcasecmp (text, level_names[i]) == 0) {
      *level = (EdgeLogLevel) i;
      return TRUE;
    }
  return FALSE;
}

gboolean
edge_log_enabled (EdgeLogLevel level)
{
  return (int) level <= g_atomic_int_get (&current_level);
}

/* Writes one line, escaped, with one write so lines of threads do not
 * interleave. */
static void
emit (EdgeLogLevel level, const char *text)
{
  GString *line = g_string_new ("yoloswitch-edge: ");
  size_t len = strlen (text);

  /* Libraries end their lines with a newline: one is ours to add. */
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  g_string_append (line, level_names[level]);
  g_string_append (line, ": ");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) text[i];
    if (c >= 0x20 && c < 0x7f)
      g_string_append_c (line, (char) c);
    else
      g_string_append_printf (line, "\\x%02x", c);
  }
  g_string_append_c (line, '\n');
  fwrite (line->str, 1, line->len, stderr);
  fflush (stderr);
  g_string_free (line, TRUE);
}

/* At most LINES_PER_SECOND lines a second on average, LINES_BURST at
 * once: clients can make the server log (wrong tokens, garbage video), and
 * a flood of lines must not cost a disk or a terminal.  What is left out
 * is counted and said.  At debug level nothing is left out. */
#define LINES_PER_SECOND 100
#define LINES_BURST 200

static gboolean
rate_allows (EdgeLogLevel level, guint64 *suppressed_before)
{
  static GMutex lock;
  static gint64 refilled_us;
  static double tokens = LINES_BURST;
  static guint64 suppressed;
  gint64 now = g_get_monotonic_time ();
  gboolean ok;

  *suppressed_before = 0;
  if (edge_log_enabled (EDGE_LOG_DEBUG))
    return TRUE;
  g_mutex_lock (&lock);
  tokens = MIN (LINES_BURST,
      tokens + (double) (now - refilled_us) * LINES_PER_SECOND / 1e6);
  refilled_us = now;
  ok = tokens >= 1 || (level == EDGE_LOG_ERROR && tokens > -LINES_BURST);
  if (ok) {
    tokens -= 1;
    *suppressed_before = suppressed;
    suppressed = 0;
  } else {
    suppressed++;
  }
  g_mutex_unlock (&lock);
  return ok;
}

void
edge_log (EdgeLogLevel level, const char *format, ...)
{
  va_list args;
  char *text;
  guint64 suppressed;

  if (!edge_log_enabled (level) || !rate_allows (level, &suppressed))
    return;
  if (suppressed > 0) {
    text = g_strdup_printf ("%" G_GUINT64_FORMAT " log lines left out (more "
                            "than %d a second): clients or libraries are "
                            "flooding the log",
        suppressed, LINES_PER_SECOND);
    emit (EDGE_LOG_WARN, text);
    g_free (text);
  }
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  emit (level, text);
  g_free (text);
}

char *
edge_log_escape (const char *text, size_t len, size_t max)
{
  char *escaped = ys_text_escape (text, len, max, YS_ESCAPE_QUOTES);
  char *copy = g_strdup (escaped != NULL ? escaped : "?");

  free (escaped);
  return copy;
}

/* ---- libav ---------------------------------------------------------------- */

/* Any thread (the workers' decoders).  av_log calls this only for levels
 * at or below av_log_set_level's, set from ours in edge_log_init. */
static void
av_callback (void *avcl, int level, const char *format, va_list args)
{
  static _Thread_local int print_prefix = 1;
  char line[1024];
  EdgeLogLevel ours = level <= AV_LOG_ERROR ? EDGE_LOG_ERROR
      : level <= AV_LOG_WARNING             ? EDGE_LOG_WARN
      : level <= AV_LOG_INFO                ? EDGE_LOG_INFO
                                            : EDGE_LOG_DEBUG;

  if (level > AV_LOG_DEBUG || !edge_log_enabled (ours))
    return;
  av_log_format_line2 (avcl, level, format, args, line, sizeof (line),
      &print_prefix);
  if (line[0] != '\0')
    edge_log (ours, "libav: %s", line);
}

/* ---- libwebsockets ---------------------------------------------------------- */

/* The service thread (lws logs from inside lws_service). */
static void
lws_callback (int level, const char *line)
{
  edge_log (level == LLL_ERR  ? EDGE_LOG_ERROR
          : level == LLL_WARN ? EDGE_LOG_WARN
                              : EDGE_LOG_DEBUG,
      "libwebsockets: %s", line);
}

void
edge_log_route_lws (void)
{
  int lws_levels = LLL_ERR | LLL_WARN;

  /* lws's NOTICE lines are its start-up banner (version, options): the
   * details of a debug session, not of a server's normal run.  Its INFO
   * lines, one per packet, are not wanted even then. */
  if (edge_log_enabled (EDGE_LOG_DEBUG))
    lws_levels |= LLL_NOTICE;
  lws_set_log_level (lws_levels, lws_callback);
}

void
edge_log_init (EdgeLogLevel level)
{
  static const int av_levels[]
      = { AV_LOG_ERROR, AV_LOG_WARNING, AV_LOG_INFO, AV_LOG_DEBUG };

  g_atomic_int_set (&current_level, (gint) level);
  av_log_set_level (av_levels[level]);
  av_log_set_callback (av_callback);
  edge_log_route_lws ();
}
