/* The edge server's decoder (ys_decoder_new_reordering): a libx264 stream
 * with B-frames, its packets in decoding order, comes out as every
 * picture once, each with its own packet's tag, the last ones by a drain;
 * and the sizes a bitstream declares are refused before decoding when
 * over the limit or not the ones the sender claimed.
 *
 * Frames carry their own number as bars (white for a one bit), so a
 * picture says which frame it is whatever order it comes out in. */
#include <glib.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <string.h>

#include "decoder.h"

#define W 320
#define H 240
#define BITS 8
#define FRAMES 24

typedef struct {
  guint8 *data;
  gsize size;
  gint64 pts; /* the frame's number */
  gboolean key;
} Packet;

static void
packet_free (gpointer p)
{
  g_free (((Packet *) p)->data);
  g_free (p);
}

/* Frame n in YUV 4:2:0: its number in the top half, a moving ramp below. */
static void
fill_frame (AVFrame *f, int n)
{
  av_frame_make_writable (f);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      f->data[0][y * f->linesize[0] + x] = y < H / 2
          ? ((n >> (x * BITS / W)) & 1 ? 235 : 16)
          : (guint8) (64 + (x + y + 4 * n) % 128);
  for (int y = 0; y < H / 2; y++) {
    memset (f->data[1] + y * f->linesize[1], 128, W / 2);
    memset (f->data[2] + y * f->linesize[2], 128, W / 2);
  }
  f->pts = n;
}

static void
take_packets (AVCodecContext *ctx, AVPacket *pkt, GPtrArray *out)
{
  while (avcodec_receive_packet (ctx, pkt) == 0) {
    Packet *p = g_new0 (Packet, 1);
    p->data = g_memdup2 (pkt->data, pkt->size);
    p->size = pkt->size;
    p->pts = pkt->pts;
    p->key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    g_ptr_array_add (out, p);
    av_packet_unref (pkt);
  }
}

/* libx264 at its stock B-frame settings (3, pyramid), packets in decoding
 * order, frame n's pts n. */
static GPtrArray *
b_frame_stream (int width, int height, int frames)
{
  const AVCodec *codec = avcodec_find_encoder_by_name ("libx264");
  AVCodecContext *ctx;
  AVFrame *f = av_frame_alloc ();
  AVPacket *pkt = av_packet_alloc ();
  GPtrArray *out = g_ptr_array_new_with_free_func (packet_free);

  if (codec == NULL) {
    g_test_skip ("no libx264 in this FFmpeg");
    return out;
  }
  ctx = avcodec_alloc_context3 (codec);
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = (AVRational){ 1, 10 };
  ctx->framerate = (AVRational){ 10, 1 };
  ctx->gop_size = 250;
  ctx->max_b_frames = 3;
  ctx->thread_count = 1;
  av_opt_set (ctx->priv_data, "preset", "medium", 0);
  /* Stock settings but for the choice: always the B-frames, whatever the
   * content, so the test is about reordering for sure. */
  av_opt_set (ctx->priv_data, "x264-params", "b-adapt=0", 0);
  g_assert_cmpint (avcodec_open2 (ctx, codec, NULL), ==, 0);
  f->format = ctx->pix_fmt;
  f->width = width;
  f->height = height;
  g_assert_cmpint (av_frame_get_buffer (f, 0), ==, 0);
  for (int n = 0; n < frames; n++) {
    if (width == W)
      fill_frame (f, n);
    else {
      av_frame_make_writable (f);
      for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? height / 2 : height); y++)
          memset (f->data[p] + y * f->linesize[p], 128, p ? width / 2 : width);
      f->pts = n;
    }
    g_assert_cmpint (avcodec_send_frame (ctx, f), ==, 0);
    take_packets (ctx, pkt, out);
  }
  avcodec_send_frame (ctx, NULL);
  take_packets (ctx, pkt, out);
  avcodec_free_context (&ctx);
  av_frame_free (&f);
  av_packet_free (&pkt);
  return out;
}

static int
bars_read (const YsPicture *pic)
{
  int n = 0;

  for (int k = 0; k < BITS; k++) {
    int x = (2 * k + 1) * pic->width / (2 * BITS);
    if (pic->rgb[((gsize) (pic->height / 4) * pic->width + x) * 3] > 128)
      n |= 1 << k;
  }
  return n;
}

/* Collects the pictures out: each is the frame its tag names. */
static void
receive_all (YsDecoder *dec, YsPicture *pic, gboolean *seen, int *count)
{
  const char *error = NULL;
  gint64 tag;
  YsDecodeResult r;

  while ((r = ys_decoder_receive (dec, &tag, &error)) == YS_DECODE_PICTURE) {
    g_assert_true (ys_decoder_convert (dec, pic, &error));
    g_assert_cmpint (tag, >=, 0);
    g_assert_cmpint (tag, <, FRAMES);
    g_assert_false (seen[tag]);
    g_assert_cmpint (bars_read (pic), ==, (int) tag);
    seen[tag] = TRUE;
    (*count)++;
  }
  g_assert_cmpint (r, ==, YS_DECODE_NO_PICTURE);
}

static void
test_b_frames_keep_their_tags (void)
{
  GPtrArray *stream = b_frame_stream (W, H, FRAMES);
  const char *error = NULL;
  YsDecoder *dec;
  YsPicture pic = { NULL };
  gboolean seen[FRAMES] = { FALSE }, reordered = FALSE;
  int count = 0, late = 0;

  if (stream->len == 0)
    goto out;
  g_assert_cmpuint (stream->len, ==, FRAMES);
  dec = ys_decoder_new_reordering (YS_CODEC_H264, W * H, &error);
  g_assert_nonnull (dec);
  for (guint i = 0; i < stream->len; i++) {
    const Packet *p = stream->pdata[i];
    int before = count;

    reordered |= i > 0 && p->pts < ((Packet *) stream->pdata[i - 1])->pts;
    g_assert_cmpint (ys_decoder_send (dec, p->data, p->size, W, H, p->pts,
                         &error),
        ==, YS_DECODE_NO_PICTURE);
    receive_all (dec, &pic, seen, &count);
    late += count == before;
  }
  g_assert_true (reordered); /* B-frames were really there */
  g_assert_cmpint (late, >, 0); /* and the decoder held pictures back */
  g_assert_cmpint (count, <, FRAMES);
  ys_decoder_drain (dec);
  receive_all (dec, &pic, seen, &count);
  g_assert_cmpint (count, ==, FRAMES);
  /* After the drain the stream starts again at a keyframe. */
  g_assert_cmpint (ys_decoder_send (dec, ((Packet *) stream->pdata[1])->data,
                       ((Packet *) stream->pdata[1])->size, W, H, 99, &error),
      ==, YS_DECODE_NEED_KEYFRAME);
  g_assert_cmpint (ys_decoder_send (dec, ((Packet *) stream->pdata[0])->data,
                       ((Packet *) stream->pdata[0])->size, W, H, 0, &error),
      ==, YS_DECODE_NO_PICTURE);
  ys_decoder_free (dec);
out:
  g_free (pic.rgb);
  g_ptr_array_unref (stream);
}

/* The SPS's size, read before decoding: over the limit, or not the size
 * claimed, and nothing is decoded (the same packet then decodes with the
 * right claim).  A P frame's size comes from the SPS seen before. */
static void
test_declared_size_checked (void)
{
  GPtrArray *stream = b_frame_stream (W, H, 2);
  GPtrArray *big = b_frame_stream (1920, 1088, 1);
  const char *error = NULL;
  YsDecoder *dec;
  const Packet *key, *next;

  if (stream->len == 0)
    goto out;
  key = stream->pdata[0];
  next = stream->pdata[1];
  dec = ys_decoder_new_reordering (YS_CODEC_H264, 640 * 480, &error);
  g_assert_cmpint (ys_decoder_send (dec, ((Packet *) big->pdata[0])->data,
                       ((Packet *) big->pdata[0])->size, 0, 0, 0, &error),
      ==, YS_DECODE_TOO_LARGE);
  g_assert_nonnull (strstr (error, "1920x1088"));
  g_assert_nonnull (strstr (error, "307200"));
  ys_decoder_free (dec);

  dec = ys_decoder_new_reordering (YS_CODEC_H264, W * H, &error);
  g_assert_cmpint (ys_decoder_send (dec, key->data, key->size, 640, 480, 0,
                       &error),
      ==, YS_DECODE_SIZE_MISMATCH);
  g_assert_nonnull (strstr (error, "says 640x480"));
  g_assert_nonnull (strstr (error, "is 320x240"));
  g_assert_cmpint (ys_decoder_send (dec, key->data, key->size, W, H, 0, &error),
      ==, YS_DECODE_NO_PICTURE);
  g_assert_cmpint (ys_decoder_send (dec, next->data, next->size, W, H + 2, 1,
                       &error),
      ==, YS_DECODE_SIZE_MISMATCH);
  ys_decoder_free (dec);
out:
  g_ptr_array_unref (stream);
  g_ptr_array_unref (big);
}

/* A JPEG's frame header gives its size: dog.jpg is 768x576. */
static void
test_jpeg_size_checked (void)
{
  const char *path = "/usr/share/darknet/data/dog.jpg";
  const char *error = NULL;
  gchar *jpeg = NULL;
  gsize size = 0;
  YsDecoder *dec;
  YsPicture pic = { NULL };
  gint64 tag = -1;

  if (!g_file_get_contents (path, &jpeg, &size, NULL)) {
    g_test_skip ("no dog.jpg");
    return;
  }
  dec = ys_decoder_new_reordering (YS_CODEC_MJPEG, 4096 * 4096, &error);
  g_assert_cmpint (ys_decoder_send (dec, (guint8 *) jpeg, size, 100, 100, 1,
                       &error),
      ==, YS_DECODE_SIZE_MISMATCH);
  g_assert_nonnull (strstr (error, "768x576"));
  g_assert_cmpint (ys_decoder_send (dec, (guint8 *) jpeg, size, 768, 576, 2,
                       &error),
      ==, YS_DECODE_NO_PICTURE);
  g_assert_cmpint (ys_decoder_receive (dec, &tag, &error), ==,
      YS_DECODE_PICTURE);
  g_assert_cmpint (tag, ==, 2);
  g_assert_true (ys_decoder_convert (dec, &pic, &error));
  g_assert_cmpint (pic.width, ==, 768);
  ys_decoder_free (dec);
  dec = ys_decoder_new_reordering (YS_CODEC_MJPEG, 640 * 480, &error);
  g_assert_cmpint (ys_decoder_send (dec, (guint8 *) jpeg, size, 768, 576, 3,
                       &error),
      ==, YS_DECODE_TOO_LARGE);
  ys_decoder_free (dec);
  g_free (pic.rgb);
  g_free (jpeg);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  av_log_set_level (AV_LOG_ERROR); /* libx264's statistics */
  g_test_add_func ("/decoder-reorder/b-frames-keep-their-tags",
      test_b_frames_keep_their_tags);
  g_test_add_func ("/decoder-reorder/declared-size-checked",
      test_declared_size_checked);
  g_test_add_func ("/decoder-reorder/jpeg-size-checked",
      test_jpeg_size_checked);
  return g_test_run ();
}
