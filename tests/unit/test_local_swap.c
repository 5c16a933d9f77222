/* The local worker's hot swap (pipeline/local_worker.h,
 * ys_local_worker_swap) with real models on frames of vtest.avi: while
 * frames flow in order, the new model loads on its own thread and takes
 * over between two frames; every frame gets one analysis with boxes; the
 * frames run before the take-over name the old model, those after it the
 * new one;
 * the callback comes once per swap, with the load time; a model that
 * cannot load leaves the old one running with the reason; a stress thread
 * swapping among three models while 300 frames flow loses no frame.
 * Waits are on events (callbacks, drains), bounded by PATIENCE_US only so
 * a hung worker does not hang the suite. */
#include "clock.h"
#include "local_worker.h"
#include "test_images.h"

#include <glib.h>
#include <string.h>

#define VTEST_FRAMES 20
#define VTEST_W 768
#define VTEST_H 576
#define FRAME_NS 100000000ull /* 10 fps */
#define PATIENCE_US (300 * G_USEC_PER_SEC)

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

/* What the swap callbacks told, in order. */
typedef struct {
  GMutex lock;
  GCond cond;
  int calls, ok;
  char last_model[256], last_previous[256], last_error[768];
  double last_load_ms;
  int last_width;
} Swaps;

static void
on_swapped (const YsModelSwap *swap, void *user)
{
  Swaps *s = user;
  g_mutex_lock (&s->lock);
  s->calls++;
  s->ok += swap->ok;
  g_strlcpy (s->last_model, swap->model, sizeof (s->last_model));
  g_strlcpy (s->last_previous, swap->previous, sizeof (s->last_previous));
  g_strlcpy (s->last_error, swap->error != NULL ? swap->error : "",
      sizeof (s->last_error));
  s->last_load_ms = swap->load_ms;
  s->last_width = swap->input_width;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
wait_calls (Swaps *s, int calls)
{
  int64_t until = g_get_monotonic_time () + PATIENCE_US;
  g_mutex_lock (&s->lock);
  while (s->calls < calls)
    if (!g_cond_wait_until (&s->cond, &s->lock, until))
      g_error ("only %d of %d swap callbacks came", s->calls, calls);
  g_mutex_unlock (&s->lock);
}

static YsLocalWorker *
worker_new (const char *model)
{
  YsLocalWorkerOptions o;
  YoloStatus status;
  YsLocalWorker *w;

  memset (&o, 0, sizeof (o));
  o.spec.name = model;
  o.spec.model_dir = test_models_dir ();
  o.spec.threads = 1;
  yolo_infer_options_init (&o.options);
  o.options.threshold = 0.3f;
  o.queue_depth = 2;
  w = ys_local_worker_new (&o, &status);
  if (w == NULL)
    g_error ("ys_local_worker_new: %s", status.message);
  return w;
}

static void
swap_to (YsLocalWorker *w, const char *model, int size, Swaps *s)
{
  YoloModelSpec spec;
  memset (&spec, 0, sizeof (spec));
  spec.name = model;
  spec.model_dir = test_models_dir ();
  spec.input_width = size;
  spec.input_height = size;
  ys_local_worker_swap (w, &spec, on_swapped, s);
}

static void
submit (YsLocalWorker *w, int i)
{
  YoloFrame f = vtest_frame (i);
  YoloFrameStamp st;
  const char *reason = NULL;

  yolo_frame_stamp_init (&st, (uint64_t) i, (uint64_t) i * FRAME_NS,
      yolo_now_us ());
  if (!ys_local_worker_submit (w, &f, &st, i, 0, 0, YS_SUBMIT_IN_ORDER,
          &reason))
    g_error ("frame %d refused: %s", i, reason);
}

/* Takes every analysis waiting; checks each is OK, in sequence from *next,
 * with boxes (vtest.avi has people in every frame), and counts them by
 * model into `by_model` (name -> count). */
static void
take_checked (YsLocalWorker *w, int *next, GHashTable *by_model)
{
  YoloAnalysis a;

  yolo_analysis_init (&a);
  while (ys_local_worker_take (w, &a)) {
    if (a.status != YOLO_ANALYSIS_OK)
      g_error ("frame %d: no result (%s)", (int) a.frame.sequence, a.reason);
    g_assert_cmpuint (a.frame.sequence, ==, (uint64_t) *next);
    if (a.detections.count == 0)
      g_error ("frame %d (%s): no boxes", *next, a.model);
    g_hash_table_insert (by_model, g_strdup (a.model),
        GINT_TO_POINTER (
            GPOINTER_TO_INT (g_hash_table_lookup (by_model, a.model)) + 1));
    (*next)++;
    yolo_analysis_clear (&a);
    yolo_analysis_init (&a);
  }
  yolo_analysis_clear (&a);
}

static int
count_of (GHashTable *by_model, const char *model)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (by_model, model));
}

/* One swap while frames flow: frames before it on the old model, after it
 * on the new one, none lost; the callback names both, with a load time and
 * the new size. */
static void
test_swap_takes_over (void)
{
  YsLocalWorker *w = worker_new ("yolo-fastest-1.1");
  GHashTable *by_model
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Swaps s = { 0 };
  int next = 0, i = 0;

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  for (; i < 10; i++)
    submit (w, i);
  swap_to (w, "yolo-fastest-1.1-xl", 256, &s);
  /* Frames keep coming until the new model took over, then ten more. */
  while (s.calls == 0 && i < 2000) {
    submit (w, i++);
    take_checked (w, &next, by_model);
  }
  wait_calls (&s, 1);
  for (int k = 0; k < 10; k++)
    submit (w, i++);
  g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
  take_checked (w, &next, by_model);
  g_assert_cmpint (next, ==, i);
  g_assert_cmpint (s.ok, ==, 1);
  g_assert_cmpstr (s.last_model, ==, "yolo-fastest-1.1-xl");
  g_assert_cmpstr (s.last_previous, ==, "yolo-fastest-1.1");
  g_assert_cmpfloat (s.last_load_ms, >, 0);
  g_assert_cmpint (s.last_width, ==, 256);
  /* The frames given before the swap ran on the old model, but for those
   * still waiting when the new one was loaded (at most the queue's 2):
   * they run on the new one, as they should. */
  g_assert_cmpint (count_of (by_model, "yolo-fastest-1.1"), >=, 10 - 2);
  g_assert_cmpint (count_of (by_model, "yolo-fastest-1.1-xl"), >=, 10);
  g_assert_cmpint (count_of (by_model, "yolo-fastest-1.1")
          + count_of (by_model, "yolo-fastest-1.1-xl"),
      ==, i);
  g_assert_cmpstr (ys_local_worker_model_name (w), ==, "yolo-fastest-1.1-xl");
  ys_local_worker_free (w);
  g_hash_table_unref (by_model);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
}

/* A model that cannot load: the callback says why, the old model keeps
 * running every frame. */
static void
test_swap_failure_keeps_old (void)
{
  YsLocalWorker *w = worker_new ("yolo-fastest-1.1");
  GHashTable *by_model
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Swaps s = { 0 };
  int next = 0;

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  swap_to (w, "no-such-model-here", 0, &s);
  wait_calls (&s, 1);
  for (int i = 0; i < 5; i++)
    submit (w, i);
  g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
  take_checked (w, &next, by_model);
  g_assert_cmpint (s.ok, ==, 0);
  g_assert_nonnull (strstr (s.last_error, "no-such-model-here"));
  g_assert_cmpstr (s.last_model, ==, "yolo-fastest-1.1");
  g_assert_cmpint (count_of (by_model, "yolo-fastest-1.1"), ==, 5);
  ys_local_worker_free (w);
  g_hash_table_unref (by_model);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
}

typedef struct {
  YsLocalWorker *w;
  Swaps *s;
  int swaps;
  volatile gint stop;
} Stress;

static const char *STRESS_MODELS[3]
    = { "yolo-fastest-1.1-xl", "yolo-fastest-1.1", "yolo-fastest-1.1_body" };

static gpointer
stress_main (gpointer data)
{
  static const int sizes[3] = { 256, 0, 320 };
  Stress *st = data;

  while (!g_atomic_int_get (&st->stop)) {
    int k = st->swaps % 3;
    swap_to (st->w, STRESS_MODELS[k], sizes[k], st->s);
    st->swaps++;
    g_usleep (20000);
  }
  return NULL;
}

/* Swaps every 20 ms among three models while 300 frames flow in order:
 * every frame one analysis, with boxes, on one of the models; a callback
 * for every swap (taken over or superseded); the last swap's model runs
 * the frame after it. */
static void
test_stress_swaps (void)
{
  YsLocalWorker *w = worker_new ("yolo-fastest-1.1");
  GHashTable *by_model
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Swaps s = { 0 };
  Stress st = { w, &s, 0, 0 };
  GThread *t;
  int next = 0, i;
  YoloAnalysis a;

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  t = g_thread_new ("swapper", stress_main, &st);
  for (i = 0; i < 300; i++) {
    submit (w, i);
    take_checked (w, &next, by_model);
  }
  g_atomic_int_set (&st.stop, 1);
  g_thread_join (t);
  g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
  take_checked (w, &next, by_model);
  g_assert_cmpint (next, ==, 300);
  g_assert_cmpint (count_of (by_model, "yolo-fastest-1.1")
          + count_of (by_model, "yolo-fastest-1.1-xl")
          + count_of (by_model, "yolo-fastest-1.1_body"),
      ==, 300);
  /* Frames until every swap answered (the newest takes over at a frame
   * once loaded), then one more: it runs on the newest. */
  for (i = 300; i < 2300; i++) {
    int calls;
    g_mutex_lock (&s.lock);
    calls = s.calls;
    g_mutex_unlock (&s.lock);
    if (calls == st.swaps)
      break;
    submit (w, i);
    g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
    take_checked (w, &next, by_model);
  }
  wait_calls (&s, st.swaps);
  g_assert_cmpint (s.ok, >=, 1);
  g_test_message ("%d swaps, %d took over", st.swaps, s.ok);
  submit (w, i);
  g_assert_true (ys_local_worker_drain (w, yolo_now_us () + PATIENCE_US));
  yolo_analysis_init (&a);
  g_assert_true (ys_local_worker_take (w, &a));
  g_assert_cmpint (a.status, ==, YOLO_ANALYSIS_OK);
  g_assert_cmpstr (a.model, ==, STRESS_MODELS[(st.swaps - 1) % 3]);
  yolo_analysis_clear (&a);
  ys_local_worker_free (w);
  g_hash_table_unref (by_model);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
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
  g_test_add_func ("/local-swap/takes-over", test_swap_takes_over);
  g_test_add_func ("/local-swap/failure-keeps-old",
      test_swap_failure_keeps_old);
  g_test_add_func ("/local-swap/stress", test_stress_swaps);
  ret = g_test_run ();
  g_free (vtest);
  return ret;
}
