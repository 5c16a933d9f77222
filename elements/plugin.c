/* The yoloswitch GStreamer plugin: one library, every element. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "detector.h"
#include "yolodetect.h"
#include "yolojson.h"
#include "yolooffload.h"
#include "yolooverlay.h"
#include "yolosplit.h"
#include "yoloswitch.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = FALSE;

  ys_detector_route_library_logs ();
  ok |= GST_ELEMENT_REGISTER (yolodetect, plugin);
  ok |= GST_ELEMENT_REGISTER (yolojson, plugin);
  ok |= GST_ELEMENT_REGISTER (yolooverlay, plugin);
  ok |= GST_ELEMENT_REGISTER (yolooffload, plugin);
  ok |= GST_ELEMENT_REGISTER (yoloswitch, plugin);
  ok |= GST_ELEMENT_REGISTER (yolosplit, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, yoloswitch,
    "Object detection that switches between a local YOLO and an edge server",
    plugin_init, VERSION, "LGPL", PACKAGE, PACKAGE_URL)
