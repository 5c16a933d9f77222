/* The detector elements' settings: one struct for all four, and the one
 * table their properties are installed from.  Each row names the elements
 * it belongs to; the model, edge, delivery and switching groups are
 * blocks of rows.  gst-inspect-1.0 of any element reads as its
 * documentation, because every blurb says the unit, range and default.
 *
 * Read-only properties are a second table over YsDetectorReadings, filled
 * from the switcher's and paths' counters in one place. */
#ifndef YOLOSWITCH_DETECTOR_SETTINGS_H
#define YOLOSWITCH_DETECTOR_SETTINGS_H

#include <gst/gst.h>

G_BEGIN_DECLS

/* Which elements a property belongs to. */
typedef enum {
  YS_FOR_DETECT = 1 << 0,
  YS_FOR_OFFLOAD = 1 << 1,
  YS_FOR_SWITCH = 1 << 2,
  YS_FOR_SPLIT = 1 << 3,
  YS_FOR_ALL = 0xf,
} YsElementMask;

typedef enum {
  GST_YOLO_DETECTOR_MODE_SYNC,
  GST_YOLO_DETECTOR_MODE_ASYNC,
} GstYoloDetectorMode;

/* What sync delivery does at EOS when frames lacked their own result. */
typedef enum {
  GST_YOLO_DETECTOR_ON_MISSING_ERROR,
  GST_YOLO_DETECTOR_ON_MISSING_WARN,
  GST_YOLO_DETECTOR_ON_MISSING_IGNORE,
} GstYoloDetectorOnMissing;

/* Baselines for the evaluation (bench/adaptation.py): the same element
 * behaving like an earlier system, so comparisons share everything else. */
/* What may leave the machine (yoloswitch). */
typedef enum {
  GST_YOLO_SWITCH_PRIVACY_NONE,
  GST_YOLO_SWITCH_PRIVACY_PIXELS_STAY_LOCAL,
} GstYoloSwitchPrivacy;

typedef enum {
  GST_YOLO_SWITCH_EMULATE_NONE,
  GST_YOLO_SWITCH_EMULATE_DEEPDECISION,
} GstYoloSwitchEmulate;

/* Every setting of every detector element.  Protected by the element's
 * object lock. */
typedef struct {
  /* the local model */
  gchar *local_model, *config, *weights, *labels, *model_dir;
  /* the device cache (offload/model_cache.h): models not found by name
   * are fetched from catalog (NULL: the server's) into model_cache_dir */
  gchar *model_cache_dir, *catalog;
  gchar *input_size; /* yolodetect: "WxH"; NULL or "": the cfg's */
  guint cache_budget_mb;
  gint engine; /* YoloEngine */
  guint threads;
  gfloat threshold, nms;
  gboolean letterbox;
  guint inference_interval;
  /* the edge */
  gchar *server, *token, *tls_ca_file, *edge_model;
  gint codec; /* YsCodec */
  gchar *hw_encoder, *encoder_options;
  gint max_in_flight;
  gint max_labels;
  gdouble scale;
  gint width, height, bitrate;
  /* split inference: where the edge model is cut, the handover's bits */
  gint cut, bits;
  /* delivery */
  gint mode; /* GstYoloDetectorMode */
  gint latency_budget_ms;
  guint stats_interval_ms;
  gchar *results_location;
  gint on_missing_result; /* GstYoloDetectorOnMissing */
  /* switching */
  gdouble target_fps, target_iou, max_latency_ms;
  gint64 max_bitrate;
  gchar *priority;
  gint policy; /* YsPolicy */
  gint privacy; /* GstYoloSwitchPrivacy */
  gboolean stand_in;
  gchar *profile;
  gint emulate; /* GstYoloSwitchEmulate */
} YsDetectorSettings;

/* What a change while playing has to reach. */
typedef enum {
  YS_APPLY_AT_START, /* read when the element starts (MUTABLE_READY) */
  YS_APPLY_INFER, /* thresholds, NMS, letterbox: the local model */
  YS_APPLY_ENCODING, /* size and bit rate of offloaded frames */
  YS_APPLY_INTERVAL, /* which frames are analysed */
  YS_APPLY_READ_EACH_TIME, /* read where it is used */
  YS_APPLY_MODEL, /* the local model or its input size: a hot swap */
} YsApply;

/* The read-only figures. */
typedef struct {
  gdouble inference_ms, load_ms, latency_ms;
  guint64 inference_count, frames_not_inferred;
  gboolean connected;
  gdouble bandwidth, throughput, rtt_ms, rtt_min_ms, server_ms;
  gint in_flight;
  guint64 frames_sent, results, frames_without_result;
  const gchar *decision; /* owned by the element */
} YsDetectorReadings;

/* Defaults, with every string set (free with ys_detector_settings_clear). */
void ys_detector_settings_init (YsDetectorSettings *settings,
    YsElementMask element);
void ys_detector_settings_copy (YsDetectorSettings *dst,
    const YsDetectorSettings *src);
void ys_detector_settings_clear (YsDetectorSettings *settings);

/* Installs the rows of `element` on a class; property ids are the rows'. */
void ys_detector_install_properties (GObjectClass *klass,
    YsElementMask element);

/* For set/get_property: FALSE when prop_id is not a settings row.  set
 * takes no lock (the caller holds the object lock) and says through
 * *apply what the change has to reach. */
gboolean ys_detector_settings_set (YsDetectorSettings *settings, guint prop_id,
    const GValue *value, YsApply *apply);
gboolean ys_detector_settings_get (const YsDetectorSettings *settings,
    guint prop_id, GValue *value);
/* For read-only rows: FALSE when prop_id is not one. */
gboolean ys_detector_readings_get (const YsDetectorReadings *readings,
    guint prop_id, GValue *value);
/* Whether prop_id is a read-only row. */
gboolean ys_detector_is_reading (guint prop_id);

/* Enum types, for other code and gst_type_mark_as_plugin_api. */
GType gst_yolo_detector_mode_get_type (void);
GType gst_yolo_detector_on_missing_get_type (void);
GType gst_yolo_detector_engine_get_type (void);
GType gst_yolo_offload_codec_get_type (void);
GType gst_yolo_switch_policy_get_type (void);
GType gst_yolo_switch_emulate_get_type (void);
GType gst_yolo_switch_privacy_get_type (void);

G_END_DECLS

#endif
