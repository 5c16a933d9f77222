/* The device's half of split inference (issue 15, docs/SPLIT.md): the edge
 * model's layers [0, cut) on this machine, and what they hand over
 * quantized into the packet of a split FRAME (offload/split_codec.h), for
 * the server to finish.  The edge path (edge_path.c) runs it in place of
 * the encoder when it is the split path.
 *
 * The cut and the bit depth may change between frames (the switcher's
 * configurations).  Not thread-safe: one caller at a time (the edge path
 * calls it under its own submit), except ys_split_head_predict (any
 * thread). */
#ifndef YOLOSWITCH_PIPELINE_SPLIT_HEAD_H
#define YOLOSWITCH_PIPELINE_SPLIT_HEAD_H

#include "yolo.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YsSplitHead YsSplitHead;

typedef struct {
  YoloModelSpec spec; /* the edge model: the server must load the same */
  int cut; /* 0: ys_split_head_default_cut () */
  int bits; /* 4, 6 or 8 (0: 8) */
  bool letterbox; /* how frames are fitted to the network input */
} YsSplitHeadOptions;

/* Opens the model (and hashes its files, which the server's HELLO must
 * name).  NULL with status set when it cannot be opened or the cut is not
 * inside it. */
YsSplitHead *ys_split_head_new (const YsSplitHeadOptions *options,
    YoloStatus *status);
void ys_split_head_free (YsSplitHead *head);

uint64_t ys_split_head_model_hash (const YsSplitHead *head);
const char *ys_split_head_model_name (const YsSplitHead *head);
int ys_split_head_layer_count (const YsSplitHead *head);
int ys_split_head_cut (const YsSplitHead *head);

/* The cuts worth trying, in order: each hands over fewer values than
 * every earlier cut (a later cut costs the device more layers, so it must
 * send less to be worth it).  Up to max into cuts; returns how many. */
int ys_split_candidate_cuts (const YoloModel *model, int *cuts, int max);

/* The candidate with the smallest handover (the last one), when no cut is
 * asked for. */
int ys_split_head_default_cut (YsSplitHead *head);

/* From the next frame on; false (nothing changed) for a cut outside
 * 1 .. layers - 1 or bits other than 4, 6, 8. */
bool ys_split_head_configure (YsSplitHead *head, int cut, int bits);

/* Runs the head on frame and packs its handover: *packet (malloc'ed,
 * *len bytes, the caller frees it), *head_ms what it took.  false with a
 * sentence in error. */
bool ys_split_head_run (YsSplitHead *head, const YoloFrame *frame,
    uint8_t **packet, size_t *len, double *head_ms, char *error,
    size_t error_size);

/* Neurosurgeon's per-layer model (docs/SPLIT.md, "Where to cut"): what
 * the head would take here for `cut` now, in ms (0 for a cut outside the
 * model), from each layer's time measured when the head opened (the whole
 * model, run twice on a blank frame, then the head once to its cut for the
 * time besides the layers) and kept current by the frames since (layers
 * past the running cut scale with the ones that run; each frame weighs a
 * fifth).  *tail_share
 * (may be NULL): the share of the model's time after the cut, here (0 for
 * a cut outside the model); the server's tail time for the cut scales with
 * it. */
double ys_split_head_predict (YsSplitHead *head, int cut, double *tail_share);

/* The cut the last frame ran to (0: none yet); any thread. */
int ys_split_head_running_cut (YsSplitHead *head);

#endif
