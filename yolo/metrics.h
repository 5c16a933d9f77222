/* Accuracy of one detector's output against a reference, as defined in
 * PRIOR_ART.md "Design consequences" point 5: per frame, greedy same-class
 * matching by IoU; accuracy = sum of matched IoUs / max(#reference,
 * #predicted) (1.0 when both are empty); plus F1 at IoU 0.5.  The profiler
 * and the switcher score every configuration with these. */
#ifndef YOLOSWITCH_YOLO_METRICS_H
#define YOLOSWITCH_YOLO_METRICS_H

#include "detections.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Intersection over union of two pixel boxes; 0 when either is empty. */
double yolo_box_iou (const YoloDetection *a, const YoloDetection *b);

typedef struct {
  double iou_accuracy; /* sum matched IoU / max(#ref, #pred), 1 if both empty */
  int true_positives; /* matches with IoU >= 0.5 */
  int reference_count;
  int predicted_count;
  double f1; /* F1 at IoU 0.5 for this frame, 1 if both empty */
} YoloFrameScore;

/* Scores one frame.  Only boxes of the same class_id are matched; pairs are
 * taken greedily from the highest IoU down, each box used at most once. */
void yolo_score_frame (const YoloDetection *reference, size_t reference_count,
    const YoloDetection *predicted, size_t predicted_count,
    YoloFrameScore *score);

/* Aggregates frame scores over a clip: mean per-frame IoU accuracy, and F1
 * from the summed true positives, references and predictions. */
typedef struct {
  int frames;
  double iou_accuracy_sum;
  long true_positives, reference_count, predicted_count;
} YoloScoreTotals;

void yolo_score_totals_add (YoloScoreTotals *totals, const YoloFrameScore *s);
double yolo_score_totals_iou_accuracy (const YoloScoreTotals *totals);
double yolo_score_totals_f1 (const YoloScoreTotals *totals);

#ifdef __cplusplus
}
#endif
#endif
