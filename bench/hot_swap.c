/* Hot swap on live video (issue 16, docs/MODELS.md "Hot swap"): vtest.avi
 * at 30 frames/s through yolodetect mode=async to a clock-synced sink,
 * the model changed every --every seconds between two models, then the
 * same run without changes.  Counts frames in and out, frames without
 * boxes, and the largest wall-clock gap between two new results at the
 * sink (a result is new when its frame pts changes); the swaps' load
 * times from the yoloswitch-model messages.  One JSON line per run.
 *
 *   yoloswitch-hot-swap-bench --video V --model-dir D [--seconds 30]
 *       [--every 3] [--models a,b] [--fps 30]
 */
#include "detection_meta.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <stdio.h>
#include <string.h>

typedef struct {
  GstElement *pipeline, *detector;
  GMainLoop *loop;
  char **models;
  int next_model;
  gint frames_in; /* atomic: the streaming thread's */
  guint64 frames_out, without_boxes;
  GstClockTime last_result_pts;
  gint64 last_result_us, max_gap_us;
  guint64 results;
  int swaps, took_over;
  double load_ms_sum, load_ms_max;
  gboolean swapping;
} Run;

static GstPadProbeReturn
count_in (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  Run *r = user;
  (void) pad;
  (void) info;
  g_atomic_int_inc (&r->frames_in);
  return GST_PAD_PROBE_OK;
}

static GstFlowReturn
on_sample (GstAppSink *sink, gpointer user)
{
  Run *r = user;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf = gst_sample_get_buffer (sample);
  YsResultView res[4];
  guint n = ys_detection_meta_results (buf, res, 4);
  gint64 now = g_get_monotonic_time ();

  r->frames_out++;
  if (ys_detection_meta_count (buf) == 0)
    r->without_boxes++;
  for (guint i = 0; i < MIN (n, 4); i++) {
    if (g_strcmp0 (res[i].status, "ok") != 0
        || res[i].frame_pts == r->last_result_pts)
      continue;
    if (r->last_result_us != 0 && now - r->last_result_us > r->max_gap_us)
      r->max_gap_us = now - r->last_result_us;
    r->last_result_us = now;
    r->last_result_pts = res[i].frame_pts;
    r->results++;
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static gboolean
swap_model (gpointer user)
{
  Run *r = user;
  if (r->models[r->next_model] == NULL)
    r->next_model = 0;
  g_object_set (r->detector, "model", r->models[r->next_model++], NULL);
  r->swaps++;
  return G_SOURCE_CONTINUE;
}

static gboolean
stop_run (gpointer user)
{
  Run *r = user;
  gst_element_send_event (r->pipeline, gst_event_new_eos ());
  return G_SOURCE_REMOVE;
}

static gboolean
on_message (GstBus *bus, GstMessage *m, gpointer user)
{
  Run *r = user;
  (void) bus;
  switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_EOS: g_main_loop_quit (r->loop); break;
    case GST_MESSAGE_ERROR: {
      GError *e;
      gst_message_parse_error (m, &e, NULL);
      fprintf (stderr, "error: %s\n", e->message);
      g_error_free (e);
      g_main_loop_quit (r->loop);
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (m);
      gboolean ok = FALSE;
      double load_ms = 0;
      if (!gst_structure_has_name (s, "yoloswitch-model"))
        break;
      gst_structure_get_boolean (s, "ok", &ok);
      gst_structure_get_double (s, "load-ms", &load_ms);
      if (ok) {
        r->took_over++;
        r->load_ms_sum += load_ms;
        r->load_ms_max = MAX (r->load_ms_max, load_ms);
      }
      break;
    }
    default: break;
  }
  return TRUE;
}

static void
run_once (const char *video, const char *model_dir, char **models,
    double seconds, double every, int fps, gboolean swapping)
{
  Run r;
  char *desc = g_strdup_printf (
      "filesrc location=\"%s\" ! decodebin ! videoconvert ! videorate ! "
      "video/x-raw,format=BGRx,framerate=%d/1 ! identity name=in ! "
      "yolodetect name=det mode=async model=%s model-dir=\"%s\" threads=1 ! "
      "appsink name=out sync=true emit-signals=true",
      video, fps, models[0], model_dir);
  GError *error = NULL;
  GstElement *in, *out;
  GstPad *pad;
  GstBus *bus;
  guint swap_id = 0;

  memset (&r, 0, sizeof (r));
  r.models = models;
  r.next_model = 1;
  r.swapping = swapping;
  r.last_result_pts = GST_CLOCK_TIME_NONE;
  r.loop = g_main_loop_new (NULL, FALSE);
  r.pipeline = gst_parse_launch (desc, &error);
  if (r.pipeline == NULL) {
    fprintf (stderr, "pipeline: %s\n", error->message);
    exit (1);
  }
  r.detector = gst_bin_get_by_name (GST_BIN (r.pipeline), "det");
  in = gst_bin_get_by_name (GST_BIN (r.pipeline), "in");
  out = gst_bin_get_by_name (GST_BIN (r.pipeline), "out");
  pad = gst_element_get_static_pad (in, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_in, &r, NULL);
  gst_object_unref (pad);
  g_signal_connect (out, "new-sample", G_CALLBACK (on_sample), &r);
  bus = gst_element_get_bus (r.pipeline);
  gst_bus_add_watch (bus, on_message, &r);
  gst_element_set_state (r.pipeline, GST_STATE_PLAYING);
  if (swapping)
    swap_id = g_timeout_add ((guint) (every * 1000), swap_model, &r);
  g_timeout_add ((guint) (seconds * 1000), stop_run, &r);
  g_main_loop_run (r.loop);
  if (swap_id != 0)
    g_source_remove (swap_id);
  gst_element_set_state (r.pipeline, GST_STATE_NULL);
  printf ("{\"run\":\"%s\",\"seconds\":%.0f,\"fps\":%d,\"frames_in\":%d"
          ",\"frames_out\":%" G_GUINT64_FORMAT
          ",\"frames_without_boxes\":%" G_GUINT64_FORMAT
          ",\"results\":%" G_GUINT64_FORMAT
          ",\"max_result_gap_ms\":%.1f,\"swaps\":%d,\"took_over\":%d,"
          "\"load_ms_mean\":%.1f,\"load_ms_max\":%.1f}\n",
      swapping ? "swapping" : "baseline", seconds, fps,
      g_atomic_int_get (&r.frames_in), r.frames_out, r.without_boxes, r.results,
      r.max_gap_us / 1000.0, r.swaps, r.took_over,
      r.took_over > 0 ? r.load_ms_sum / r.took_over : 0, r.load_ms_max);
  fflush (stdout);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (in);
  gst_object_unref (out);
  gst_object_unref (r.detector);
  gst_object_unref (r.pipeline);
  g_main_loop_unref (r.loop);
  g_free (desc);
}

int
main (int argc, char **argv)
{
  char *video = NULL, *model_dir = NULL, *models = NULL;
  double seconds = 30, every = 3;
  int fps = 30;
  GOptionEntry entries[] = {
    { "video", 0, 0, G_OPTION_ARG_FILENAME, &video, "Video", "FILE" },
    { "model-dir", 0, 0, G_OPTION_ARG_FILENAME, &model_dir, "Models", "DIR" },
    { "models", 0, 0, G_OPTION_ARG_STRING, &models,
        "Models to alternate (default yolo-fastest-1.1,yolo-fastest-1.1-xl)",
        "A,B" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Per run (30)", "S" },
    { "every", 0, 0, G_OPTION_ARG_DOUBLE, &every, "Between changes (3)", "S" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &fps, "Frame rate (30)", "N" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new ("- hot swap on live video");
  GError *error = NULL;
  char **list;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || video == NULL
      || model_dir == NULL) {
    fprintf (stderr, "%s\n",
        error != NULL ? error->message : "give --video and --model-dir");
    return 2;
  }
  list = g_strsplit (models != NULL ? models
                                    : "yolo-fastest-1.1,yolo-fastest-1.1-xl",
      ",", -1);
  run_once (video, model_dir, list, seconds, every, fps, TRUE);
  run_once (video, model_dir, list, seconds, every, fps, FALSE);
  g_strfreev (list);
  g_option_context_free (ctx);
  return 0;
}
