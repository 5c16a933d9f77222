/* The switcher over in-process fake paths (fake_path.h): which frames go
 * where, which analysis each frame gets, sync delivery's own results and
 * deadlines, switching, stand-ins, labels and flushes.  A fake answers
 * with one box whose class id is the frame's sequence, so every assertion
 * says which frame a box came from. */
#include "clock.h"
#include "fake_path.h"
#include "switcher.h"

#include <glib.h>
#include <string.h>

#define W 640
#define H 480
#define FRAME_NS 100000000ull /* 10 fps */
/* Waits for the tick thread are bounded by this, generously: a loaded
 * machine changes how long they take, not whether they end. */
#define PATIENCE_US (20 * G_USEC_PER_SEC)

static uint8_t pixels[W * H * 3];

static YoloFrame
frame (void)
{
  YoloFrame f = { .format = YOLO_PIXEL_RGB, .width = W, .height = H };
  f.planes[0] = pixels;
  f.strides[0] = W * 3;
  return f;
}

static YoloFrameStamp
stamp (uint64_t i)
{
  YoloFrameStamp s;
  yolo_frame_stamp_init (&s, i, i * FRAME_NS, yolo_now_us ());
  return s;
}

static YsProfile *
profile_of (int count)
{
  YsProfile *p = g_new0 (YsProfile, 1);
  p->fps = 10;
  p->width = W;
  p->height = H;
  p->config_count = count;
  p->configs = g_new0 (YsProfileConfig, count);
  for (int i = 0; i < count; i++) {
    p->configs[i].model = g_strdup ("fake");
    p->configs[i].pareto = true;
  }
  return p;
}

/* One local configuration, or one edge configuration. */
static YsProfile *
single (YsPathKind kind)
{
  YsProfile *p = profile_of (1);
  p->configs[0].path = kind;
  p->configs[0].width = 320;
  p->configs[0].height = 320;
  p->configs[0].scale = kind == YS_PATH_EDGE ? 0.5 : 0;
  p->configs[0].bitrate = kind == YS_PATH_EDGE ? 400000 : 0;
  return p;
}

static void
fixed_options (YsSwitcherOptions *o, YsProfile *p)
{
  memset (o, 0, sizeof (*o));
  ys_targets_init (&o->targets);
  o->profile = p;
  o->fixed_config = 0;
}

/* Async without tracking: each frame gets the newest analysis as it is,
 * with the frame it came from; the inference interval skips frames. */
static void
test_fixed_newest (void)
{
  YsProfile *p = single (YS_PATH_LOCAL);
  FakePath *local = fake_path_new (YS_PATH_LOCAL);
  YsSwitcherOptions o;
  YsSwitcher *s;
  YoloFrame f = frame ();
  char *error = NULL;
  guint n;
  const FakeSubmit *subs;

  fake_path_set_auto_answer (local, TRUE);
  fixed_options (&o, p);
  o.paths[YS_PATH_LOCAL] = fake_path_base (local);
  s = ys_switcher_new (&o, &error);
  g_assert_nonnull (s);

  for (uint64_t i = 0; i < 6; i++) {
    YoloFrameStamp st = stamp (i);
    YsFrameBoxes b;
    ys_switcher_process (s, &f, &st, &b);
    g_assert_cmpint (b.sent_path, ==, YS_PATH_LOCAL);
    g_assert_false (b.moved);
    if (i == 0) {
      /* Nothing came yet: no boxes, and it says so. */
      g_assert_cmpint (b.count, ==, 0);
      g_assert_cmpint (b.newest, ==, -1);
    } else {
      const YoloAnalysis *a = ys_switcher_analysis (s, b.boxes[0].origin);
      /* The answer to the previous frame, a frame interval old. */
      g_assert_cmpint (b.count, ==, 1);
      g_assert_cmpint (b.boxes[0].box.class_id, ==, (int) i - 1);
      g_assert_cmpuint (a->frame.sequence, ==, i - 1);
      g_assert_cmpfloat (yolo_frame_stamp_age_ms (&a->frame, &st), ==, 100.0);
    }
  }
  subs = fake_path_submits (local, &n);
  g_assert_cmpuint (n, ==, 6);
  for (guint i = 0; i < n; i++) {
    g_assert_cmpuint (subs[i].sequence, ==, i);
    g_assert_cmpint (subs[i].mode, ==, YS_SUBMIT_NEWEST);
    g_assert_cmpint (subs[i].config_width, ==, 320);
  }

  /* Every third frame from now on (counted from the flush). */
  ys_switcher_flush (s);
  g_assert_cmpuint (fake_path_flushes (local), ==, 1);
  ys_switcher_set_interval (s, 3);
  for (uint64_t i = 0; i < 9; i++) {
    YoloFrameStamp st = stamp (100 + i);
    YsFrameBoxes b;
    ys_switcher_process (s, &f, &st, &b);
    if (i % 3 == 0) {
      g_assert_cmpint (b.sent_path, ==, YS_PATH_LOCAL);
    } else {
      g_assert_cmpint (b.sent_path, ==, -1);
      g_assert_cmpstr (b.not_sent, ==, "not-due");
      /* It carries the newest boxes, with their age. */
      g_assert_cmpint (b.count, ==, 1);
      g_assert_cmpint (b.boxes[0].box.class_id, ==, 100 + (int) (i - i % 3));
    }
  }
  g_assert_cmpuint (fake_path_submit_count (local), ==, 6 + 3);
  ys_switcher_free (s);
  ys_profile_free (p);
}

/* With tracking, a frame the local model takes waits (bounded) for its own
 * result, so it carries its own boxes, not the previous frame's. */
static void
test_local_frame_gets_its_own_boxes (void)
{
  YsProfile *p = single (YS_PATH_LOCAL);
  FakePath *local = fake_path_new (YS_PATH_LOCAL);
  YsSwitcherOptions o;
  YsSwitcher *s;
  YoloFrame f = frame ();
  char *error = NULL;

  fake_path_set_auto_answer (local, TRUE);
  fixed_options (&o, p);
  o.paths[YS_PATH_LOCAL] = fake_path_base (local);
  o.track = true;
  s = ys_switcher_new (&o, &error);
  g_assert_nonnull (s);
  for (uint64_t i = 0; i < 5; i++) {
    YoloFrameStamp st = stamp (i);
    YsFrameBoxes b;
    gboolean own_box = FALSE;
    ys_switcher_process (s, &f, &st, &b);
    g_assert_true (b.moved);
    g_assert_cmpuint (ys_switcher_analysis (s, b.newest)->frame.sequence, ==,
        i);
    /* (The fake's boxes change class every frame, so the tracker also
     * carries the previous ones for a few frames.) */
    for (int k = 0; k < b.count; k++)
      own_box |= b.boxes[k].box.class_id == (int) i
          && ys_switcher_analysis (s, b.boxes[k].origin)->frame.sequence == i;
    g_assert_true (own_box);
  }
  ys_switcher_free (s);
  ys_profile_free (p);
}

static const YoloAnalysis *
own (YsSwitcher *s, uint64_t sequence, int64_t wait_us)
{
  const YoloAnalysis *a = NULL;
  g_assert_true (
      ys_switcher_wait_own (s, sequence, yolo_now_us () + wait_us, &a));
  g_assert_nonnull (a);
  return a;
}

/* Sync: each frame gets its own analysis whatever order they come in; one
 * that never comes is a "deadline" record, and its late answer is not
 * given to any other frame. */
static void
test_sync_own_results (void)
{
  YsProfile *p = single (YS_PATH_EDGE);
  FakePath *edge = fake_path_new (YS_PATH_EDGE);
  YsSwitcherOptions o;
  YsSwitcher *s;
  YoloFrame f = frame ();
  char *error = NULL;
  const char *reason, *source;
  const YoloAnalysis *a;
  uint32_t id;

  fixed_options (&o, p);
  o.paths[YS_PATH_EDGE] = fake_path_base (edge);
  o.delivery = YS_DELIVER_SYNC;
  o.latency_budget_ms = 1000;
  s = ys_switcher_new (&o, &error);
  g_assert_nonnull (s);

  for (uint64_t i = 0; i < 5; i++) {
    YoloFrameStamp st = stamp (i);
    g_assert_true (ys_switcher_submit (s, &f, &st, &id, &source, &reason));
    g_assert_cmpuint (id, ==, i + 1);
    g_assert_cmpstr (source, ==, "edge");
  }
  g_assert_true (fake_path_answer (edge, 2, NULL));
  g_assert_true (fake_path_answer (edge, 0, NULL));
  g_assert_true (fake_path_answer (edge, 1, NULL));
  g_assert_true (fake_path_answer (edge, 4, "disconnected"));
  for (uint64_t i = 0; i < 3; i++) {
    a = own (s, i, PATIENCE_US);
    g_assert_cmpint (a->status, ==, YOLO_ANALYSIS_OK);
    g_assert_cmpuint (a->frame.sequence, ==, i);
    g_assert_cmpint (a->detections.items[0].class_id, ==, (int) i);
  }
  /* Frame 3 is never answered within its wait. */
  a = own (s, 3, 50000);
  g_assert_cmpint (a->status, ==, YOLO_ANALYSIS_MISSING);
  g_assert_cmpstr (a->reason, ==, "deadline");
  g_assert_cmpstr (a->source, ==, "edge");
  a = own (s, 4, PATIENCE_US);
  g_assert_cmpint (a->status, ==, YOLO_ANALYSIS_MISSING);
  g_assert_cmpstr (a->reason, ==, "disconnected");

  /* Frame 3's late answer finds nobody; frame 5 gets its own. */
  {
    YoloFrameStamp st = stamp (5);
    g_assert_true (ys_switcher_submit (s, &f, &st, &id, &source, &reason));
  }
  g_assert_true (fake_path_answer (edge, 3, NULL));
  g_assert_true (fake_path_answer (edge, 5, NULL));
  a = own (s, 5, PATIENCE_US);
  g_assert_cmpint (a->status, ==, YOLO_ANALYSIS_OK);
  g_assert_cmpint (a->detections.items[0].class_id, ==, 5);

  /* A refused frame: the path's reason, nothing to wait for. */
  fake_path_set_refusal (edge, "in-flight-limit");
  {
    YoloFrameStamp st = stamp (6);
    g_assert_false (ys_switcher_submit (s, &f, &st, &id, &source, &reason));
    g_assert_cmpstr (reason, ==, "in-flight-limit");
    g_assert_cmpstr (source, ==, "edge");
  }

  /* An interrupt (a flush) wakes a waiting frame at once. */
  fake_path_set_refusal (edge, NULL);
  {
    YoloFrameStamp st = stamp (7);
    g_assert_true (ys_switcher_submit (s, &f, &st, &id, &source, &reason));
  }
  ys_switcher_interrupt (s, true);
  g_assert_false (
      ys_switcher_wait_own (s, 7, yolo_now_us () + PATIENCE_US, &a));
  ys_switcher_interrupt (s, false);

  ys_switcher_free (s);
  ys_profile_free (p);
}

/* ---- switching ------------------------------------------------------------------ */

enum { CFG_LOCAL, CFG_EDGE };

static YsProfile *
two_paths (void)
{
  YsProfile *p = profile_of (2);
  YsProfileConfig *l = &p->configs[CFG_LOCAL], *e = &p->configs[CFG_EDGE];
  l->path = YS_PATH_LOCAL;
  l->width = l->height = 320;
  l->infer_ms = 10;
  l->iou_accuracy = 0.6;
  e->path = YS_PATH_EDGE;
  e->codec = g_strdup ("h264");
  e->scale = 0.5;
  e->width = 320;
  e->height = 240;
  e->bitrate = 400000;
  e->bytes_per_frame = 5000;
  e->infer_ms = 20;
  e->iou_accuracy = 0.95;
  return p;
}

typedef struct {
  GMutex lock;
  int decisions;
  YsPathKind path;
} Seen;

static void
on_decision (const YsSwitchEvent *ev, void *user)
{
  Seen *seen = user;
  g_mutex_lock (&seen->lock);
  seen->decisions++;
  seen->path = ev->decision.path;
  g_mutex_unlock (&seen->lock);
  g_test_message ("decision: %s", ev->decision.explanation);
}

/* Feeds frames (100 ms of stream time each, a few ms of real time) until
 * the stats say the path is `want`; false when patience runs out. */
static gboolean
run_until_path (YsSwitcher *s, uint64_t *next, YsPathKind want)
{
  YoloFrame f = frame ();
  int64_t until = yolo_now_us () + PATIENCE_US;
  YsSwitcherStats st;

  do {
    YoloFrameStamp fs = stamp ((*next)++);
    YsFrameBoxes b;
    ys_switcher_process (s, &f, &fs, &b);
    g_usleep (5000);
    ys_switcher_stats (s, &st);
  } while (st.decision.path != want && yolo_now_us () < until);
  return st.decision.path == want;
}

/* stand_in: as the element's stand-in property. */
static void
switches_stands_in_and_falls_back (gboolean stand_in)
{
  YsProfile *p = two_paths ();
  FakePath *local = fake_path_new (YS_PATH_LOCAL);
  FakePath *edge = fake_path_new (YS_PATH_EDGE);
  YsEstimates good = { .connected = true,
    .bandwidth_bps = 8e6,
    .rtt_ms = 20,
    .rtt_min_ms = 20,
    .path_rtt_ms = 20,
    .server_ms = 20,
    .local_infer_ms = 10,
    .local_infer_config = CFG_LOCAL };
  YsEstimates gone = good;
  YsSwitcherOptions o;
  YsSwitcher *s;
  YsSwitcherStats st;
  Seen seen = { 0 };
  char *error = NULL;
  uint64_t next = 0;
  guint n, local_before, edge_before;
  const FakeSubmit *subs;

  g_mutex_init (&seen.lock);
  fake_path_set_auto_answer (local, TRUE);
  fake_path_set_auto_answer (edge, TRUE);
  /* The small model's box is off by 6 px: IoU 0.54 against the edge's. */
  fake_path_set_box_x (local, 16);
  fake_path_set_estimates (local, &good);
  fake_path_set_estimates (edge, &good);
  memset (&o, 0, sizeof (o));
  ys_targets_init (&o.targets);
  o.targets.fps = 10;
  o.targets.max_latency_ms = 500;
  o.targets.iou = 0.9;
  o.profile = p;
  o.paths[YS_PATH_LOCAL] = fake_path_base (local);
  o.paths[YS_PATH_EDGE] = fake_path_base (edge);
  o.decide = true;
  o.track = true;
  o.label_interval_ms = 100;
  o.on_decision = on_decision;
  o.user = &seen;
  o.no_stand_in = !stand_in;
  s = ys_switcher_new (&o, &error);
  g_assert_nonnull (s);
  /* It starts where nothing needs proving. */
  ys_switcher_stats (s, &st);
  g_assert_cmpint (st.decision.path, ==, YS_PATH_LOCAL);

  /* A good link: probed, then taken; frames go out as the edge
   * configuration says. */
  g_assert_true (run_until_path (s, &next, YS_PATH_EDGE));
  for (int i = 0; i < 10; i++)
    g_assert_true (run_until_path (s, &next, YS_PATH_EDGE));
  subs = fake_path_submits (edge, &n);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpfloat (subs[n - 1].config_scale, ==, 0.5);
  g_assert_cmpint (subs[n - 1].config_bitrate, ==, 400000);
  g_assert_cmpint (subs[n - 1].tag, ==, CFG_EDGE);
  /* The local model still runs once in a while on an edge frame: labels. */
  ys_switcher_stats (s, &st);
  g_assert_cmpuint (st.labels, >, 0);
  g_assert_cmpuint (st.results[YS_PATH_EDGE], >, 0);

  /* The edge is full: the next frame stands in on the local model; or,
   * without stand-ins, is queued onto the edge all the same. */
  fake_path_set_readiness (edge, YS_PATH_BUSY);
  local_before = fake_path_submit_count (local);
  edge_before = fake_path_submit_count (edge);
  g_assert_true (run_until_path (s, &next, YS_PATH_EDGE));
  g_assert_true (run_until_path (s, &next, YS_PATH_EDGE));
  ys_switcher_stats (s, &st);
  if (stand_in) {
    g_assert_cmpuint (fake_path_submit_count (local), >, local_before);
    g_assert_cmpuint (st.stand_ins, >, 0);
  } else {
    g_assert_cmpuint (fake_path_submit_count (edge), >=, edge_before + 2);
    g_assert_cmpuint (st.stand_ins, ==, 0);
  }
  fake_path_set_readiness (edge, YS_PATH_READY);

  /* The server goes: back to the local model. */
  gone.connected = false;
  fake_path_set_estimates (edge, &gone);
  g_assert_true (run_until_path (s, &next, YS_PATH_LOCAL));
  /* A frame may stand in locally (the edge not usable) a tick before the
   * decision that falls back is reported: wait for that report. */
  for (int i = 0; i < 1000; i++) {
    gboolean reported;
    g_mutex_lock (&seen.lock);
    reported = seen.path == YS_PATH_LOCAL && seen.decisions >= 3;
    g_mutex_unlock (&seen.lock);
    if (reported)
      break;
    g_usleep (10000);
  }
  g_mutex_lock (&seen.lock);
  g_assert_cmpint (seen.decisions, >=, 3); /* start, step up, fallback */
  g_assert_cmpint (seen.path, ==, YS_PATH_LOCAL);
  g_mutex_unlock (&seen.lock);

  ys_switcher_free (s);
  ys_profile_free (p);
  g_mutex_clear (&seen.lock);
}

static void
test_switches_stands_in_and_falls_back (void)
{
  switches_stands_in_and_falls_back (TRUE);
}

static void
test_no_stand_in_queues_onto_the_link (void)
{
  switches_stands_in_and_falls_back (FALSE);
}

/* Without a path its configuration needs, the switcher refuses to start
 * with a sentence. */
static void
test_refuses_missing_path (void)
{
  YsProfile *p = single (YS_PATH_EDGE);
  YsSwitcherOptions o;
  char *error = NULL;

  fixed_options (&o, p);
  o.paths[YS_PATH_LOCAL] = fake_path_base (fake_path_new (YS_PATH_LOCAL));
  g_assert_null (ys_switcher_new (&o, &error));
  g_assert_nonnull (strstr (error, "edge"));
  g_free (error);
  ys_profile_free (p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/switcher/fixed-newest", test_fixed_newest);
  g_test_add_func ("/switcher/local-frame-own-boxes",
      test_local_frame_gets_its_own_boxes);
  g_test_add_func ("/switcher/sync-own-results", test_sync_own_results);
  g_test_add_func ("/switcher/switch-stand-in-fallback",
      test_switches_stands_in_and_falls_back);
  g_test_add_func ("/switcher/no-stand-in-queues",
      test_no_stand_in_queues_onto_the_link);
  g_test_add_func ("/switcher/refuses-missing-path", test_refuses_missing_path);
  return g_test_run ();
}
