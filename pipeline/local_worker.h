/* The local model's thread: runs the small model on the frames it is given,
 * at whatever network input size each one asks for, and hands back one
 * analysis (yolo/analysis.h) per frame.
 *
 * Models are opened once per input size and kept (each is a few MB), so a
 * switch between sizes costs nothing after the first time.  The base size
 * opens in ys_local_worker_new and runs once on a blank frame there: a
 * missing model fails the caller's start, and the first real frame is not
 * the slow first run (caches cold, buffers allocated).
 *
 * Two ways to give a frame (path.h, YsSubmitMode):
 *  - newest: never waits; a frame still waiting for the busy model is
 *    replaced by the new one, and its analysis says "replaced" (live
 *    video: yolodetect mode=async, the switcher);
 *  - in order: every frame runs, in order; submit waits while queue_depth
 *    frames are waiting, at most until the frame's deadline (arrival +
 *    latency budget), and a frame whose deadline passed before the model
 *    got to it is answered "deadline" without running (mode=sync).
 * Frames are copied on submit, so the caller's buffer is free at once.
 *
 * Plain C + GLib threads; any thread may call any function. */
#ifndef YOLOSWITCH_PIPELINE_LOCAL_WORKER_H
#define YOLOSWITCH_PIPELINE_LOCAL_WORKER_H

#include "analysis.h"
#include "path.h"
#include "yolo.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct YsLocalWorker YsLocalWorker;

typedef struct {
  YoloModelSpec spec; /* strings copied */
  YoloInferOptions options;
  int queue_depth; /* in-order frames waiting at most (default 4) */
  /* In order: a frame still waiting this long after its arrival is
   * answered "deadline"; 0: no limit (every frame runs). */
  int latency_budget_ms;
  /* Called on the worker thread, no lock held, when an analysis is ready. */
  void (*on_ready) (void *user);
  void *user;
} YsLocalWorkerOptions;

/* Opens the model at the spec's input size, runs it once, starts the
 * thread.  NULL with status set when the model cannot be opened. */
YsLocalWorker *ys_local_worker_new (const YsLocalWorkerOptions *options,
    YoloStatus *status);
void ys_local_worker_free (YsLocalWorker *worker);

/* The model running; valid until the worker is freed (a swap keeps the
 * old name). */
const char *ys_local_worker_model_name (YsLocalWorker *worker);

/* Thresholds and NMS for frames submitted from now on. */
void ys_local_worker_set_options (YsLocalWorker *worker,
    const YoloInferOptions *options);

/* Gives a frame to run at input_width x input_height (0: the cfg's).
 * false with a static *reason when it was not taken ("in-flight-limit":
 * in order and still full at its deadline, or newest with a queue full of
 * in-order frames; "interrupted"). */
bool ys_local_worker_submit (YsLocalWorker *worker, const YoloFrame *frame,
    const YoloFrameStamp *stamp, int tag, int input_width, int input_height,
    YsSubmitMode mode, const char **reason);

/* true when nothing is running or waiting. */
bool ys_local_worker_idle (YsLocalWorker *worker);

/* The oldest finished analysis into an initialised record (its old
 * contents freed): false when there is none. */
bool ys_local_worker_take (YsLocalWorker *worker, YoloAnalysis *out);

/* Blocks until idle, at most until until_us (monotonic): true when idle. */
bool ys_local_worker_drain (YsLocalWorker *worker, int64_t until_us);

/* Forgets the frames waiting and the one running: they get no analysis. */
void ys_local_worker_flush (YsLocalWorker *worker);

/* While set, submit never waits and drain returns at once. */
void ys_local_worker_interrupt (YsLocalWorker *worker, bool interrupted);

/* What a hot swap came to, for its callback. */
typedef struct {
  bool ok; /* the new model runs from the next frame on */
  const char *model; /* the model running from now on */
  const char *previous; /* the one before */
  double load_ms; /* opening and warming up the new model, on its thread */
  int input_width, input_height; /* the new model's network input */
  const char *error; /* !ok: why the old model stays */
  bool superseded; /* !ok because a newer swap came first: no fault */
} YsModelSwap;
typedef void (*YsModelSwapped) (const YsModelSwap *swap, void *user);

/* Hot swap: opens spec's model (at its input size) and runs it once on a
 * blank frame, on a thread of its own, while the current model keeps
 * running; it takes over at the next frame the worker starts after that
 * (frames waiting then run on it, none is dropped), and the sizes opened
 * for the old model are closed.  One load at a time: a swap asked for
 * while one loads waits, and a newer one replaces it before it starts; a
 * model loaded supersedes one loaded before it and not taken over yet
 * (so under changes faster than a load, the newest loaded model still
 * takes over).  `done` (may be NULL) is called once for each swap asked for,
 * with no lock held: on the worker thread when it took over, on the
 * loader thread when it failed or was superseded (the old model stays).
 * Frames asking for input size 0 x 0 run on the base model, whatever its
 * size.  spec's strings are copied. */
void ys_local_worker_swap (YsLocalWorker *worker, const YoloModelSpec *spec,
    YsModelSwapped done, void *user);

/* Counts and timings (the YsPathStats fields a local model has). */
void ys_local_worker_stats (YsLocalWorker *worker, YsPathStats *out);

/* A sentence for the bus (an inference failed), or NULL; free it. */
char *ys_local_worker_take_notice (YsLocalWorker *worker, bool *is_warning);

#endif
