/* The offload session against the real yoloswitch-edge, with an encoder
 * that holds frames back: libx264 with a 10-frame lookahead, set through
 * the session's encoder_options (no element property sets them yet).
 *
 * Nothing may leave before the encoder gives its first packet; then every
 * frame id must reach the server and be answered (a RESULT, or a DROP
 * "overload" when a newer frame took its place on the worker), the last
 * ones after ys_session_drain; the server must decode the whole stream
 * (no "decode-error"), and the slots left for the server's queue (4 by
 * default, below the encoder's delay) must not starve the frames the
 * encoder holds.  The server runs on a free loopback port and dies with
 * the test whatever happens. */
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "session.h"
#include "test_images.h"

#define DELAY_OPTIONS "x264-params=rc-lookahead=10"
#define DELAY_FRAMES 10
#define FRAMES 40
#define WIDTH 320
#define HEIGHT 240

static GPid server_pid;
static gchar *server_url;

/* Runs in the child: the server goes when the test goes, even on abort. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
server_start (void)
{
  const char *edge = g_getenv ("YOLOSWITCH_EDGE");
  gchar *argv[] = { (gchar *) edge, (gchar *) "--port", (gchar *) "0",
    (gchar *) "--model-dir", (gchar *) test_models_dir (), NULL };
  GError *error = NULL;
  gint out_fd;
  GIOChannel *ch;
  gchar *line = NULL;

  if (edge == NULL)
    g_error ("YOLOSWITCH_EDGE is not set");
  if (!g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
          die_with_parent, NULL, &server_pid, NULL, &out_fd, NULL, &error))
    g_error ("cannot start %s: %s", edge, error->message);
  ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  g_assert_cmpint (g_io_channel_read_line (ch, &line, NULL, NULL, NULL), ==,
      G_IO_STATUS_NORMAL);
  g_assert_true (g_str_has_prefix (line, "listening on ws://"));
  g_strstrip (line);
  server_url = g_strdup (strrchr (line, ' ') + 1);
  g_free (line);
  g_io_channel_unref (ch);
}

static void
server_stop (void)
{
  kill (server_pid, SIGTERM);
  waitpid (server_pid, NULL, 0);
  g_spawn_close_pid (server_pid);
  g_clear_pointer (&server_url, g_free);
}

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

static void
test_delayed_encoder (void)
{
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

  o.server = server_url;
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
  g_free (rgb);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  server_start ();
  g_test_add_func ("/session/delayed-encoder", test_delayed_encoder);
  ret = g_test_run ();
  server_stop ();
  return ret;
}
