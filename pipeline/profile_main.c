/* yoloswitch-profile: measures every configuration of the switcher's ladder
 * on a video and writes a profile (docs/PROFILE.md).
 *
 * Reference: the edge model on the raw frames.  Local configurations: each
 * local model at each network input size, on the raw frames.  Edge
 * configurations: each codec x scale x bit rate, every frame encoded and
 * decoded in order as a live stream would be, the edge model run on the
 * decoded frames, boxes mapped back to the video's pixels.  Split
 * configurations (profile_split.c): each candidate cut of the edge model
 * x bit depth, on the raw frames.  Every
 * configuration is scored on the same frames against the reference
 * (yolo/metrics.h: IoU accuracy, F1 at IoU 0.5).
 *
 * Why this file is long: it is a command-line tool end to end (options,
 * the ladder, measuring each rung, the table, the plot); each part is
 * short and used only here. */
#include "cpus.h"
#include "decoder.h"
#include "encoder.h"
#include "metrics.h"
#include "profile.h"
#include "profile_report.h"
#include "profile_split.h"
#include "split_head.h"
#include "video_reader.h"
#include "yolo.h"

#include <libavutil/log.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *video, *out, *plot, *model_dir;
  char *edge_model;
  char **local_models;
  int *local_sizes, n_local_sizes;
  char **codecs;
  double *scales;
  int n_scales;
  gint64 *bitrates;
  int n_bitrates;
  int max_frames, every, threads;
  int *split_bits, n_split_bits; /* n 0: no split rungs */
} Options;

typedef struct {
  uint8_t *data; /* I420, packed planes */
  YoloFrame frame;
} StoredFrame;

/* ---- small helpers ---------------------------------------------------------- */

static void
progress (int done, int total, const char *what)
{
  static const int width = 30;
  int filled = total > 0 ? done * width / total : width;
  if (!isatty (STDERR_FILENO))
    return;
  fprintf (stderr, "\r[");
  for (int i = 0; i < width; i++)
    fputc (i < filled ? '#' : '.', stderr);
  fprintf (stderr, "] %d/%d %-44.44s", done, total, what);
  if (done == total)
    fputc ('\n', stderr);
  fflush (stderr);
}

static YoloModel *
open_model (const Options *o, const char *name, int size, GError **error)
{
  YoloModelSpec spec = { .name = name,
    .model_dir = o->model_dir,
    .threads = o->threads,
    .input_width = size,
    .input_height = size };
  YoloStatus status;
  YoloModel *m = yolo_model_open (&spec, &status);
  if (m == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
        status.message);
  return m;
}

/* Detections in video pixels from a frame of (w, h): scaled by video/w. */
static void
scale_boxes (YoloDetections *d, double sx, double sy)
{
  for (size_t i = 0; i < d->count; i++) {
    d->items[i].x *= sx;
    d->items[i].w *= sx;
    d->items[i].y *= sy;
    d->items[i].h *= sy;
  }
}

/* ---- the measurements -------------------------------------------------------- */

typedef struct {
  const Options *o;
  StoredFrame *frames;
  int n_frames;
  int width, height;
  double fps;
  YoloModel *reference_model; /* open to the end: labels belong to it */
  YoloDetections *reference; /* per frame, scored frames only */
  YoloInferOptions infer;
} Job;

static bool
scored (const Job *job, int i)
{
  return i % job->o->every == 0;
}

static bool
measure_reference (Job *job, GError **error)
{
  YoloStatus status;
  job->reference_model = open_model (job->o, job->o->edge_model, 0, error);
  if (job->reference_model == NULL)
    return false;
  job->reference = g_new0 (YoloDetections, job->n_frames);
  for (int i = 0; i < job->n_frames; i++) {
    yolo_detections_init (&job->reference[i]);
    if (scored (job, i)
        && !yolo_model_detect (job->reference_model, &job->frames[i].frame,
            &job->infer, &job->reference[i], &status)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
          status.message);
      return false;
    }
  }
  return true;
}

static void
score (const Job *job, int i, const YoloDetections *d, YoloScoreTotals *t)
{
  YoloFrameScore s;
  yolo_score_frame (job->reference[i].items, job->reference[i].count, d->items,
      d->count, &s);
  yolo_score_totals_add (t, &s);
}

static bool
measure_local (Job *job, const char *model_name, int size, YsProfileConfig *c,
    GError **error)
{
  YoloModel *m = open_model (job->o, model_name, size, error);
  YoloDetections d;
  YoloScoreTotals totals = { 0 };
  double *times = g_new (double, job->n_frames);
  int n = 0;
  YoloStatus status;
  bool ok = m != NULL;

  yolo_detections_init (&d);
  for (int i = 0; ok && i < job->n_frames; i++) {
    if (!scored (job, i))
      continue;
    ok = yolo_model_detect (m, &job->frames[i].frame, &job->infer, &d, &status);
    if (!ok)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
          status.message);
    else {
      times[n++] = d.infer_ms;
      score (job, i, &d, &totals);
    }
  }
  if (ok) {
    c->path = YS_PATH_LOCAL;
    c->model = g_strdup (model_name);
    c->width = yolo_model_input_width (m);
    c->height = yolo_model_input_height (m);
    c->infer_ms = yolo_median (times, n);
    c->iou_accuracy = yolo_score_totals_iou_accuracy (&totals);
    c->f1 = yolo_score_totals_f1 (&totals);
  }
  yolo_detections_free (&d);
  g_free (times);
  yolo_model_close (m);
  return ok;
}

static bool
measure_edge (Job *job, const char *codec_name, double scale, gint64 bitrate,
    YsProfileConfig *c, GError **error)
{
  YsCodec codec
      = strcmp (codec_name, "mjpeg") == 0 ? YS_CODEC_MJPEG : YS_CODEC_H264;
  YsEncoderOptions eo = { .codec = codec,
    .fps = (int) lround (job->fps),
    .gop = YS_KEYFRAME_INTERVAL_S * (int) lround (job->fps) };
  const char *err = NULL;
  YsEncoder *enc = ys_encoder_new (&eo, &err);
  YsDecoder *dec = ys_decoder_new (codec, &err);
  YsPicture pic = { 0 };
  YoloDetections d;
  YoloScoreTotals totals = { 0 };
  double *times = g_new (double, job->n_frames);
  double bytes = 0, encode_ms = 0, decode_ms = 0;
  int n = 0, w = 0, h = 0;
  YoloStatus status;
  bool ok = enc != NULL && dec != NULL;

  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", codec_name,
        err);
  yolo_detections_init (&d);
  if (ok) {
    ys_encoder_set_size (enc, (int) lround (job->width * scale),
        (int) lround (job->height * scale));
    ys_encoder_set_bitrate (enc, bitrate);
  }
  /* One pass more than there are frames, to drain the encoder: packets
   * come out in frame order, each tagged with its frame's index. */
  for (int i = 0; ok && i <= job->n_frames; i++) {
    YsPacket packet;
    int got;

    if (i == job->n_frames) {
      ys_encoder_drain (enc);
    } else if (!ys_encoder_send (enc, &job->frames[i].frame, (uint64_t) i,
                   &err)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "encoding frame %d: %s", i, err);
      ok = false;
      break;
    }
    while ((got = ys_encoder_receive (enc, &packet, &err)) > 0) {
      int k = (int) packet.tag;
      bool want = scored (job, k);
      double t;
      YsDecodeResult r;

      bytes += packet.size;
      encode_ms += packet.encode_ms;
      w = packet.width;
      h = packet.height;
      t = yolo_now_ms ();
      r = ys_decoder_decode (dec, packet.data, packet.size, want, &pic, &err);
      decode_ms += yolo_now_ms () - t;
      if (!want)
        continue;
      if (r != YS_DECODE_PICTURE) {
        /* Cannot happen on our own stream; scored as "nothing found". */
        yolo_detections_clear (&d);
      } else {
        YoloFrame f = { .format = YOLO_PIXEL_RGB,
          .width = pic.width,
          .height = pic.height,
          .planes = { pic.rgb },
          .strides = { pic.width * 3 } };
        if (!yolo_model_detect (job->reference_model, &f, &job->infer, &d,
                &status)) {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
              status.message);
          ok = false;
          break;
        }
        times[n++] = d.infer_ms;
        scale_boxes (&d, (double) job->width / pic.width,
            (double) job->height / pic.height);
      }
      score (job, k, &d, &totals);
    }
    if (ok && got < 0) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "encoding frame %d: %s", i, err);
      ok = false;
    }
  }
  if (ok) {
    c->path = YS_PATH_EDGE;
    c->model = g_strdup (job->o->edge_model);
    c->codec = g_strdup (codec_name);
    c->scale = scale;
    c->width = w;
    c->height = h;
    c->bitrate = bitrate;
    c->bytes_per_frame = bytes / job->n_frames;
    c->encode_ms = encode_ms / job->n_frames;
    c->decode_ms = decode_ms / job->n_frames;
    c->infer_ms = yolo_median (times, n);
    c->iou_accuracy = yolo_score_totals_iou_accuracy (&totals);
    c->f1 = yolo_score_totals_f1 (&totals);
  }
  free (pic.rgb);
  yolo_detections_free (&d);
  g_free (times);
  ys_encoder_free (enc);
  ys_decoder_free (dec);
  return ok;
}

/* ---- input, output ------------------------------------------------------------ */

static bool
read_frames (Job *job, GError **error)
{
  YsVideoReader *r = ys_video_reader_open (job->o->video, error);
  YoloFrame f;
  int cap = 64;

  if (r == NULL)
    return false;
  job->width = ys_video_reader_width (r);
  job->height = ys_video_reader_height (r);
  job->fps = ys_video_reader_fps (r);
  job->frames = g_new0 (StoredFrame, cap);
  while ((job->o->max_frames <= 0 || job->n_frames < job->o->max_frames)
      && ys_video_reader_next (r, &f, error)) {
    StoredFrame *s;
    size_t y = (size_t) f.width * f.height, c = y / 4;
    if (job->n_frames == cap)
      job->frames = g_renew (StoredFrame, job->frames, cap *= 2);
    s = &job->frames[job->n_frames++];
    s->data = g_malloc (y + 2 * c);
    for (int row = 0; row < f.height; row++)
      memcpy (s->data + (size_t) row * f.width,
          f.planes[0] + (size_t) row * f.strides[0], f.width);
    for (int p = 1; p < 3; p++)
      for (int row = 0; row < f.height / 2; row++)
        memcpy (s->data + y + (p - 1) * c + (size_t) row * (f.width / 2),
            f.planes[p] + (size_t) row * f.strides[p], f.width / 2);
    s->frame = (YoloFrame){ .format = YOLO_PIXEL_I420,
      .width = f.width,
      .height = f.height,
      .planes = { s->data, s->data + y, s->data + y + c },
      .strides = { f.width, f.width / 2, f.width / 2 } };
  }
  ys_video_reader_close (r);
  if (error != NULL && *error != NULL)
    return false;
  if (job->n_frames == 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s: no frame could be decoded", job->o->video);
    return false;
  }
  return true;
}

/* The split rungs: every candidate cut of the edge model (each sends
 * fewer values than every earlier cut) at every bit depth asked for,
 * into p->configs from p->config_count on. */
static bool
measure_splits (Job *job, YsProfile *p, const int *cuts, int n_cuts, int *done,
    int total, GError **error)
{
  const YoloFrame **frames = g_new (const YoloFrame *, job->n_frames);
  YoloDetections *reference = g_new (YoloDetections, job->n_frames);
  YsSplitProfileFrames f = { frames, reference, 0, &job->infer };
  bool ok = true;

  for (int i = 0; i < job->n_frames; i++)
    if (scored (job, i)) {
      frames[f.n] = &job->frames[i].frame;
      reference[f.n++] = job->reference[i];
    }
  for (int k = 0; ok && k < n_cuts; k++)
    for (int b = 0; ok && b < job->o->n_split_bits; b++) {
      char *what = g_strdup_printf ("split cut %d %d-bit", cuts[k],
          job->o->split_bits[b]);
      progress (*done, total, what);
      g_free (what);
      ok = ys_profile_measure_split (job->reference_model, &f, cuts[k],
          job->o->split_bits[b], &p->configs[p->config_count], error);
      p->config_count += ok;
      progress (++*done, total, "");
    }
  g_free (frames);
  g_free (reference); /* shallow copies of job->reference */
  return ok;
}

/* ---- command line ------------------------------------------------------------- */

static bool
parse_list (const char *text, const char *what, int *n, double **d,
    gint64 **i64, int **ints, GError **error)
{
  char **parts = g_strsplit (text, ",", -1);
  int count = (int) g_strv_length (parts);
  bool ok = count > 0;

  if (d != NULL)
    *d = g_new (double, count);
  if (i64 != NULL)
    *i64 = g_new (gint64, count);
  if (ints != NULL)
    *ints = g_new (int, count);
  for (int k = 0; ok && k < count; k++) {
    char *end = NULL;
    double v = g_ascii_strtod (parts[k], &end);
    if (end != NULL && (*end == 'k' || *end == 'K'))
      v *= 1e3, end++;
    else if (end != NULL && (*end == 'M' || *end == 'm'))
      v *= 1e6, end++;
    if (end == parts[k] || *end != '\0' || !(v > 0)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--%s: \"%s\" is not a positive number (give e.g. %s)", what,
          parts[k],
          i64 != NULL ? "100k,1M" : (ints != NULL ? "320,256" : "1,0.5"));
      ok = false;
      break;
    }
    if (d != NULL)
      (*d)[k] = v;
    if (i64 != NULL)
      (*i64)[k] = (gint64) v;
    if (ints != NULL)
      (*ints)[k] = (int) v;
  }
  *n = count;
  g_strfreev (parts);
  return ok;
}

static bool
parse_options (Options *o, int *argc, char ***argv, GError **error)
{
  char *local = NULL, *sizes = NULL, *codecs = NULL, *scales = NULL;
  char *bitrates = NULL, *split_bits = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->out,
        "Profile to write (default: profile.json)", "FILE" },
    { "plot", 0, 0, G_OPTION_ARG_FILENAME, &o->plot,
        "Also draw accuracy against bandwidth per path into this PNG "
        "(gnuplot)",
        "FILE" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &o->max_frames,
        "Use the first N frames (default: all)", "N" },
    { "every", 0, 0, G_OPTION_ARG_INT, &o->every,
        "Score every Nth frame (all frames are still encoded; default 1)",
        "N" },
    { "model-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->model_dir,
        "Directory searched first for models", "DIR" },
    { "edge-model", 0, 0, G_OPTION_ARG_STRING, &o->edge_model,
        "Edge model, also the reference (default " YOLO_DEFAULT_EDGE_MODEL ")",
        "NAME" },
    { "local-models", 0, 0, G_OPTION_ARG_STRING, &local,
        "Local models, comma-separated (default " YOLO_DEFAULT_LOCAL_MODEL ")",
        "LIST" },
    { "local-sizes", 0, 0, G_OPTION_ARG_STRING, &sizes,
        "Network input sizes of the local models, multiples of 32 (default "
        "416,320,256,192)",
        "LIST" },
    { "codecs", 0, 0, G_OPTION_ARG_STRING, &codecs,
        "Edge codecs (default h264,mjpeg)", "LIST" },
    { "scales", 0, 0, G_OPTION_ARG_STRING, &scales,
        "Edge resolution scales (default 1,0.75,0.5,0.35)", "LIST" },
    { "bitrates", 0, 0, G_OPTION_ARG_STRING, &bitrates,
        "Edge bit rates in bits/s, k and M allowed (default "
        "100k,150k,200k,300k,400k,600k,1M,2M,4M)",
        "LIST" },
    { "split-bits", 0, 0, G_OPTION_ARG_STRING, &split_bits,
        "Bit depths of the split rungs (each candidate cut of the edge "
        "model at each), 4, 6 or 8, or none (default 8,6,4)",
        "LIST" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o->threads,
        "Inference threads (default: every core the process may use)", "N" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new ("[VIDEO]");
  bool ok = false;

  o->every = 1;
  g_option_context_set_summary (ctx,
      "Measures accuracy (against the edge model on the raw frames), bytes "
      "per frame and time of every local and edge configuration on VIDEO "
      "(default ../shared/data/vtest.avi) and writes a profile for the "
      "yoloswitch element (docs/PROFILE.md).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    goto out;
  o->video = g_strdup (*argc > 1 ? (*argv)[1] : "../shared/data/vtest.avi");
  if (o->out == NULL)
    o->out = g_strdup ("profile.json");
  if (o->edge_model == NULL)
    o->edge_model = g_strdup (YOLO_DEFAULT_EDGE_MODEL);
  o->local_models
      = g_strsplit (local != NULL ? local : YOLO_DEFAULT_LOCAL_MODEL, ",", -1);
  o->codecs = g_strsplit (codecs != NULL ? codecs : "h264,mjpeg", ",", -1);
  for (int k = 0; o->codecs[k] != NULL; k++)
    if (strcmp (o->codecs[k], "h264") != 0
        && strcmp (o->codecs[k], "mjpeg") != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--codecs: \"%s\" is not h264 or mjpeg", o->codecs[k]);
      goto out;
    }
  if (o->every < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--every must be at least 1");
    goto out;
  }
  ok = parse_list (sizes != NULL ? sizes : "416,320,256,192", "local-sizes",
           &o->n_local_sizes, NULL, NULL, &o->local_sizes, error)
      && parse_list (scales != NULL ? scales : "1,0.75,0.5,0.35", "scales",
          &o->n_scales, &o->scales, NULL, NULL, error)
      && parse_list (bitrates != NULL
              ? bitrates
              : "100k,150k,200k,300k,400k,600k,1M,2M,4M",
          "bitrates", &o->n_bitrates, NULL, &o->bitrates, NULL, error)
      && (g_strcmp0 (split_bits, "none") == 0
          || parse_list (split_bits != NULL ? split_bits : "8,6,4",
              "split-bits", &o->n_split_bits, NULL, NULL, &o->split_bits,
              error));
  for (int b = 0; ok && b < o->n_split_bits; b++)
    if (o->split_bits[b] != 4 && o->split_bits[b] != 6
        && o->split_bits[b] != 8) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--split-bits: %d is not 4, 6 or 8", o->split_bits[b]);
      ok = false;
    }
  for (int j = 0; ok && j < o->n_scales; j++)
    if (o->scales[j] > 1) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--scales: %g is above 1 (scales shrink the video)", o->scales[j]);
      ok = false;
    }
out:
  g_free (local);
  g_free (sizes);
  g_free (codecs);
  g_free (scales);
  g_free (bitrates);
  g_free (split_bits);
  g_option_context_free (ctx);
  return ok;
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  Job job = { .o = &o };
  YsProfile *p = g_new0 (YsProfile, 1);
  GError *error = NULL;
  int n_local = 0, total, done = 0, pareto = 0, n_cuts = 0;
  int cuts[64];
  GDateTime *now;

  if (!parse_options (&o, &argc, &argv, &error)) {
    fprintf (stderr,
        "yoloswitch-profile: %s\n(see yoloswitch-profile --help)\n",
        error->message);
    return 2;
  }
  /* libx264's statistics at every encoder close would bury the table. */
  av_log_set_level (AV_LOG_ERROR);
  yolo_infer_options_init (&job.infer);
  while (o.local_models[n_local] != NULL)
    n_local++;
  total = 1 + n_local * o.n_local_sizes
      + (int) g_strv_length (o.codecs) * o.n_scales * o.n_bitrates;

  if (!read_frames (&job, &error))
    goto fail;
  progress (done, total, "reference");
  if (!measure_reference (&job, &error))
    goto fail;
  progress (++done, total, "reference");
  if (o.n_split_bits > 0)
    n_cuts = ys_split_candidate_cuts (job.reference_model, cuts,
        G_N_ELEMENTS (cuts));
  total += n_cuts * o.n_split_bits;

  p->configs = g_new0 (YsProfileConfig, total - 1);
  for (int m = 0; m < n_local; m++)
    for (int k = 0; k < o.n_local_sizes; k++) {
      YsProfileConfig *c = &p->configs[p->config_count];
      char *what = g_strdup_printf ("local %s %d", o.local_models[m],
          o.local_sizes[k]);
      progress (done, total, what);
      g_free (what);
      if (!measure_local (&job, o.local_models[m], o.local_sizes[k], c, &error))
        goto fail;
      p->config_count++;
      progress (++done, total, "");
    }
  for (int k = 0; o.codecs[k] != NULL; k++)
    for (int j = 0; j < o.n_scales; j++)
      for (int b = 0; b < o.n_bitrates; b++) {
        YsProfileConfig *c = &p->configs[p->config_count];
        char *what = g_strdup_printf ("edge %s x%.2f %" G_GINT64_FORMAT "k",
            o.codecs[k], o.scales[j], o.bitrates[b] / 1000);
        progress (done, total, what);
        g_free (what);
        if (!measure_edge (&job, o.codecs[k], o.scales[j], o.bitrates[b], c,
                &error))
          goto fail;
        p->config_count++;
        progress (++done, total, "");
      }
  if (!measure_splits (&job, p, cuts, n_cuts, &done, total, &error))
    goto fail;

  p->video = g_path_get_basename (o.video);
  p->frames = (job.n_frames + o.every - 1) / o.every;
  p->width = job.width;
  p->height = job.height;
  p->fps = job.fps;
  p->reference_model = g_strdup (o.edge_model);
  {
    int cores = yolo_usable_cores ();
    p->machine = g_strdup_printf ("%d cores, %d inference threads", cores,
        o.threads > 0 ? o.threads : cores);
  }
  now = g_date_time_new_now_utc ();
  p->created = g_date_time_format_iso8601 (now);
  g_date_time_unref (now);
  ys_profile_mark_pareto (p);
  if (!ys_profile_save (p, o.out, &error))
    goto fail;
  ys_profile_print_summary (p);
  for (int i = 0; i < p->config_count; i++)
    pareto += p->configs[i].pareto;
  printf ("\nwrote %s (%d configurations, %d on the Pareto front)\n", o.out,
      p->config_count, pareto);
  if (o.plot != NULL
      && !ys_profile_plot (o.plot, o.codecs, o.scales, o.n_scales, p, &error))
    goto fail;
  ys_profile_free (p);
  return 0;

fail:
  fprintf (stderr, "\nyoloswitch-profile: %s\n", error->message);
  g_error_free (error);
  ys_profile_free (p);
  return 1;
}
