/* The offload encoder and decoder on 20 real frames of vtest.avi: H.264
 * and MJPEG round trips with a PSNR floor, a bit-rate change without a
 * keyframe, a size change with one, every input pixel layout, the
 * hardware-encoder fallback, and a decoder fed garbage, truncated and
 * bit-flipped packets and streams that start without a keyframe.
 *
 * Why this file is long: one suite per library, as the other unit tests;
 * each test is short and stands alone.
 *
 * Then an encoder that holds frames back (libx264 with a lookahead, set
 * through the encoder options) on frames that carry their own number as
 * bars: every packet must come out once, in order, with its frame's tag,
 * and decode to that frame, also across a size change and past the limit
 * on frames held; and the encoder options themselves.  Sizes and
 * qualities only: no timing assertions. */
#include <glib.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <string.h>

#include "decoder.h"
#include "encoder.h"
#include "test_images.h"

#define VTEST_FRAMES 20
#define VTEST_W 768
#define VTEST_H 576

static guint8 *vtest;

static YoloFrame
vtest_frame (int i)
{
  YoloFrame f
      = { .format = YOLO_PIXEL_RGB, .width = VTEST_W, .height = VTEST_H };

  f.planes[0] = vtest + (gsize) i * VTEST_W * VTEST_H * 3;
  f.strides[0] = VTEST_W * 3;
  return f;
}

/* An encoded stream kept for the decoder tests. */
typedef struct {
  guint8 *data;
  gsize size;
  guint64 tag;
  gboolean keyframe;
  int width, height;
  gint64 bitrate;
} Packet;

static void
packet_free (gpointer p)
{
  g_free (((Packet *) p)->data);
  g_free (p);
}

static YsEncoder *
encoder_new_with (YsCodec codec, const char *hw, const char *av_options,
    int width, int height, gint64 bitrate)
{
  YsEncoderOptions options = { codec, hw, 30, 30, av_options };
  const char *error = NULL;
  YsEncoder *enc = ys_encoder_new (&options, &error);

  if (enc == NULL)
    g_error ("ys_encoder_new: %s", error);
  if (width > 0)
    ys_encoder_set_size (enc, width, height);
  ys_encoder_set_bitrate (enc, bitrate);
  return enc;
}

static YsEncoder *
encoder_new (YsCodec codec, const char *hw, int width, int height,
    gint64 bitrate)
{
  return encoder_new_with (codec, hw, NULL, width, height, bitrate);
}

static Packet *
packet_copy (const YsPacket *out)
{
  Packet *p = g_new0 (Packet, 1);

  g_assert_nonnull (out->data);
  g_assert_cmpuint (out->size, >, 0);
  g_assert_cmpfloat (out->encode_ms, >=, 0.0);
  p->data = g_memdup2 (out->data, out->size);
  p->size = out->size;
  p->tag = out->tag;
  p->keyframe = out->keyframe;
  p->width = out->width;
  p->height = out->height;
  p->bitrate = out->bitrate;
  return p;
}

/* Every packet the encoder has ready, appended to packets; how many. */
static guint
receive_all (YsEncoder *enc, GPtrArray *packets)
{
  YsPacket out;
  const char *error = NULL;
  guint n = 0;
  int r;

  while ((r = ys_encoder_receive (enc, &out, &error)) > 0) {
    g_ptr_array_add (packets, packet_copy (&out));
    n++;
  }
  if (r < 0)
    g_error ("ys_encoder_receive: %s", error);
  return n;
}

/* Sends a frame and takes its packet.  Our own settings hold no frame, so
 * exactly one packet must come out, with the frame's tag. */
static Packet *
encode (YsEncoder *enc, const YoloFrame *frame)
{
  static guint64 next_tag = 1;
  guint64 tag = next_tag++;
  GPtrArray *packets = g_ptr_array_new ();
  const char *error = NULL;
  Packet *p;

  if (!ys_encoder_send (enc, frame, tag, &error))
    g_error ("ys_encoder_send: %s", error);
  g_assert_cmpuint (receive_all (enc, packets), ==, 1);
  p = packets->pdata[0];
  g_assert_cmpuint (p->tag, ==, tag);
  g_ptr_array_unref (packets);
  return p;
}

static YsDecoder *
decoder_new (YsCodec codec)
{
  const char *error = NULL;
  YsDecoder *dec = ys_decoder_new (codec, &error);

  if (dec == NULL)
    g_error ("ys_decoder_new: %s", error);
  g_assert_cmpint (ys_decoder_codec (dec), ==, codec);
  return dec;
}

/* Decodes a packet that must give a picture. */
static void
decode_ok (YsDecoder *dec, const Packet *p, YsPicture *pic)
{
  const char *error = NULL;
  YsDecodeResult r
      = ys_decoder_decode (dec, p->data, p->size, TRUE, pic, &error);

  if (r != YS_DECODE_PICTURE)
    g_error ("decode: result %d: %s", r, error ? error : "(no error)");
  g_assert_cmpint (pic->width, ==, p->width);
  g_assert_cmpint (pic->height, ==, p->height);
  g_assert_cmpuint (pic->capacity, >=, (gsize) pic->width * pic->height * 3);
}

static double
psnr (const guint8 *a, const guint8 *b, gsize n)
{
  double sse = 0;

  for (gsize i = 0; i < n; i++) {
    double d = (double) a[i] - b[i];
    sse += d * d;
  }
  if (sse == 0)
    return 99.0;
  return 10.0 * log10 (255.0 * 255.0 * n / sse);
}

/* Source frame i scaled as the encoder scales (swscale, bilinear), packed
 * RGB: what a perfect codec would give back. */
static guint8 *
vtest_scaled (int i, int width, int height)
{
  YoloFrame f = vtest_frame (i);
  struct SwsContext *sws = sws_getContext (VTEST_W, VTEST_H, AV_PIX_FMT_RGB24,
      width, height, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  guint8 *out = g_malloc ((gsize) width * height * 3);
  guint8 *dst[4] = { out, NULL, NULL, NULL };
  int dst_strides[4] = { width * 3, 0, 0, 0 };

  g_assert_nonnull (sws);
  sws_scale (sws, f.planes, f.strides, 0, VTEST_H, dst, dst_strides);
  sws_freeContext (sws);
  return out;
}

static double
mean_size (GPtrArray *packets, guint from, guint to)
{
  double sum = 0;

  for (guint i = from; i <= to; i++)
    sum += ((Packet *) packets->pdata[i])->size;
  return sum / (to - from + 1);
}

/* The 20 frames as H.264 at 1 Mbit/s. */
static GPtrArray *
h264_stream (int width, int height)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, width, height, 1000000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);

  for (int i = 0; i < VTEST_FRAMES; i++) {
    YoloFrame f = vtest_frame (i);
    g_ptr_array_add (packets, encode (enc, &f));
  }
  ys_encoder_free (enc);
  return packets;
}

static void
test_h264_round_trip (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };
  double worst = 99.0;

  g_assert_cmpstr (ys_encoder_name (enc), ==, "libx264");
  for (int i = 0; i < VTEST_FRAMES; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p = encode (enc, &f);
    guint8 *ref = vtest_scaled (i, 640, 480);
    double q;

    g_assert_cmpint (p->width, ==, 640);
    g_assert_cmpint (p->height, ==, 480);
    /* gop 30 > 20 frames: only the first is a keyframe */
    g_assert_cmpint (p->keyframe, ==, i == 0);
    decode_ok (dec, p, &pic);
    q = psnr (pic.rgb, ref, (gsize) 640 * 480 * 3);
    worst = MIN (worst, q);
    g_assert_cmpfloat (q, >, 25.0);
    g_free (ref);
    packet_free (p);
  }
  g_test_message ("H.264 640x480 1 Mbit/s: worst RGB PSNR %.2f dB", worst);
  g_free (pic.rgb);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

/* 1 Mbit/s -> 200 kbit/s at frame 10, next to an unchanged 1 Mbit/s
 * stream: no keyframe, and smaller packets from the next frames on (x264
 * reaches the new rate over about a second: its VBV holds one second). */
static void
test_h264_bitrate_change (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  YsEncoder *control = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  GPtrArray *unchanged = g_ptr_array_new_with_free_func (packet_free);
  YsPicture pic = { NULL };
  double before, after, same;

  for (int i = 0; i < VTEST_FRAMES; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p;

    if (i == 10)
      ys_encoder_set_bitrate (enc, 200000);
    p = encode (enc, &f);
    g_ptr_array_add (packets, p);
    g_assert_cmpint (p->keyframe, ==, i == 0);
    decode_ok (dec, p, &pic);
    g_ptr_array_add (unchanged, encode (control, &f));
  }
  before = mean_size (packets, 2, 9);
  after = mean_size (packets, 12, 19);
  same = mean_size (unchanged, 12, 19);
  g_test_message ("mean bytes per frame: %.0f at 1 Mbit/s (target 4167), "
                  "%.0f after the change to 200 kbit/s (target 833), %.0f "
                  "without the change",
      before, after, same);
  g_assert_cmpfloat (after, <, 0.75 * before);
  g_assert_cmpfloat (after, <, 0.8 * same);
  g_free (pic.rgb);
  g_ptr_array_unref (packets);
  g_ptr_array_unref (unchanged);
  ys_decoder_free (dec);
  ys_encoder_free (control);
  ys_encoder_free (enc);
}

static void
test_h264_size_change (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };

  for (int i = 0; i < VTEST_FRAMES; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p;

    if (i == 10)
      ys_encoder_set_size (enc, 320, 240);
    p = encode (enc, &f);
    g_assert_cmpint (p->keyframe, ==, i == 0 || i == 10);
    g_assert_cmpint (p->width, ==, i < 10 ? 640 : 320);
    g_assert_cmpint (p->height, ==, i < 10 ? 480 : 240);
    decode_ok (dec, p, &pic);
    if (i >= 10) {
      guint8 *ref = vtest_scaled (i, 320, 240);
      g_assert_cmpfloat (psnr (pic.rgb, ref, (gsize) 320 * 240 * 3), >, 25.0);
      g_free (ref);
    }
    packet_free (p);
  }
  g_free (pic.rgb);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

/* Sizes round down to even and up to 16; with no size set the input's size
 * is used. */
static void
test_size_rules (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, 0, 0, 500000);
  YoloFrame f = vtest_frame (0);
  Packet *p = encode (enc, &f);

  g_assert_cmpint (p->width, ==, VTEST_W);
  g_assert_cmpint (p->height, ==, VTEST_H);
  packet_free (p);
  ys_encoder_set_size (enc, 321, 7);
  p = encode (enc, &f);
  g_assert_cmpint (p->width, ==, 320);
  g_assert_cmpint (p->height, ==, 16);
  g_assert_true (p->keyframe);
  packet_free (p);
  ys_encoder_free (enc);
}

static void
test_mjpeg (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_MJPEG, NULL, 640, 480, 8000000);
  YsDecoder *dec = decoder_new (YS_CODEC_MJPEG);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  YsPicture pic = { NULL };
  double high, low;

  g_assert_cmpstr (ys_encoder_name (enc), ==, "mjpeg");
  for (int i = 0; i < VTEST_FRAMES; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p;
    guint8 *ref;

    if (i == 10)
      ys_encoder_set_bitrate (enc, 2000000);
    p = encode (enc, &f);
    g_ptr_array_add (packets, p);
    g_assert_true (p->keyframe);
    g_assert_cmpint (p->width, ==, 640);
    decode_ok (dec, p, &pic);
    ref = vtest_scaled (i, 640, 480);
    g_assert_cmpfloat (psnr (pic.rgb, ref, (gsize) 640 * 480 * 3), >, 25.0);
    g_free (ref);
  }
  high = mean_size (packets, 5, 9);
  low = mean_size (packets, 15, 19);
  g_test_message ("MJPEG mean bytes per frame: %.0f at 8 Mbit/s (target "
                  "33333), %.0f at 2 Mbit/s (target 8333)",
      high, low);
  g_assert_cmpfloat (low, <, 0.6 * high);
  /* The controller approaches the target from its start at q 8. */
  g_assert_cmpfloat (low, <, 2.0 * 8333);
  g_free (pic.rgb);
  g_ptr_array_unref (packets);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

/* Decodes bad data: anything but a crash, an over-read (valgrind) or a
 * NO_PICTURE on a packet it has accepted; every refusal says why. */
static YsDecodeResult
decode_sane (YsDecoder *dec, const guint8 *data, gsize size, YsPicture *pic)
{
  const char *error = NULL;
  YsDecodeResult r = ys_decoder_decode (dec, data, size, TRUE, pic, &error);

  g_assert_true (r == YS_DECODE_PICTURE || r == YS_DECODE_ERROR
      || r == YS_DECODE_NEED_KEYFRAME);
  if (r != YS_DECODE_PICTURE)
    g_assert_true (error != NULL && error[0] != '\0');
  return r;
}

static void
test_decoder_garbage (void)
{
  GRand *rand = g_rand_new_with_seed (7);
  YsCodec codecs[] = { YS_CODEC_H264, YS_CODEC_MJPEG };
  GPtrArray *h264 = h264_stream (640, 480);
  YsPicture pic = { NULL };

  for (guint c = 0; c < G_N_ELEMENTS (codecs); c++) {
    YsDecoder *dec = decoder_new (codecs[c]);
    const char *error = NULL;

    g_assert_cmpint (ys_decoder_decode (dec, NULL, 0, TRUE, &pic, &error), ==,
        YS_DECODE_ERROR);
    g_assert_cmpint (ys_decoder_decode (dec, (const guint8 *) "", 0, TRUE, &pic,
                         &error),
        ==, YS_DECODE_ERROR);
    for (int n = 0; n < 100; n++) {
      gsize size = g_rand_int_range (rand, 1, 6000);
      guint8 *junk = g_malloc (size);

      for (gsize i = 0; i < size; i++)
        junk[i] = g_rand_int (rand);
      /* Half of them look like an IDR slice or a JPEG to get past the
       * first checks. */
      if (n % 2 == 0 && size >= 4) {
        static const guint8 idr[] = { 0, 0, 1, 0x65 };
        static const guint8 soi[] = { 0xff, 0xd8, 0xff, 0xdb };
        memcpy (junk, codecs[c] == YS_CODEC_H264 ? idr : soi, 4);
      }
      decode_sane (dec, junk, size, &pic);
      g_free (junk);
    }
    ys_decoder_free (dec);
  }

  /* A broken P slice in the middle of a good stream: an error, then the
   * decoder asks for a keyframe and a keyframe brings pictures back. */
  {
    YsDecoder *dec = decoder_new (YS_CODEC_H264);
    guint8 junk[3000];
    YsDecodeResult r;

    decode_ok (dec, h264->pdata[0], &pic);
    for (gsize i = 0; i < sizeof (junk); i++)
      junk[i] = g_rand_int (rand);
    memcpy (junk, (const guint8[]){ 0, 0, 0, 1, 0x41 }, 5);
    r = decode_sane (dec, junk, sizeof (junk), &pic);
    for (guint i = 1; i < h264->len; i++) {
      const Packet *p = h264->pdata[i];
      YsDecodeResult next = decode_sane (dec, p->data, p->size, &pic);
      if (r != YS_DECODE_PICTURE)
        g_assert_cmpint (next, ==, YS_DECODE_NEED_KEYFRAME);
    }
    decode_ok (dec, h264->pdata[0], &pic);
    ys_decoder_free (dec);
  }
  g_free (pic.rgb);
  g_ptr_array_unref (h264);
  g_rand_free (rand);
}

/* Prefixes of a keyframe (half of it, and seven other lengths), then the
 * whole packet decodes; likewise half a P frame, and a cut JPEG. */
static void
test_decoder_truncated (void)
{
  GPtrArray *h264 = h264_stream (640, 480);
  YsEncoder *enc = encoder_new (YS_CODEC_MJPEG, NULL, 640, 480, 4000000);
  YoloFrame f = vtest_frame (0);
  Packet *jpeg = encode (enc, &f);
  YsPicture pic = { NULL };
  const Packet *key = h264->pdata[0];
  YsDecoder *dec = decoder_new (YS_CODEC_H264);

  decode_sane (dec, key->data, key->size / 2, &pic);
  for (gsize cut = 1; cut < key->size; cut += key->size / 7 + 1)
    decode_sane (dec, key->data, cut, &pic);
  decode_ok (dec, key, &pic);
  decode_ok (dec, h264->pdata[1], &pic);
  /* Half a P frame once in sync. */
  decode_sane (dec, ((Packet *) h264->pdata[2])->data,
      ((Packet *) h264->pdata[2])->size / 2, &pic);
  decode_ok (dec, key, &pic);
  ys_decoder_free (dec);

  dec = decoder_new (YS_CODEC_MJPEG);
  decode_sane (dec, jpeg->data, jpeg->size / 2, &pic);
  for (gsize cut = 1; cut < jpeg->size; cut += jpeg->size / 7 + 1)
    decode_sane (dec, jpeg->data, cut, &pic);
  decode_ok (dec, jpeg, &pic);
  ys_decoder_free (dec);

  g_free (pic.rgb);
  packet_free (jpeg);
  ys_encoder_free (enc);
  g_ptr_array_unref (h264);
}

/* 200 variations per codec (fixed seed): a packet with 1..8 random bits
 * flipped, decoded in its place in the stream, then the next packet;
 * afterwards a clean keyframe must decode. */
static void
test_decoder_bit_flips (void)
{
  GRand *rand = g_rand_new_with_seed (20240601);
  GPtrArray *h264 = h264_stream (320, 240);
  YsEncoder *enc = encoder_new (YS_CODEC_MJPEG, NULL, 320, 240, 2000000);
  GPtrArray *jpegs = g_ptr_array_new_with_free_func (packet_free);
  YsPicture pic = { NULL };
  int counts[2][4] = { { 0 } };

  for (int i = 0; i < 4; i++) {
    YoloFrame f = vtest_frame (i * 5);
    g_ptr_array_add (jpegs, encode (enc, &f));
  }

  for (int v = 0; v < 400; v++) {
    gboolean is_h264 = v % 2 == 0;
    GPtrArray *stream = is_h264 ? h264 : jpegs;
    YsDecoder *dec = decoder_new (is_h264 ? YS_CODEC_H264 : YS_CODEC_MJPEG);
    /* H.264: the keyframe or one of the next four, after the clean
     * packets before it. */
    guint which = g_rand_int_range (rand, 0, is_h264 ? 5 : 4);
    const Packet *orig = stream->pdata[which];
    guint8 *bad = g_memdup2 (orig->data, orig->size);
    int flips = g_rand_int_range (rand, 1, 9);
    YsDecodeResult r;

    for (int k = 0; k < flips; k++) {
      gsize bit = g_rand_int_range (rand, 0, (gint32) (orig->size * 8));
      bad[bit / 8] ^= 1u << (bit % 8);
    }
    if (is_h264)
      for (guint i = 0; i < which; i++)
        decode_ok (dec, stream->pdata[i], &pic);
    r = decode_sane (dec, bad, orig->size, &pic);
    counts[is_h264][r]++;
    if (is_h264) {
      const Packet *next = stream->pdata[which + 1];
      decode_sane (dec, next->data, next->size, &pic);
    }
    decode_ok (dec, stream->pdata[0], &pic);
    g_free (bad);
    ys_decoder_free (dec);
  }
  for (int c = 0; c < 2; c++)
    g_test_message ("%s bit flips: %d pictures, %d errors, %d need-keyframe",
        c ? "H.264" : "MJPEG", counts[c][YS_DECODE_PICTURE],
        counts[c][YS_DECODE_ERROR], counts[c][YS_DECODE_NEED_KEYFRAME]);
  g_free (pic.rgb);
  g_ptr_array_unref (jpegs);
  ys_encoder_free (enc);
  g_ptr_array_unref (h264);
  g_rand_free (rand);
}

/* A decoder joining a stream mid-GOP asks for a keyframe until one comes
 * (here forced by the encoder, as the server would ask for it). */
static void
test_decoder_starts_with_p_frame (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };

  for (int i = 0; i < 12; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p;

    if (i == 6)
      ys_encoder_force_keyframe (enc);
    p = encode (enc, &f);
    g_assert_cmpint (p->keyframe, ==, i == 0 || i == 6);
    if (i >= 1 && i < 6) {
      const char *error = NULL;
      g_assert_cmpint (ys_decoder_decode (dec, p->data, p->size, TRUE, &pic,
                           &error),
          ==, YS_DECODE_NEED_KEYFRAME);
      g_assert_nonnull (error);
    } else if (i >= 6) {
      guint8 *ref = vtest_scaled (i, 640, 480);
      decode_ok (dec, p, &pic);
      g_assert_cmpfloat (psnr (pic.rgb, ref, (gsize) 640 * 480 * 3), >, 25.0);
      g_free (ref);
    }
    packet_free (p);
  }
  g_free (pic.rgb);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

/* A packet decoded only for its references (want_picture false) leaves out
 * untouched, and the next one still decodes right. */
static void
test_decoder_no_picture_wanted (void)
{
  GPtrArray *h264 = h264_stream (640, 480);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };
  const char *error = NULL;
  guint8 *ref = vtest_scaled (2, 640, 480);

  g_assert_cmpint (ys_decoder_decode (dec, ((Packet *) h264->pdata[0])->data,
                       ((Packet *) h264->pdata[0])->size, FALSE, &pic, &error),
      ==, YS_DECODE_PICTURE);
  g_assert_cmpint (ys_decoder_decode (dec, ((Packet *) h264->pdata[1])->data,
                       ((Packet *) h264->pdata[1])->size, FALSE, NULL, &error),
      ==, YS_DECODE_PICTURE);
  g_assert_null (pic.rgb);
  decode_ok (dec, h264->pdata[2], &pic);
  g_assert_cmpfloat (psnr (pic.rgb, ref, (gsize) 640 * 480 * 3), >, 25.0);
  g_free (ref);
  g_free (pic.rgb);
  ys_decoder_free (dec);
  g_ptr_array_unref (h264);
}

/* A JPEG of odd size from another client (ours only makes even sizes),
 * made with libavcodec directly: the whole picture converts, and under
 * valgrind swscale's vector writes stay inside the RGB buffer. */
static void
test_decoder_odd_size (void)
{
  const AVCodec *codec = avcodec_find_encoder_by_name ("mjpeg");
  AVCodecContext *ctx = avcodec_alloc_context3 (codec);
  AVFrame *frame = av_frame_alloc ();
  AVPacket *pkt = av_packet_alloc ();
  YsDecoder *dec = decoder_new (YS_CODEC_MJPEG);
  YsPicture pic = { NULL };
  const char *error = NULL;
  const int w = 385, h = 289;

  ctx->width = w;
  ctx->height = h;
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->time_base = (AVRational){ 1, 30 };
  g_assert_cmpint (avcodec_open2 (ctx, codec, NULL), ==, 0);
  frame->format = ctx->pix_fmt;
  frame->width = w;
  frame->height = h;
  g_assert_cmpint (av_frame_get_buffer (frame, 0), ==, 0);
  /* A horizontal grey ramp, neutral chroma. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      frame->data[0][y * frame->linesize[0] + x] = x * 255 / (w - 1);
  for (int p = 1; p < 3; p++)
    for (int y = 0; y < (h + 1) / 2; y++)
      memset (frame->data[p] + y * frame->linesize[p], 128, (w + 1) / 2);
  g_assert_cmpint (avcodec_send_frame (ctx, frame), ==, 0);
  g_assert_cmpint (avcodec_receive_packet (ctx, pkt), ==, 0);

  g_assert_cmpint (ys_decoder_decode (dec, pkt->data, pkt->size, TRUE, &pic,
                       &error),
      ==, YS_DECODE_PICTURE);
  g_assert_cmpint (pic.width, ==, w);
  g_assert_cmpint (pic.height, ==, h);
  /* Full range kept: the ramp's ends are black and white. */
  g_assert_cmpint (pic.rgb[(gsize) (h - 1) * w * 3], <, 8);
  g_assert_cmpint (pic.rgb[(gsize) h * w * 3 - 1], >, 247);

  g_free (pic.rgb);
  ys_decoder_free (dec);
  av_packet_free (&pkt);
  av_frame_free (&frame);
  avcodec_free_context (&ctx);
}

/* dog.jpg in every input layout, rows padded, encodes to what the RGB
 * version encodes to; an odd-sized I420 frame too. */
static void
test_input_formats (void)
{
  static const YoloPixelFormat formats[]
      = { YOLO_PIXEL_RGB, YOLO_PIXEL_BGR, YOLO_PIXEL_RGBX, YOLO_PIXEL_BGRX,
          YOLO_PIXEL_XRGB, YOLO_PIXEL_XBGR, YOLO_PIXEL_I420, YOLO_PIXEL_NV12 };
  static const YsCodec codecs[] = { YS_CODEC_H264, YS_CODEC_MJPEG };

  for (guint c = 0; c < G_N_ELEMENTS (codecs); c++) {
    for (int odd = 0; odd < 2; odd++) {
      double scale = odd ? 0.5013 : 1.0; /* 385x289 */
      int w = odd ? 0 : 640, h = odd ? 0 : 480;
      YsPicture ref_pic = { NULL }, pic = { NULL };

      for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
        TestImage *img = test_image_load ("dog.jpg", scale, formats[i], 6);
        YsEncoder *enc = encoder_new (codecs[c], NULL, w, h, 4000000);
        YsDecoder *dec = decoder_new (codecs[c]);
        Packet *p = encode (enc, &img->frame);

        if (odd) {
          g_assert_cmpint (img->frame.width, ==, 385);
          g_assert_cmpint (p->width, ==, 384);
          g_assert_cmpint (p->height, ==, 288);
        }
        decode_ok (dec, p, i == 0 ? &ref_pic : &pic);
        if (i > 0) {
          double q
              = psnr (pic.rgb, ref_pic.rgb, (gsize) p->width * p->height * 3);
          g_test_message ("%s %s %dx%d: %.2f dB against RGB",
              codecs[c] == YS_CODEC_H264 ? "H.264" : "MJPEG",
              yolo_pixel_format_name (formats[i]), p->width, p->height, q);
          g_assert_cmpfloat (q, >, 30.0);
        }
        packet_free (p);
        ys_decoder_free (dec);
        ys_encoder_free (enc);
        test_image_free (img);
      }
      g_free (ref_pic.rgb);
      g_free (pic.rgb);
    }
  }
}

static void
test_hw_fallback (gconstpointer data)
{
  const char *hw = data;
  YsEncoder *enc = encoder_new (YS_CODEC_H264, hw, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };

  /* No V4L2 memory-to-memory device or VA-API here. */
  g_assert_cmpstr (ys_encoder_name (enc), ==, "libx264");
  for (int i = 0; i < 3; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p = encode (enc, &f);
    g_assert_cmpint (p->keyframe, ==, i == 0);
    decode_ok (dec, p, &pic);
    packet_free (p);
  }
  g_free (pic.rgb);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

static void
test_bad_arguments (void)
{
  YsEncoderOptions options = { YS_CODEC_NONE, NULL, 30, 30, NULL };
  const char *error = NULL;
  YsEncoder *enc;
  YoloFrame f = vtest_frame (0);
  YsPacket out;

  g_assert_null (ys_encoder_new (&options, &error));
  g_assert_nonnull (error);
  error = NULL;
  g_assert_null (ys_decoder_new (YS_CODEC_NONE, &error));
  g_assert_nonnull (error);

  enc = encoder_new (YS_CODEC_H264, NULL, 640, 480, 1000000);
  error = NULL;
  g_assert_false (ys_encoder_send (enc, NULL, 1, &error));
  g_assert_nonnull (error);
  f.strides[0] = VTEST_W * 3 - 1;
  error = NULL;
  g_assert_false (ys_encoder_send (enc, &f, 2, &error));
  g_assert_nonnull (error);
  f = vtest_frame (0);
  f.format = YOLO_PIXEL_I420; /* planes 1 and 2 missing */
  error = NULL;
  g_assert_false (ys_encoder_send (enc, &f, 3, &error));
  g_assert_nonnull (error);
  f = vtest_frame (0);
  f.width = 0;
  error = NULL;
  g_assert_false (ys_encoder_send (enc, &f, 4, &error));
  g_assert_nonnull (error);
  /* Nothing came of the refused frames. */
  g_assert_cmpint (ys_encoder_receive (enc, &out, &error), ==, 0);
  /* and it still works */
  f = vtest_frame (0);
  g_assert_true (ys_encoder_send (enc, &f, 5, &error));
  g_assert_cmpint (ys_encoder_receive (enc, &out, &error), ==, 1);
  g_assert_cmpuint (out.tag, ==, 5);
  g_assert_true (out.keyframe);
  g_assert_cmpint (ys_encoder_receive (enc, &out, &error), ==, 0);
  ys_encoder_free (enc);
}

/* ---- an encoder that holds frames back ------------------------------------- */

/* libx264 with a 10-frame rate-control lookahead.  x264-params are applied
 * after the preset and tune, so this overrides zerolatency's lookahead of
 * 0; zerolatency's sliced threads stay, which is why x264's sync-lookahead
 * would add nothing here. */
#define DELAY_OPTIONS "x264-params=rc-lookahead=10"
#define DELAY_FRAMES 10
#define BARS 8 /* bits of the frame number drawn in each frame */
#define BARS_W 320
#define BARS_H 240

/* Frame n: its number as BARS columns across the top half, white for a one
 * bit, black for a zero, over a background that moves with n (so every
 * frame costs the encoder something).  Packed RGB. */
static guint8 *
bars_pixels (int n)
{
  guint8 *rgb = g_malloc ((gsize) BARS_W * BARS_H * 3);

  for (int y = 0; y < BARS_H; y++)
    for (int x = 0; x < BARS_W; x++) {
      guint8 *px = rgb + ((gsize) y * BARS_W + x) * 3;
      int v;

      if (y < BARS_H / 2)
        v = (n >> (x * BARS / BARS_W)) & 1 ? 235 : 16;
      else
        v = 64 + (x + y + 4 * n) % 128;
      px[0] = px[1] = px[2] = (guint8) v;
    }
  return rgb;
}

static YoloFrame
bars_frame (const guint8 *rgb)
{
  YoloFrame f = { .format = YOLO_PIXEL_RGB, .width = BARS_W, .height = BARS_H };

  f.planes[0] = rgb;
  f.strides[0] = BARS_W * 3;
  return f;
}

/* The number a decoded bars frame shows, at whatever size it was encoded:
 * the middle of each column's upper half. */
static int
bars_read (const YsPicture *pic)
{
  int n = 0;

  for (int k = 0; k < BARS; k++) {
    int x = (2 * k + 1) * pic->width / (2 * BARS);
    int y = pic->height / 4;
    if (pic->rgb[((gsize) y * pic->width + x) * 3] > 128)
      n |= 1 << k;
  }
  return n;
}

/* Every packet decodes, in order, to the frame its tag names (tag = first
 * tag + frame number). */
static void
check_packets_are_their_frames (GPtrArray *packets, guint64 first_tag)
{
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };

  for (guint i = 0; i < packets->len; i++) {
    const Packet *p = packets->pdata[i];

    g_assert_cmpuint (p->tag, ==, first_tag + i);
    decode_ok (dec, p, &pic);
    g_assert_cmpint (bars_read (&pic), ==, (int) i);
  }
  g_free (pic.rgb);
  ys_decoder_free (dec);
}

/* The delay is real (nothing for the first frames), then every frame's
 * packet comes out once, in order, with its tag, and is that frame. */
static void
test_delayed_output (void)
{
  YsEncoder *enc = encoder_new_with (YS_CODEC_H264, NULL, DELAY_OPTIONS, BARS_W,
      BARS_H, 1000000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  const guint64 first_tag = 1000;
  const int frames = 40;
  int first_out = -1;
  YsPacket out;
  const char *error = NULL;

  g_assert_cmpstr (ys_encoder_name (enc), ==, "libx264");
  for (int i = 0; i < frames; i++) {
    guint8 *rgb = bars_pixels (i);
    YoloFrame f = bars_frame (rgb);

    if (!ys_encoder_send (enc, &f, first_tag + i, &error))
      g_error ("send %d: %s", i, error);
    g_free (rgb); /* the encoder keeps no pointer into the caller's frame */
    if (receive_all (enc, packets) > 0 && first_out < 0)
      first_out = i;
  }
  g_test_message ("first packet out after frame %d was sent", first_out);
  g_assert_cmpint (first_out, >=, DELAY_FRAMES / 2);
  /* Held frames wait, those out before the end number as many. */
  g_assert_cmpuint (packets->len, ==, frames - first_out);

  ys_encoder_drain (enc);
  receive_all (enc, packets);
  g_assert_cmpint (ys_encoder_receive (enc, &out, &error), ==, 0);
  g_assert_cmpuint (packets->len, ==, frames);
  for (guint i = 0; i < packets->len; i++) {
    const Packet *p = packets->pdata[i];
    g_assert_cmpint (p->width, ==, BARS_W);
    g_assert_cmpint (p->height, ==, BARS_H);
    g_assert_cmpint (p->bitrate, ==, 1000000);
  }
  g_assert_true (((Packet *) packets->pdata[0])->keyframe);
  check_packets_are_their_frames (packets, first_tag);

  /* After a drain the encoder starts again, with a keyframe. */
  {
    guint8 *rgb = bars_pixels (0);
    YoloFrame f = bars_frame (rgb);
    GPtrArray *more = g_ptr_array_new_with_free_func (packet_free);

    g_assert_true (ys_encoder_send (enc, &f, 7, &error));
    ys_encoder_drain (enc);
    g_assert_cmpuint (receive_all (enc, more), ==, 1);
    g_assert_cmpuint (((Packet *) more->pdata[0])->tag, ==, 7);
    g_assert_true (((Packet *) more->pdata[0])->keyframe);
    g_ptr_array_unref (more);
    g_free (rgb);
  }
  g_ptr_array_unref (packets);
  ys_encoder_free (enc);
}

/* A size change while the encoder holds frames: the old codec's packets
 * all come out first, at the old size, then the new size from a
 * keyframe, and no frame is lost. */
static void
test_delayed_size_change (void)
{
  YsEncoder *enc = encoder_new_with (YS_CODEC_H264, NULL, DELAY_OPTIONS, BARS_W,
      BARS_H, 1000000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  const int frames = 40, change = 20;
  guint out_before_change = 0, old_after_change = 0;
  const char *error = NULL;

  for (int i = 0; i < frames; i++) {
    guint8 *rgb = bars_pixels (i);
    YoloFrame f = bars_frame (rgb);

    if (i == change) {
      out_before_change = packets->len;
      ys_encoder_set_size (enc, BARS_W / 2, BARS_H / 2);
    }
    if (!ys_encoder_send (enc, &f, i, &error))
      g_error ("send %d: %s", i, error);
    g_free (rgb);
    receive_all (enc, packets);
  }
  ys_encoder_drain (enc);
  receive_all (enc, packets);

  g_assert_cmpuint (packets->len, ==, frames);
  for (guint i = out_before_change; i < packets->len; i++)
    if (((Packet *) packets->pdata[i])->width == BARS_W)
      old_after_change++;
  g_test_message ("%u frames of the old size were held at the change",
      old_after_change);
  /* The change found frames held: the drain was needed. */
  g_assert_cmpuint (old_after_change, >=, DELAY_FRAMES / 2);
  for (guint i = 0; i < packets->len; i++) {
    const Packet *p = packets->pdata[i];
    gboolean old = i < (guint) change;

    g_assert_cmpint (p->width, ==, old ? BARS_W : BARS_W / 2);
    g_assert_cmpint (p->height, ==, old ? BARS_H : BARS_H / 2);
    if (i == 0 || i == (guint) change)
      g_assert_true (p->keyframe);
  }
  check_packets_are_their_frames (packets, 0);
  g_ptr_array_unref (packets);
  ys_encoder_free (enc);
}

/* libx264 changes the rate in place, without a drain, and the frames it
 * already holds are encoded at the new rate: their packets say so, and
 * are smaller than the same frames without the change. */
static void
test_delayed_bitrate_change (void)
{
  YsEncoder *enc = encoder_new_with (YS_CODEC_H264, NULL, DELAY_OPTIONS, 640,
      480, 1000000);
  YsEncoder *control = encoder_new_with (YS_CODEC_H264, NULL, DELAY_OPTIONS,
      640, 480, 1000000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  GPtrArray *unchanged = g_ptr_array_new_with_free_func (packet_free);
  const int frames = 40, change = 20;
  guint out_before_change = 0;
  double held, same;
  const char *error = NULL;

  for (int i = 0; i < frames; i++) {
    YoloFrame f = vtest_frame (i % VTEST_FRAMES);

    if (i == change) {
      out_before_change = packets->len;
      ys_encoder_set_bitrate (enc, 100000);
    }
    g_assert_true (ys_encoder_send (enc, &f, i, &error));
    g_assert_true (ys_encoder_send (control, &f, i, &error));
    receive_all (enc, packets);
    receive_all (control, unchanged);
  }
  ys_encoder_drain (enc);
  ys_encoder_drain (control);
  receive_all (enc, packets);
  receive_all (control, unchanged);
  g_assert_cmpuint (packets->len, ==, frames);
  g_assert_cmpuint (out_before_change, <, change);

  for (guint i = 0; i < packets->len; i++) {
    const Packet *p = packets->pdata[i];
    g_assert_cmpuint (p->tag, ==, i);
    g_assert_cmpint (p->keyframe, ==, i % 30 == 0);
    g_assert_cmpint (p->bitrate, ==, i < out_before_change ? 1000000 : 100000);
  }
  /* The frames held at the change, less the one being encoded then. */
  held = mean_size (packets, out_before_change + 1, change - 1);
  same = mean_size (unchanged, out_before_change + 1, change - 1);
  g_test_message ("frames %u-%d, held at the change to 100 kbit/s: %.0f "
                  "bytes each, %.0f without the change",
      out_before_change + 1, change - 1, held, same);
  g_assert_cmpfloat (held, <, 0.6 * same);
  g_ptr_array_unref (packets);
  g_ptr_array_unref (unchanged);
  ys_encoder_free (control);
  ys_encoder_free (enc);
}

/* A caller that sends several frames before receiving loses none, also
 * across a size change: the packets it left in the codec wait for it, and
 * those of the old codec come out before the new codec's first, which it
 * has ready at once. */
static void
test_receive_late (void)
{
  YsEncoder *enc = encoder_new (YS_CODEC_H264, NULL, BARS_W, BARS_H, 1000000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  const int frames = 9, change = 6;
  const char *error = NULL;

  for (int i = 0; i < frames; i++) {
    guint8 *rgb = bars_pixels (i);
    YoloFrame f = bars_frame (rgb);

    if (i == change)
      ys_encoder_set_size (enc, BARS_W / 2, BARS_H / 2);
    g_assert_true (ys_encoder_send (enc, &f, 50 + i, &error));
    g_free (rgb);
  }
  g_assert_cmpuint (receive_all (enc, packets), ==, frames);
  for (int i = 0; i < frames; i++) {
    const Packet *p = packets->pdata[i];
    g_assert_cmpint (p->width, ==, i < change ? BARS_W : BARS_W / 2);
    g_assert_cmpint (p->keyframe, ==, i == 0 || i == change);
  }
  check_packets_are_their_frames (packets, 50);
  g_ptr_array_unref (packets);
  ys_encoder_free (enc);
}

/* An encoder set up to hold more than YS_ENCODER_MAX_HELD frames is told
 * so at the send after the limit, and a drain still gives every frame. */
static void
test_held_limit (void)
{
  /* x264 caps its lookahead at the keyframe interval. */
  YsEncoder *enc = encoder_new_with (YS_CODEC_H264, NULL,
      "x264-params=rc-lookahead=100\\:keyint=250", 160, 120, 500000);
  GPtrArray *packets = g_ptr_array_new_with_free_func (packet_free);
  guint8 *rgb = bars_pixels (0);
  YoloFrame f = bars_frame (rgb);
  const char *error = NULL;

  for (int i = 0; i < YS_ENCODER_MAX_HELD; i++) {
    if (!ys_encoder_send (enc, &f, i, &error))
      g_error ("send %d: %s", i, error);
    g_assert_cmpuint (receive_all (enc, packets), ==, 0);
  }
  error = NULL;
  g_assert_false (ys_encoder_send (enc, &f, 999, &error));
  g_test_message ("%s", error);
  g_assert_nonnull (strstr (error, "holds 64 frames"));
  ys_encoder_drain (enc);
  g_assert_cmpuint (receive_all (enc, packets), ==, YS_ENCODER_MAX_HELD);
  for (guint i = 0; i < packets->len; i++)
    g_assert_cmpuint (((Packet *) packets->pdata[i])->tag, ==, i);
  g_free (rgb);
  g_ptr_array_unref (packets);
  ys_encoder_free (enc);
}

/* ---- encoder options --------------------------------------------------------- */

static void
assert_refused (YsCodec codec, const char *av_options, const char *expect)
{
  YsEncoderOptions options = { codec, NULL, 30, 30, av_options };
  const char *error = NULL;

  g_assert_null (ys_encoder_new (&options, &error));
  g_assert_nonnull (error);
  g_test_message ("%s: %s", av_options, error);
  if (strstr (error, expect) == NULL)
    g_error ("\"%s\" is not in \"%s\"", expect, error);
}

static void
test_options_refused (void)
{
  assert_refused (YS_CODEC_H264, "foo=1", "libx264 has no option 'foo'");
  assert_refused (YS_CODEC_H264, "preset=ultrafast:foo=1",
      "libx264 has no option 'foo'");
  assert_refused (YS_CODEC_MJPEG, "x264-params=keyint=5",
      "mjpeg has no option 'x264-params'");
  /* Unescaped, x264's own separator ends the pair. */
  assert_refused (YS_CODEC_H264, "x264-params=rc-lookahead=10:sync-lookahead=5",
      "libx264 has no option 'sync-lookahead'");
  assert_refused (YS_CODEC_H264, "novalue", "Cannot read the encoder options");
  assert_refused (YS_CODEC_H264, "bf=2", "B-frames");
  assert_refused (YS_CODEC_H264, "x264-params=bframes=2", "B-frames");
  assert_refused (YS_CODEC_H264, "crf=abc", "with the encoder options given");
}

/* The user's x264-params are applied (keyint=5: a keyframe every five
 * frames) and merged with ours: repeat-headers=0 does not take SPS/PPS out
 * of the keyframes, so a decoder can start at the second one.  Both
 * quoting forms read the same. */
static void
test_options_x264_params (gconstpointer data)
{
  YsEncoder *enc
      = encoder_new_with (YS_CODEC_H264, NULL, data, 640, 480, 1000000);
  YsDecoder *dec = decoder_new (YS_CODEC_H264);
  YsPicture pic = { NULL };

  for (int i = 0; i < 8; i++) {
    YoloFrame f = vtest_frame (i);
    Packet *p = encode (enc, &f);

    g_assert_cmpint (p->keyframe, ==, i % 5 == 0);
    if (i >= 5)
      decode_ok (dec, p, &pic);
    packet_free (p);
  }
  g_free (pic.rgb);
  ys_decoder_free (dec);
  ys_encoder_free (enc);
}

/* Options are for the encoder asked for: a hardware encoder's do not reach
 * the software one it falls back to. */
static void
test_options_not_for_fallback (void)
{
  YsEncoder *enc = encoder_new_with (YS_CODEC_H264, "h264_v4l2m2m",
      "num_capture_buffers=8", 640, 480, 1000000);
  YoloFrame f = vtest_frame (0);
  Packet *p;

  g_assert_cmpstr (ys_encoder_name (enc), ==, "libx264");
  p = encode (enc, &f);
  g_assert_true (p->keyframe);
  packet_free (p);
  ys_encoder_free (enc);
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
  /* vtest_scaled's swscale reads a little past the last row (the encoder
   * guards against that itself; the stills in test_input_formats are not
   * padded, to check it). */
  vtest = g_realloc (vtest, size + 64);

  g_test_add_func ("/codec/h264/round-trip", test_h264_round_trip);
  g_test_add_func ("/codec/h264/bitrate-change", test_h264_bitrate_change);
  g_test_add_func ("/codec/h264/size-change", test_h264_size_change);
  g_test_add_func ("/codec/size-rules", test_size_rules);
  g_test_add_func ("/codec/mjpeg/round-trip-and-rate", test_mjpeg);
  g_test_add_func ("/codec/decoder/garbage", test_decoder_garbage);
  g_test_add_func ("/codec/decoder/truncated", test_decoder_truncated);
  g_test_add_func ("/codec/decoder/bit-flips", test_decoder_bit_flips);
  g_test_add_func ("/codec/decoder/starts-with-p-frame",
      test_decoder_starts_with_p_frame);
  g_test_add_func ("/codec/decoder/no-picture-wanted",
      test_decoder_no_picture_wanted);
  g_test_add_func ("/codec/decoder/odd-size", test_decoder_odd_size);
  g_test_add_func ("/codec/input-formats", test_input_formats);
  g_test_add_data_func ("/codec/hw-fallback/h264_v4l2m2m", "h264_v4l2m2m",
      test_hw_fallback);
  g_test_add_data_func ("/codec/hw-fallback/h264_vaapi", "h264_vaapi",
      test_hw_fallback);
  g_test_add_data_func ("/codec/hw-fallback/no-such-encoder", "no_such_encoder",
      test_hw_fallback);
  g_test_add_func ("/codec/bad-arguments", test_bad_arguments);
  g_test_add_func ("/codec/delayed/output", test_delayed_output);
  g_test_add_func ("/codec/delayed/size-change", test_delayed_size_change);
  g_test_add_func ("/codec/delayed/bitrate-change",
      test_delayed_bitrate_change);
  g_test_add_func ("/codec/receive-late", test_receive_late);
  g_test_add_func ("/codec/delayed/held-limit", test_held_limit);
  g_test_add_func ("/codec/options/refused", test_options_refused);
  g_test_add_data_func ("/codec/options/x264-params/escaped",
      "x264-params=repeat-headers=0\\:keyint=5", test_options_x264_params);
  g_test_add_data_func ("/codec/options/x264-params/quoted",
      "x264-params='keyint=5:repeat-headers=0'", test_options_x264_params);
  g_test_add_func ("/codec/options/not-for-fallback",
      test_options_not_for_fallback);
  ret = g_test_run ();
  g_free (vtest);
  return ret;
}
