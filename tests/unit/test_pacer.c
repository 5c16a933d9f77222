/* The pacer (pipeline/pacer.h): how many frames of a stream go to a paced
 * path each second, for paces that do and do not divide the stream's rate;
 * jitter loses no frame at an equal pace; a seek back and a long gap
 * restart the schedule without a burst. */
#include <glib.h>

#include "pacer.h"

/* Frames sent of `seconds` of a stream at stream_fps, paced at pace_fps,
 * each frame's time off by up to jitter_us (a fixed pattern). */
static int
sent_over (double stream_fps, double pace_fps, int seconds, int jitter_us)
{
  YsPacer p;
  int sent = 0;
  int frames = (int) (stream_fps * seconds);

  ys_pacer_init (&p, pace_fps);
  for (int i = 0; i < frames; i++) {
    int64_t t = (int64_t) (i * 1e6 / stream_fps)
        + (i % 3 == 1        ? jitter_us
                : i % 3 == 2 ? -jitter_us
                             : 0);
    if (ys_pacer_due (&p, t)) {
      ys_pacer_sent (&p, t);
      sent++;
    }
  }
  return sent;
}

/* Within one frame: the last second's last frame may go up to the early
 * share of a period before its place, inside the stream's end. */
#define assert_about(sent, expected)                                           \
  G_STMT_START                                                                 \
  {                                                                            \
    int sent_ = (sent);                                                        \
    g_assert_cmpint (sent_, >=, (expected));                                   \
    g_assert_cmpint (sent_, <=, (expected) + 1);                               \
  }                                                                            \
  G_STMT_END

static void
test_rates (void)
{
  /* 6 of 10, not every second frame (5/s) */
  assert_about (sent_over (10, 6, 60, 0), 360);
  /* 10 of 25, not every third (8.3/s) */
  assert_about (sent_over (25, 10, 60, 0), 600);
  assert_about (sent_over (30, 10, 60, 0), 600);
  assert_about (sent_over (120, 5, 60, 0), 300);
  assert_about (sent_over (30, 30, 60, 0), 1800);
  /* a pace above the stream's rate sends every frame */
  assert_about (sent_over (10, 30, 60, 0), 600);
  /* 0: no pacing */
  assert_about (sent_over (10, 0, 60, 0), 600);
}

/* Frame times 2 ms either side of their place: an equal pace still sends
 * every frame, a lower one still its rate. */
static void
test_jitter (void)
{
  assert_about (sent_over (30, 30, 60, 2000), 1800);
  assert_about (sent_over (10, 6, 60, 2000), 360);
}

/* A stream whose time goes back (a seek) gets its next frame sent at once,
 * and the pace from there. */
static void
test_seek_back (void)
{
  YsPacer p;

  ys_pacer_init (&p, 5);
  g_assert_true (ys_pacer_due (&p, 10000000));
  ys_pacer_sent (&p, 10000000);
  g_assert_false (ys_pacer_due (&p, 10100000));
  g_assert_true (ys_pacer_due (&p, 2000000));
  ys_pacer_sent (&p, 2000000);
  g_assert_false (ys_pacer_due (&p, 2100000));
  g_assert_true (ys_pacer_due (&p, 2200000));
  ys_pacer_reset (&p);
  g_assert_true (ys_pacer_due (&p, 2210000));
}

/* Frames not sent for a while (the path was busy): the first one after
 * goes, and then the pace, not a burst of the frames missed. */
static void
test_no_burst_after_gap (void)
{
  YsPacer p;
  int sent = 0;

  ys_pacer_init (&p, 10);
  ys_pacer_sent (&p, 0);
  /* 5 s later, a 30 frames/s stream for one second */
  for (int i = 0; i < 30; i++) {
    int64_t t = 5000000 + (int64_t) (i * 1e6 / 30);
    if (ys_pacer_due (&p, t)) {
      ys_pacer_sent (&p, t);
      sent++;
    }
  }
  g_assert_cmpint (sent, ==, 10);
}

/* 30 frames/s paced at 10, the path busy on frames 3 and 4 (frame 3 was
 * due): frame 5 goes late, and the next one a period after its place less
 * one stream frame at most, not back to back with it.  Over the second,
 * still 10 sent less the one lost. */
static void
test_short_stall_no_back_to_back (void)
{
  YsPacer p;
  int64_t last = INT64_MIN;
  int sent = 0;

  ys_pacer_init (&p, 10);
  ys_pacer_set_stream_rate (&p, 30);
  for (int i = 0; i < 30; i++) {
    int64_t t = (int64_t) (i * 1e6 / 30);
    if (i == 3 || i == 4 || !ys_pacer_due (&p, t))
      continue;
    if (last != INT64_MIN)
      g_assert_cmpint (t - last, >=, 66000);
    ys_pacer_sent (&p, t);
    last = t;
    sent++;
  }
  g_assert_cmpint (sent, >=, 9);
  g_assert_cmpint (sent, <=, 10);
}

/* The cap keeps the rate: a stream rate just above the pace still sends
 * the pace (24 of 25), with the stream's rate known. */
static void
test_cap_keeps_rate (void)
{
  YsPacer p;
  int sent = 0;

  ys_pacer_init (&p, 24);
  ys_pacer_set_stream_rate (&p, 25);
  for (int i = 0; i < 25 * 60; i++) {
    int64_t t = (int64_t) (i * 1e6 / 25);
    if (ys_pacer_due (&p, t)) {
      ys_pacer_sent (&p, t);
      sent++;
    }
  }
  assert_about (sent, 24 * 60);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pacer/rates", test_rates);
  g_test_add_func ("/pacer/jitter", test_jitter);
  g_test_add_func ("/pacer/seek-back", test_seek_back);
  g_test_add_func ("/pacer/no-burst-after-gap", test_no_burst_after_gap);
  g_test_add_func ("/pacer/short-stall-no-back-to-back",
      test_short_stall_no_back_to_back);
  g_test_add_func ("/pacer/cap-keeps-rate", test_cap_keeps_rate);
  return g_test_run ();
}
