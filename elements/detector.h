/* GstYoloDetector: the one detector layer under yolodetect, yolooffload and
 * yoloswitch.  Each of them is a subclass that says which properties it
 * has (detector_settings.h) and how to build the paths from them
 * (prepare); everything else is here, once:
 *  - pads with one caps list, video info, frames mapped read-only;
 *  - start and stop (READY<->PAUSED) with labelled error exits, nothing
 *    left running after a failed start;
 *  - async delivery (frames pass at once with the newest boxes) and sync
 *    delivery (frames held in order until their own analysis or their
 *    budget, pushed by the src pad task), both over pipeline/switcher.h;
 *  - flushes, caps changes, EOS (encoders drained, final stats);
 *  - the latency query, LATENCY messages when it grows;
 *  - bus messages: warnings from the paths, stats, decisions;
 *  - read-only properties from the counters.
 *
 * Locks: settings and last_decision under the object lock; `switcher` is
 * published and withdrawn under backend_lock, which the application's
 * property reads take; the streaming thread and the src task use it
 * without, since they are stopped before it is freed.  No lock of ours is
 * held while posting a message or calling into a path. */
#ifndef YOLOSWITCH_DETECTOR_H
#define YOLOSWITCH_DETECTOR_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include <stdio.h>

#include "detector_settings.h"
#include "profile.h"
#include "switcher.h"

G_BEGIN_DECLS

/* Declared by hand: G_DECLARE_DERIVABLE_TYPE keeps the instance's fields
 * private, and the subclasses read a few (GstElement style). */
typedef struct _GstYoloDetector GstYoloDetector;
typedef struct _GstYoloDetectorClass GstYoloDetectorClass;

#define GST_TYPE_YOLO_DETECTOR (gst_yolo_detector_get_type ())
#define GST_YOLO_DETECTOR(obj)                                                 \
  (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_YOLO_DETECTOR, GstYoloDetector))
#define GST_YOLO_DETECTOR_CLASS(klass)                                         \
  (G_TYPE_CHECK_CLASS_CAST ((klass), GST_TYPE_YOLO_DETECTOR,                   \
      GstYoloDetectorClass))
#define GST_YOLO_DETECTOR_GET_CLASS(obj)                                       \
  (G_TYPE_INSTANCE_GET_CLASS ((obj), GST_TYPE_YOLO_DETECTOR,                   \
      GstYoloDetectorClass))
GType gst_yolo_detector_get_type (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstYoloDetector, gst_object_unref)

struct _GstYoloDetectorClass {
  GstElementClass parent_class;

  /* Set in class_init, before ys_detector_class_setup. */
  YsElementMask element;
  /* The subclass's debug category: everything this layer logs for an
   * element goes there, so GST_DEBUG=yoloswitch:6 shows it all. */
  GstDebugCategory *debug;
  /* Stats message posted every stats-interval-ms and at EOS (NULL: at EOS
   * only, named "yoloswitch-stats"). */
  const char *periodic_stats;

  /* Start: builds the paths and the configurations from a copy of the
   * settings into *options (the paths belong to *options then, freed by
   * the caller on failure too) and may keep a profile in *profile (freed
   * at stop).  FALSE when it cannot, having posted an error that says
   * what is wrong and what to do (ys_detector_local_path and
   * ys_detector_edge_path post their own). */
  gboolean (*prepare) (GstYoloDetector *self,
      const YsDetectorSettings *settings, YsSwitcherOptions *options,
      YsProfile **profile);
  /* A size or bit-rate property changed while running: the configuration
   * for ys_switcher_set_fixed (NULL: none). */
  void (*encoding) (GstYoloDetector *self, const YsDetectorSettings *settings,
      YsProfileConfig *config);
};

/* Distinct reasons counted for on-missing-result; the rest as "other". */
#define YS_MISSING_REASONS 12

/* Held by sync delivery until its analysis comes (detector.c). */
typedef struct _YsHeldItem YsHeldItem;

struct _GstYoloDetector {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* protected by object lock */
  YsDetectorSettings settings;
  gchar *last_decision;
  GstClockTime reported_latency;

  /* published under backend_lock (see above) */
  GMutex backend_lock;
  YsSwitcher *switcher;
  YsProfile *profile;

  /* start and stop only: the device's model cache (detector_cache.c) and
   * what this element holds of it */
  struct YsModelCache *model_cache;
  GPtrArray *cache_held;
  /* model changes while playing (detector_swap.c): one at a time under
   * swap_lock, which also guards the cache after start (taken before
   * backend_lock, never after it); swap_state_lock (held for nothing
   * else) counts the swap threads, which stop waits for, with
   * swap_cancel set to end a fetch and swaps_stopping to start no more */
  GMutex swap_lock;
  GMutex swap_state_lock;
  GCond swap_cond;
  gint swaps_running; /* swap_state_lock */
  gboolean swaps_stopping; /* swap_state_lock */
  gint swap_cancel; /* atomic */
  gint swap_queued; /* atomic: a swap thread started, settings not read */
  gint swap_retry; /* atomic: the last swap failed (not what runs) */
  /* models that stopped running (char *), for the next swap or stop to
   * let go of in the cache: the worker's callback may not wait */
  GAsyncQueue *cache_releases;
  /* swap_lock: the model and input-size asked of the local path last
   * (at start, or by the last swap) */
  gchar *swap_model, *swap_input_size;

  /* streaming thread (and start/stop) */
  GstVideoInfo info;
  gboolean have_info;
  gboolean sync; /* the mode, read at start */
  gint budget_ms;
  guint64 frame_count;
  gint64 last_stats_us;
  FILE *results_file;
  GString *line;
  YoloDetections scratch;

  /* sync delivery: frames and serialized events waiting, pushed in order
   * by the src pad task; under queue_lock */
  GMutex queue_lock;
  GCond queue_cond;
  GQueue held;
  gboolean flushing;
  GstFlowReturn src_flow;
  YoloDetections task_scratch; /* src task only */
  /* Sync delivery's account of frames without their own result, told at
   * EOS as on-missing-result says (read at start; src task only). */
  gint on_missing; /* GstYoloDetectorOnMissing */
  guint64 answered, missing;
  struct {
    const char *reason; /* static */
    guint64 count;
  } missing_by_reason[YS_MISSING_REASONS];
};

/* What a subclass is, for its class_init: which element (its rows of the
 * property table and of the metadata table in detector.c) and its hooks. */
typedef struct {
  YsElementMask element; /* exactly one of YS_FOR_DETECT, _OFFLOAD, _SWITCH */
  gboolean (*prepare) (GstYoloDetector *self,
      const YsDetectorSettings *settings, YsSwitcherOptions *options,
      YsProfile **profile);
  void (*encoding) (GstYoloDetector *self, const YsDetectorSettings *settings,
      YsProfileConfig *config);
} YsDetectorDescription;

/* class_init of a subclass: its vfuncs, debug category, properties, pad
 * templates and metadata (klass Filter/Analyzer/Video). */
void ys_detector_class_setup (GstYoloDetectorClass *klass,
    const YsDetectorDescription *description);

/* init of a subclass: its pads and default settings (the base's init
 * runs while the instance still has the base's class, which knows
 * neither). */
void ys_detector_instance_setup (GstYoloDetector *self);

/* Defines a subclass whole: the instance struct, the type, its element
 * registration, class_init and init.  factory is the bare element name
 * (yolodetect), type_macro its GST_TYPE_..., mask its YS_FOR_... row,
 * prepare and encoding its YsDetectorDescription hooks (encoding may be
 * NULL). */
#define YS_DETECTOR_DEFINE(TypeName, type_name, factory, type_macro, mask,     \
    prepare_func, encoding_func)                                               \
  struct _##TypeName {                                                         \
    GstYoloDetector parent;                                                    \
  };                                                                           \
  G_DEFINE_TYPE (TypeName, type_name, GST_TYPE_YOLO_DETECTOR)                  \
  GST_ELEMENT_REGISTER_DEFINE (factory, #factory, GST_RANK_NONE, type_macro)   \
  static void type_name##_class_init (TypeName##Class *klass)                  \
  {                                                                            \
    static const YsDetectorDescription description = {                         \
      .element = (mask),                                                       \
      .prepare = (prepare_func),                                               \
      .encoding = (encoding_func),                                             \
    };                                                                         \
    ys_detector_class_setup (GST_YOLO_DETECTOR_CLASS (klass), &description);   \
  }                                                                            \
  static void type_name##_init (TypeName *self)                                \
  {                                                                            \
    ys_detector_instance_setup (GST_YOLO_DETECTOR (self));                     \
  }

/* For prepare: the local path as the model settings say, at the network
 * input size input_width x input_height (0: the cfg's); NULL after
 * posting the error (missing model: NOT_FOUND; broken: OPEN_READ). */
YsPath *ys_detector_local_path (GstYoloDetector *self,
    const YsDetectorSettings *settings, int input_width, int input_height);

/* For prepare: the edge path to settings->server with this codec, pace
 * (frames per second of stream time, 0: none), nominal frame rate, the
 * budget after which a frame is given up, and the latency after which
 * the link counts as behind (0: the budget); NULL after posting the
 * error. */
YsPath *ys_detector_edge_path (GstYoloDetector *self,
    const YsDetectorSettings *settings, int codec, double pace_fps, int fps,
    int latency_budget_ms, int behind_after_ms);

/* For prepare: the split path to settings->server, the head of
 * settings->edge_model run here at settings->cut and bits, paced, given
 * up and behind as ys_detector_edge_path says; NULL after posting the
 * error (a missing model: NOT_FOUND). */
YsPath *ys_detector_split_path (GstYoloDetector *self,
    const YsDetectorSettings *settings, double pace_fps, int latency_budget_ms,
    int behind_after_ms);

/* For prepare: a profile of one configuration of `kind` (the elements
 * that never switch); its strings owned by it. */
YsProfile *ys_detector_single_profile (YsPathKind kind, const char *model);

/* For prepare of an element that never switches: that one configuration
 * in force, delivered as the mode and budget settings say. */
void ys_detector_fixed_delivery (YsSwitcherOptions *options, YsProfile *profile,
    const YsDetectorSettings *settings);

/* plugin_init: libwebsockets', libav's and the offload client's logs go
 * to debug categories (detector_log.c), not stderr. */
void ys_detector_route_library_logs (void);

G_END_DECLS

#endif
