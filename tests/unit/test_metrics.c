/* Accuracy metrics on hand-computed cases. */
#include <glib.h>

#include "metrics.h"

static YoloDetection
box (int class_id, float x, float y, float w, float h)
{
  YoloDetection d = { .class_id = class_id,
    .label = "x",
    .confidence = 1,
    .x = x,
    .y = y,
    .w = w,
    .h = h };
  return d;
}

static void
test_iou (void)
{
  YoloDetection a = box (0, 0, 0, 10, 10);
  YoloDetection b = box (0, 5, 0, 10, 10); /* overlap 5x10 = 50, union 150 */
  YoloDetection c = box (0, 20, 20, 5, 5);
  YoloDetection empty = box (0, 0, 0, 0, 10);

  g_assert_cmpfloat_with_epsilon (yolo_box_iou (&a, &a), 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (yolo_box_iou (&a, &b), 50.0 / 150.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (yolo_box_iou (&b, &a), 50.0 / 150.0, 1e-9);
  g_assert_cmpfloat (yolo_box_iou (&a, &c), ==, 0.0);
  g_assert_cmpfloat (yolo_box_iou (&a, &empty), ==, 0.0);
  /* Touching edges share no area. */
  c = box (0, 10, 0, 10, 10);
  g_assert_cmpfloat (yolo_box_iou (&a, &c), ==, 0.0);
}

static void
test_empty_frames (void)
{
  YoloFrameScore s;
  YoloDetection a = box (0, 0, 0, 10, 10);

  yolo_score_frame (NULL, 0, NULL, 0, &s);
  g_assert_cmpfloat (s.iou_accuracy, ==, 1.0);
  g_assert_cmpfloat (s.f1, ==, 1.0);

  /* A missed object and a false alarm both score 0. */
  yolo_score_frame (&a, 1, NULL, 0, &s);
  g_assert_cmpfloat (s.iou_accuracy, ==, 0.0);
  g_assert_cmpfloat (s.f1, ==, 0.0);
  yolo_score_frame (NULL, 0, &a, 1, &s);
  g_assert_cmpfloat (s.iou_accuracy, ==, 0.0);
  g_assert_cmpfloat (s.f1, ==, 0.0);
}

static void
test_greedy_same_class (void)
{
  /* Two references; predictions: one exact match, one shifted box of the
   * wrong class (never matched), one extra false alarm. */
  YoloDetection ref[] = { box (0, 0, 0, 10, 10), box (1, 100, 100, 10, 10) };
  YoloDetection pred[] = {
    box (0, 0, 0, 10, 10), /* IoU 1 with ref 0 */
    box (2, 100, 100, 10, 10), /* right place, wrong class */
    box (0, 5, 0, 10, 10), /* IoU 1/3 with ref 0, but ref 0 is taken */
  };
  YoloFrameScore s;

  yolo_score_frame (ref, 2, pred, 3, &s);
  /* sum of matched IoUs = 1.0, max(2, 3) = 3 */
  g_assert_cmpfloat_with_epsilon (s.iou_accuracy, 1.0 / 3.0, 1e-9);
  g_assert_cmpint (s.true_positives, ==, 1);
  /* F1 = 2TP / (#ref + #pred) = 2 / 5 */
  g_assert_cmpfloat_with_epsilon (s.f1, 0.4, 1e-9);
}

static void
test_greedy_prefers_best_pair (void)
{
  /* IoU(A,p1) = IoU(B,p0) = 90/110; IoU(B,p1) = 50/150; IoU(A,p0) = 30/170.
   * Greedy from the highest IoU must pair A-p1 and B-p0. */
  YoloDetection ref[] = { box (0, 0, 0, 10, 10), box (0, 6, 0, 10, 10) };
  YoloDetection pred[] = { box (0, 7, 0, 10, 10), box (0, 1, 0, 10, 10) };
  YoloFrameScore s;

  yolo_score_frame (ref, 2, pred, 2, &s);
  g_assert_cmpfloat_with_epsilon (s.iou_accuracy, 90.0 / 110.0, 1e-9);
  g_assert_cmpint (s.true_positives, ==, 2);
  g_assert_cmpfloat (s.f1, ==, 1.0);
}

static void
test_f1_threshold (void)
{
  /* IoU exactly 1/3 counts towards accuracy but is no true positive. */
  YoloDetection ref = box (0, 0, 0, 10, 10);
  YoloDetection pred = box (0, 5, 0, 10, 10);
  YoloFrameScore s;

  yolo_score_frame (&ref, 1, &pred, 1, &s);
  g_assert_cmpfloat_with_epsilon (s.iou_accuracy, 1.0 / 3.0, 1e-9);
  g_assert_cmpint (s.true_positives, ==, 0);
  g_assert_cmpfloat (s.f1, ==, 0.0);
}

static void
test_totals (void)
{
  YoloScoreTotals t = { 0 };
  YoloFrameScore a = { .iou_accuracy = 1.0,
    .true_positives = 2,
    .reference_count = 2,
    .predicted_count = 2,
    .f1 = 1.0 };
  YoloFrameScore b = { .iou_accuracy = 0.5,
    .true_positives = 0,
    .reference_count = 1,
    .predicted_count = 3,
    .f1 = 0.0 };

  g_assert_cmpfloat (yolo_score_totals_iou_accuracy (&t), ==, 1.0);
  yolo_score_totals_add (&t, &a);
  yolo_score_totals_add (&t, &b);
  g_assert_cmpint (t.frames, ==, 2);
  g_assert_cmpfloat_with_epsilon (yolo_score_totals_iou_accuracy (&t), 0.75,
      1e-9);
  /* 2 * 2 / (3 + 5) */
  g_assert_cmpfloat_with_epsilon (yolo_score_totals_f1 (&t), 0.5, 1e-9);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/iou", test_iou);
  g_test_add_func ("/metrics/empty-frames", test_empty_frames);
  g_test_add_func ("/metrics/greedy-same-class", test_greedy_same_class);
  g_test_add_func ("/metrics/greedy-prefers-best-pair",
      test_greedy_prefers_best_pair);
  g_test_add_func ("/metrics/f1-threshold", test_f1_threshold);
  g_test_add_func ("/metrics/totals", test_totals);
  return g_test_run ();
}
