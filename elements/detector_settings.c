/* The detector elements' property table; see detector_settings.h.
 *
 * Why this file is long: it is the table, one row per property, and each
 * row's blurb is what gst-inspect-1.0 shows a user; splitting the table
 * would only scatter the documentation. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "detector_settings.h"

#include "decision.h"
#include "protocol.h"
#include "session.h"
#include "yolo.h"

#include <stddef.h>
#include <string.h>

typedef enum {
  T_STRING,
  T_INT,
  T_UINT,
  T_INT64,
  T_UINT64,
  T_FLOAT,
  T_DOUBLE,
  T_BOOLEAN,
  T_ENUM,
} RowType;

typedef struct {
  const char *name, *nick, *blurb;
  RowType type;
  GType (*enum_type) (void);
  double min, max, def;
  const char *def_string;
  gsize offset;
  guint mask;
  YsApply apply;
} Row;

#define AT(field) offsetof (YsDetectorSettings, field)
#define D YS_FOR_DETECT
#define O YS_FOR_OFFLOAD
#define S YS_FOR_SWITCH
#define P YS_FOR_SPLIT

/* ---- enums -------------------------------------------------------------------- */

#define DEFINE_ENUM(func, name, ...)                                           \
  GType func (void)                                                            \
  {                                                                            \
    static GType type = 0;                                                     \
    static const GEnumValue values[] = { __VA_ARGS__, { 0, NULL, NULL } };     \
    if (g_once_init_enter (&type))                                             \
      g_once_init_leave (&type, g_enum_register_static (name, values));        \
    return type;                                                               \
  }

DEFINE_ENUM (gst_yolo_detector_mode_get_type, "GstYoloDetectorMode",
    { GST_YOLO_DETECTOR_MODE_SYNC,
        "Each frame leaves in order with its own result, or a record saying "
        "why not",
        "sync" },
    { GST_YOLO_DETECTOR_MODE_ASYNC,
        "Frames never wait for the network; they carry the newest results "
        "with their age",
        "async" })

DEFINE_ENUM (gst_yolo_detector_on_missing_get_type, "GstYoloDetectorOnMissing",
    { GST_YOLO_DETECTOR_ON_MISSING_ERROR,
        "Post an error at EOS (the exit code of gst-launch-1.0 says the job "
        "is incomplete)",
        "error" },
    { GST_YOLO_DETECTOR_ON_MISSING_WARN,
        "Post a warning at EOS; the pipeline ends normally", "warn" },
    { GST_YOLO_DETECTOR_ON_MISSING_IGNORE,
        "Nothing beyond the per-frame records and the stats", "ignore" })

DEFINE_ENUM (gst_yolo_detector_engine_get_type, "GstYoloDetectorEngine",
    { YOLO_ENGINE_FAST, "Our own network (no libdarknet), Darknet's results",
        "fast" },
    { YOLO_ENGINE_DARKNET, "Stock libdarknet, the reference", "darknet" })

DEFINE_ENUM (gst_yolo_offload_codec_get_type, "GstYoloOffloadCodec",
    { YS_CODEC_H264, "H.264 (libx264 or a hardware encoder)", "h264" },
    { YS_CODEC_MJPEG, "Motion JPEG", "mjpeg" })

DEFINE_ENUM (gst_yolo_switch_policy_get_type, "GstYoloSwitchPolicy",
    { YS_POLICY_AUTO, "Choose the path and configuration to hold the targets",
        "auto" },
    { YS_POLICY_LOCAL, "Local model only (input size still adapts)", "local" },
    { YS_POLICY_EDGE, "Edge server only (resolution and bit rate adapt)",
        "edge" },
    { YS_POLICY_SPLIT,
        "Split inference only (the cut and bits adapt among the profile's)",
        "split" })

DEFINE_ENUM (gst_yolo_switch_privacy_get_type, "GstYoloSwitchPrivacy",
    { GST_YOLO_SWITCH_PRIVACY_NONE, "Frames may be sent to the server",
        "none" },
    { GST_YOLO_SWITCH_PRIVACY_PIXELS_STAY_LOCAL,
        "No pixel leaves this machine: the edge path is not even opened, "
        "only local and split run",
        "pixels-stay-local" })

DEFINE_ENUM (gst_yolo_switch_emulate_get_type, "GstYoloSwitchEmulate",
    { GST_YOLO_SWITCH_EMULATE_NONE, "yoloswitch itself", "none" },
    { GST_YOLO_SWITCH_EMULATE_DEEPDECISION,
        "DeepDecision-style baseline: a decision once a second without "
        "hold or probe, stop-and-wait offload, a 1 s gap on every path "
        "switch (its app restart)",
        "deepdecision" })

/* ---- the table ---------------------------------------------------------------- */

static const Row rows[] = {
  /* the local model */
  { "model", "Model",
      "Model name, looked up as <name>.cfg/.weights in model-dir, "
      "$YOLOSWITCH_MODEL_DIR, ../shared/models beside the source tree, "
      "the user's data dir, then the installed model dir (and the model "
      "cache). Changeable while playing: the new model loads on a thread "
      "of its own while the old one runs, and takes over between two "
      "frames (a yoloswitch-model message says when, with its load time)",
      T_STRING, .def_string = YOLO_DEFAULT_LOCAL_MODEL,
      .offset = AT (local_model), .mask = D, .apply = YS_APPLY_MODEL },
  { "input-size", "Input size",
      "Network input size of the model, WIDTHxHEIGHT (multiples of 32, "
      "32 to 4096), e.g. 256x256; smaller is faster and less accurate. "
      "NULL or \"\": the cfg's. Changeable while playing, like model",
      T_STRING, .offset = AT (input_size), .mask = D, .apply = YS_APPLY_MODEL },
  { "local-model", "Local model",
      "Model run on this machine (looked up like yolodetect's model). "
      "Changeable while playing, like yolodetect's model: the new model "
      "runs at the sizes the profile's configurations ask for, judged by "
      "its measured speed; the profile's accuracy figures stay those of the "
      "model it was made with",
      T_STRING, .def_string = YOLO_DEFAULT_LOCAL_MODEL,
      .offset = AT (local_model), .mask = S, .apply = YS_APPLY_MODEL },
  { "config", "Config file",
      "Darknet .cfg path; overrides the one found by model name", T_STRING,
      .offset = AT (config), .mask = D },
  { "weights", "Weights file",
      "Darknet .weights path; overrides the one found by model name", T_STRING,
      .offset = AT (weights), .mask = D },
  { "labels", "Labels file",
      "Class names, one per line (.names); overrides the one found by model "
      "name",
      T_STRING, .offset = AT (labels), .mask = D },
  { "model-dir", "Model directory",
      "Folder searched first for the model run here by name", T_STRING,
      .offset = AT (model_dir), .mask = D | S | P },
  { "model-cache-dir", "Model cache directory",
      "Folder of the device's model cache: a model run here that is not "
      "found by name is fetched into it from the edge catalog (catalog, or "
      "server), checked against its sha256, and served from it when the "
      "network is gone (docs/MODELS.md \"The device cache\"). NULL: no "
      "cache",
      T_STRING, .offset = AT (model_cache_dir), .mask = D | S },
  { "cache-budget-mb", "Cache budget",
      "Megabytes the model cache may hold; the model of least value "
      "((uses + 1) x accuracy / MB) is evicted first, never one in use. "
      "0: no limit",
      T_UINT, .min = 0, .max = 1 << 20, .def = 0,
      .offset = AT (cache_budget_mb), .mask = D | S },
  { "catalog", "Model catalog",
      "yoloswitch-edge server whose catalog (GET /models) fills the model "
      "cache: http://, https://, ws:// or wss:// HOST:PORT. NULL: the "
      "server property's",
      T_STRING, .offset = AT (catalog), .mask = D | S },
  { "engine", "Engine",
      "How the local model runs: fast (our own network) or darknet (stock "
      "libdarknet)",
      T_ENUM, gst_yolo_detector_engine_get_type, .def = YOLO_ENGINE_FAST,
      .offset = AT (engine), .mask = D | S },
  { "threads", "Threads",
      "Inference threads of the model run here (yolosplit: the edge model's "
      "first layers); 0 = every core the process may "
      "use (affinity mask, cgroup CPU quota)",
      T_UINT, .min = 0, .max = 256, .def = 0, .offset = AT (threads),
      .mask = D | S | P },
  { "threshold", "Threshold",
      "Minimum confidence of a detection the local model reports (0..1)",
      T_FLOAT, .min = 0, .max = 1, .def = YOLO_DEFAULT_THRESHOLD,
      .offset = AT (threshold), .mask = D | S, .apply = YS_APPLY_INFER },
  { "nms", "NMS IoU",
      "Overlap (IoU, 0..1) above which the local model suppresses a weaker "
      "box of the same class",
      T_FLOAT, .min = 0, .max = 1, .def = YOLO_DEFAULT_NMS, .offset = AT (nms),
      .mask = D | S, .apply = YS_APPLY_INFER },
  { "letterbox", "Letterbox",
      "Keep the aspect ratio with grey bars instead of stretching the frame "
      "to the input of the model run here",
      T_BOOLEAN, .def = FALSE, .offset = AT (letterbox), .mask = D | S | P,
      .apply = YS_APPLY_INFER },
  { "inference-interval", "Inference interval",
      "Run the model on every Nth frame; frames in between carry the newest "
      "results with their age",
      T_UINT, .min = 1, .max = G_MAXINT, .def = 1,
      .offset = AT (inference_interval), .mask = D,
      .apply = YS_APPLY_INTERVAL },

  /* the edge */
  { "server", "Edge server",
      "ws:// or wss:// URL of a yoloswitch-edge server (yolooffload, "
      "yolosplit: required; yoloswitch: NULL runs local only)",
      T_STRING, .offset = AT (server), .mask = O | S | P },
  { "token", "Token", "Token the server asks for (its --token); NULL: none",
      T_STRING, .offset = AT (token), .mask = O | S | P },
  { "tls-ca-file", "TLS CA file",
      "wss:// only: PEM file of the certificates that signed the server's "
      "(e.g. its own self-signed one); NULL: the system's CAs",
      T_STRING, .offset = AT (tls_ca_file), .mask = O | S | P },
  { "model", "Model", "Model the server must run; NULL: whatever it runs",
      T_STRING, .offset = AT (edge_model), .mask = O },
  { "edge-model", "Edge model",
      "Model the server must run; NULL: whatever it runs", T_STRING,
      .def_string = YOLO_DEFAULT_EDGE_MODEL, .offset = AT (edge_model),
      .mask = S },
  { "codec", "Codec", "How frames are encoded", T_ENUM,
      gst_yolo_offload_codec_get_type, .def = YS_CODEC_H264,
      .offset = AT (codec), .mask = O },
  { "hw-encoder", "Hardware encoder",
      "FFmpeg hardware encoder to try first (h264_v4l2m2m, h264_vaapi); "
      "libx264 when it cannot open. NULL: software",
      T_STRING, .offset = AT (hw_encoder), .mask = O | S },
  { "encoder-options", "Encoder options",
      "FFmpeg options of the encoder, key=value pairs separated by ':' "
      "(e.g. \"x264-params=rc-lookahead=8\"); an option the encoder does "
      "not have fails the start. NULL: none",
      T_STRING, .offset = AT (encoder_options), .mask = O | S },
  { "max-in-flight", "Max in flight",
      "Frames sent to the server and not yet answered, at most (1: "
      "stop-and-wait)",
      T_INT, .min = 1, .max = 64, .def = 4, .offset = AT (max_in_flight),
      .mask = O | S | P },
  { "max-labels", "Max labels",
      "Distinct label strings (and model names) taken from the server, at "
      "most; a box with a label past it, or one that is not printable "
      "UTF-8, is named \"unknown\", counted in labels-refused and warned "
      "about once; so is one that is not the label the server's HELLO "
      "listed for its class, and the HELLO's list counts toward this.  "
      "Each distinct label is kept for the life of the process, "
      "so this bounds what a misbehaving server can make it hold",
      T_INT, .min = 1, .max = 65536, .def = YS_SESSION_DEFAULT_MAX_LABELS,
      .offset = AT (max_labels), .mask = O | S | P },
  { "scale", "Scale",
      "Encoded size as a fraction of the frame's, when width/height are 0",
      T_DOUBLE, .min = 0.05, .max = 1.0, .def = 1.0, .offset = AT (scale),
      .mask = O, .apply = YS_APPLY_ENCODING },
  { "width", "Width",
      "Encoded width in pixels (0: use scale); a change makes a keyframe",
      T_INT, .min = 0, .max = YS_MAX_DIMENSION, .def = 0, .offset = AT (width),
      .mask = O, .apply = YS_APPLY_ENCODING },
  { "height", "Height", "Encoded height in pixels (0: use scale)", T_INT,
      .min = 0, .max = YS_MAX_DIMENSION, .def = 0, .offset = AT (height),
      .mask = O, .apply = YS_APPLY_ENCODING },
  { "bitrate", "Bit rate",
      "Target bit rate in bits/s; changes take effect on the next frame "
      "without a keyframe",
      T_INT, .min = 10000, .max = 100000000, .def = 1000000,
      .offset = AT (bitrate), .mask = O, .apply = YS_APPLY_ENCODING },

  /* split inference */
  { "model", "Model",
      "Edge model: its first cut layers run here, the rest on the server, "
      "which must load the same cfg and weights (its HELLO's model hash "
      "is checked)",
      T_STRING, .def_string = YOLO_DEFAULT_EDGE_MODEL,
      .offset = AT (edge_model), .mask = P },
  { "cut", "Cut",
      "Layers of the model run here before the handover goes to the "
      "server (1 to its layer count - 1); 0 = the cut whose handover is "
      "smallest",
      T_INT, .min = 0, .max = 65535, .def = 0, .offset = AT (cut), .mask = P },
  { "bits", "Bits",
      "Bits per handover value (4, 6 or 8; per-channel ranges): 8 keeps "
      "the unsplit model's boxes, fewer bits send less and lose accuracy "
      "(docs/SPLIT.md)",
      T_INT, .min = 4, .max = 8, .def = 8, .offset = AT (bits), .mask = P },

  /* delivery */
  { "mode", "Mode",
      "sync: each frame leaves in order with its own result or a record "
      "saying why not (a file job, monitoring); async: frames never wait "
      "and carry the newest results with their age (live video)",
      T_ENUM, gst_yolo_detector_mode_get_type,
      .def = GST_YOLO_DETECTOR_MODE_SYNC, .offset = AT (mode),
      .mask = D | O | P },
  { "mode", "Mode",
      "async: frames never wait for the network, the tracker carries boxes "
      "onto every frame (live video); sync: each frame leaves in order with "
      "its own result, from whichever path is in force, or a record saying "
      "why not, within latency-budget-ms (monitoring)",
      T_ENUM, gst_yolo_detector_mode_get_type,
      .def = GST_YOLO_DETECTOR_MODE_ASYNC, .offset = AT (mode), .mask = S },
  { "latency-budget-ms", "Latency budget",
      "sync: milliseconds a frame may wait for its own result after it "
      "arrived, then it passes with a \"deadline\" record; 0: as long as "
      "its inference takes",
      T_INT, .min = 0, .max = 60000, .def = 0, .offset = AT (latency_budget_ms),
      .mask = D },
  { "latency-budget-ms", "Latency budget",
      "Milliseconds from a frame's arrival to its result; after that it is "
      "given up (sync mode passes it with a \"deadline\" record)",
      T_INT, .min = 1, .max = 60000, .def = 500,
      .offset = AT (latency_budget_ms), .mask = O | S | P },
  { "stats-interval-ms", "Stats interval",
      "Milliseconds between yoloswitch-offload-stats bus messages", T_UINT,
      .min = 100, .max = 60000, .def = 1000, .offset = AT (stats_interval_ms),
      .mask = O | P, .apply = YS_APPLY_READ_EACH_TIME },
  { "results-location", "Results file",
      "JSON-lines file getting every result as the model found it, on the "
      "frame it ran on (before any tracking); NULL: none",
      T_STRING, .offset = AT (results_location), .mask = D | O | S | P },
  { "on-missing-result", "On missing result",
      "sync: what EOS does when frames lacked their own result (server lost, "
      "deadline, overload...): error (default) posts an error naming how "
      "many and why, so the exit code of a file job says it is incomplete; "
      "warn posts a warning (a live camera that may have gaps); ignore, "
      "nothing.  During the stream a lost server is never an error.  async: "
      "not used",
      T_ENUM, gst_yolo_detector_on_missing_get_type,
      .def = GST_YOLO_DETECTOR_ON_MISSING_ERROR,
      .offset = AT (on_missing_result), .mask = O | S | P },

  /* switching */
  { "target-fps", "Target frame rate", "Results per second wanted", T_DOUBLE,
      .min = 0.1, .max = 240, .def = 10, .offset = AT (target_fps), .mask = S },
  { "target-iou", "Target accuracy",
      "IoU accuracy wanted against the edge model on undegraded frames "
      "(0..1); the switcher takes the most accurate configuration that holds "
      "the other targets either way",
      T_DOUBLE, .min = 0, .max = 1, .def = 0.7, .offset = AT (target_iou),
      .mask = S },
  { "max-latency-ms", "Maximum latency", "Frame to result, in milliseconds",
      T_DOUBLE, .min = 1, .max = 60000, .def = 500,
      .offset = AT (max_latency_ms), .mask = S },
  { "max-bitrate", "Maximum bit rate",
      "Bits per second the edge path may use, a hard limit; 0: no limit",
      T_INT64, .min = 0, .max = (double) G_MAXINT64, .def = 0,
      .offset = AT (max_bitrate), .mask = S },
  { "priority", "Priority",
      "Which target to keep when they conflict, first to last (fps, "
      "latency, accuracy in any order)",
      T_STRING, .def_string = "fps,latency,accuracy", .offset = AT (priority),
      .mask = S },
  { "policy", "Policy",
      "auto: switch paths; local, edge or split: stay on one path (its "
      "configuration still adapts; split needs split rows in the profile)",
      T_ENUM, gst_yolo_switch_policy_get_type, .def = YS_POLICY_AUTO,
      .offset = AT (policy), .mask = S },
  { "privacy", "Privacy",
      "pixels-stay-local: never send a frame's pixels (no edge path; split "
      "inference sends only the edge model's tensors after a cut)",
      T_ENUM, gst_yolo_switch_privacy_get_type,
      .def = GST_YOLO_SWITCH_PRIVACY_NONE, .offset = AT (privacy), .mask = S },
  { "stand-in", "Stand in",
      "A frame the link path is due but cannot take (max-in-flight frames "
      "out, the link backed up, the server gone) runs on the local model, so "
      "the frame rate and the latency hold at the cost of that frame's "
      "accuracy; false: it is queued onto the link, as policy=edge does "
      "(more accurate boxes, later)",
      T_BOOLEAN, .def = TRUE, .offset = AT (stand_in), .mask = S },
  { "profile", "Profile",
      "Profile JSON from yoloswitch-profile; NULL: the shipped "
      "configs/vtest.profile.json",
      T_STRING, .offset = AT (profile), .mask = S },
  { "emulate", "Emulate",
      "Behave like an earlier system, for comparisons (bench/)", T_ENUM,
      gst_yolo_switch_emulate_get_type, .def = GST_YOLO_SWITCH_EMULATE_NONE,
      .offset = AT (emulate), .mask = S },
};

/* ---- read-only ----------------------------------------------------------------- */

#define READING_BASE 1000
#define RD(field) offsetof (YsDetectorReadings, field)

static const Row readings[] = {
  { "inference-ms", "Inference time",
      "Duration of the local model's last inference, ms", T_DOUBLE,
      .max = G_MAXDOUBLE, .offset = RD (inference_ms), .mask = D | S },
  { "load-ms", "Model load time",
      "Time to validate and load the local model, ms", T_DOUBLE,
      .max = G_MAXDOUBLE, .offset = RD (load_ms), .mask = D | S | P },
  { "inference-count", "Inferences",
      "Local inferences completed since start (the warm-up not counted)",
      T_UINT64, .offset = RD (inference_count), .mask = D },
  { "frames-not-inferred", "Frames not inferred",
      "Async mode: frames due for inference that a newer frame replaced "
      "while the model was busy",
      T_UINT64, .offset = RD (frames_not_inferred), .mask = D },
  { "latency-ms", "Reported latency",
      "What this element adds to the pipeline latency, ms: sync, the budget "
      "(or, without one, the slowest inference seen, first measured at "
      "start); async, how long a frame may wait for its own local result "
      "(0 when frames never wait)",
      T_DOUBLE, .max = G_MAXDOUBLE, .offset = RD (latency_ms),
      .mask = D | S | P },
  { "connected", "Connected", "Whether the server has answered our HELLO",
      T_BOOLEAN, .offset = RD (connected), .mask = O | S | P },
  { "bandwidth", "Bandwidth",
      "Bits/s the link delivers while busy (ACKs, last second)", T_DOUBLE,
      .max = G_MAXDOUBLE, .offset = RD (bandwidth), .mask = O | S | P },
  { "throughput", "Throughput", "Bits/s acknowledged over the last second",
      T_DOUBLE, .max = G_MAXDOUBLE, .offset = RD (throughput), .mask = O | P },
  { "rtt-ms", "RTT", "Smoothed round trip, ms", T_DOUBLE, .max = G_MAXDOUBLE,
      .offset = RD (rtt_ms), .mask = O | S | P },
  { "rtt-min-ms", "RTT min", "Smallest round trip of the last 10 s, ms",
      T_DOUBLE, .max = G_MAXDOUBLE, .offset = RD (rtt_min_ms), .mask = O | P },
  { "server-ms", "Server time",
      "Smoothed queue + decode + inference time on the server, ms", T_DOUBLE,
      .max = G_MAXDOUBLE, .offset = RD (server_ms), .mask = O | S | P },
  { "in-flight", "In flight", "Frames sent and not yet answered", T_INT,
      .max = G_MAXINT, .offset = RD (in_flight), .mask = O | P },
  { "frames-sent", "Frames sent", "Frames handed to the socket", T_UINT64,
      .offset = RD (frames_sent), .mask = O | P },
  { "results", "Results", "RESULT messages received", T_UINT64,
      .offset = RD (results), .mask = O | P },
  { "frames-without-result", "Frames without result",
      "Frames that got no result (not sent, dropped, late, disconnected)",
      T_UINT64, .offset = RD (frames_without_result), .mask = O | P },
  { "decision", "Decision", "The decision in force, explained", T_STRING,
      .offset = RD (decision), .mask = S },
};

/* ---- installing ---------------------------------------------------------------- */

static GParamSpec *
make_spec (const Row *r, GParamFlags flags)
{
  switch (r->type) {
    case T_STRING:
      return g_param_spec_string (r->name, r->nick, r->blurb, r->def_string,
          flags);
    case T_INT:
      return g_param_spec_int (r->name, r->nick, r->blurb, (gint) r->min,
          (gint) r->max, (gint) r->def, flags);
    case T_UINT:
      return g_param_spec_uint (r->name, r->nick, r->blurb, (guint) r->min,
          (guint) r->max, (guint) r->def, flags);
    case T_INT64:
      return g_param_spec_int64 (r->name, r->nick, r->blurb, (gint64) r->min,
          r->max >= (double) G_MAXINT64 ? G_MAXINT64 : (gint64) r->max,
          (gint64) r->def, flags);
    case T_UINT64:
      return g_param_spec_uint64 (r->name, r->nick, r->blurb, 0, G_MAXUINT64, 0,
          flags);
    case T_FLOAT:
      return g_param_spec_float (r->name, r->nick, r->blurb, (gfloat) r->min,
          (gfloat) r->max, (gfloat) r->def, flags);
    case T_DOUBLE:
      return g_param_spec_double (r->name, r->nick, r->blurb, r->min, r->max,
          r->def, flags);
    case T_BOOLEAN:
      return g_param_spec_boolean (r->name, r->nick, r->blurb, r->def != 0,
          flags);
    case T_ENUM:
      return g_param_spec_enum (r->name, r->nick, r->blurb, r->enum_type (),
          (gint) r->def, flags);
  }
  g_assert_not_reached ();
  return NULL;
}

void
ys_detector_install_properties (GObjectClass *klass, YsElementMask element)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    const Row *r = &rows[i];
    /* Read at start: gst-inspect then says "changeable only in NULL or
     * READY state", which is the truth. */
    GParamFlags when = r->apply == YS_APPLY_AT_START
        ? GST_PARAM_MUTABLE_READY
        : GST_PARAM_MUTABLE_PLAYING;
    if (r->mask & element)
      g_object_class_install_property (klass, i + 1, make_spec (r, rw | when));
  }
  for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
    if (readings[i].mask & element)
      g_object_class_install_property (klass, READING_BASE + i,
          make_spec (&readings[i], ro));
}

/* ---- values -------------------------------------------------------------------- */

#define FIELD(base, r, type) ((type *) ((guint8 *) (base) + (r)->offset))

static void
set_default (YsDetectorSettings *s, const Row *r)
{
  switch (r->type) {
    case T_STRING:
      g_free (*FIELD (s, r, gchar *));
      *FIELD (s, r, gchar *) = g_strdup (r->def_string);
      break;
    case T_INT:
    case T_ENUM: *FIELD (s, r, gint) = (gint) r->def; break;
    case T_UINT: *FIELD (s, r, guint) = (guint) r->def; break;
    case T_INT64: *FIELD (s, r, gint64) = (gint64) r->def; break;
    case T_UINT64: *FIELD (s, r, guint64) = (guint64) r->def; break;
    case T_FLOAT: *FIELD (s, r, gfloat) = (gfloat) r->def; break;
    case T_DOUBLE: *FIELD (s, r, gdouble) = r->def; break;
    case T_BOOLEAN: *FIELD (s, r, gboolean) = r->def != 0; break;
  }
}

void
ys_detector_settings_init (YsDetectorSettings *s, YsElementMask element)
{
  memset (s, 0, sizeof (*s));
  /* Rows of other elements first, so every field has a sane value, then
   * this element's (which wins where two rows share a field). */
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (!(rows[i].mask & element))
      set_default (s, &rows[i]);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (rows[i].mask & element)
      set_default (s, &rows[i]);
}

/* Two rows may name one field ("model" and "local-model"): string
 * fields are visited once each, by the first row that names them. */
static gboolean
first_row_of_field (guint index)
{
  for (guint k = 0; k < index; k++)
    if (rows[k].offset == rows[index].offset)
      return FALSE;
  return TRUE;
}

void
ys_detector_settings_copy (YsDetectorSettings *dst,
    const YsDetectorSettings *src)
{
  *dst = *src;
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (rows[i].type == T_STRING && first_row_of_field (i))
      *FIELD (dst, &rows[i], gchar *)
          = g_strdup (*FIELD ((void *) src, &rows[i], gchar *));
}

void
ys_detector_settings_clear (YsDetectorSettings *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (rows[i].type == T_STRING)
      g_clear_pointer (FIELD (s, &rows[i], gchar *), g_free);
}

static const Row *
row_of (guint prop_id)
{
  return prop_id >= 1 && prop_id <= G_N_ELEMENTS (rows) ? &rows[prop_id - 1]
                                                        : NULL;
}

static void
value_to_field (const Row *r, void *base, const GValue *v)
{
  switch (r->type) {
    case T_STRING:
      g_free (*FIELD (base, r, gchar *));
      *FIELD (base, r, gchar *) = g_value_dup_string (v);
      break;
    case T_INT: *FIELD (base, r, gint) = g_value_get_int (v); break;
    case T_ENUM: *FIELD (base, r, gint) = g_value_get_enum (v); break;
    case T_UINT: *FIELD (base, r, guint) = g_value_get_uint (v); break;
    case T_INT64: *FIELD (base, r, gint64) = g_value_get_int64 (v); break;
    case T_UINT64: *FIELD (base, r, guint64) = g_value_get_uint64 (v); break;
    case T_FLOAT: *FIELD (base, r, gfloat) = g_value_get_float (v); break;
    case T_DOUBLE: *FIELD (base, r, gdouble) = g_value_get_double (v); break;
    case T_BOOLEAN: *FIELD (base, r, gboolean) = g_value_get_boolean (v); break;
  }
}

static void
field_to_value (const Row *r, const void *base, GValue *v)
{
  void *b = (void *) base;
  switch (r->type) {
    case T_STRING: g_value_set_string (v, *FIELD (b, r, gchar *)); break;
    case T_INT: g_value_set_int (v, *FIELD (b, r, gint)); break;
    case T_ENUM: g_value_set_enum (v, *FIELD (b, r, gint)); break;
    case T_UINT: g_value_set_uint (v, *FIELD (b, r, guint)); break;
    case T_INT64: g_value_set_int64 (v, *FIELD (b, r, gint64)); break;
    case T_UINT64: g_value_set_uint64 (v, *FIELD (b, r, guint64)); break;
    case T_FLOAT: g_value_set_float (v, *FIELD (b, r, gfloat)); break;
    case T_DOUBLE: g_value_set_double (v, *FIELD (b, r, gdouble)); break;
    case T_BOOLEAN: g_value_set_boolean (v, *FIELD (b, r, gboolean)); break;
  }
}

gboolean
ys_detector_settings_set (YsDetectorSettings *s, guint prop_id,
    const GValue *value, YsApply *apply)
{
  const Row *r = row_of (prop_id);
  if (r == NULL)
    return FALSE;
  value_to_field (r, s, value);
  *apply = r->apply;
  return TRUE;
}

gboolean
ys_detector_settings_get (const YsDetectorSettings *s, guint prop_id,
    GValue *value)
{
  const Row *r = row_of (prop_id);
  if (r == NULL)
    return FALSE;
  field_to_value (r, s, value);
  return TRUE;
}

gboolean
ys_detector_is_reading (guint prop_id)
{
  return prop_id >= READING_BASE
      && prop_id < READING_BASE + G_N_ELEMENTS (readings);
}

gboolean
ys_detector_readings_get (const YsDetectorReadings *rd, guint prop_id,
    GValue *value)
{
  const Row *r;
  if (!ys_detector_is_reading (prop_id))
    return FALSE;
  r = &readings[prop_id - READING_BASE];
  field_to_value (r, rd, value);
  return TRUE;
}
