/* The tracker: boxes carried between results, motion extrapolated, late
 * results ignored, vanished objects dropped. */
#include "metrics.h"
#include "tracker.h"

#include <glib.h>

#define W 768
#define H 576
#define FRAME_US 100000 /* 10 fps */

static YoloDetection
box (int class_id, float x, float y, float w, float h)
{
  YoloDetection d = { .class_id = class_id,
    .label = class_id == 0 ? "person" : "car",
    .confidence = 0.9f,
    .x = x,
    .y = y,
    .w = w,
    .h = h };
  return d;
}

static void
set_one (YoloDetections *dets, YoloDetection d)
{
  yolo_detections_clear (dets);
  yolo_detections_append (dets, &d);
}

/* A person walking 200 px/s to the right, detected every 5th frame: the
 * frames between get boxes moved along, far closer to the truth than the
 * last result held still. */
static void
test_carries_moving_box (void)
{
  YsTracker *t = ys_tracker_new (NULL);
  YoloDetections dets;
  double moved_iou = 0, held_iou = 0;
  int between = 0;

  yolo_detections_init (&dets);
  for (int f = 0; f < 32; f++) {
    int64_t now = (int64_t) f * FRAME_US;
    YoloDetection truth = box (0, 100 + 20.0f * f, 200, 40, 100);
    const YsTrackedBox *out;
    int n;

    if (f % 5 == 0) {
      set_one (&dets, truth);
      g_assert_true (ys_tracker_update (t, &dets, now, f));
    }
    out = ys_tracker_predict (t, now, W, H, &n);
    /* Never a frame without its box, and always the same track. */
    g_assert_cmpint (n, ==, 1);
    g_assert_cmpint (out[0].id, ==, 1);
    g_assert_cmpint (out[0].origin, ==, f - f % 5);
    g_assert_cmpint (out[0].seen_us, ==, (int64_t) (f - f % 5) * FRAME_US);
    if (f >= 10 && f % 5 != 0) {
      YoloDetection held = box (0, 100 + 20.0f * (f - f % 5), 200, 40, 100);
      moved_iou += yolo_box_iou (&out[0].box, &truth);
      held_iou += yolo_box_iou (&held, &truth);
      between++;
    }
  }
  moved_iou /= between;
  held_iou /= between;
  g_assert_cmpfloat (moved_iou, >, 0.9);
  g_assert_cmpfloat (held_iou, <, 0.7);
  yolo_detections_free (&dets);
  ys_tracker_free (t);
}

/* Boxes are clipped to the frame; one that leaves it is not given out. */
static void
test_clips_to_frame (void)
{
  YsTracker *t = ys_tracker_new (NULL);
  YoloDetections dets;
  const YsTrackedBox *out;
  int n;

  yolo_detections_init (&dets);
  set_one (&dets, box (0, 600, 100, 60, 100));
  ys_tracker_update (t, &dets, 0, 1);
  set_one (&dets, box (0, 650, 100, 60, 100));
  ys_tracker_update (t, &dets, FRAME_US, 2);
  out = ys_tracker_predict (t, 2 * FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpfloat (out[0].box.x + out[0].box.w, <=, W);
  out = ys_tracker_predict (t, 5 * FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 0);
  yolo_detections_free (&dets);
  ys_tracker_free (t);
}

/* A result older than the newest applied (the old path answering late
 * after a switch) changes nothing. */
static void
test_ignores_late_results (void)
{
  YsTracker *t = ys_tracker_new (NULL);
  YoloDetections dets;
  const YsTrackedBox *out;
  int n;

  yolo_detections_init (&dets);
  set_one (&dets, box (0, 100, 100, 50, 100));
  g_assert_true (ys_tracker_update (t, &dets, 10 * FRAME_US, 7));
  set_one (&dets, box (1, 400, 300, 80, 60));
  g_assert_false (ys_tracker_update (t, &dets, 8 * FRAME_US, 8));
  out = ys_tracker_predict (t, 11 * FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (out[0].origin, ==, 7);
  g_assert_cmpint (ys_tracker_newest_us (t), ==, 10 * FRAME_US);
  yolo_detections_free (&dets);
  ys_tracker_free (t);
}

/* Detectors flicker: one missed result keeps the track (saying how old its
 * box is); three in a row, or a second without any result, drop it. */
static void
test_misses_and_age (void)
{
  YsTracker *t = ys_tracker_new (NULL);
  YoloDetections dets, none;
  const YsTrackedBox *out;
  int n;

  yolo_detections_init (&dets);
  yolo_detections_init (&none);
  set_one (&dets, box (0, 100, 100, 50, 100));
  ys_tracker_update (t, &dets, 0, 1);
  ys_tracker_update (t, &none, FRAME_US, 2);
  out = ys_tracker_predict (t, FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (out[0].origin, ==, 1);
  g_assert_cmpint (out[0].seen_us, ==, 0);
  ys_tracker_update (t, &none, 2 * FRAME_US, 3);
  ys_tracker_update (t, &none, 3 * FRAME_US, 4);
  out = ys_tracker_predict (t, 3 * FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 0);

  /* No results at all: the box lives one second, then goes. */
  ys_tracker_reset (t);
  ys_tracker_update (t, &dets, 0, 1);
  out = ys_tracker_predict (t, 900000, W, H, &n);
  g_assert_cmpint (n, ==, 1);
  out = ys_tracker_predict (t, 1100000, W, H, &n);
  g_assert_cmpint (n, ==, 0);

  /* A different class at the same place is a different object. */
  ys_tracker_reset (t);
  ys_tracker_update (t, &dets, 0, 1);
  set_one (&dets, box (1, 100, 100, 50, 100));
  ys_tracker_update (t, &dets, FRAME_US, 2);
  out = ys_tracker_predict (t, FRAME_US, W, H, &n);
  g_assert_cmpint (n, ==, 2);
  g_assert_cmpint (out[0].id, !=, out[1].id);
  (void) out;
  yolo_detections_free (&dets);
  yolo_detections_free (&none);
  ys_tracker_free (t);
}

/* Two people crossing: matching by IoU on the moved boxes keeps each
 * identity through the crossing frames. */
static void
test_keeps_identities (void)
{
  YsTracker *t = ys_tracker_new (NULL);
  YoloDetections dets;
  int id_left = 0, id_right = 0;

  yolo_detections_init (&dets);
  for (int f = 0; f < 20; f++) {
    YoloDetection a = box (0, 100 + 15.0f * f, 200, 60, 120);
    YoloDetection b = box (0, 500 - 15.0f * f, 230, 60, 120);
    const YsTrackedBox *out;
    int n;
    yolo_detections_clear (&dets);
    yolo_detections_append (&dets, &a);
    yolo_detections_append (&dets, &b);
    ys_tracker_update (t, &dets, (int64_t) f * FRAME_US, f);
    out = ys_tracker_predict (t, (int64_t) f * FRAME_US, W, H, &n);
    g_assert_cmpint (n, ==, 2);
    for (int i = 0; i < n; i++) {
      double ia = yolo_box_iou (&out[i].box, &a);
      double ib = yolo_box_iou (&out[i].box, &b);
      if (f == 0) {
        if (ia > ib)
          id_left = out[i].id;
        else
          id_right = out[i].id;
      } else if (ia > 0.99 && ib < 0.5) {
        g_assert_cmpint (out[i].id, ==, id_left);
      } else if (ib > 0.99 && ia < 0.5) {
        g_assert_cmpint (out[i].id, ==, id_right);
      }
    }
  }
  g_assert_cmpint (id_left, !=, id_right);
  yolo_detections_free (&dets);
  ys_tracker_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tracker/carries-moving-box", test_carries_moving_box);
  g_test_add_func ("/tracker/clips-to-frame", test_clips_to_frame);
  g_test_add_func ("/tracker/ignores-late-results", test_ignores_late_results);
  g_test_add_func ("/tracker/misses-and-age", test_misses_and_age);
  g_test_add_func ("/tracker/keeps-identities", test_keeps_identities);
  return g_test_run ();
}
