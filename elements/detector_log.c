/* libwebsockets', libav's and the offload client's own logs, routed into
 * GStreamer debug categories (offload/offload_log.h), so that
 * GST_DEBUG=yoloswitch-libav:4 shows x264's banner and nothing reaches
 * stderr on its own:
 *   yoloswitch-lws     libwebsockets (connections, TLS)
 *   yoloswitch-libav   libavcodec and the encoders under it
 *   yoloswitch-client  the yoloswitch.v2 client (a connection it closes)
 * libav's hook is process-wide: the gst-libav plugin, if loaded after
 * this one, routes it into its own category instead. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector.h"

#include "offload_log.h"

GST_DEBUG_CATEGORY_STATIC (lws_category);
GST_DEBUG_CATEGORY_STATIC (libav_category);
GST_DEBUG_CATEGORY_STATIC (client_category);

static GstDebugCategory *
category (YsLogSource source)
{
  switch (source) {
    case YS_LOG_FROM_LWS: return lws_category;
    case YS_LOG_FROM_LIBAV: return libav_category;
    case YS_LOG_FROM_CLIENT: return client_category;
  }
  return client_category;
}

static GstDebugLevel
gst_level (YsLogLevel level)
{
  switch (level) {
    case YS_LOG_ERROR: return GST_LEVEL_ERROR;
    case YS_LOG_WARNING: return GST_LEVEL_WARNING;
    case YS_LOG_INFO: return GST_LEVEL_INFO;
    case YS_LOG_DEBUG: return GST_LEVEL_DEBUG;
    case YS_LOG_TRACE: return GST_LEVEL_LOG;
  }
  return GST_LEVEL_LOG;
}

/* Any thread: messages the category would drop are never formatted. */
static bool
log_enabled (YsLogSource source, YsLogLevel level, void *user)
{
  /* Not gst_debug_is_active (): GST_DEBUG=yoloswitch-libav:4 alone
   * leaves it unset, yet asks for these. */
  return gst_debug_category_get_threshold (category (source))
      >= gst_level (level);
}

/* Any thread (lws' service thread, x264's). */
static void
log_message (YsLogSource source, YsLogLevel level, const char *message,
    void *user)
{
  gst_debug_log (category (source), gst_level (level),
      ys_log_source_name (source), "", 0, NULL, "%s", message);
}

void
ys_detector_route_library_logs (void)
{
  GST_DEBUG_CATEGORY_INIT (lws_category, "yoloswitch-lws", 0,
      "libwebsockets, for the edge elements");
  GST_DEBUG_CATEGORY_INIT (libav_category, "yoloswitch-libav", 0,
      "libavcodec and its encoders, for the edge elements");
  GST_DEBUG_CATEGORY_INIT (client_category, "yoloswitch-client", 0,
      "the yoloswitch.v2 client of the edge elements");
  ys_offload_set_log_func (log_message, log_enabled, NULL);
}
