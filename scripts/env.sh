# Sourced by the scripts: lets gst-launch-1.0 find the plugin in build/
# without installing it, and names the shared models and sample video.
YOLOSWITCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="$YOLOSWITCH_ROOT/build/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export PATH="$YOLOSWITCH_ROOT/build/yolo:$YOLOSWITCH_ROOT/build/offload:$PATH"
YOLOSWITCH_SHARED="${YOLOSWITCH_SHARED:-$YOLOSWITCH_ROOT/../shared}"
YOLOSWITCH_VIDEO="${YOLOSWITCH_VIDEO:-$YOLOSWITCH_SHARED/data/vtest.avi}"
