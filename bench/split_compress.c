/* What lossless compression buys a split FRAME's codes (issue 15: "optionally
 * compress it losslessly (zstd) or as an image with libavcodec; measure
 * each").  For each candidate cut of the edge model on frames of a video:
 * the packet as sent (per-channel [min, max], 4/6/8 bits), the packet
 * through zstd at levels 1, 3 and 9, and the 8-bit codes of each handover
 * tensor as a gray image (channels stacked, w x c*h) through FFV1 and PNG,
 * each with its compression and decompression time on this machine (one
 * thread).  Prints a Markdown table (bench/README, docs/SPLIT.md).
 *
 * Usage: yoloswitch-split-compress --video V --model-dir D [--model M]
 *            [--frames N] [--every K] */
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <zstd.h>

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "split_codec.h"
#include "split_head.h"
#include "video_reader.h"
#include "yolo.h"

#define MAX_CUTS 32
#define ZSTD_LEVELS 3
static const int zstd_levels[ZSTD_LEVELS] = { 1, 3, 9 };
static const int bit_depths[3] = { 8, 6, 4 };

/* Sums over the frames for one cut. */
typedef struct {
  double raw[3]; /* packet bytes at 8, 6, 4 bits */
  double zstd[3][ZSTD_LEVELS], zstd_ms[3][ZSTD_LEVELS],
      unzstd_ms[3][ZSTD_LEVELS];
  double ffv1, ffv1_ms, unffv1_ms, png, png_ms, unpng_ms;
} CutSums;

static void
zstd_measure (const uint8_t *packet, size_t len, CutSums *s, int b)
{
  size_t bound = ZSTD_compressBound (len);
  uint8_t *out = g_malloc (bound), *back = g_malloc (len);

  for (int l = 0; l < ZSTD_LEVELS; l++) {
    double t0 = yolo_now_ms ();
    size_t n = ZSTD_compress (out, bound, packet, len, zstd_levels[l]);
    double t1 = yolo_now_ms ();
    size_t m = ZSTD_decompress (back, len, out, n);
    double t2 = yolo_now_ms ();
    if (ZSTD_isError (n) || m != len || memcmp (back, packet, len) != 0)
      g_error ("zstd round trip failed at level %d", zstd_levels[l]);
    s->zstd[b][l] += (double) n;
    s->zstd_ms[b][l] += t1 - t0;
    s->unzstd_ms[b][l] += t2 - t1;
  }
  g_free (out);
  g_free (back);
}

/* One gray image through an intra codec and back: bytes, ms each way;
 * the decoded pixels must be the codes (lossless). */
static size_t
image_round_trip (enum AVCodecID id, const uint8_t *codes, int w, int h,
    double *enc_ms, double *dec_ms)
{
  const AVCodec *enc = avcodec_find_encoder (id),
                *dec = avcodec_find_decoder (id);
  AVCodecContext *ec = avcodec_alloc_context3 (enc);
  AVCodecContext *dc = avcodec_alloc_context3 (dec);
  AVFrame *f = av_frame_alloc (), *g = av_frame_alloc ();
  AVPacket *p = av_packet_alloc ();
  size_t bytes;
  double t0, t1;
  int err;

  ec->width = w;
  ec->height = h;
  ec->pix_fmt = AV_PIX_FMT_GRAY8;
  ec->time_base = (AVRational){ 1, 10 };
  ec->thread_count = 1;
  dc->thread_count = 1;
  err = avcodec_open2 (ec, enc, NULL);
  /* FFV1 1 keeps the size out of its frames: the decoder is told it. */
  dc->width = w;
  dc->height = h;
  dc->pix_fmt = AV_PIX_FMT_GRAY8;
  if (err >= 0 && ec->extradata_size > 0) {
    dc->extradata = av_mallocz (
        (size_t) ec->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy (dc->extradata, ec->extradata, (size_t) ec->extradata_size);
    dc->extradata_size = ec->extradata_size;
  }
  if (err >= 0)
    err = avcodec_open2 (dc, dec, NULL);
  if (err < 0)
    g_error ("%s: cannot open the codec for %dx%d gray: %s",
        avcodec_get_name (id), w, h, av_err2str (err));
  f->format = AV_PIX_FMT_GRAY8;
  f->width = w;
  f->height = h;
  if (av_frame_get_buffer (f, 0) < 0)
    g_error ("out of memory");
  for (int y = 0; y < h; y++)
    memcpy (f->data[0] + (size_t) y * f->linesize[0], codes + (size_t) y * w,
        (size_t) w);
  t0 = yolo_now_ms ();
  if (avcodec_send_frame (ec, f) < 0 || avcodec_send_frame (ec, NULL) < 0
      || avcodec_receive_packet (ec, p) < 0)
    g_error ("%s: encoding failed", avcodec_get_name (id));
  t1 = yolo_now_ms ();
  *enc_ms += t1 - t0;
  bytes = (size_t) p->size;
  if (avcodec_send_packet (dc, p) < 0 || avcodec_receive_frame (dc, g) < 0)
    g_error ("%s: decoding failed", avcodec_get_name (id));
  *dec_ms += yolo_now_ms () - t1;
  for (int y = 0; y < h; y++)
    if (memcmp (g->data[0] + (size_t) y * g->linesize[0],
            codes + (size_t) y * w, (size_t) w)
        != 0)
      g_error ("%s: not lossless", avcodec_get_name (id));
  av_packet_free (&p);
  av_frame_free (&f);
  av_frame_free (&g);
  avcodec_free_context (&ec);
  avcodec_free_context (&dc);
  return bytes;
}

/* The 8-bit codes of each tensor (per-channel [min, max], as the packet
 * holds them) as one gray image, w x c*h: neighbouring pixels are
 * neighbouring activations, what an image codec predicts from. */
static void
image_measure (const YoloHandover *h, CutSums *s)
{
  for (size_t i = 0; i < h->count; i++) {
    const YoloTensor *t = &h->tensors[i];
    size_t plane = (size_t) t->h * t->w;
    uint8_t *codes = g_malloc ((size_t) t->c * plane);
    for (int c = 0; c < t->c; c++) {
      const float *v = t->data + (size_t) c * plane;
      float lo = v[0], hi = v[0];
      for (size_t k = 1; k < plane; k++) {
        lo = fminf (lo, v[k]);
        hi = fmaxf (hi, v[k]);
      }
      for (size_t k = 0; k < plane; k++)
        codes[(size_t) c * plane + k]
            = hi > lo ? (uint8_t) lrintf ((v[k] - lo) / (hi - lo) * 255.0f) : 0;
    }
    s->ffv1 += (double) image_round_trip (AV_CODEC_ID_FFV1, codes, t->w,
        t->c * t->h, &s->ffv1_ms, &s->unffv1_ms);
    s->png += (double) image_round_trip (AV_CODEC_ID_PNG, codes, t->w,
        t->c * t->h, &s->png_ms, &s->unpng_ms);
    g_free (codes);
  }
}

int
main (int argc, char **argv)
{
  const char *video = NULL, *model_dir = NULL, *model = "yolo-fastest-1.1-xl";
  int frames = 20, every = 5, cuts[MAX_CUTS], n_cuts, scored = 0, index = 0;
  GOptionEntry entries[] = {
    { "video", 0, 0, G_OPTION_ARG_FILENAME, &video, "video file", "V" },
    { "model-dir", 0, 0, G_OPTION_ARG_FILENAME, &model_dir, "models", "D" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, "edge model", "M" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "frames measured", "N" },
    { "every", 0, 0, G_OPTION_ARG_INT, &every, "every K-th frame", "K" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new ("- split packets compressed");
  GError *error = NULL;
  YoloModelSpec spec = { 0 };
  YoloStatus status;
  YoloModel *m;
  YoloInput *input;
  YoloHandover handover;
  YsVideoReader *reader;
  YoloFrame frame;
  CutSums *sums;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || video == NULL
      || model_dir == NULL || frames < 1 || every < 1) {
    fprintf (stderr, "%s\nusage: %s --video V --model-dir D [--frames N]\n",
        error != NULL ? error->message : "", argv[0]);
    return 2;
  }
  spec.name = model;
  spec.model_dir = model_dir;
  spec.threads = 1;
  if ((m = yolo_model_open (&spec, &status)) == NULL) {
    fprintf (stderr, "%s\n", status.message);
    return 1;
  }
  if ((reader = ys_video_reader_open (video, &error)) == NULL) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  n_cuts = ys_split_candidate_cuts (m, cuts, MAX_CUTS);
  sums = g_new0 (CutSums, n_cuts);
  input = yolo_input_new (m);
  yolo_handover_init (&handover);
  while (scored < frames && ys_video_reader_next (reader, &frame, &error)) {
    if (index++ % every != 0)
      continue;
    if (!yolo_input_fill (input, &frame, false, &status))
      g_error ("%s", status.message);
    for (int k = 0; k < n_cuts; k++) {
      if (!yolo_model_run_layers (m, 0, cuts[k], input, NULL, NULL, &handover,
              NULL, &status))
        g_error ("%s", status.message);
      for (int b = 0; b < 3; b++) {
        YsSplitOptions o = { bit_depths[b], true, YS_SPLIT_RANGE_MINMAX, 1 };
        uint8_t *packet;
        size_t len;
        char why[256];
        if (!ys_split_encode (&handover, &o, &packet, &len, why, sizeof why))
          g_error ("%s", why);
        sums[k].raw[b] += (double) len;
        zstd_measure (packet, len, &sums[k], b);
        free (packet);
      }
      image_measure (&handover, &sums[k]);
    }
    scored++;
  }
  if (error != NULL)
    g_error ("%s", error->message);

  printf ("Packet bytes per frame (mean over %d frames of %s, every %d-th), "
          "compressed size as a share of the packet, and ms to compress / "
          "decompress:\n\n",
      scored, video, every);
  printf ("| cut | bits | packet | zstd-1 | zstd-3 | zstd-9 | FFV1 | PNG |\n"
          "|---|---|---|---|---|---|---|---|\n");
  for (int k = 0; k < n_cuts; k++)
    for (int b = 0; b < 3; b++) {
      CutSums *s = &sums[k];
      double raw = s->raw[b];
      printf ("| %d | %d | %.0f B |", cuts[k], bit_depths[b], raw / scored);
      for (int l = 0; l < ZSTD_LEVELS; l++)
        printf (" %.1f %% (%.2f / %.2f ms) |", 100 * s->zstd[b][l] / raw,
            s->zstd_ms[b][l] / scored, s->unzstd_ms[b][l] / scored);
      if (b == 0)
        printf (" %.1f %% (%.2f / %.2f ms) | %.1f %% (%.2f / %.2f ms) |\n",
            100 * s->ffv1 / raw, s->ffv1_ms / scored, s->unffv1_ms / scored,
            100 * s->png / raw, s->png_ms / scored, s->unpng_ms / scored);
      else
        printf (" - | - |\n");
    }
  yolo_handover_free (&handover);
  yolo_input_free (input);
  ys_video_reader_close (reader);
  yolo_model_close (m);
  g_free (sums);
  g_option_context_free (ctx);
  return 0;
}
