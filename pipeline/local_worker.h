/* The switcher's local path: one thread running the small model on the
 * newest frame it is given, at whatever network input size the decision
 * asks for.
 *
 * Models are opened once per input size and kept (each is a few MB), so a
 * switch between sizes costs nothing after the first time; the base size
 * opens in ys_local_worker_new, so a missing model fails at start.
 * Submitting copies the frame and never waits: a frame given while the
 * worker is busy replaces any frame still waiting (the newest wins, as in
 * yolodetect's async mode).  Finished results queue up until taken.
 *
 * Plain C + GLib threads; any thread may call any function. */
#ifndef YOLOSWITCH_PIPELINE_LOCAL_WORKER_H
#define YOLOSWITCH_PIPELINE_LOCAL_WORKER_H

#include "yolo.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct YsLocalWorker YsLocalWorker;

typedef struct {
  YoloDetections dets; /* in pixels of the submitted frame */
  int64_t frame_us; /* the caller's time of the frame (stream time) */
  int64_t submitted_us; /* monotonic, when it was given */
  double infer_ms; /* forward pass and decoding */
  double latency_ms; /* given to result, waiting included */
  int tag; /* the caller's (the profile configuration) */
  int input_width, input_height;
  bool ok; /* false: inference failed (message in error) */
  char error[256];
} YsLocalResult;

/* Opens spec (input size as the spec says) and starts the thread.  NULL
 * with status set when the model cannot be opened. */
YsLocalWorker *ys_local_worker_new (const YoloModelSpec *spec,
    const YoloInferOptions *options, YoloStatus *status);
void ys_local_worker_free (YsLocalWorker *worker);

const char *ys_local_worker_model_name (const YsLocalWorker *worker);

/* Gives a frame to run at input_width x input_height (0: the cfg's).
 * Returns false when a frame still waiting was replaced (never run). */
bool ys_local_worker_submit (YsLocalWorker *worker, const YoloFrame *frame,
    int64_t frame_us, int tag, int input_width, int input_height);

/* true when nothing is running or waiting. */
bool ys_local_worker_idle (YsLocalWorker *worker);

/* Pops the oldest finished result: false when there is none.  out must be
 * initialised (ys_local_result_init) and is overwritten. */
bool ys_local_worker_take (YsLocalWorker *worker, YsLocalResult *out);

/* Blocks until idle (EOS: the last frame's result), at most timeout_ms. */
bool ys_local_worker_drain (YsLocalWorker *worker, int timeout_ms);

void ys_local_result_init (YsLocalResult *result);
void ys_local_result_clear (YsLocalResult *result);

#endif
