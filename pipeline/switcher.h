/* The switcher: what every detector element runs on, without GStreamer.
 * It holds an array of paths (path.h: the local model, the edge server),
 * routes each frame to the one in force, collects their analyses and
 * hands each frame what it gets.  With the decision engine on, it picks
 * the path and configuration every tick_ms from a profile and live
 * estimates (yoloswitch); with it off, one configuration of one path is
 * in force for good (yolodetect: the local model; yolooffload: the edge),
 * so the three elements share every rule about frames and results.
 *
 * Async delivery (live video): ys_switcher_process never waits for the
 * network.  Per frame:
 *  1. the analyses that arrived since the last frame are applied: one of
 *     the path in force updates the boxes (the tracker, or simply the
 *     newest analysis); an edge analysis of a frame the local model also
 *     ran on scores that local output (online correction);
 *  2. the frame goes to the path in force (and to the probed one), as its
 *     configuration says; the path's own rules (pacing, max in flight)
 *     decide through its readiness.  Under policy auto, a frame the edge
 *     is due but cannot take in time runs locally instead (a stand-in);
 *     on the edge path the local model runs on one frame a second (a
 *     label, and it stays warm);
 *  3. the boxes for this frame are handed back, each with the analysis
 *     that last saw it.  With tracking, a frame the local model took
 *     waits for its own result a bounded time (ys_switcher_latency_ms).
 *
 * Sync delivery (monitoring, files): every frame goes, in order, to the
 * path in force (waiting for room within its budget), and
 * ys_switcher_wait_own gives each frame its own analysis, or a record
 * saying why there is none, within latency_budget_ms.
 *
 * Threads: process/submit on the streaming thread; wait_own on one other
 * (the element's src task); the tick thread reports decisions through
 * on_decision. */
#ifndef YOLOSWITCH_PIPELINE_SWITCHER_H
#define YOLOSWITCH_PIPELINE_SWITCHER_H

#include "analysis.h"
#include "decision.h"
#include "path.h"
#include "profile.h"
#include "tracker.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct YsSwitcher YsSwitcher;

/* A decision the engine just took, with what it knew. */
typedef struct {
  YsDecision decision;
  YsEstimates estimates;
  char config[96]; /* the configuration described */
  char probe[96]; /* the probed one, or "" */
  bool missed_changed; /* the missed target appeared or changed */
} YsSwitchEvent;

typedef void (*YsSwitchEventFunc) (const YsSwitchEvent *event, void *user);

typedef enum {
  YS_DELIVER_ASYNC, /* frames never wait for the network */
  YS_DELIVER_SYNC, /* every frame waits for its own analysis */
} YsDelivery;

typedef struct {
  /* Configurations, must outlive the switcher.  Without `decide`,
   * fixed_config is the one in force (see ys_switcher_set_fixed). */
  const YsProfile *profile;
  YsTargets targets;
  /* Taken over by the switcher (freed with it, also when new fails);
   * NULL: not there.  A path the configurations use must be there. */
  YsPath *paths[YS_PATH_KINDS];
  bool decide; /* the decision engine picks the configuration */
  int fixed_config; /* without decide */
  /* Boxes carried onto every frame by the tracker; without, each frame
   * gets the newest analysis of the path in force as it is. */
  bool track;
  YsDelivery delivery;
  /* Sync: a frame waits at most this for its own analysis; 0: as long as
   * it takes.  Also the edge session's budget (set on the path). */
  int latency_budget_ms;
  int inference_interval; /* every Nth frame goes to a path (1) */
  int tick_ms; /* decision tick (20) */
  int label_interval_ms; /* edge path: a local label this often (1000) */
  /* Async with tracking: a frame the local model took waits for its own
   * result at most twice the model's time, and never longer than this
   * (30); what the element adds to the latency. */
  int max_local_wait_ms;
  /* After a change of path, no frame goes anywhere for this long (0).
   * Only for emulating systems that restart to switch (bench/). */
  int switch_pause_ms;
  /* Under policy auto, a frame the edge is due but cannot take runs
   * locally instead; true turns that off (emulating a system without). */
  bool no_stand_in;
  YsSwitchEventFunc on_decision;
  void *user;
} YsSwitcherOptions;

/* The switcher's own counts; each path's are in its YsPathStats. */
typedef struct {
  uint64_t frames, frames_without_boxes;
  uint64_t results[YS_PATH_KINDS]; /* analyses with boxes, per path */
  uint64_t decisions, labels;
  /* local results that stood in for a frame the edge could not take */
  uint64_t stand_ins;
  /* sync: frames that got no analysis of their own, and why is in each
   * frame's record; these count them */
  uint64_t own_missing;
  double local_correction;
  YsDecision decision;
} YsSwitcherStats;

/* What a frame gets in async delivery (ys_switcher_process). */
typedef struct {
  /* The boxes, each with the analysis it came from (origin); valid until
   * the next call. */
  const YsTrackedBox *boxes;
  int count;
  bool moved; /* the tracker moved them to this frame's time */
  int newest; /* the newest analysis applied so far; -1: none yet */
  /* The analyses applied during this call, oldest first. */
  const int *applied;
  int applied_count;
  /* This frame itself: the path it was for (the one it went to, or the
   * one in force that did not take it), the path it went to (-1: none)
   * and the id the path gave it, or why it went nowhere ("not-due" or the
   * path's refusal). */
  int due_path;
  int sent_path;
  uint32_t backend_id;
  const char *not_sent;
} YsFrameBoxes;

/* NULL with *error (a sentence; free it) when the settings cannot work. */
YsSwitcher *ys_switcher_new (const YsSwitcherOptions *options, char **error);
void ys_switcher_free (YsSwitcher *switcher);

/* Async: one frame (see above). */
void ys_switcher_process (YsSwitcher *switcher, const YoloFrame *frame,
    const YoloFrameStamp *stamp, YsFrameBoxes *out);

/* Sync: routes the frame.  *source: the name of the path it went (or was
 * meant) to.  false when it went nowhere (*reason: "not-due" for frames
 * the inference interval skips, or the path's refusal). */
bool ys_switcher_submit (YsSwitcher *switcher, const YoloFrame *frame,
    const YoloFrameStamp *stamp, uint32_t *backend_id, const char **source,
    const char **reason);

/* Sync: the analysis of frame `sequence`, submitted above.  Waits until it
 * comes, at most until until_us (monotonic), then answers with a record
 * saying "deadline"; applies whatever else came meanwhile.  *out lives
 * until the next call.  false only when interrupted. */
bool ys_switcher_wait_own (YsSwitcher *switcher, uint64_t sequence,
    int64_t until_us, const YoloAnalysis **out);

/* The analysis a box's origin names (or `newest`); valid until the next
 * process or wait_own call. */
const YoloAnalysis *ys_switcher_analysis (YsSwitcher *switcher, int origin);

/* The newest analysis applied, or NULL before the first; same lifetime. */
const YoloAnalysis *ys_switcher_newest (YsSwitcher *switcher);

/* Without decide: the configuration in force from the next frame on (a
 * copy is taken; yolooffload's size and bit rate while playing). */
void ys_switcher_set_fixed (YsSwitcher *switcher,
    const YsProfileConfig *config);

/* Every Nth frame goes to a path, from the next frame on. */
void ys_switcher_set_interval (YsSwitcher *switcher, int interval);

/* The stream's frame rate (its caps), from the next frame on; fps <= 0:
 * unknown, no change. */
void ys_switcher_set_source_rate (YsSwitcher *switcher, double fps);

/* Thresholds and NMS of the local model, from the next frame on. */
void ys_switcher_set_infer_options (YsSwitcher *switcher,
    const YoloInferOptions *options);

/* The longest a frame may wait in the switcher, in milliseconds: what the
 * element adds to the pipeline's latency. */
double ys_switcher_latency_ms (YsSwitcher *switcher);

/* Flush (a seek, new caps): forget boxes and frames in hand. */
void ys_switcher_flush (YsSwitcher *switcher);

/* While set, every wait returns at once (flushing, stopping). */
void ys_switcher_interrupt (YsSwitcher *switcher, bool interrupted);

/* EOS: sends what encoders hold and waits, at most timeout_ms, for the
 * paths to finish the frames they have. */
void ys_switcher_drain (YsSwitcher *switcher, int timeout_ms);

void ys_switcher_stats (YsSwitcher *switcher, YsSwitcherStats *out);

/* A path's counters; false when the switcher has no such path. */
bool ys_switcher_path_stats (YsSwitcher *switcher, YsPathKind kind,
    YsPathStats *out);

/* The path of a kind, or NULL (for what only one element asks of it). */
YsPath *ys_switcher_path (YsSwitcher *switcher, YsPathKind kind);

/* A sentence from a path for the bus, or NULL; free it. */
char *ys_switcher_take_notice (YsSwitcher *switcher, bool *is_warning);

#endif
