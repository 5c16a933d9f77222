/* A split session (offload/session.h with YS_CODEC_TENSOR) against the
 * real yoloswitch-edge: the device's head of yolo-fastest-1.1-xl on
 * dog.jpg, packed by offload/split_codec.c, sent as split FRAMEs; the
 * server's tail must give the unsplit model's boxes, in the pixels of the
 * camera frame, and every frame must end exactly once, as "split".  A
 * server running another model is refused before a frame goes; a server
 * killed mid-stream ends every frame in flight; the client sends a form
 * of packet only on a connection whose HELLO listed it. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "edge_process.h"
#include "metrics.h"
#include "session.h"
#include "split_codec.h"
#include "split_zstd.h"
#include "test_images.h"

#define EDGE_MODEL "yolo-fastest-1.1-xl"
#define CUT 61
#define FRAMES 6
#define PATIENCE_US (120 * G_USEC_PER_SEC)

/* What the device makes once: the packet at CUT, and the unsplit model's
 * boxes to compare the server's with. */
typedef struct {
  guint8 *packet;
  gsize len;
  gsize packed_len; /* through zstd, as the session sends it to our server */
  int width, height;
  guint64 hash;
  YoloDetections full;
} Device;

static Device device;

static void
device_setup (void)
{
  YoloModelSpec spec = { 0 };
  YsSplitOptions o = { 8, TRUE, YS_SPLIT_RANGE_MINMAX, 0 };
  YoloInferOptions infer;
  YoloHandover head;
  YoloStatus status;
  TestImage *dog = test_image_load ("dog.jpg", 1.0, YOLO_PIXEL_RGB, 0);
  YoloModel *model;
  YoloInput *input;
  char error[512];

  spec.name = EDGE_MODEL;
  spec.model_dir = test_models_dir ();
  spec.threads = 1;
  model = yolo_model_open (&spec, &status);
  g_assert_nonnull (model);
  g_assert_true (yolo_model_hash (model, &device.hash, &status));
  o.model_hash = device.hash;
  input = yolo_input_new (model);
  yolo_infer_options_init (&infer);
  yolo_handover_init (&head);
  yolo_detections_init (&device.full);
  g_assert_true (yolo_input_fill (input, &dog->frame, FALSE, &status));
  g_assert_true (yolo_model_run (model, input, &infer, &device.full, &status));
  g_assert_true (yolo_model_run_layers (model, 0, CUT, input, NULL, NULL, &head,
      NULL, &status));
  if (!ys_split_encode (&head, &o, &device.packet, &device.len, error,
          sizeof error))
    g_error ("encode: %s", error);
  {
    guint8 *packed;
    g_assert_true (ys_split_zstd_pack (device.packet, device.len, &packed,
        &device.packed_len));
    free (packed);
  }
  device.width = dog->frame.width;
  device.height = dog->frame.height;
  yolo_handover_free (&head);
  yolo_input_free (input);
  yolo_model_close (model);
  test_image_free (dog);
}

static YsSession *
split_session (const char *url, guint64 hash)
{
  YsSessionOptions o = { 0 };
  const char *error = NULL;
  YsSession *s;

  o.server = url;
  o.client_name = "test-split";
  o.codec = YS_CODEC_TENSOR;
  o.model_hash = hash;
  o.max_in_flight = 4;
  o.latency_budget_ms = 60000; /* no frame may end by its deadline */
  o.queue_results = TRUE;
  s = ys_session_new (&o, &error);
  if (s == NULL)
    g_error ("ys_session_new: %s", error);
  return s;
}

static uint32_t
submit (YsSession *s, int i, const char **reason)
{
  YoloFrameStamp stamp;

  yolo_frame_stamp_init (&stamp, (uint64_t) i, (uint64_t) i * 1000,
      g_get_monotonic_time ());
  return ys_session_submit_packet (s, device.packet, device.len, device.width,
      device.height, 1.5, &stamp, 100 + i, TRUE, reason);
}

/* Every unsplit box at >= 0.5 has one of its class in a, IoU >= 0.9. */
static void
assert_unsplit_boxes (const YoloAnalysis *a)
{
  int checked = 0;

  for (size_t i = 0; i < device.full.count; i++) {
    const YoloDetection *want = &device.full.items[i];
    double best = 0;
    if (want->confidence < 0.5)
      continue;
    for (size_t k = 0; k < a->detections.count; k++)
      if (a->detections.items[k].class_id == want->class_id)
        best = MAX (best, yolo_box_iou (want, &a->detections.items[k]));
    if (best < 0.9)
      g_error ("class %d: best IoU %.3f against the unsplit model's box",
          want->class_id, best);
    checked++;
  }
  g_assert_cmpint (checked, >=, 3); /* dog, bicycle, car */
}

/* FRAMES split frames, each waiting for a slot: every one ends once, a
 * RESULT ("split", the camera frame's size, the server's model) with the
 * unsplit model's boxes; the bytes on the wire are the packets' through
 * zstd (the server's HELLO lists codec 17), fewer than the plain ones. */
static void
test_results_match_unsplit (void)
{
  EdgeProcess srv = { 0 };
  gboolean ended[FRAMES] = { FALSE };
  YsSessionStats stats;
  YoloAnalysis a;
  int taken = 0;
  YsSession *s;

  edge_process_start (&srv, 0);
  s = split_session (srv.url, device.hash);
  g_assert_true (ys_session_wait_connected (s, 60000));
  for (int i = 0; i < FRAMES; i++) {
    const char *reason = NULL;
    if (submit (s, i, &reason) == 0)
      g_error ("split frame %d not sent: %s", i, reason);
  }
  g_assert_true (
      ys_session_wait_idle (s, g_get_monotonic_time () + PATIENCE_US));
  yolo_analysis_init (&a);
  while (ys_session_take (s, &a)) {
    int i = (int) a.frame.sequence;
    g_assert_cmpint (i, >=, 0);
    g_assert_cmpint (i, <, FRAMES);
    g_assert_false (ended[i]);
    ended[i] = TRUE;
    taken++;
    g_assert_cmpstr (a.source, ==, "split");
    g_assert_cmpint (a.cut, ==, CUT);
    g_assert_cmpint (a.tag, ==, 100 + i);
    /* One worker, up to four in flight: a newer frame may take an older
     * one's place (latest frame wins); the rest are answered. */
    if (a.status != YOLO_ANALYSIS_OK) {
      g_assert_cmpstr (a.reason, ==, "overload");
      continue;
    }
    g_assert_cmpstr (a.model, ==, EDGE_MODEL);
    g_assert_cmpint (a.width, ==, device.width);
    g_assert_cmpint (a.height, ==, device.height);
    assert_unsplit_boxes (&a);
  }
  g_assert_cmpint (taken, ==, FRAMES);
  g_assert_true (ended[FRAMES - 1]);
  ys_session_stats (s, &stats);
  g_assert_cmpuint (stats.frames_sent, ==, FRAMES);
  g_assert_cmpuint (stats.bytes_sent, >=, FRAMES * device.packed_len);
  g_assert_cmpuint (stats.bytes_sent, <, FRAMES * device.len);
  g_assert_cmpstr (stats.encoder_name, ==, "split");
  g_assert_cmpuint (stats.results + stats.drops_overload, ==, FRAMES);
  g_assert_cmpuint (stats.results, >=, 1);
  yolo_analysis_clear (&a);
  ys_session_free (s);
  edge_process_stop (&srv);
}

/* Packets cut from another model would all be refused: the session
 * refuses the server instead (closed, retried), says why once, and sends
 * nothing. */
static void
test_other_model_refused (void)
{
  EdgeProcess srv = { 0 };
  gchar *notice = NULL;
  const char *reason = NULL;
  YsSessionStats stats;
  bool warning = false;
  gint64 until;
  YsSession *s;

  edge_process_start (&srv, 0);
  s = split_session (srv.url, device.hash ^ 1);
  until = g_get_monotonic_time () + PATIENCE_US;
  g_assert_false (ys_session_wait_connected (s, 3000));
  while (notice == NULL && g_get_monotonic_time () < until) {
    notice = ys_session_take_notice (s, &warning);
    if (notice == NULL)
      g_usleep (20000);
  }
  g_assert_nonnull (notice);
  g_assert_true (warning);
  g_assert_nonnull (strstr (notice, "cannot finish this device's split"));
  g_assert_nonnull (strstr (notice, "hash"));
  g_assert_cmpuint (submit (s, 0, &reason), ==, 0);
  g_assert_cmpstr (reason, ==, "disconnected");
  ys_session_stats (s, &stats);
  g_assert_cmpuint (stats.frames_sent, ==, 0);
  g_free (notice);
  ys_session_free (s);
  edge_process_stop (&srv);
}

/* The server killed with split frames in flight (paused first, so they
 * are): each ends once, "disconnected", and the session says so. */
static void
test_server_killed (void)
{
  EdgeProcess srv = { 0 };
  uint32_t ids[3];
  int ended = 0;
  YoloAnalysis a;
  YsSession *s;

  edge_process_start (&srv, 0);
  s = split_session (srv.url, device.hash);
  g_assert_true (ys_session_wait_connected (s, 60000));
  edge_process_pause (&srv);
  for (int i = 0; i < 3; i++) {
    const char *reason = NULL;
    ids[i] = submit (s, i, &reason);
    g_assert_cmpuint (ids[i], !=, 0);
  }
  edge_process_kill (&srv);
  g_assert_true (
      ys_session_wait_idle (s, g_get_monotonic_time () + PATIENCE_US));
  yolo_analysis_init (&a);
  while (ys_session_take (s, &a)) {
    g_assert_cmpuint (a.backend_id, ==, ids[ended]);
    g_assert_cmpint (a.status, ==, YOLO_ANALYSIS_MISSING);
    g_assert_cmpstr (a.reason, ==, "disconnected");
    g_assert_cmpstr (a.source, ==, "split");
    ended++;
  }
  g_assert_cmpint (ended, ==, 3);
  yolo_analysis_clear (&a);
  ys_session_free (s);
}

static char *
hello_taken (void *user, const YsHello *hello)
{
  (void) hello;
  g_atomic_int_set ((gint *) user, 1);
  return NULL;
}

/* ys_client_send_if_listed checks the connection's own HELLO: the real
 * server lists zstd split packets (17) and no codec 99. */
static void
test_client_sends_only_listed (void)
{
  YsClientCallbacks cb = { hello_taken, NULL, NULL, NULL };
  YsClientOptions o = { 0 };
  EdgeProcess srv = { 0 };
  const char *error = NULL;
  gint hello = 0;
  bool unlisted = false;
  YsMessage ping;
  YsClient *c;
  gint64 until;

  edge_process_start (&srv, 0);
  o.url = srv.url;
  o.codec = YS_CODEC_TENSOR;
  c = ys_client_new (&o, &cb, &hello, &error);
  g_assert_nonnull (c);
  memset (&ping, 0, sizeof (ping));
  ping.header.type = YS_MSG_PING;
  until = g_get_monotonic_time () + PATIENCE_US;
  while (!g_atomic_int_get (&hello) && g_get_monotonic_time () < until)
    g_usleep (10000);
  g_assert_true (g_atomic_int_get (&hello));
  g_assert_true (
      ys_client_send_if_listed (c, &ping, YS_CODEC_TENSOR_ZSTD, &unlisted));
  g_assert_false (unlisted);
  g_assert_false (ys_client_send_if_listed (c, &ping, 99, &unlisted));
  g_assert_true (unlisted);
  g_assert_true (ys_client_send (c, &ping));
  ys_client_free (c);
  edge_process_stop (&srv);
}

int
main (int argc, char **argv)
{
  int result;

  g_test_init (&argc, &argv, NULL);
  device_setup ();
  g_test_add_func ("/split-session/results-match-unsplit",
      test_results_match_unsplit);
  g_test_add_func ("/split-session/other-model-refused",
      test_other_model_refused);
  g_test_add_func ("/split-session/server-killed", test_server_killed);
  g_test_add_func ("/split-session/client-sends-only-listed",
      test_client_sends_only_listed);
  result = g_test_run ();
  g_free (device.packet);
  yolo_detections_free (&device.full);
  return result;
}
