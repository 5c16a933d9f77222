/* The offload session (offload/session.h) against the real
 * yoloswitch-edge, which each test starts on a free loopback port and
 * stops (or kills) itself; the server dies with the test whatever happens.
 * Every frame the session takes must end exactly once, as an analysis of
 * its own frame (stamp, tag, frame id), whatever happens to the server.
 *
 * Servers are paused with SIGSTOP where a test needs frames to be in
 * flight at a given moment, so no outcome depends on how fast the server
 * or the machine is; waits are bounded by PATIENCE_US, generously.
 *
 * Why this file is long: one suite per element or library, as the others;
 * each test is short and stands alone. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "edge_process.h"
#include "session.h"
#include "test_images.h"

#define DELAY_OPTIONS "x264-params=rc-lookahead=10"
#define DELAY_FRAMES 10
#define FRAMES 40
#define WIDTH 320
#define HEIGHT 240
#define PATIENCE_US (60 * G_USEC_PER_SEC)
#define LONG_BUDGET_MS 20000 /* no frame may end by its deadline */

/* A frame unlike its neighbours: a gradient that moves with n. */
static void
fill_frame (guint8 *rgb, int n)
{
  for (int y = 0; y < HEIGHT; y++)
    for (int x = 0; x < WIDTH; x++) {
      guint8 *px = rgb + ((gsize) y * WIDTH + x) * 3;
      px[0] = (guint8) (x + 4 * n);
      px[1] = (guint8) (y + 2 * n);
      px[2] = (guint8) ((x ^ y) + n);
    }
}

/* An encoder that holds frames back: libx264 with a 10-frame lookahead,
 * set through the session's encoder_options (no element property sets
 * them yet).  Nothing may leave before the encoder gives its first packet;
 * then every frame id must reach the server and be answered (a RESULT, or
 * a DROP "overload" when a newer frame took its place on the worker), the
 * last ones after ys_session_drain; the server must decode the whole
 * stream (no "decode-error"), and the slots left for the server's queue
 * (4 by default, below the encoder's delay) must not starve the frames
 * the encoder holds. */
static void
test_delayed_encoder (void)
{
  EdgeProcess srv = { 0 };
  YsSessionOptions o = { 0 };
  YsSession *s;
  YsSessionStats stats;
  YoloAnalysis out;
  gboolean seen[FRAMES] = { FALSE };
  gboolean last_ok = FALSE;
  guint8 *rgb = g_malloc ((gsize) WIDTH * HEIGHT * 3);
  YoloFrame f = { .format = YOLO_PIXEL_RGB, .width = WIDTH, .height = HEIGHT };
  uint32_t ids[FRAMES];
  const char *error = NULL;
  int results = 0, overload = 0;

  edge_process_start (&srv, 0);
  o.server = srv.url;
  o.client_name = "test-session-delay";
  o.codec = YS_CODEC_H264;
  o.encoder_options = DELAY_OPTIONS;
  o.fps = 30;
  o.max_in_flight = 2 * DELAY_FRAMES;
  o.latency_budget_ms = 20000; /* no frame may end by its deadline here */
  o.queue_results = TRUE; /* every frame's ending, as the edge path reads */
  s = ys_session_new (&o, &error);
  if (s == NULL)
    g_error ("ys_session_new: %s", error);
  g_assert_true (ys_session_wait_connected (s, 30000));

  f.planes[0] = rgb;
  f.strides[0] = WIDTH * 3;
  for (int i = 0; i < FRAMES; i++) {
    const char *reason = NULL;

    YoloFrameStamp stamp;

    fill_frame (rgb, i);
    yolo_frame_stamp_init (&stamp, (uint64_t) i, (uint64_t) i * 33333333,
        g_get_monotonic_time ());
    ids[i] = ys_session_submit (s, &f, &stamp, 100 + i, TRUE, &reason);
    if (ids[i] == 0)
      g_error ("frame %d not sent: %s", i, reason);
    if (i == DELAY_FRAMES / 2) {
      /* The encoder holds them all: nothing was given to the client. */
      ys_session_stats (s, &stats);
      g_assert_cmpuint (stats.frames_sent, ==, 0);
      g_assert_cmpint (stats.in_flight, ==, i + 1);
    }
    g_usleep (G_USEC_PER_SEC / 30);
  }
  ys_session_drain (s);

  /* Every frame ends exactly once, as an analysis of its own frame. */
  g_assert_true (ys_session_wait_idle (s, g_get_monotonic_time () + 60000000));
  yolo_analysis_init (&out);
  while (ys_session_take (s, &out)) {
    int i = (int) out.frame.sequence;
    g_assert_cmpint (i, >=, 0);
    g_assert_cmpint (i, <, FRAMES);
    g_assert_false (seen[i]);
    seen[i] = TRUE;
    g_assert_cmpuint (out.backend_id, ==, ids[i]);
    g_assert_cmpint (out.tag, ==, 100 + i);
    g_assert_cmpuint (out.frame.pts, ==, (uint64_t) i * 33333333);
    if (out.status == YOLO_ANALYSIS_OK) {
      g_assert_cmpint (out.width, ==, WIDTH);
      results++;
    } else {
      if (strcmp (out.reason, "overload") != 0)
        g_error ("frame %d (id %u) ended \"%s\"", i, ids[i], out.reason);
      overload++;
    }
    if (i == FRAMES - 1)
      last_ok = out.status == YOLO_ANALYSIS_OK;
  }
  for (int i = 0; i < FRAMES; i++)
    if (!seen[i])
      g_error ("frame %d (id %u) never ended", i, ids[i]);
  g_test_message ("%d frames answered, %d replaced by newer ones on the "
                  "server",
      results, overload);
  /* The server always infers the newest: the last frame, let out by the
   * drain. */
  g_assert_true (last_ok);
  g_assert_cmpint (results, >=, FRAMES / 4);
  ys_session_stats (s, &stats);
  g_assert_cmpuint (stats.frames_sent, ==, FRAMES);
  g_assert_cmpuint (stats.no_results, ==, (guint64) overload);
  g_assert_cmpint (stats.in_flight, ==, 0);

  yolo_analysis_clear (&out);
  ys_session_free (s);
  edge_process_stop (&srv);
  g_free (rgb);
}

/* ---- a stream of frames, each checked when it ends --------------------- */

#define MAX_STREAM 128
#define FRAME_NS 33333333ull

typedef struct {
  YsSession *s;
  guint8 *rgb;
  YoloFrame frame;
  int next; /* sequence of the next frame */
  uint32_t ids[MAX_STREAM]; /* 0: refused */
  int64_t arrival_us[MAX_STREAM];
  gboolean ended[MAX_STREAM];
  gboolean forgotten[MAX_STREAM]; /* must never end */
} Stream;

static void
stream_open (Stream *st, const char *url, int max_in_flight, int budget_ms)
{
  YsSessionOptions o = { 0 };
  const char *error = NULL;

  memset (st, 0, sizeof (*st));
  o.server = url;
  o.client_name = "test-session";
  o.codec = YS_CODEC_H264;
  o.fps = 30;
  o.max_in_flight = max_in_flight;
  o.latency_budget_ms = budget_ms;
  o.queue_results = TRUE; /* every frame's ending, as the edge path reads */
  st->s = ys_session_new (&o, &error);
  if (st->s == NULL)
    g_error ("ys_session_new: %s", error);
  st->rgb = g_malloc ((gsize) WIDTH * HEIGHT * 3);
  st->frame.format = YOLO_PIXEL_RGB;
  st->frame.width = WIDTH;
  st->frame.height = HEIGHT;
  st->frame.planes[0] = st->rgb;
  st->frame.strides[0] = WIDTH * 3;
}

static void
stream_close (Stream *st)
{
  ys_session_free (st->s);
  g_free (st->rgb);
}

/* Submits the next frame (tag 1000 + its sequence): its frame id, or 0
 * with *reason. */
static uint32_t
stream_submit (Stream *st, gboolean wait_for_slot, const char **reason)
{
  int i = st->next++;
  YoloFrameStamp stamp;

  g_assert_cmpint (i, <, MAX_STREAM);
  fill_frame (st->rgb, i);
  yolo_frame_stamp_init (&stamp, (uint64_t) i, (uint64_t) i * FRAME_NS,
      g_get_monotonic_time ());
  st->arrival_us[i] = stamp.arrival_us;
  st->ids[i] = ys_session_submit (st->s, &st->frame, &stamp, 1000 + i,
      wait_for_slot, reason);
  return st->ids[i];
}

static int
stream_submit_ok (Stream *st, gboolean wait_for_slot)
{
  const char *reason = NULL;

  if (stream_submit (st, wait_for_slot, &reason) == 0)
    g_error ("frame %d not sent: %s", st->next - 1, reason);
  return st->next - 1;
}

/* The next ending waiting, checked against the frame it names: its own
 * stamp, tag and frame id, and its first ending.  false when none. */
static gboolean
stream_take (Stream *st, YoloAnalysis *out)
{
  int i;

  if (!ys_session_take (st->s, out))
    return FALSE;
  i = (int) out->frame.sequence;
  g_assert_cmpint (i, >=, 0);
  g_assert_cmpint (i, <, st->next);
  if (st->ids[i] == 0)
    g_error ("frame %d was refused, yet it ended \"%s\"", i,
        out->status == YOLO_ANALYSIS_OK ? "ok" : out->reason);
  if (st->forgotten[i])
    g_error ("frame %d (id %u) was forgotten, yet it ended \"%s\"", i,
        st->ids[i], out->status == YOLO_ANALYSIS_OK ? "ok" : out->reason);
  if (st->ended[i])
    g_error ("frame %d (id %u) ended twice", i, st->ids[i]);
  st->ended[i] = TRUE;
  g_assert_cmpuint (out->backend_id, ==, st->ids[i]);
  g_assert_cmpint (out->tag, ==, 1000 + i);
  g_assert_cmpuint (out->frame.pts, ==, (uint64_t) i * FRAME_NS);
  g_assert_cmpint (out->frame.arrival_us, ==, st->arrival_us[i]);
  g_assert_cmpstr (out->source, ==, "edge");
  if (out->status == YOLO_ANALYSIS_OK) {
    g_assert_null (out->reason);
    g_assert_cmpint (out->width, ==, WIDTH);
    g_assert_cmpint (out->height, ==, HEIGHT);
    g_assert_cmpfloat (out->server_ms, >, 0);
  } else {
    g_assert_nonnull (out->reason);
    g_assert_cmpuint (out->detections.count, ==, 0);
  }
  return TRUE;
}

static const char *
ending (const YoloAnalysis *a)
{
  return a->status == YOLO_ANALYSIS_OK ? "ok" : a->reason;
}

/* Every frame submitted and not forgotten has ended. */
static void
stream_assert_all_ended (Stream *st)
{
  for (int i = 0; i < st->next; i++)
    if (st->ids[i] != 0 && !st->forgotten[i] && !st->ended[i])
      g_error ("frame %d (id %u) never ended", i, st->ids[i]);
}

static void
stream_wait_idle (Stream *st)
{
  g_assert_true (
      ys_session_wait_idle (st->s, g_get_monotonic_time () + PATIENCE_US));
}

/* Frames one after the other at 30 fps, each waiting for a slot, up to
 * their endings: each is answered or replaced on the server by a newer
 * one ("overload"), and the last one is answered. */
static void
stream_run (Stream *st, int frames)
{
  YoloAnalysis a;
  int first = st->next, results = 0;
  gboolean last_ok = FALSE;

  for (int i = 0; i < frames; i++) {
    stream_submit_ok (st, TRUE);
    g_usleep (G_USEC_PER_SEC / 30);
  }
  stream_wait_idle (st);
  yolo_analysis_init (&a);
  while (stream_take (st, &a)) {
    g_assert_cmpint ((int) a.frame.sequence, >=, first);
    if (a.status != YOLO_ANALYSIS_OK && strcmp (a.reason, "overload") != 0)
      g_error ("frame %d ended \"%s\"", (int) a.frame.sequence, a.reason);
    results += a.status == YOLO_ANALYSIS_OK;
    if ((int) a.frame.sequence == st->next - 1)
      last_ok = a.status == YOLO_ANALYSIS_OK;
  }
  yolo_analysis_clear (&a);
  stream_assert_all_ended (st);
  g_test_message ("%d of %d frames answered", results, frames);
  g_assert_true (last_ok);
}

/* Pops every notice: whether one contains `text`. */
static gboolean
notice_seen (YsSession *s, const char *text)
{
  gboolean seen = FALSE;
  bool warning;
  char *n;

  while ((n = ys_session_take_notice (s, &warning)) != NULL) {
    g_test_message ("notice: %s", n);
    seen |= strstr (n, text) != NULL;
    g_free (n);
  }
  return seen;
}

/* Until the session has the server again (after the first connection,
 * ys_session_wait_connected does not wait: its first attempt is done). */
static void
wait_reconnected (YsSession *s)
{
  int64_t until = g_get_monotonic_time () + PATIENCE_US;
  YsSessionStats stats;

  for (;;) {
    ys_session_stats (s, &stats);
    if (stats.connected)
      break;
    if (g_get_monotonic_time () > until)
      g_error ("the session did not reconnect");
    g_usleep (20000);
  }
  g_assert_true (ys_session_wait_connected (s, 0));
}

/* Until the server has answered `count` frames (RESULT or DROP) in all,
 * whether or not the session still waited for them. */
static void
wait_answered (YsSession *s, uint64_t count)
{
  int64_t until = g_get_monotonic_time () + PATIENCE_US;
  YsSessionStats stats;

  for (;;) {
    ys_session_stats (s, &stats);
    if (stats.results + stats.drops >= count)
      break;
    if (g_get_monotonic_time () > until)
      g_error ("the server answered %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
               " frames",
          stats.results + stats.drops, count);
    g_usleep (20000);
  }
}

static uint64_t
answered (YsSession *s)
{
  YsSessionStats stats;
  ys_session_stats (s, &stats);
  return stats.results + stats.drops;
}

/* ---- tests ------------------------------------------------------------------ */

/* The server killed with frames in flight: they end "disconnected", the
 * next submits are refused "disconnected" (and counted), nothing waits
 * for long; the server back on the same port, the session reconnects by
 * itself and frames are answered again. */
static void
test_server_killed (void)
{
  EdgeProcess srv = { 0 };
  Stream st;
  YsSessionStats stats;
  YoloAnalysis a;
  const char *reason = NULL;
  uint64_t refused_before;
  int port, first_lost;

  edge_process_start (&srv, 0);
  port = srv.port;
  stream_open (&st, srv.url, 4, LONG_BUDGET_MS);
  g_assert_true (ys_session_wait_connected (st.s, 30000));
  stream_run (&st, 5);

  /* Four frames out that cannot be answered, then the server dies. */
  edge_process_pause (&srv);
  first_lost = st.next;
  for (int i = 0; i < 4; i++)
    stream_submit_ok (&st, FALSE);
  ys_session_stats (st.s, &stats);
  g_assert_cmpint (stats.in_flight, ==, 4);
  edge_process_kill (&srv);
  stream_wait_idle (&st);
  yolo_analysis_init (&a);
  for (int i = 0; i < 4; i++) {
    g_assert_true (stream_take (&st, &a));
    g_assert_cmpint ((int) a.frame.sequence, ==, first_lost + i);
    g_assert_cmpstr (ending (&a), ==, "disconnected");
  }
  g_assert_false (stream_take (&st, &a));
  g_assert_true (notice_seen (st.s, "lost edge server"));

  /* Down: refused at once, waiting for a slot or not. */
  ys_session_stats (st.s, &stats);
  g_assert_false (stats.connected);
  refused_before = stats.no_results;
  g_assert_cmpuint (stream_submit (&st, TRUE, &reason), ==, 0);
  g_assert_cmpstr (reason, ==, "disconnected");
  g_assert_cmpuint (stream_submit (&st, FALSE, &reason), ==, 0);
  g_assert_cmpstr (reason, ==, "disconnected");
  ys_session_stats (st.s, &stats);
  g_assert_cmpuint (stats.no_results, ==, refused_before + 2);
  g_assert_cmpuint (stats.frames_submitted, ==, 9);
  g_assert_cmpint (stats.in_flight, ==, 0);
  g_assert_false (stream_take (&st, &a));
  yolo_analysis_clear (&a);

  /* Back on the same port. */
  edge_process_start (&srv, port);
  wait_reconnected (st.s);
  g_assert_true (notice_seen (st.s, "is back"));
  stream_run (&st, 10);

  stream_close (&st);
  edge_process_stop (&srv);
}

/* A 1 ms budget, which no server meets (encoding alone takes about that,
 * inference ten times more): every frame ends "deadline" (on our side, or
 * the server's DROP) or is replaced on the server by a newer one, none
 * ends "ok", twice or never. */
static void
test_budget_too_short (void)
{
  EdgeProcess srv = { 0 };
  Stream st;
  YsSessionStats stats;
  YoloAnalysis a;
  int deadline = 0, overload = 0;

  edge_process_start (&srv, 0);
  stream_open (&st, srv.url, 4, 1);
  g_assert_true (ys_session_wait_connected (st.s, 30000));
  for (int i = 0; i < 20; i++) {
    stream_submit_ok (&st, TRUE);
    g_usleep (G_USEC_PER_SEC / 30);
  }
  stream_wait_idle (&st);
  yolo_analysis_init (&a);
  while (stream_take (&st, &a)) {
    if (strcmp (ending (&a), "deadline") == 0)
      deadline++;
    else if (strcmp (ending (&a), "overload") == 0)
      overload++;
    else
      g_error ("frame %d (latency %.1f ms) ended \"%s\"",
          (int) a.frame.sequence, a.latency_ms, ending (&a));
    g_assert_cmpfloat (a.latency_ms, >=, 1);
  }
  yolo_analysis_clear (&a);
  stream_assert_all_ended (&st);
  g_test_message ("%d deadline, %d overload", deadline, overload);
  ys_session_stats (st.s, &stats);
  g_assert_cmpuint (stats.frames_submitted, ==, 20);
  g_assert_cmpuint (stats.no_results, ==, 20);
  g_assert_cmpint (stats.in_flight, ==, 0);

  stream_close (&st);
  edge_process_stop (&srv);
}

/* A RESULT that comes after the frame's deadline is not a result: the
 * frame ends "deadline", whenever its owner asks.  The server is paused
 * past the deadline, then answers. */
static void
test_late_result (void)
{
  const int budget_ms = 300;
  EdgeProcess srv = { 0 };
  Stream st;
  YoloAnalysis a;
  uint64_t before;
  int i;

  edge_process_start (&srv, 0);
  stream_open (&st, srv.url, 4, budget_ms);
  g_assert_true (ys_session_wait_connected (st.s, 30000));
  edge_process_pause (&srv);
  before = answered (st.s);
  i = stream_submit_ok (&st, FALSE);
  while (g_get_monotonic_time () < st.arrival_us[i] + budget_ms * 1000 + 50000)
    g_usleep (10000);
  edge_process_resume (&srv);
  wait_answered (st.s, before + 1);

  yolo_analysis_init (&a);
  g_assert_true (stream_take (&st, &a));
  g_assert_cmpint ((int) a.frame.sequence, ==, i);
  if (a.status == YOLO_ANALYSIS_OK)
    g_error ("frame %d answered %.0f ms after capture, beyond its %d ms "
             "budget, ended ok",
        i, a.latency_ms, budget_ms);
  g_assert_cmpstr (a.reason, ==, "deadline");
  g_assert_false (stream_take (&st, &a));
  yolo_analysis_clear (&a);

  stream_close (&st);
  edge_process_stop (&srv);
}

/* ys_session_forget_all: frames in flight get no ending, even once the
 * server answers them; the frames after it do. */
static void
test_forget_all (void)
{
  EdgeProcess srv = { 0 };
  Stream st;
  YsSessionStats stats;
  YoloAnalysis a;
  uint64_t before;
  int i;

  edge_process_start (&srv, 0);
  stream_open (&st, srv.url, 4, LONG_BUDGET_MS);
  g_assert_true (ys_session_wait_connected (st.s, 30000));
  edge_process_pause (&srv);
  before = answered (st.s);
  for (i = 0; i < 4; i++)
    stream_submit_ok (&st, FALSE);
  ys_session_forget_all (st.s);
  for (i = 0; i < 4; i++)
    st.forgotten[i] = TRUE;
  ys_session_stats (st.s, &stats);
  g_assert_cmpint (stats.in_flight, ==, 0);

  edge_process_resume (&srv);
  wait_answered (st.s, before + 4);
  yolo_analysis_init (&a);
  g_assert_false (stream_take (&st, &a));
  g_assert_false (ys_session_newest (st.s, &a));
  g_assert_true (ys_session_wait_idle (st.s, g_get_monotonic_time ()));

  i = stream_submit_ok (&st, TRUE);
  stream_wait_idle (&st);
  g_assert_true (stream_take (&st, &a));
  g_assert_cmpint ((int) a.frame.sequence, ==, i);
  g_assert_cmpstr (ending (&a), ==, "ok");
  g_assert_false (stream_take (&st, &a));
  g_assert_true (ys_session_newest (st.s, &a));
  g_assert_cmpint ((int) a.frame.sequence, ==, i);
  yolo_analysis_clear (&a);

  stream_close (&st);
  edge_process_stop (&srv);
}

/* Nothing listens: the first attempt fails, frames are refused
 * "disconnected" and counted, nothing is in flight. */
static void
test_not_connected (void)
{
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%d/", edge_unused_port ());
  Stream st;
  YsSessionStats stats;
  YoloAnalysis a;
  const char *reason = NULL;

  stream_open (&st, url, 4, LONG_BUDGET_MS);
  g_assert_false (ys_session_wait_connected (st.s, 30000));
  g_assert_true (notice_seen (st.s, "cannot reach edge server"));
  g_assert_cmpuint (stream_submit (&st, TRUE, &reason), ==, 0);
  g_assert_cmpstr (reason, ==, "disconnected");
  g_assert_cmpuint (stream_submit (&st, FALSE, &reason), ==, 0);
  g_assert_cmpstr (reason, ==, "disconnected");
  ys_session_stats (st.s, &stats);
  g_assert_false (stats.connected);
  g_assert_cmpuint (stats.no_results, ==, 2);
  g_assert_cmpuint (stats.frames_submitted, ==, 0);
  g_assert_cmpuint (stats.frames_sent, ==, 0);
  g_assert_cmpint (stats.in_flight, ==, 0);
  yolo_analysis_init (&a);
  g_assert_false (stream_take (&st, &a));
  yolo_analysis_clear (&a);
  g_assert_true (ys_session_wait_idle (st.s, g_get_monotonic_time ()));

  stream_close (&st);
  g_free (url);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session/delayed-encoder", test_delayed_encoder);
  g_test_add_func ("/session/server-killed", test_server_killed);
  g_test_add_func ("/session/budget-too-short", test_budget_too_short);
  g_test_add_func ("/session/late-result", test_late_result);
  g_test_add_func ("/session/forget-all", test_forget_all);
  g_test_add_func ("/session/not-connected", test_not_connected);
  return g_test_run ();
}
