/* The switcher without GStreamer: both paths kept warm, the decision
 * engine ticking on its own thread, every frame routed to the local model,
 * the edge or both, and boxes carried onto every frame by the tracker.
 * The yoloswitch element is a thin adapter around it (caps, metas, bus).
 *
 * Per frame (ys_switcher_process, the streaming thread, never blocks):
 *  1. results that arrived since the last frame are applied: a result of
 *     the path in force updates the tracker; any edge result whose frame
 *     the local model also ran on scores that local output (online
 *     correction of the local accuracy);
 *  2. the frame goes to the edge (at most target-fps frames per second,
 *     encoded as the decision's edge configuration says) when the edge is
 *     in force or being probed, and to the local model when the local path
 *     is in force (or, once a second on the edge path, for a label);
 *  3. the tracker's boxes at this frame's time are handed back, each with
 *     the analysis that last saw it (path, model, resolution, bit rate,
 *     the frame it ran on).
 *
 * Every tick_ms a thread reads the link and model estimates, ticks the
 * decision engine and reports changes through on_decision (that thread;
 * the element posts bus messages from it). */
#ifndef YOLOSWITCH_PIPELINE_SWITCHER_H
#define YOLOSWITCH_PIPELINE_SWITCHER_H

#include "decision.h"
#include "profile.h"
#include "session.h"
#include "tracker.h"
#include "yolo.h"

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

typedef struct {
  const YsProfile *profile; /* must outlive the switcher */
  YsTargets targets;
  YoloModelSpec local_model; /* input size: set per configuration */
  YoloInferOptions infer;
  /* Edge: server NULL runs local only (policy auto or local). */
  const char *server, *token, *tls_ca_file, *edge_model, *client_name;
  int tick_ms; /* decision tick (20) */
  int label_interval_ms; /* edge path: a local label this often (1000) */
  int max_in_flight; /* edge frames unanswered at once (4); 1: stop-and-wait */
  /* After a change of path, no frame goes anywhere for this long (0).
   * Only for emulating systems that restart to switch (bench/). */
  int switch_pause_ms;
  /* Under policy auto, a frame the edge is due but full or a latency
   * budget behind for runs locally instead; true turns that off (for
   * emulating a system that had no such thing). */
  bool no_stand_in;
  YsSwitchEventFunc on_decision;
  void *user;
} YsSwitcherOptions;

/* An analysis some boxes came from. */
typedef struct {
  YsPathKind path;
  const char *model;
  int width, height; /* what it saw: network input or encoded frame */
  int64_t bitrate; /* edge; 0 for local */
  int64_t frame_us; /* the caller's time of the frame it ran on */
  double latency_ms; /* frame given to result */
  uint32_t edge_frame_id; /* 0 for local */
  int detections; /* how many it found */
  YoloDetections dets; /* what it found, on its own frame */
} YsAnalysis;

typedef struct {
  uint64_t frames, frames_without_boxes;
  uint64_t local_results, edge_results, edge_frames_sent;
  /* frames the server answered with DROP: in all, late, replaced */
  uint64_t edge_drops, edge_drops_deadline, edge_drops_overload;
  uint64_t decisions, labels;
  /* local results that stood in for a frame the edge was due but full for */
  uint64_t stand_ins;
  double local_correction;
  YsDecision decision;
} YsSwitcherStats;

/* NULL with *error (a sentence; free it) when the local model, the edge
 * settings or the profile cannot work. */
YsSwitcher *ys_switcher_new (const YsSwitcherOptions *options, char **error);
void ys_switcher_free (YsSwitcher *switcher);

/* One frame (see above).  frame_us: its stream time.  Returns the boxes
 * for it; the array lives until the next call. */
const YsTrackedBox *ys_switcher_process (YsSwitcher *switcher,
    const YoloFrame *frame, int64_t frame_us, int *count);

/* The analysis a box's origin names; valid until the next process call. */
const YsAnalysis *ys_switcher_analysis (YsSwitcher *switcher, int origin);

/* The analyses applied to the boxes during the last process call, oldest
 * first (usually none or one; two when results came close together). */
const int *ys_switcher_applied (YsSwitcher *switcher, int *count);

/* The newest analysis applied to the boxes (found objects or not), or -1
 * before the first. */
int ys_switcher_newest_analysis (YsSwitcher *switcher);

/* Flush: forget boxes and frames in flight. */
void ys_switcher_flush (YsSwitcher *switcher);

/* EOS: waits (at most timeout_ms) for the local model's last frame. */
void ys_switcher_drain (YsSwitcher *switcher, int timeout_ms);

void ys_switcher_stats (YsSwitcher *switcher, YsSwitcherStats *out);

/* A sentence from the edge session for the bus, or NULL; free it. */
char *ys_switcher_take_notice (YsSwitcher *switcher, bool *is_warning);

#endif
