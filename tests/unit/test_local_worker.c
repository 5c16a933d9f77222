/* The local worker (pipeline/local_worker.h) with the real yolo-fastest-1.1
 * on frames of vtest.avi and on dog.jpg: every frame it takes gets exactly
 * one analysis, of its own frame, with the boxes a direct
 * yolo_model_detect finds on it, or a reason ("replaced", "deadline",
 * "inference-failed"); flushed frames get none; the counters agree with
 * the analyses.
 *
 * A gate in on_ready (called on the worker thread after each analysis)
 * holds the worker between frames, so a queue builds up exactly where a
 * test wants it whatever the model's speed: outcomes never depend on how
 * loaded the machine is.  Waits are bounded by PATIENCE_US, generously.
 *
 * Why this file is long: one suite per element or library, as the others;
 * each test is short and stands alone. */
#include "clock.h"
#include "local_worker.h"
#include "metrics.h"
#include "test_images.h"

#include <glib.h>
#include <string.h>

#define MODEL "yolo-fastest-1.1"
#define VTEST_FRAMES 20
#define VTEST_W 768
#define VTEST_H 576
#define FRAME_NS 40000000ull /* 25 fps */
#define PATIENCE_US (120 * G_USEC_PER_SEC)
#define THRESHOLD 0.3f

static guint8 *vtest;

static YoloFrame
vtest_frame (int i)
{
  YoloFrame f
      = { .format = YOLO_PIXEL_RGB, .width = VTEST_W, .height = VTEST_H };

  f.planes[0] = vtest + (gsize) (i % VTEST_FRAMES) * VTEST_W * VTEST_H * 3;
  f.strides[0] = VTEST_W * 3;
  return f;
}

static YoloFrameStamp
stamp_of (int i)
{
  YoloFrameStamp s;
  yolo_frame_stamp_init (&s, (uint64_t) i, (uint64_t) i * FRAME_NS,
      yolo_now_us ());
  return s;
}

/* ---- the gate ------------------------------------------------------------ */

typedef struct {
  GMutex lock;
  GCond cond;
  GThread *test_thread; /* on_ready from here (a "replaced") never waits */
  int passes; /* on_ready calls on the worker allowed to return; -1: all */
  bool parked; /* the worker waits in on_ready */
  int calls;
} Gate;

/* Worker thread (and, for "replaced", the submitting thread). */
static void
gate_on_ready (void *user)
{
  Gate *g = user;

  g_mutex_lock (&g->lock);
  g->calls++;
  if (g_thread_self () != g->test_thread) {
    while (g->passes == 0) {
      g->parked = true;
      g_cond_broadcast (&g->cond);
      g_cond_wait (&g->cond, &g->lock);
    }
    g->parked = false;
    if (g->passes > 0)
      g->passes--;
  }
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

static void
gate_init (Gate *g, int passes)
{
  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
  g->test_thread = g_thread_self ();
  g->passes = passes;
  g->parked = false;
  g->calls = 0;
}

static void
gate_clear (Gate *g)
{
  g_mutex_clear (&g->lock);
  g_cond_clear (&g->cond);
}

static void
gate_allow (Gate *g, int passes)
{
  g_mutex_lock (&g->lock);
  g->passes = passes;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

/* Until the worker waits in on_ready, having finished a frame. */
static void
gate_wait_parked (Gate *g)
{
  int64_t until = g_get_monotonic_time () + PATIENCE_US;

  g_mutex_lock (&g->lock);
  while (!g->parked)
    if (!g_cond_wait_until (&g->cond, &g->lock, until))
      g_error ("the worker never finished a frame");
  g_mutex_unlock (&g->lock);
}

/* ---- the worker ------------------------------------------------------------ */

static YsLocalWorker *
worker_new (Gate *gate, int queue_depth, int budget_ms, float threshold)
{
  YsLocalWorkerOptions o;
  YoloStatus status;
  YsLocalWorker *w;

  memset (&o, 0, sizeof (o));
  o.spec.name = MODEL;
  o.spec.model_dir = test_models_dir ();
  yolo_infer_options_init (&o.options);
  o.options.threshold = threshold;
  o.queue_depth = queue_depth;
  o.latency_budget_ms = budget_ms;
  o.on_ready = gate != NULL ? gate_on_ready : NULL;
  o.user = gate;
  w = ys_local_worker_new (&o, &status);
  if (w == NULL)
    g_error ("ys_local_worker_new: %s", status.message);
  g_assert_cmpstr (ys_local_worker_model_name (w), ==, MODEL);
  return w;
}

static void
submit_ok (YsLocalWorker *w, const YoloFrame *f, int i, int tag, int width,
    int height, YsSubmitMode mode)
{
  YoloFrameStamp s = stamp_of (i);
  const char *reason = NULL;

  if (!ys_local_worker_submit (w, f, &s, tag, width, height, mode, &reason))
    g_error ("frame %d refused: %s", i, reason);
}

static void
drain (YsLocalWorker *w)
{
  g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
}

/* Every analysis waiting, in the order they are handed out. */
static GArray *
take_all (YsLocalWorker *w)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (YoloAnalysis));
  YoloAnalysis a;

  yolo_analysis_init (&a);
  while (ys_local_worker_take (w, &a)) {
    g_array_append_val (all, a);
    yolo_analysis_init (&a);
  }
  return all;
}

static void
analyses_free (GArray *all)
{
  for (guint i = 0; i < all->len; i++)
    yolo_analysis_clear (&g_array_index (all, YoloAnalysis, i));
  g_array_free (all, TRUE);
}

static const YoloAnalysis *
nth (GArray *all, guint i)
{
  return &g_array_index (all, YoloAnalysis, i);
}

static void
assert_missing (const YoloAnalysis *a, int sequence, const char *reason)
{
  g_assert_cmpuint (a->frame.sequence, ==, (uint64_t) sequence);
  g_assert_cmpint (a->status, ==, YOLO_ANALYSIS_MISSING);
  g_assert_cmpstr (a->reason, ==, reason);
  /* Not run: no inference time, no boxes, no network size. */
  g_assert_cmpfloat (a->infer_ms, ==, 0);
  g_assert_cmpuint (a->detections.count, ==, 0);
  g_assert_cmpint (a->width, ==, 0);
}

static void
assert_ok (const YoloAnalysis *a, int sequence)
{
  g_assert_cmpuint (a->frame.sequence, ==, (uint64_t) sequence);
  if (a->status != YOLO_ANALYSIS_OK)
    g_error ("frame %d: no result (%s)", sequence, a->reason);
  g_assert_null (a->reason);
  g_assert_cmpfloat (a->infer_ms, >, 0);
  g_assert_cmpint (a->width, >, 0);
}

/* The same boxes: as many, each with one of the same class at the same
 * place and confidence (the fast engine's sums may differ in the last
 * float bits from one run to the next). */
static void
assert_same_boxes (const YoloDetections *got, const YoloDetections *want,
    int frame)
{
  if (got->count != want->count)
    g_error ("frame %d: %zu boxes, %zu directly", frame, got->count,
        want->count);
  for (size_t i = 0; i < want->count; i++) {
    const YoloDetection *b = &want->items[i];
    gboolean found = FALSE;
    for (size_t k = 0; k < got->count && !found; k++) {
      const YoloDetection *a = &got->items[k];
      found = a->class_id == b->class_id && strcmp (a->label, b->label) == 0
          && yolo_box_iou (a, b) > 0.99
          && ABS (a->confidence - b->confidence) < 0.01;
    }
    if (!found)
      g_error ("frame %d: no %s %.2f at (%.0f,%.0f,%.0f,%.0f) found "
               "directly",
          frame, b->label, b->confidence, b->x, b->y, b->w, b->h);
  }
}

static void
assert_stats (YsLocalWorker *w, uint64_t submitted, uint64_t results,
    uint64_t missing, uint64_t replaced, uint64_t refused)
{
  YsPathStats st;

  ys_local_worker_stats (w, &st);
  g_assert_cmpuint (st.submitted, ==, submitted);
  g_assert_cmpuint (st.results, ==, results);
  g_assert_cmpuint (st.missing, ==, missing);
  g_assert_cmpuint (st.replaced, ==, replaced);
  g_assert_cmpuint (st.refused, ==, refused);
}

/* ---- tests ------------------------------------------------------------------- */

/* In order, through a queue of 2 (submits wait for room), at three
 * network sizes: each frame gets one analysis, in order, with its own
 * stamp, tag and size, and the boxes a direct run of the model at that
 * size finds on that frame. */
static void
test_in_order (void)
{
  static const int sizes[3][2] = { { 0, 0 }, { 256, 256 }, { 416, 416 } };
  static const int seen[3][2] = { { 320, 320 }, { 256, 256 }, { 416, 416 } };
  const int n = 9;
  YsLocalWorker *w = worker_new (NULL, 2, 0, THRESHOLD);
  YoloFrameStamp stamps[9];
  YoloModel *direct[3];
  YoloInferOptions options;
  GArray *all;
  size_t boxes = 0;

  for (int i = 0; i < n; i++) {
    YoloFrame f = vtest_frame (2 * i);
    const char *reason = NULL;
    stamps[i] = stamp_of (i);
    if (!ys_local_worker_submit (w, &f, &stamps[i], 100 + i, sizes[i % 3][0],
            sizes[i % 3][1], YS_SUBMIT_IN_ORDER, &reason))
      g_error ("frame %d refused: %s", i, reason);
  }
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, (guint) n);

  yolo_infer_options_init (&options);
  options.threshold = THRESHOLD;
  for (int k = 0; k < 3; k++) {
    YoloModelSpec spec = { .name = MODEL,
      .model_dir = test_models_dir (),
      .input_width = sizes[k][0],
      .input_height = sizes[k][1] };
    YoloStatus status;
    direct[k] = yolo_model_open (&spec, &status);
    if (direct[k] == NULL)
      g_error ("%s: %s", MODEL, status.message);
  }
  for (int i = 0; i < n; i++) {
    const YoloAnalysis *a = nth (all, (guint) i);
    YoloFrame f = vtest_frame (2 * i);
    YoloDetections want;
    YoloStatus status;

    assert_ok (a, i);
    g_assert_cmpuint (a->frame.pts, ==, stamps[i].pts);
    g_assert_cmpint (a->frame.time_us, ==, stamps[i].time_us);
    g_assert_cmpint (a->frame.arrival_us, ==, stamps[i].arrival_us);
    g_assert_cmpint (a->tag, ==, 100 + i);
    g_assert_cmpstr (a->source, ==, "local");
    g_assert_cmpstr (a->model, ==, MODEL);
    g_assert_cmpint (a->width, ==, seen[i % 3][0]);
    g_assert_cmpint (a->height, ==, seen[i % 3][1]);
    g_assert_cmpfloat (a->latency_ms, >=, a->infer_ms);
    yolo_detections_init (&want);
    if (!yolo_model_detect (direct[i % 3], &f, &options, &want, &status))
      g_error ("direct detect: %s", status.message);
    assert_same_boxes (&a->detections, &want, i);
    boxes += want.count;
    yolo_detections_free (&want);
  }
  g_test_message ("%zu boxes on %d frames", boxes, n);
  /* Pedestrians in every frame: equal counts of nothing would prove little. */
  g_assert_cmpuint (boxes, >=, (size_t) n);
  assert_stats (w, n, n, 0, 0, 0);
  g_assert_true (ys_local_worker_idle (w));

  analyses_free (all);
  for (int k = 0; k < 3; k++)
    yolo_model_close (direct[k]);
  ys_local_worker_free (w);
}

/* Newest, as fast as frames can be copied: each frame ends once, run or
 * "replaced", the ones run in the order given, the last one always run;
 * the counters agree with the analyses. */
static void
test_newest_accounted (void)
{
  const int n = 60;
  YsLocalWorker *w = worker_new (NULL, 0, 0, THRESHOLD);
  gboolean ended[60] = { FALSE };
  uint64_t ok = 0, replaced = 0;
  int last_run = -1;
  GArray *all;

  for (int i = 0; i < n; i++) {
    YoloFrame f = vtest_frame (i);
    submit_ok (w, &f, i, i, 0, 0, YS_SUBMIT_NEWEST);
  }
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, (guint) n);
  for (guint k = 0; k < all->len; k++) {
    const YoloAnalysis *a = nth (all, k);
    int i = (int) a->frame.sequence;

    g_assert_cmpint (i, >=, 0);
    g_assert_cmpint (i, <, n);
    g_assert_false (ended[i]);
    ended[i] = TRUE;
    g_assert_cmpint (a->tag, ==, i);
    if (a->status == YOLO_ANALYSIS_OK) {
      assert_ok (a, i);
      g_assert_cmpint (i, >, last_run);
      last_run = i;
      ok++;
    } else {
      assert_missing (a, i, "replaced");
      replaced++;
    }
  }
  g_test_message ("%" G_GUINT64_FORMAT " run, %" G_GUINT64_FORMAT " replaced",
      ok, replaced);
  g_assert_cmpint (last_run, ==, n - 1);
  assert_stats (w, n, ok, replaced, replaced, 0);
  analyses_free (all);
  ys_local_worker_free (w);
}

/* Newest while the model is held busy: each new frame replaces the one
 * waiting, so of frames 1..9 only 9 runs, and the replaced ones are
 * answered at once, in order. */
static void
test_newest_replaces (void)
{
  Gate gate;
  YsLocalWorker *w;
  YoloFrame f = vtest_frame (0);
  GArray *all;

  gate_init (&gate, 0);
  w = worker_new (&gate, 0, 0, THRESHOLD);
  submit_ok (w, &f, 0, 0, 0, 0, YS_SUBMIT_NEWEST);
  gate_wait_parked (&gate);
  for (int i = 1; i <= 9; i++) {
    f = vtest_frame (i);
    submit_ok (w, &f, i, i, 0, 0, YS_SUBMIT_NEWEST);
  }
  /* The replaced ones are ready before the model is free again. */
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 9);
  assert_ok (nth (all, 0), 0);
  for (int i = 1; i <= 8; i++) {
    assert_missing (nth (all, (guint) i), i, "replaced");
    g_assert_cmpint (nth (all, (guint) i)->tag, ==, i);
  }
  analyses_free (all);

  gate_allow (&gate, -1);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 1);
  assert_ok (nth (all, 0), 9);
  assert_stats (w, 10, 2, 8, 8, 0);
  analyses_free (all);
  ys_local_worker_free (w);
  /* on_ready once per analysis: 2 run, 8 replaced. */
  g_assert_cmpint (gate.calls, ==, 10);
  gate_clear (&gate);
}

/* In order with a 20 ms budget: frames queued behind a busy model past
 * their deadline are answered "deadline" without running, and a frame
 * that finds the queue full until its deadline is refused. */
static void
test_deadline (void)
{
  const int budget_ms = 20;
  Gate gate;
  YsLocalWorker *w;
  YoloFrame f = vtest_frame (0);
  YoloFrameStamp late;
  const char *reason = NULL;
  YsPathStats st;
  GArray *all;

  gate_init (&gate, 0);
  w = worker_new (&gate, 4, budget_ms, THRESHOLD);
  /* Newest frames have no deadline: this one runs, then the model is
   * held. */
  submit_ok (w, &f, 0, 0, 0, 0, YS_SUBMIT_NEWEST);
  gate_wait_parked (&gate);
  for (int i = 1; i <= 4; i++) {
    f = vtest_frame (i);
    submit_ok (w, &f, i, i, 0, 0, YS_SUBMIT_IN_ORDER);
  }
  /* The queue is full: waits its 20 ms, then gives up. */
  late = stamp_of (5);
  g_assert_false (ys_local_worker_submit (w, &f, &late, 5, 0, 0,
      YS_SUBMIT_IN_ORDER, &reason));
  g_assert_cmpstr (reason, ==, "in-flight-limit");
  g_assert_cmpint (yolo_now_us (), >=, late.arrival_us + budget_ms * 1000);

  gate_allow (&gate, -1);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 5);
  assert_ok (nth (all, 0), 0);
  for (int i = 1; i <= 4; i++) {
    const YoloAnalysis *a = nth (all, (guint) i);
    assert_missing (a, i, "deadline");
    g_assert_cmpint (a->tag, ==, i);
    g_assert_cmpfloat (a->latency_ms, >=, budget_ms);
  }
  assert_stats (w, 5, 1, 4, 0, 1);
  /* The last inference is still frame 0's. */
  ys_local_worker_stats (w, &st);
  g_assert_cmpfloat (st.infer_ms, ==, nth (all, 0)->infer_ms);
  analyses_free (all);
  ys_local_worker_free (w);
  gate_clear (&gate);
}

/* A flush forgets the analysis not yet taken, the frame running and the
 * frames waiting; the frames after it work. */
static void
test_flush (void)
{
  Gate gate;
  YsLocalWorker *w;
  YoloFrame f = vtest_frame (0);
  GArray *all;

  gate_init (&gate, 0);
  w = worker_new (&gate, 1, 0, THRESHOLD);
  submit_ok (w, &f, 0, 0, 0, 0, YS_SUBMIT_IN_ORDER); /* done, not taken */
  gate_wait_parked (&gate);
  f = vtest_frame (1);
  submit_ok (w, &f, 1, 1, 416, 416, YS_SUBMIT_IN_ORDER); /* waiting */
  /* Frame 0's on_ready returns and the model takes frame 1; frame 2's
   * submit waits for that, so frame 1 is running (or just done) when it
   * returns, and frame 2 waits. */
  gate_allow (&gate, 1);
  f = vtest_frame (2);
  submit_ok (w, &f, 2, 2, 0, 0, YS_SUBMIT_IN_ORDER);
  ys_local_worker_flush (w);
  gate_allow (&gate, -1);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 0);
  analyses_free (all);

  f = vtest_frame (3);
  submit_ok (w, &f, 3, 3, 0, 0, YS_SUBMIT_IN_ORDER);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 1);
  assert_ok (nth (all, 0), 3);
  g_assert_cmpint (nth (all, 0)->tag, ==, 3);
  analyses_free (all);
  ys_local_worker_free (w);
  gate_clear (&gate);
}

static int
count_at_least (const YoloDetections *d, float confidence)
{
  int n = 0;
  for (size_t i = 0; i < d->count; i++)
    n += d->items[i].confidence >= confidence;
  return n;
}

/* Thresholds apply to the frames submitted after set_options: a frame
 * already waiting keeps 0.2 (the same boxes as the one before it), the
 * next one at 0.99 gets fewer. */
static void
test_set_options (void)
{
  TestImage *img = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloInferOptions strict;
  Gate gate;
  YsLocalWorker *w;
  GArray *all;
  const YoloDetections *a, *b, *c;

  gate_init (&gate, 0);
  w = worker_new (&gate, 4, 0, 0.2f);
  submit_ok (w, &img->frame, 0, 0, 0, 0, YS_SUBMIT_IN_ORDER);
  gate_wait_parked (&gate);
  submit_ok (w, &img->frame, 1, 1, 0, 0, YS_SUBMIT_IN_ORDER);
  yolo_infer_options_init (&strict);
  strict.threshold = 0.99f;
  ys_local_worker_set_options (w, &strict);
  submit_ok (w, &img->frame, 2, 2, 0, 0, YS_SUBMIT_IN_ORDER);
  gate_allow (&gate, -1);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 3);
  for (int i = 0; i < 3; i++)
    assert_ok (nth (all, (guint) i), i);
  a = &nth (all, 0)->detections;
  b = &nth (all, 1)->detections;
  c = &nth (all, 2)->detections;
  g_test_message ("dog.jpg: %zu boxes at 0.2, %zu at 0.99", a->count, c->count);
  /* The four reference objects at least. */
  g_assert_cmpuint (a->count, >=, 4);
  g_assert_cmpint (count_at_least (a, 0.2f), ==, (int) a->count);
  assert_same_boxes (b, a, 1);
  g_assert_cmpuint (c->count, <, a->count);
  g_assert_cmpint (count_at_least (c, 0.99f), ==, (int) c->count);
  analyses_free (all);
  ys_local_worker_free (w);
  gate_clear (&gate);
  test_image_free (img);
}

typedef struct {
  YsLocalWorker *worker;
  YoloFrame frame;
  gint returned; /* atomic */
  bool taken;
  const char *reason;
} BlockedSubmit;

static gpointer
blocked_submit_main (gpointer data)
{
  BlockedSubmit *b = data;
  YoloFrameStamp s = stamp_of (2);

  b->taken = ys_local_worker_submit (b->worker, &b->frame, &s, 2, 0, 0,
      YS_SUBMIT_IN_ORDER, &b->reason);
  g_atomic_int_set (&b->returned, 1);
  return NULL;
}

/* An in-order submit waiting for room with no deadline returns
 * "interrupted" once interrupted; meanwhile drain returns at once; the
 * frames taken before still run. */
static void
test_interrupt (void)
{
  BlockedSubmit b = { 0 };
  Gate gate;
  YsLocalWorker *w;
  YoloFrame f = vtest_frame (0);
  GThread *thread;
  GArray *all;

  gate_init (&gate, 0);
  w = worker_new (&gate, 1, 0, THRESHOLD);
  submit_ok (w, &f, 0, 0, 0, 0, YS_SUBMIT_IN_ORDER);
  gate_wait_parked (&gate);
  f = vtest_frame (1);
  submit_ok (w, &f, 1, 1, 0, 0, YS_SUBMIT_IN_ORDER); /* the queue is full */

  b.worker = w;
  b.frame = vtest_frame (2);
  thread = g_thread_new ("blocked-submit", blocked_submit_main, &b);
  /* No deadline and no room: it must still be waiting however long this
   * takes. */
  g_usleep (200000);
  g_assert_cmpint (g_atomic_int_get (&b.returned), ==, 0);
  ys_local_worker_interrupt (w, true);
  g_thread_join (thread);
  g_assert_false (b.taken);
  g_assert_cmpstr (b.reason, ==, "interrupted");
  /* Frame 1 still waits: not idle, and drain does not wait for it. */
  g_assert_false (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));

  ys_local_worker_interrupt (w, false);
  gate_allow (&gate, -1);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 2);
  assert_ok (nth (all, 0), 0);
  assert_ok (nth (all, 1), 1);
  assert_stats (w, 2, 2, 0, 0, 1);
  analyses_free (all);
  ys_local_worker_free (w);
  gate_clear (&gate);
}

/* A size the model cannot take is one analysis too ("inference-failed")
 * and a notice naming the frame; the next frame at the cfg's size runs. */
static void
test_inference_failure (void)
{
  YsLocalWorker *w = worker_new (NULL, 0, 0, THRESHOLD);
  YoloFrame f = vtest_frame (0);
  bool warning = false;
  char *notice;
  GArray *all;

  submit_ok (w, &f, 0, 0, 300, 300, YS_SUBMIT_IN_ORDER);
  drain (w);
  submit_ok (w, &f, 1, 1, 0, 0, YS_SUBMIT_IN_ORDER);
  drain (w);
  all = take_all (w);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpint (nth (all, 0)->status, ==, YOLO_ANALYSIS_MISSING);
  g_assert_cmpstr (nth (all, 0)->reason, ==, "inference-failed");
  g_assert_cmpuint (nth (all, 0)->detections.count, ==, 0);
  assert_ok (nth (all, 1), 1);
  notice = ys_local_worker_take_notice (w, &warning);
  g_assert_nonnull (notice);
  g_test_message ("notice: %s", notice);
  g_assert_true (warning);
  g_assert_nonnull (strstr (notice, "768x576"));
  g_assert_nonnull (strstr (notice, "multiples of 32"));
  g_free (notice);
  g_assert_null (ys_local_worker_take_notice (w, &warning));
  assert_stats (w, 2, 1, 1, 0, 0);
  analyses_free (all);
  ys_local_worker_free (w);
}

/* A model that is not there fails the start, with a message naming it. */
static void
test_missing_model (void)
{
  YsLocalWorkerOptions o;
  YoloStatus status;

  memset (&o, 0, sizeof (o));
  o.spec.name = "no-such-model-here";
  o.spec.model_dir = test_models_dir ();
  yolo_infer_options_init (&o.options);
  g_assert_null (ys_local_worker_new (&o, &status));
  g_test_message ("%s", status.message);
  g_assert_cmpint (status.code, ==, YOLO_ERR_MODEL_NOT_FOUND);
  g_assert_nonnull (strstr (status.message, "no-such-model-here"));
}

int
main (int argc, char **argv)
{
  const char *frames = g_getenv ("YOLOSWITCH_VTEST_FRAMES");
  GError *error = NULL;
  gsize size = 0;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (frames == NULL
      || !g_file_get_contents (frames, (gchar **) &vtest, &size, &error))
    g_error ("set YOLOSWITCH_VTEST_FRAMES to the raw RGB frames made by the "
             "build (%s)",
        error ? error->message : "unset");
  g_assert_cmpuint (size, ==, (gsize) VTEST_FRAMES * VTEST_W * VTEST_H * 3);

  g_test_add_func ("/local-worker/in-order", test_in_order);
  g_test_add_func ("/local-worker/newest-accounted", test_newest_accounted);
  g_test_add_func ("/local-worker/newest-replaces", test_newest_replaces);
  g_test_add_func ("/local-worker/deadline", test_deadline);
  g_test_add_func ("/local-worker/flush", test_flush);
  g_test_add_func ("/local-worker/set-options", test_set_options);
  g_test_add_func ("/local-worker/interrupt", test_interrupt);
  g_test_add_func ("/local-worker/inference-failure", test_inference_failure);
  g_test_add_func ("/local-worker/missing-model", test_missing_model);
  ret = g_test_run ();
  g_free (vtest);
  return ret;
}
