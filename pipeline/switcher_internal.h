/* Internal to the switcher: its state, shared by switcher.c (life cycle,
 * decision ticks, routing frames to paths) and switcher_results.c
 * (collecting the paths' analyses and applying them: boxes, labels, each
 * frame's own analysis in sync delivery). */
#ifndef YOLOSWITCH_PIPELINE_SWITCHER_INTERNAL_H
#define YOLOSWITCH_PIPELINE_SWITCHER_INTERNAL_H

#include "switcher.h"

#include <glib.h>

#define ANALYSES 256 /* ring of analyses boxes may still name */
#define MAX_APPLIED 32
#define RECENT 8 /* results kept per path for labelling */

/* A result kept for labelling: the same frame seen by two paths. */
typedef struct {
  bool used;
  int64_t frame_us;
  int tag;
  YoloDetections dets;
} Recent;

struct YsSwitcher {
  YsSwitcherOptions o;
  YsPath *paths[YS_PATH_KINDS];
  YsDecider *decider; /* NULL without decide */

  /* Shared with the tick thread and the application: locked. */
  GMutex lock;
  GCond cond;
  GThread *ticker;
  bool stop;
  YsDecision decision;
  /* the link path whose figures the decider gets (gather_estimates) */
  YsPathKind figures_path;
  /* per profile configuration, what the split path predicts of its cut
   * (YsEstimates.config_device_ms): the tick thread's */
  double *config_device_ms, *config_server_ms;
  /* the tick thread's: each link path connected at least once, and when
   * the first estimates were gathered (YsEstimates.path_settling) */
  bool ever_connected[YS_PATH_KINDS];
  int64_t first_estimates_us;
  YsProfileConfig fixed; /* without decide: the configuration in force */
  int interval; /* inference interval */
  bool fixed_changed;
  YsSwitcherStats stats;

  /* Wake-ups for sync waits: bumped by the paths' on_ready.  Nothing else
   * is done under it, so a path may call in holding its own locks. */
  GMutex wake_lock;
  GCond wake_cond;
  uint64_t wakes;
  bool interrupted;

  /* Applying analyses (the streaming thread in async delivery, the
   * waiting thread in sync): under results_lock. */
  GMutex results_lock;
  YsTracker *tracker; /* NULL without track */
  YoloAnalysis analyses[ANALYSES];
  int next_analysis;
  int newest; /* -1: none */
  int applied[MAX_APPLIED]; /* during this process call */
  int applied_count;
  YsTrackedBox *plain; /* without track: the newest analysis as boxes */
  int plain_capacity;
  Recent recent[YS_PATH_KINDS][RECENT];
  int recent_next[YS_PATH_KINDS];
  /* Sync: frames waiting for their own analysis (sequence -> path kind
   * + 1) and the analyses that came for them (sequence -> YoloAnalysis *).
   * A frame given up at its deadline leaves `pending`, so its late
   * analysis is dropped. */
  GHashTable *pending, *own;
  YoloAnalysis own_out; /* what wait_own handed out last */
  YoloAnalysis scratch;

  /* Streaming thread only. */
  uint64_t frames_seen; /* for the inference interval */
  int64_t last_label_us; /* monotonic */
  /* The last frame the edge was due but could not take, run locally
   * instead (frame time; INT64_MIN: none): its result feeds the boxes. */
  int64_t stand_in_us;
  int label_config; /* local configuration used for labels and stand-ins */
  int configured[YS_PATH_KINDS]; /* configuration each path was given */
  YsPathKind last_path;
  int64_t paused_until_us; /* monotonic; switch_pause_ms */
  bool settled[YS_PATH_KINDS]; /* sync: the first frame waited for it */
};

/* switcher_results.c */
void switcher_results_init (YsSwitcher *s);
void switcher_results_clear (YsSwitcher *s);
/* results_lock held: takes and applies every analysis the paths have. */
void switcher_collect_locked (YsSwitcher *s, const YsDecision *d);
/* results_lock held: the boxes for a frame at time_us of that size. */
void switcher_boxes_locked (YsSwitcher *s, int64_t time_us, int width,
    int height, YsFrameBoxes *out);
/* Sync: frame `sequence` waits for its analysis from path `kind`. */
void switcher_expect_own (YsSwitcher *s, uint64_t sequence, YsPathKind kind);
/* Sync: frame `sequence` went nowhere after all. */
void switcher_forget_own (YsSwitcher *s, uint64_t sequence);
/* Forgets boxes, labels and waiting frames (flush). */
void switcher_results_reset (YsSwitcher *s);

/* switcher_estimates.c: what the decider is told this tick. */
void switcher_gather_estimates (YsSwitcher *s, YsEstimates *e);

#endif
