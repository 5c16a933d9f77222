/* Carries boxes onto every frame between results and across switches.
 *
 * Results arrive for some frames only (the local model runs on the newest
 * frame it can take, the edge answers a round trip later) and the path may
 * change at any moment.  The tracker keeps one track per object: the box of
 * its last detection, a velocity estimated from successive detections, and
 * a tag saying which analysis last saw it.  Any frame can then be given the
 * tracks moved to its time, so no frame goes out without boxes while
 * objects are present, and each box still says where it came from and how
 * old it is.
 *
 * Matching is greedy by IoU (same class) between the tracks moved to the
 * result's frame time and the new detections.  A track no detection
 * matched is kept for a few results (detectors flicker) and never longer
 * than max_age_us.  Results older than the newest one applied are ignored:
 * after a switch, the old path's late answers must not pull boxes back.
 *
 * Plain C, no clock: times are the caller's (stream time in microseconds).
 * Not thread-safe: the owner locks. */
#ifndef YOLOSWITCH_PIPELINE_TRACKER_H
#define YOLOSWITCH_PIPELINE_TRACKER_H

#include "yolo.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  double min_iou; /* to match a detection to a track (0.3) */
  int max_misses; /* results in a row a track may miss (2) */
  int64_t max_age_us; /* a track unseen this long vanishes (1 s) */
  int64_t max_extrapolate_us; /* motion applied at most this far (0.5 s) */
} YsTrackerOptions;

/* A track as given out: the box at the asked time. */
typedef struct {
  int id; /* stable while the object is tracked */
  YoloDetection box; /* label, class, confidence; box moved and clipped */
  int origin; /* the caller's tag of the analysis that last saw it */
  int64_t seen_us; /* time of the frame that analysis ran on */
} YsTrackedBox;

typedef struct YsTracker YsTracker;

/* options NULL: the defaults above. */
YsTracker *ys_tracker_new (const YsTrackerOptions *options);
void ys_tracker_free (YsTracker *tracker);
void ys_tracker_reset (YsTracker *tracker);

/* Applies a result computed on the frame at frame_us.  false (and nothing
 * changes) when it is older than the newest result applied. */
bool ys_tracker_update (YsTracker *tracker, const YoloDetections *dets,
    int64_t frame_us, int origin);

/* The live tracks moved to time at_us and clipped to width x height.
 * The array belongs to the tracker and lives until its next call. */
const YsTrackedBox *ys_tracker_predict (YsTracker *tracker, int64_t at_us,
    int width, int height, int *count);

/* Time of the newest result applied; INT64_MIN before the first. */
int64_t ys_tracker_newest_us (const YsTracker *tracker);

#endif
