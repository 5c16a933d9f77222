/* A path from a frame to its analysis: the small model on this machine
 * (local_path.c), the edge server (edge_path.c), later split inference.
 * The switcher holds an array of paths and drives each one through this
 * interface only, so a new path is a new implementation of it (plus a row
 * in path_kind.c), and the switcher's unit tests replace the real paths
 * with in-process fakes.
 *
 * Every frame a path accepts ends as exactly one analysis
 * (yolo/analysis.h), handed out by take() in the order the path finished
 * them: the boxes found, or a record saying why there are none
 * ("deadline", "disconnected", "replaced", ...).  A frame submit() refuses
 * gets no analysis: the caller has the reason.
 *
 * Threads: any thread may call any function; each path locks itself. */
#ifndef YOLOSWITCH_PIPELINE_PATH_H
#define YOLOSWITCH_PIPELINE_PATH_H

#include "analysis.h"
#include "decision.h"
#include "frame.h"
#include "path_kind.h"
#include "profile.h"
#include "yolo.h"

#include <stdbool.h>
#include <stdint.h>

/* What a path would do with a frame now. */
typedef enum {
  YS_PATH_READY, /* submit takes it at once */
  YS_PATH_NOT_DUE, /* paced: the last frame went less than a period ago */
  YS_PATH_BUSY, /* its model is running, or max-in-flight frames are out */
  /* The link's oldest unanswered frame has waited a latency budget beyond
   * a round trip: a frame sent now would only queue behind it. */
  YS_PATH_BEHIND,
  YS_PATH_DOWN, /* cannot work now: no connection */
} YsPathReadiness;

const char *ys_path_readiness_name (YsPathReadiness readiness);

/* How a frame is handed over. */
typedef enum {
  /* Never waits.  A frame still waiting for a busy model is replaced by
   * the new one (its analysis says "replaced"); a full link refuses. */
  YS_SUBMIT_NEWEST,
  /* Every frame is analysed, in order: waits for room, at most until the
   * frame's deadline (arrival + the path's latency budget). */
  YS_SUBMIT_IN_ORDER,
} YsSubmitMode;

/* Counters and figures for bus messages and read-only properties; each
 * path fills what applies to it and leaves the rest 0. */
typedef struct {
  uint64_t submitted; /* frames accepted */
  uint64_t results; /* analyses with status ok */
  uint64_t missing; /* analyses without a result, all reasons */
  uint64_t replaced; /* of missing: a newer frame took a waiting one's place */
  uint64_t refused; /* frames submit() did not take */
  /* this machine's model */
  double infer_ms; /* the last inference */
  double slowest_infer_ms; /* the slowest seen (first measured at start) */
  double load_ms;
  /* the link */
  bool connected;
  double bandwidth_bps, throughput_bps, rtt_ms, rtt_min_ms, server_ms;
  int in_flight;
  uint64_t frames_sent, bytes_sent, drops, drops_deadline, drops_overload;
  uint64_t labels_refused; /* boxes named "unknown": see session.h */
  double encode_ms;
  int width, height; /* encoded size of the last frame */
  int64_t bitrate;
  const char *encoder; /* static, or owned by the path */
} YsPathStats;

typedef struct YsPath YsPath;

typedef struct {
  /* For a frame of stream time frame_us, now. */
  YsPathReadiness (*readiness) (YsPath *path, int64_t frame_us);
  /* From the next frame on, run as the configuration says: local, the
   * network input size; edge, the scale of the frame (or, scale 0, its
   * width x height) and the bit rate. */
  void (*configure) (YsPath *path, const YsProfileConfig *config);
  /* Thresholds and NMS for the frames after this (a path whose model runs
   * elsewhere ignores them).  May be NULL. */
  void (*set_infer_options) (YsPath *path, const YoloInferOptions *options);
  /* The stream's frame rate, once known (its caps): an encoding path's
   * rate control spreads its bit rate over the frames it will really
   * get.  May be NULL. */
  void (*set_source_rate) (YsPath *path, double fps);
  /* Takes the frame (copied or encoded before it returns); tag goes into
   * its analysis, and *backend_id (may be NULL) gets the id the path gave
   * it (edge: the frame id on the wire; 0: none).  false with a static
   * *reason when it did not. */
  bool (*submit) (YsPath *path, const YoloFrame *frame,
      const YoloFrameStamp *stamp, int tag, YsSubmitMode mode,
      uint32_t *backend_id, const char **reason);
  /* The oldest finished analysis into an initialised record; false when
   * none is ready. */
  bool (*take) (YsPath *path, YoloAnalysis *out);
  /* Blocks until nothing is running or waiting in the path, at most until
   * until_us (monotonic): true when idle. */
  bool (*drain) (YsPath *path, int64_t until_us);
  /* Blocks until the path has tried to become usable (the first
   * connection attempt), at most until until_us: true when usable. */
  bool (*settle) (YsPath *path, int64_t until_us);
  /* Fills the fields of the decision engine's estimates this path owns. */
  void (*estimates) (YsPath *path, YsEstimates *estimates);
  /* A path that runs part of a model here (split): what the frame would
   * cost at `cut`, this machine's time and the server's, in ms, predicted
   * from per-layer times; false (nothing known) otherwise.  May be NULL. */
  bool (*predict_cut) (YsPath *path, int cut, double *device_ms,
      double *server_ms);
  void (*stats) (YsPath *path, YsPathStats *out);
  /* Frames in hand get no analysis (a seek). */
  void (*flush) (YsPath *path);
  /* While set, waits return at once and submit never blocks. */
  void (*interrupt) (YsPath *path, bool interrupted);
  /* A sentence for the bus (server lost, back...), or NULL; free it. */
  char *(*take_notice) (YsPath *path, bool *is_warning);
  void (*free) (YsPath *path);
} YsPathClass;

struct YsPath {
  const YsPathClass *klass;
  YsPathKind kind;
  /* Set by the owner before the first frame: called from any thread when
   * an analysis becomes ready to take, possibly with the path's own locks
   * held, so it may only signal (never call back into the path). */
  void (*on_ready) (void *user);
  void *user;
};

/* Calls path->on_ready if set (for implementations). */
void ys_path_notify (YsPath *path);

/* The interface, for callers. */
static inline YsPathReadiness
ys_path_readiness (YsPath *p, int64_t frame_us)
{
  return p->klass->readiness (p, frame_us);
}
static inline void
ys_path_configure (YsPath *p, const YsProfileConfig *config)
{
  p->klass->configure (p, config);
}
static inline void
ys_path_set_infer_options (YsPath *p, const YoloInferOptions *options)
{
  if (p->klass->set_infer_options != NULL)
    p->klass->set_infer_options (p, options);
}
static inline void
ys_path_set_source_rate (YsPath *p, double fps)
{
  if (p->klass->set_source_rate != NULL)
    p->klass->set_source_rate (p, fps);
}
static inline bool
ys_path_submit (YsPath *p, const YoloFrame *frame, const YoloFrameStamp *stamp,
    int tag, YsSubmitMode mode, uint32_t *backend_id, const char **reason)
{
  if (backend_id != NULL)
    *backend_id = 0;
  return p->klass->submit (p, frame, stamp, tag, mode, backend_id, reason);
}
static inline bool
ys_path_take (YsPath *p, YoloAnalysis *out)
{
  return p->klass->take (p, out);
}
static inline bool
ys_path_drain (YsPath *p, int64_t until_us)
{
  return p->klass->drain (p, until_us);
}
static inline bool
ys_path_settle (YsPath *p, int64_t until_us)
{
  return p->klass->settle (p, until_us);
}
static inline void
ys_path_estimates (YsPath *p, YsEstimates *e)
{
  p->klass->estimates (p, e);
}
static inline bool
ys_path_predict_cut (YsPath *p, int cut, double *device_ms, double *server_ms)
{
  return p->klass->predict_cut != NULL
      && p->klass->predict_cut (p, cut, device_ms, server_ms);
}
static inline void
ys_path_stats (YsPath *p, YsPathStats *out)
{
  p->klass->stats (p, out);
}
static inline void
ys_path_flush (YsPath *p)
{
  p->klass->flush (p);
}
static inline void
ys_path_interrupt (YsPath *p, bool interrupted)
{
  p->klass->interrupt (p, interrupted);
}
static inline char *
ys_path_take_notice (YsPath *p, bool *is_warning)
{
  return p->klass->take_notice (p, is_warning);
}
static inline void
ys_path_free (YsPath *p)
{
  if (p != NULL)
    p->klass->free (p);
}

#endif
