/* Internal to the local worker (local_worker*.c): its state, and what the
 * hot swap (local_worker_swap.c) shares with the thread. */
#ifndef YOLOSWITCH_PIPELINE_LOCAL_WORKER_INTERNAL_H
#define YOLOSWITCH_PIPELINE_LOCAL_WORKER_INTERNAL_H

#include "local_worker.h"

#include <glib.h>

#define MAX_SIZES 6 /* input sizes kept open: the profile's ladder */

typedef struct {
  int width, height; /* asked for (0: the cfg's) */
  YoloModel *model;
  YoloInput *input;
} SizedModel;

/* A model opened and warmed up on a loader thread, for a swap. */
typedef struct {
  struct YsLocalWorker *worker;
  uint64_t seq; /* the swap it answers (for messages: in order of asking) */
  SizedModel base;
  char *name, *model_dir, *cfg, *weights, *labels; /* its spec's strings */
  int input_width, input_height; /* asked for (0: the cfg's) */
  double load_ms; /* open and warm-up */
  double warm_ms; /* the warm-up inference */
  YsModelSwapped done;
  void *user;
} LoadedModel;

/* A frame copied out of the caller's buffer, with what to do with it. */
typedef struct {
  YoloFrame frame;
  uint8_t *data;
  size_t capacity;
  YoloFrameStamp stamp;
  int tag, input_width, input_height;
  YsSubmitMode mode;
  int64_t deadline_us; /* 0: none */
  YoloInferOptions options;
  uint64_t epoch; /* of the flush it was given after */
} Job;

struct YsLocalWorker {
  YsLocalWorkerOptions o;
  char *name, *model_dir, *cfg, *weights, *labels; /* o.spec's strings */
  SizedModel sizes[MAX_SIZES]; /* worker thread only (after new) */
  int size_count;

  GMutex lock;
  GCond cond; /* a job came, one finished, an interrupt, a stop */
  /* everything below: locked */
  GThread *thread;
  bool stop, interrupted;
  YoloInferOptions options; /* for frames submitted from now on */
  GQueue waiting; /* Job *, oldest first */
  GQueue spare; /* Job *: buffers to reuse */
  Job *running;
  uint64_t epoch;
  GQueue done; /* YoloAnalysis * */
  GQueue notices; /* char * */
  YsPathStats stats;

  /* Hot swap (local_worker_swap.c): a model loaded on a loader thread,
   * waiting for the worker to take it over at a frame boundary. */
  uint64_t swap_seq; /* locked: the newest swap asked for */
  int loaders; /* locked: the loader thread runs (0 or 1; free waits) */
  LoadedModel *queued; /* locked: the newest swap asked for while the
                        * loader was busy, for it to load next */
  LoadedModel *ready; /* locked: the newest load done, not yet taken */
  GPtrArray *names; /* locked: every name the worker ran under (a name
                     * handed out stays valid until free) */
};

/* local_worker.c: one inference on a blank frame at m's size (the first
 * real frame is then not a cold run); *infer_ms its time. */
bool ys_local_worker_warm_up (SizedModel *m, const YoloInferOptions *options,
    double *infer_ms, YoloStatus *status);

/* local_worker_swap.c, worker thread, lock held: takes over the newest
 * loaded model if there is one; the finished swap for its callback (called
 * by the worker with no lock held), or NULL. */
LoadedModel *ys_local_worker_take_over_locked (YsLocalWorker *worker);
/* worker thread, no lock: closes what a take-over replaced, calls done. */
void ys_local_worker_swap_finish (YsLocalWorker *worker, LoadedModel *loaded,
    SizedModel *old, int old_count);
void ys_loaded_model_free (LoadedModel *loaded);

#endif
