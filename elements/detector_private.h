/* Internal to the detector layer: what detector.c and detector_sync.c
 * (sync delivery's queue and src pad task) call of each other. */
#ifndef YOLOSWITCH_DETECTOR_PRIVATE_H
#define YOLOSWITCH_DETECTOR_PRIVATE_H

#include "detector.h"

G_BEGIN_DECLS

/* detector_sync.c: streaming thread */
GstFlowReturn ys_detector_sync_chain (GstYoloDetector *self, GstBuffer *buf,
    const YoloFrame *frame, const YoloFrameStamp *stamp, GstVideoFrame *mapped);
gboolean ys_detector_sync_flush_start (GstYoloDetector *self, GstEvent *event);
gboolean ys_detector_sync_flush_stop (GstYoloDetector *self, GstEvent *event);
gboolean ys_detector_sync_queue_event (GstYoloDetector *self, GstEvent *event);
/* pad activation */
gboolean ys_detector_sync_activate (GstYoloDetector *self, gboolean active);
/* stop: frames still held are dropped */
void ys_detector_sync_clear (GstYoloDetector *self);

/* detector.c, for the src task */
void ys_detector_post_final_stats (GstYoloDetector *self);

/* detector_bus.c (streaming thread unless said) */
void ys_detector_post_notices (GstYoloDetector *self, YsSwitcher *switcher);
/* The path that uses the link, for the link's figures: the edge path,
 * else the split path (yolosplit). */
YsPathKind ys_detector_link_path (YsSwitcher *switcher);
void ys_detector_post_stats (GstYoloDetector *self, YsSwitcher *switcher,
    const char *name);
/* "yoloswitch-stats", or the subclass's periodic message's name. */
const char *ys_detector_final_stats_name (GstYoloDetector *self);
void ys_detector_maybe_post_periodic (GstYoloDetector *self, gint64 now_us);
/* A LATENCY message when what a frame may wait here grew. */
void ys_detector_check_latency (GstYoloDetector *self);
/* The switcher's tick thread: a decision changed. */
void ys_detector_on_decision (const YsSwitchEvent *event, void *user);
void ys_detector_log_result (GstYoloDetector *self, const YoloAnalysis *a,
    const YoloFrameStamp *arrival);

/* detector_cache.c, at start: the folder model `name` loads from:
 * model-dir as set when the search path has it, else the model cache's
 * (fetched first when needed, held until ys_detector_cache_release).
 * FALSE with the error posted. */
gboolean ys_detector_model_dir (GstYoloDetector *self,
    const YsDetectorSettings *settings, const char *name,
    const char **model_dir);
/* The same while playing (a model change): a warning instead of an
 * error when the model cannot be had; *held: a cache hold was taken. */
gboolean ys_detector_model_dir_quiet (GstYoloDetector *self,
    const YsDetectorSettings *settings, const char *name,
    const char **model_dir, gboolean *held);
/* detector_paths.c: the local model the settings name (explicit config,
 * weights and labels, else the name looked up in the search path, else
 * the model cache); strings point into settings (or the cache's folder).
 * At start (playing FALSE) a model that cannot be had is an error, while
 * playing a warning; *held as above. */
gboolean ys_detector_local_spec (GstYoloDetector *self,
    const YsDetectorSettings *settings, gboolean playing, YoloModelSpec *spec,
    gboolean *held);
/* One hold of model `name` let go (none: nothing). */
void ys_detector_cache_release_one (GstYoloDetector *self, const char *name);
/* At stop (and a failed start): lets the cached models go. */
void ys_detector_cache_release (GstYoloDetector *self);

/* detector_swap.c: input-size's "WxH" (NULL or "": 0 x 0, the cfg's);
 * FALSE when it is not multiples of 32 in 32..4096. */
gboolean ys_detector_input_size (const char *text, int *width, int *height);
/* A model or input-size change while playing: looked up on a thread of
 * its own (with the settings as they are when it starts: changes made
 * before then are one swap), then handed to the local worker's hot swap. */
void ys_detector_swap_model (GstYoloDetector *self);
/* At stop: no more swaps start, and those running end (fetches
 * cancelled); at start: swaps may run again. */
void ys_detector_swaps_wait (GstYoloDetector *self);
void ys_detector_swaps_allow (GstYoloDetector *self);
/* The models a take-over replaced: their cache holds let go. */
void ys_detector_cache_release_stopped (GstYoloDetector *self);

/* detector_properties.c: GObject's set_property and get_property. */
void ys_detector_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
void ys_detector_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);

G_END_DECLS

#endif
