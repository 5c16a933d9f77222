/* The one record every backend produces for every frame it was given: the
 * local model, the edge server, later the split path.  It says which
 * frame (the stamp given with it), who analysed it and how, how long it
 * took, and either the boxes found (possibly none) or why there are none.
 *
 * Consumers (the switcher, the elements, the results log, metas on
 * buffers) read this record only, so a new backend is a new producer of
 * it, not a new branch in each of them. */
#ifndef YOLOSWITCH_YOLO_ANALYSIS_H
#define YOLOSWITCH_YOLO_ANALYSIS_H

#include "detections.h"
#include "frame.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YOLO_MAX_MODEL_NAME 128

typedef enum {
  YOLO_ANALYSIS_OK, /* the model ran on the frame (it may have found nothing) */
  YOLO_ANALYSIS_MISSING, /* no result for this frame: `reason` says why */
} YoloAnalysisStatus;

typedef struct {
  const char *source; /* static: the path's name: "local", "edge", "split" */
  char model[YOLO_MAX_MODEL_NAME + 1]; /* that ran, or was asked for */
  YoloFrameStamp frame; /* the analysed frame, as given with it */
  uint32_t backend_id; /* edge: the frame id on the wire; 0: none */
  int tag; /* the caller's, given with the frame (switcher: configuration) */
  YoloAnalysisStatus status;
  /* MISSING: a static string, one of "deadline", "disconnected",
   * "overload", "decode-error", "shutdown", "in-flight-limit",
   * "link-backlog", "encoder-error", "not-sent", "inference-failed",
   * "replaced" (a newer frame took its place before the model was free) */
  const char *reason;
  /* Milliseconds; 0: unknown.  latency: from the frame's arrival to its
   * result (edge: network included).  infer: the forward pass and
   * decoding (local).  server: queue + decode + inference on the server. */
  double latency_ms, infer_ms, server_ms;
  int width, height; /* what the model saw: network input, encoded frame */
  /* split: layers [0, cut) of the edge model ran on this machine, the
   * rest on the server; 0: not split */
  int cut;
  int64_t bitrate; /* edge: the encoder's, bits/s; 0: none */
  YoloDetections detections; /* in pixels of the submitted frame */
} YoloAnalysis;

void yolo_analysis_init (YoloAnalysis *analysis);
/* Frees the detections and zeroes the record. */
void yolo_analysis_clear (YoloAnalysis *analysis);
/* Deep copy into an initialised record (its detection storage is reused). */
bool yolo_analysis_copy (YoloAnalysis *dst, const YoloAnalysis *src);
/* Moves src into an initialised dst (dst's old contents freed); src is
 * left initialised and empty. */
void yolo_analysis_move (YoloAnalysis *dst, YoloAnalysis *src);
/* Sets the model name, truncating to YOLO_MAX_MODEL_NAME bytes. */
void yolo_analysis_set_model (YoloAnalysis *analysis, const char *model,
    size_t length);

/* "ok" or "none" (the word in result records). */
const char *yolo_analysis_status_name (YoloAnalysisStatus status);

#ifdef __cplusplus
}
#endif
#endif
