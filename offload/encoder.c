/* The offload encoder; see encoder.h.
 *
 * Rate and size changes, and why each costs what it costs:
 *
 *  - libx264: FFmpeg's wrapper compares avctx->bit_rate, rc_max_rate and
 *    rc_buffer_size with its own copy before every frame and calls
 *    x264_encoder_reconfig when they differ, so a new bit rate takes effect
 *    on the next frame x264 encodes without a keyframe.  With a lookahead
 *    that is the oldest frame x264 holds, not the one just sent: frames
 *    already inside are encoded at the new rate too.  The VBV (max rate =
 *    bit rate, buffer = one second) is what makes x264 follow a lower rate
 *    within about a second instead of spending what its average-rate
 *    control saved earlier in the stream.
 *  - MJPEG: every frame is intra, so the rate is simply each frame's
 *    quantizer, chosen by a small controller from the last frame's size.
 *  - Other encoders (hardware) are reopened, which costs a keyframe.
 *  - A size change always reopens the codec context: the next frame is an
 *    IDR with SPS/PPS in band (repeat-headers), which is where the server's
 *    decoder may start.  What the old codec still held is drained first.
 *
 * Frames held by the codec: the encoder's pts counts frames sent, and a
 * fixed ring (held[]) maps each pts still inside the codec to the caller's
 * tag, size, bit rate and send time.  FFmpeg 5.1 has no
 * AV_CODEC_FLAG_COPY_OPAQUE to carry the tag through the codec, and a
 * fixed ring bounds how far an encoder may run ahead (YS_ENCODER_MAX_HELD)
 * instead of growing.  B-frames are refused at open, so packets come out
 * in pts order and the ring is a FIFO.
 *
 * Packets that left the codec before the caller asked for them wait in a
 * second fixed ring (queue[]): those of an old codec drained before a
 * reopen, and any a caller left behind before its next send.  receive
 * always empties it before asking the codec, which keeps packets in frame
 * order across a reopen.
 *
 * Steady state allocates nothing here: one AVFrame, which libx264 copies
 * from at send and mjpeg is done with once its packet is out (an encoder
 * still holding it makes av_frame_make_writable copy), one AVPacket reused
 * (the encoder allocates each packet's data), the queue's AVPackets
 * allocated once on first use, the swscale context cached. */
#include "encoder.h"

#include <libavcodec/avcodec.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_FPS 30
#define DEFAULT_GOP 30
#define DEFAULT_BITRATE 1000000
#define MIN_DIMENSION 16
/* x264 counts in kbit/s; below this no encoder does anything useful. */
#define MIN_BITRATE 10000
/* x264's VBV buffer, in seconds of the bit rate (with max rate = bit
 * rate).  Measured on vtest.avi at 640x480, 1 Mbit/s -> 200 kbit/s: the
 * frames right after the change are ~30% smaller, the new rate is reached
 * in about a second; 0.25 s reaches it faster but lets x264 spend less on
 * keyframes. */
#define VBV_SECONDS 1.0
/* How far past a row's last pixel swscale's SIMD input readers may load
 * (16 bytes seen for RGB24 and NV12 under valgrind; AVX2 loads 32). */
#define SWS_OVERREAD 64

/* MJPEG quantizer range and controller: q starts at MJPEG_Q_START, and
 * after each frame moves by (size / target)^MJPEG_Q_GAIN, at most by a
 * factor of MJPEG_Q_STEP either way.  JPEG bytes fall roughly as 1/q, so a
 * gain below one converges without overshooting on noisy frame sizes. */
#define MJPEG_Q_MIN 2.0
#define MJPEG_Q_MAX 31.0
#define MJPEG_Q_START 8.0
#define MJPEG_Q_GAIN 0.7
#define MJPEG_Q_STEP 2.0

/* open_codec: the user's encoder options are wrong for the encoder, which
 * is no reason to fall back to another one. */
#define OPTIONS_REFUSED FFERRTAG ('Y', 'S', 'O', 'P')

/* A frame given to the codec whose packet has not come out. */
typedef struct {
  int64_t pts;
  uint64_t tag;
  int width, height;
  int64_t bitrate;
  double sent_ms;
} Held;

typedef struct {
  AVPacket *packet; /* allocated on first use, then reused */
  Held frame;
  double out_ms;
} Queued;

struct YsEncoder {
  YsCodec codec;
  int fps, gop;
  char hw_name[64]; /* asked for; "" when software */
  const AVCodec *av_codec; /* the encoder in use */

  AVDictionary *av_options; /* the user's, parsed */

  AVCodecContext *ctx; /* NULL after a drain or a failure: reopened */
  AVFrame *frame; /* reused; see av_frame_make_writable in scale_frame */
  AVPacket *packet; /* the last packet, valid until the next call */
  enum AVPixelFormat pix_fmt; /* of ctx and frame */

  /* The wanted output: 0x0 follows the input frame's size. */
  int want_width, want_height;
  int64_t bitrate; /* wanted */
  int64_t open_bitrate; /* what ctx was opened or last reconfigured with */
  /* libx264 lowers its VBV one frame after the bit rate: its wrapper applies
   * the VBV first, and a max rate below the old bit rate makes x264 warn
   * ("assuming CBR") for what is a correct transition. */
  bool vbv_pending;
  bool force_keyframe;
  double mjpeg_q;
  int64_t pts;

  struct SwsContext *sws;
  /* What the cached swscale context was last set up for: swscale does not
   * keep colour ranges in its cache key, so they are set again whenever
   * anything here changes. */
  int sws_src_w, sws_src_h, sws_dst_w, sws_dst_h;
  enum AVPixelFormat sws_src_fmt, sws_dst_fmt;
  int sws_src_range, sws_dst_range;
  uint8_t *tail; /* the frame's last rows, padded (feed_tail) */
  size_t tail_capacity;

  /* Frames inside the codec, oldest first. */
  Held held[YS_ENCODER_MAX_HELD];
  int held_first, held_count;
  /* Packets out of the codec, not yet returned by receive, oldest first. */
  Queued queue[YS_ENCODER_MAX_HELD];
  int queue_first, queue_count;
  /* A drain that failed: told by the receive after its packets. */
  bool drain_failed;

  char error[256];
  char drain_error[256];
};

/* ys_encoder_new has no encoder to keep its error in. */
static _Thread_local char new_error[256];

static double
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
clamp_dimension (int v)
{
  if (v > YS_MAX_DIMENSION)
    v = YS_MAX_DIMENSION;
  v &= ~1;
  return v < MIN_DIMENSION ? MIN_DIMENSION : v;
}

/* The VBV buffer in bits for a bit rate. */
static int
vbv_size (int64_t bitrate)
{
  double bits = bitrate * VBV_SECONDS;
  return bits > INT_MAX ? INT_MAX : (int) bits;
}

static bool
codec_takes (const AVCodec *codec, enum AVPixelFormat fmt)
{
  if (codec->pix_fmts == NULL)
    return true;
  for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE;
       p++)
    if (*p == fmt)
      return true;
  return false;
}

static bool
is_libx264 (const YsEncoder *enc)
{
  return strcmp (enc->av_codec->name, "libx264") == 0;
}

static const char *
software_name (YsCodec codec)
{
  return codec == YS_CODEC_H264 ? "libx264" : "mjpeg";
}

static bool
is_software (const YsEncoder *enc)
{
  return strcmp (enc->av_codec->name, software_name (enc->codec)) == 0;
}

/* The software MJPEG encoder: its rate is each frame's quantizer. */
static bool
uses_qscale (const YsEncoder *enc)
{
  return enc->codec == YS_CODEC_MJPEG && is_software (enc);
}

/* The frames the codec held go with it: no packet will come for them. */
static void
close_codec (YsEncoder *enc)
{
  avcodec_free_context (&enc->ctx);
  av_frame_free (&enc->frame);
  enc->held_first = enc->held_count = 0;
}

/* The options an open of enc->av_codec is given: the user's when it is the
 * encoder they were written for (*users then), and for libx264 our
 * x264-params merged behind the user's (so repeat-headers=1 wins). */
static AVDictionary *
open_options (YsEncoder *enc, bool *users, bool *no_memory)
{
  const char *asked
      = enc->hw_name[0] != '\0' ? enc->hw_name : software_name (enc->codec);
  AVDictionary *opts = NULL;
  AVDictionaryEntry *user;

  *no_memory = false;
  *users = strcmp (enc->av_codec->name, asked) == 0
      && av_dict_count (enc->av_options) > 0;
  if (*users && av_dict_copy (&opts, enc->av_options, 0) < 0)
    goto no_memory;
  if (!is_libx264 (enc))
    return opts;

  /* SPS/PPS before every IDR: the server's decoder may start at any
   * keyframe, and Annex B output (no global header) carries them. */
  user = av_dict_get (opts, "x264-params", NULL, 0);
  if (user != NULL && user->value[0] != '\0') {
    size_t n = strlen (user->value);
    char *merged = av_asprintf ("%s%srepeat-headers=1", user->value,
        user->value[n - 1] == ':' ? "" : ":");
    if (merged == NULL
        || av_dict_set (&opts, "x264-params", merged, AV_DICT_DONT_STRDUP_VAL)
            < 0)
      goto no_memory;
  } else if (av_dict_set (&opts, "x264-params", "repeat-headers=1", 0) < 0) {
    goto no_memory;
  }
  return opts;

no_memory:
  av_dict_free (&opts);
  *no_memory = true;
  return NULL;
}

/* Whether codec, or AVCodecContext, has an option called key. */
static bool
option_known (const AVCodec *codec, const char *key)
{
  const AVClass *generic = avcodec_get_class ();

  return av_opt_find (&generic, key, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) != NULL
      || (codec->priv_class != NULL
          && av_opt_find ((void *) &codec->priv_class, key, NULL, 0,
                 AV_OPT_SEARCH_FAKE_OBJ)
              != NULL);
}

/* Opens enc->av_codec at width x height, taking pix_fmt frames, at the
 * wanted bit rate.  Returns an AVERROR, or OPTIONS_REFUSED when the user's
 * options are wrong for it; enc->error says what failed. */
static int
open_codec (YsEncoder *enc, int width, int height, enum AVPixelFormat pix_fmt)
{
  const AVCodec *codec = enc->av_codec;
  AVCodecContext *ctx;
  AVDictionary *opts = NULL;
  AVDictionaryEntry *unknown;
  bool no_memory, opts_given;
  int ret;

  close_codec (enc);
  ctx = enc->ctx = avcodec_alloc_context3 (codec);
  if (ctx == NULL) {
    ret = AVERROR (ENOMEM);
    goto alloc_failed;
  }

  enc->pix_fmt = pix_fmt;
  ctx->pix_fmt = pix_fmt;
  ctx->width = width;
  ctx->height = height;
  ctx->time_base = (AVRational){ 1, enc->fps };
  ctx->framerate = (AVRational){ enc->fps, 1 };
  ctx->max_b_frames = 0;

  if (uses_qscale (enc)) {
    /* Quantizer per frame (mjpeg_update_q) instead of a bit rate.  The j
     * format is how the encoder is told "full range" without lowering
     * strict_std_compliance. */
    ctx->color_range = AVCOL_RANGE_JPEG;
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = (int) (FF_QP2LAMBDA * enc->mjpeg_q);
  } else {
    /* The mpegvideo encoders refuse this flag except for MPEG-2. */
    if (enc->codec == YS_CODEC_H264)
      ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    ctx->gop_size = enc->gop;
    ctx->bit_rate = enc->bitrate;
    ctx->rc_max_rate = enc->bitrate;
    ctx->rc_buffer_size = vbv_size (enc->bitrate);
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_SMPTE170M;
    ctx->color_primaries = AVCOL_PRI_SMPTE170M;
    ctx->color_trc = AVCOL_TRC_SMPTE170M;
    if (is_libx264 (enc)) {
      av_opt_set (ctx->priv_data, "preset", "ultrafast", 0);
      av_opt_set (ctx->priv_data, "tune", "zerolatency", 0);
      /* A forced keyframe is an IDR, not an open-GOP I frame. */
      av_opt_set_int (ctx->priv_data, "forced-idr", 1, 0);
    }
  }

  /* The user's options go in at open, so they override everything above. */
  opts = open_options (enc, &opts_given, &no_memory);
  if (no_memory) {
    ret = AVERROR (ENOMEM);
    goto alloc_failed;
  }

  ret = avcodec_open2 (ctx, codec, &opts);
  /* avcodec_open2 leaves in opts what neither the codec context nor the
   * codec took: a typo, or an option of another encoder.  When an option's
   * value is refused it leaves them all, so each is looked up. */
  unknown = NULL;
  while ((unknown = av_dict_get (opts, "", unknown, AV_DICT_IGNORE_SUFFIX))
      != NULL)
    if (!option_known (codec, unknown->key))
      goto unknown_option;
  av_dict_free (&opts);
  if (ret < 0 && opts_given)
    goto open_failed_options;
  if (ret < 0)
    goto open_failed;
  if (ctx->has_b_frames > 0 || ctx->max_b_frames > 0)
    goto reorders;
  enc->open_bitrate = enc->bitrate;
  enc->vbv_pending = false;

  enc->frame = av_frame_alloc ();
  if (enc->frame == NULL) {
    ret = AVERROR (ENOMEM);
    goto alloc_failed;
  }
  enc->frame->format = pix_fmt;
  enc->frame->width = width;
  enc->frame->height = height;
  enc->frame->color_range = ctx->color_range;
  ret = av_frame_get_buffer (enc->frame, 0);
  if (ret < 0)
    goto alloc_failed;
  return 0;

  /* ERRORS */
alloc_failed:
  snprintf (enc->error, sizeof (enc->error),
      "Out of memory setting up the %s encoder.", codec->name);
  close_codec (enc);
  return ret;
unknown_option:
  snprintf (enc->error, sizeof (enc->error),
      "%s has no option '%s' (given in the encoder options): see "
      "`ffmpeg -h encoder=%s` for the ones it has.",
      codec->name, unknown->key, codec->name);
  av_dict_free (&opts);
  close_codec (enc);
  return OPTIONS_REFUSED;
open_failed:
  snprintf (enc->error, sizeof (enc->error),
      "Cannot open the %s encoder at %dx%d: %s.", codec->name, width, height,
      av_err2str (ret));
  close_codec (enc);
  return ret;
open_failed_options:
  snprintf (enc->error, sizeof (enc->error),
      "Cannot open the %s encoder at %dx%d with the encoder options given: "
      "%s (a value it refuses?).",
      codec->name, width, height, av_err2str (ret));
  close_codec (enc);
  return ret;
reorders:
  snprintf (enc->error, sizeof (enc->error),
      "The %s encoder is set up with B-frames (from the encoder options): "
      "the edge server decodes frames in the order they are sent, so "
      "B-frames must stay off.",
      codec->name);
  close_codec (enc);
  return OPTIONS_REFUSED;
}

/* Opens the encoder in use at width x height.  A hardware encoder is
 * tried with NV12, then YUV420P software frames (h264_v4l2m2m takes
 * either); one that opens with neither is replaced by the software
 * encoder for good.  h264_vaapi is in that case: it wants hardware frames,
 * and uploading to VA-API surfaces is not implemented, so asking for it
 * gives libx264.  Options it does not know are the user's mistake, not a
 * reason to fall back. */
static bool
open_with_fallback (YsEncoder *enc, int width, int height)
{
  static const enum AVPixelFormat hw_formats[]
      = { AV_PIX_FMT_NV12, AV_PIX_FMT_YUV420P };
  const AVCodec *software;

  if (!is_software (enc)) {
    for (size_t i = 0; i < sizeof (hw_formats) / sizeof (hw_formats[0]); i++) {
      int ret;

      if (!codec_takes (enc->av_codec, hw_formats[i]))
        continue;
      ret = open_codec (enc, width, height, hw_formats[i]);
      if (ret == 0)
        return true;
      if (ret == OPTIONS_REFUSED)
        return false;
    }
    software = avcodec_find_encoder_by_name (software_name (enc->codec));
    if (software == NULL) {
      snprintf (enc->error, sizeof (enc->error),
          "The %s encoder does not open and this FFmpeg has no %s to fall "
          "back to.",
          enc->av_codec->name, software_name (enc->codec));
      return false;
    }
    enc->av_codec = software;
  }
  return open_codec (enc, width, height,
             enc->codec == YS_CODEC_MJPEG ? AV_PIX_FMT_YUVJ420P
                                          : AV_PIX_FMT_YUV420P)
      == 0;
}

YsEncoder *
ys_encoder_new (const YsEncoderOptions *options, const char **error)
{
  YsEncoder *enc;
  const char *sw_name;

  if (options == NULL
      || (options->codec != YS_CODEC_H264 && options->codec != YS_CODEC_MJPEG))
    goto bad_codec;

  enc = calloc (1, sizeof (*enc));
  if (enc == NULL)
    goto no_memory;
  enc->codec = options->codec;
  enc->fps = options->fps > 0 ? options->fps : DEFAULT_FPS;
  enc->gop = options->gop > 0 ? options->gop : DEFAULT_GOP;
  enc->bitrate = DEFAULT_BITRATE;
  enc->mjpeg_q = MJPEG_Q_START;
  enc->sws_src_fmt = enc->sws_dst_fmt = AV_PIX_FMT_NONE;
  if (options->hw_encoder != NULL)
    snprintf (enc->hw_name, sizeof (enc->hw_name), "%s", options->hw_encoder);
  if (options->av_options != NULL
      && av_dict_parse_string (&enc->av_options, options->av_options, "=", ":",
             0)
          < 0)
    goto bad_options;

  sw_name = software_name (enc->codec);
  /* A hardware encoder must make the stream's codec. */
  if (enc->hw_name[0] != '\0') {
    enc->av_codec = avcodec_find_encoder_by_name (enc->hw_name);
    if (enc->av_codec != NULL
        && enc->av_codec->id
            != (enc->codec == YS_CODEC_H264 ? AV_CODEC_ID_H264
                                            : AV_CODEC_ID_MJPEG))
      enc->av_codec = NULL;
  }
  if (enc->av_codec == NULL)
    enc->av_codec = avcodec_find_encoder_by_name (sw_name);
  if (enc->av_codec == NULL)
    goto no_encoder;

  enc->packet = av_packet_alloc ();
  if (enc->packet == NULL)
    goto no_memory_free;

  /* Opened now, at a placeholder size, so that a missing or broken encoder
   * is reported here and ys_encoder_name is right before the first frame;
   * the first frame reopens it at its own size if that differs. */
  if (!open_with_fallback (enc, 640, 480))
    goto open_failed;
  return enc;

  /* ERRORS */
bad_codec:
  *error = "The encoder supports only H.264 and MJPEG.";
  return NULL;
bad_options:
  snprintf (new_error, sizeof (new_error),
      "Cannot read the encoder options \"%s\": write key=value pairs "
      "separated by ':' (a '\\' before a ':' that is part of a value).",
      options->av_options);
  ys_encoder_free (enc);
  *error = new_error;
  return NULL;
no_memory_free:
  ys_encoder_free (enc);
no_memory:
  *error = "Out of memory creating the encoder.";
  return NULL;
no_encoder:
  snprintf (new_error, sizeof (new_error),
      "This FFmpeg has no %s encoder: install one built with it.", sw_name);
  ys_encoder_free (enc);
  *error = new_error;
  return NULL;
open_failed:
  snprintf (new_error, sizeof (new_error), "%s", enc->error);
  ys_encoder_free (enc);
  *error = new_error;
  return NULL;
}

void
ys_encoder_free (YsEncoder *enc)
{
  if (enc == NULL)
    return;
  close_codec (enc);
  av_packet_free (&enc->packet);
  for (int i = 0; i < YS_ENCODER_MAX_HELD; i++)
    av_packet_free (&enc->queue[i].packet);
  av_dict_free (&enc->av_options);
  sws_freeContext (enc->sws);
  free (enc->tail);
  free (enc);
}

void
ys_encoder_set_size (YsEncoder *enc, int width, int height)
{
  enc->want_width = clamp_dimension (width);
  enc->want_height = clamp_dimension (height);
}

void
ys_encoder_set_bitrate (YsEncoder *enc, int64_t bitrate)
{
  if (bitrate > 0)
    enc->bitrate = bitrate < MIN_BITRATE ? MIN_BITRATE : bitrate;
}

void
ys_encoder_force_keyframe (YsEncoder *enc)
{
  enc->force_keyframe = true;
}

const char *
ys_encoder_name (const YsEncoder *enc)
{
  return enc->av_codec->name;
}

static enum AVPixelFormat
av_format_of (YoloPixelFormat format, int *planes)
{
  *planes = 1;
  switch (format) {
    case YOLO_PIXEL_RGB: return AV_PIX_FMT_RGB24;
    case YOLO_PIXEL_BGR: return AV_PIX_FMT_BGR24;
    case YOLO_PIXEL_RGBX: return AV_PIX_FMT_RGB0;
    case YOLO_PIXEL_BGRX: return AV_PIX_FMT_BGR0;
    case YOLO_PIXEL_XRGB: return AV_PIX_FMT_0RGB;
    case YOLO_PIXEL_XBGR: return AV_PIX_FMT_0BGR;
    case YOLO_PIXEL_I420: *planes = 3; return AV_PIX_FMT_YUV420P;
    case YOLO_PIXEL_NV12: *planes = 2; return AV_PIX_FMT_NV12;
  }
  return AV_PIX_FMT_NONE;
}

/* The frame's planes hold at least the rows their strides claim. */
static bool
frame_usable (const YoloFrame *frame, enum AVPixelFormat fmt, int planes)
{
  int linesizes[4];

  if (frame->width < 1 || frame->height < 1 || frame->width > YS_MAX_DIMENSION
      || frame->height > YS_MAX_DIMENSION)
    return false;
  if (av_image_fill_linesizes (linesizes, fmt, frame->width) < 0)
    return false;
  for (int i = 0; i < planes; i++)
    if (frame->planes[i] == NULL || frame->strides[i] < linesizes[i])
      return false;
  return true;
}

/* swscale's SIMD input readers load whole vectors and so read up to
 * SWS_OVERREAD bytes past a row's last pixel: inside the frame that is the
 * next row (or stride padding), after the last row it is past the caller's
 * buffer.  So the frame goes to swscale in two slices: all but the last few
 * rows straight from the caller's planes, the last rows from a copy with
 * room after every row.  Fills tail[]/tail_strides[] and returns the first
 * row of the tail slice (even, for the chroma planes), or -1 without
 * memory. */
static int
copy_tail (YsEncoder *enc, const YoloFrame *frame, enum AVPixelFormat fmt,
    int planes, const uint8_t *tail[4], int tail_strides[4])
{
  const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get (fmt);
  int linesizes[4];
  int rows = 2; /* luma rows in the tail */
  int split;
  size_t need = 0, offset = 0;

  av_image_fill_linesizes (linesizes, fmt, frame->width);
  for (int i = 0; i < planes; i++) {
    int sub = i > 0 ? desc->log2_chroma_h : 0;
    int plane_rows = (SWS_OVERREAD + frame->strides[i] - 1) / frame->strides[i];
    if ((plane_rows << sub) > rows)
      rows = plane_rows << sub;
  }
  rows += rows & 1;
  split = frame->height > rows ? (frame->height - rows) & ~1 : 0;

  for (int i = 0; i < planes; i++) {
    int sub = i > 0 ? desc->log2_chroma_h : 0;
    int first = split >> sub;
    int last = -((-frame->height) >> sub); /* rows in the plane */
    tail_strides[i] = FFALIGN (linesizes[i], 64) + SWS_OVERREAD;
    need += (size_t) tail_strides[i] * (last - first);
  }
  need += SWS_OVERREAD;
  if (need > enc->tail_capacity) {
    uint8_t *grown = realloc (enc->tail, need);
    if (grown == NULL)
      return -1;
    enc->tail = grown;
    enc->tail_capacity = need;
  }

  for (int i = 0; i < planes; i++) {
    int sub = i > 0 ? desc->log2_chroma_h : 0;
    int first = split >> sub;
    int last = -((-frame->height) >> sub);
    uint8_t *dst = enc->tail + offset;

    tail[i] = dst;
    for (int y = first; y < last; y++) {
      uint8_t *row = dst + (size_t) (y - first) * tail_strides[i];
      /* The padding is zeroed: what swscale reads there can reach the
       * padding of the encoder's frame. */
      memcpy (row, frame->planes[i] + (size_t) y * frame->strides[i],
          linesizes[i]);
      memset (row + linesizes[i], 0, tail_strides[i] - linesizes[i]);
    }
    offset += (size_t) tail_strides[i] * (last - first);
  }
  memset (enc->tail + offset, 0, SWS_OVERREAD);
  return split;
}

/* Converts and scales frame into enc->frame. */
static bool
scale_frame (YsEncoder *enc, const YoloFrame *frame, enum AVPixelFormat src_fmt,
    int planes)
{
  /* The mjpeg encoder's yuvj420p is yuv420p in full range: swscale is given
   * the plain format and the range, as it wants. */
  enum AVPixelFormat dst_fmt
      = enc->pix_fmt == AV_PIX_FMT_YUVJ420P ? AV_PIX_FMT_YUV420P : enc->pix_fmt;
  int dst_range = enc->pix_fmt == AV_PIX_FMT_YUVJ420P;
  int src_range = 0; /* I420/NV12 input is BT.601 limited range */
  AVFrame *out = enc->frame;
  const uint8_t *src[4]
      = { frame->planes[0], frame->planes[1], frame->planes[2], NULL };
  int src_strides[4]
      = { frame->strides[0], frame->strides[1], frame->strides[2], 0 };
  const uint8_t *tail[4] = { NULL };
  int tail_strides[4] = { 0 };
  int split, lines = 0;

  enc->sws
      = sws_getCachedContext (enc->sws, frame->width, frame->height, src_fmt,
          out->width, out->height, dst_fmt, SWS_BILINEAR, NULL, NULL, NULL);
  if (enc->sws == NULL)
    return false;
  if (enc->sws_src_w != frame->width || enc->sws_src_h != frame->height
      || enc->sws_src_fmt != src_fmt || enc->sws_dst_w != out->width
      || enc->sws_dst_h != out->height || enc->sws_dst_fmt != dst_fmt
      || enc->sws_src_range != src_range || enc->sws_dst_range != dst_range) {
    const int *bt601 = sws_getCoefficients (SWS_CS_ITU601);

    sws_setColorspaceDetails (enc->sws, bt601, src_range, bt601, dst_range, 0,
        1 << 16, 1 << 16);
    enc->sws_src_w = frame->width;
    enc->sws_src_h = frame->height;
    enc->sws_src_fmt = src_fmt;
    enc->sws_dst_w = out->width;
    enc->sws_dst_h = out->height;
    enc->sws_dst_fmt = dst_fmt;
    enc->sws_src_range = src_range;
    enc->sws_dst_range = dst_range;
  }

  /* Copies only if the encoder still holds the buffer: libx264 copies its
   * input at send, a hardware encoder may keep a reference. */
  if (av_frame_make_writable (out) < 0)
    return false;
  split = copy_tail (enc, frame, src_fmt, planes, tail, tail_strides);
  if (split < 0)
    return false;
  if (split > 0)
    lines += sws_scale (enc->sws, src, src_strides, 0, split, out->data,
        out->linesize);
  lines += sws_scale (enc->sws, tail, tail_strides, split,
      frame->height - split, out->data, out->linesize);
  return lines == out->height;
}

/* The next MJPEG quantizer from the size of the frame just encoded. */
static void
mjpeg_update_q (YsEncoder *enc, size_t bytes)
{
  double target = (double) enc->bitrate / 8.0 / enc->fps;
  double step = pow ((double) bytes / target, MJPEG_Q_GAIN);

  if (step > MJPEG_Q_STEP)
    step = MJPEG_Q_STEP;
  else if (step < 1.0 / MJPEG_Q_STEP)
    step = 1.0 / MJPEG_Q_STEP;
  enc->mjpeg_q *= step;
  if (enc->mjpeg_q < MJPEG_Q_MIN)
    enc->mjpeg_q = MJPEG_Q_MIN;
  else if (enc->mjpeg_q > MJPEG_Q_MAX)
    enc->mjpeg_q = MJPEG_Q_MAX;
}

/* ---- frames held, packets queued ------------------------------------------- */

static Held *
held_at (YsEncoder *enc, int i)
{
  return &enc->held[(enc->held_first + i) % YS_ENCODER_MAX_HELD];
}

/* The frame pkt was made from, taken out of held[] into *frame; frames
 * sent before it that the encoder skipped go too (with no B-frames,
 * packets come out in pts order).  false when pkt is for no frame held. */
static bool
take_held (YsEncoder *enc, const AVPacket *pkt, Held *frame)
{
  int i = 0;

  /* An encoder that does not keep pts gives packets in frame order. */
  if (pkt->pts != AV_NOPTS_VALUE)
    while (i < enc->held_count && held_at (enc, i)->pts != pkt->pts)
      i++;
  if (i >= enc->held_count)
    return false;
  *frame = *held_at (enc, i);
  enc->held_first = (enc->held_first + i + 1) % YS_ENCODER_MAX_HELD;
  enc->held_count -= i + 1;
  return true;
}

/* The packet enc->packet just came out of the codec: its frame, and the
 * MJPEG controller's next quantizer.  false with enc->error set when it
 * belongs to no frame held (it is then dropped): an encoder that makes up
 * pts, or reorders despite max_b_frames = 0. */
static bool
packet_out (YsEncoder *enc, Held *frame)
{
  if (!take_held (enc, enc->packet, frame)) {
    snprintf (enc->error, sizeof (enc->error),
        "The %s encoder returned a packet (pts %" PRId64 ") for no frame it "
        "was given.",
        enc->av_codec->name, enc->packet->pts);
    av_packet_unref (enc->packet);
    return false;
  }
  if (uses_qscale (enc))
    mjpeg_update_q (enc, (size_t) enc->packet->size);
  else
    /* libx264 applies a new rate to the frames still in its lookahead too:
     * the rate of a packet is the one in force when it is made.  (A
     * reopened codec drains first, still at its own rate.) */
    frame->bitrate = enc->open_bitrate;
  return true;
}

/* Moves enc->packet, of frame, to the end of queue[]. */
static bool
queue_push (YsEncoder *enc, const Held *frame, double out_ms)
{
  Queued *q;

  /* Cannot be full: every queued packet was a held frame, and send keeps
   * held + queued below YS_ENCODER_MAX_HELD. */
  if (enc->queue_count >= YS_ENCODER_MAX_HELD)
    return false;
  q = &enc->queue[(enc->queue_first + enc->queue_count) % YS_ENCODER_MAX_HELD];
  if (q->packet == NULL && (q->packet = av_packet_alloc ()) == NULL)
    return false;
  av_packet_move_ref (q->packet, enc->packet);
  q->frame = *frame;
  q->out_ms = out_ms;
  enc->queue_count++;
  return true;
}

static void
fill_packet (YsPacket *packet, const AVPacket *pkt, const Held *frame,
    double out_ms)
{
  packet->data = pkt->data;
  packet->size = (size_t) pkt->size;
  packet->tag = frame->tag;
  packet->keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
  packet->width = frame->width;
  packet->height = frame->height;
  packet->bitrate = frame->bitrate;
  packet->encode_ms = out_ms - frame->sent_ms;
}

/* Moves the packets the codec has ready into queue[]: for a caller that
 * did not receive them all before its next send. */
static int
collect_ready (YsEncoder *enc)
{
  Held frame;
  int ret;

  while ((ret = avcodec_receive_packet (enc->ctx, enc->packet)) == 0)
    if (packet_out (enc, &frame) && !queue_push (enc, &frame, now_ms ()))
      return AVERROR (ENOMEM);
  return ret == AVERROR (EAGAIN) ? 0 : ret;
}

/* Flushes and closes the codec: what it held goes to queue[], before any
 * packet of the codec opened next.  A failure is kept for receive to tell
 * after those packets (drain_error). */
static void
drain_codec (YsEncoder *enc)
{
  Held frame;
  int ret = 0;

  if (enc->ctx == NULL)
    return;
  /* An encoder that holds nothing has nothing to flush. */
  if (enc->held_count > 0) {
    ret = avcodec_send_frame (enc->ctx, NULL);
    if (ret == AVERROR (EAGAIN)) {
      /* The caller left packets in the codec: it takes no flush before
       * they are out. */
      ret = collect_ready (enc);
      if (ret == 0)
        ret = avcodec_send_frame (enc->ctx, NULL);
    }
    while (ret >= 0) {
      ret = avcodec_receive_packet (enc->ctx, enc->packet);
      if (ret == 0 && packet_out (enc, &frame)
          && !queue_push (enc, &frame, now_ms ()))
        ret = AVERROR (ENOMEM);
    }
    if (ret == AVERROR_EOF)
      ret = 0;
  }
  if (ret < 0 && !enc->drain_failed) {
    snprintf (enc->drain_error, sizeof (enc->drain_error),
        "The %s encoder failed while flushing: %s; the %d frames it still "
        "held are lost.",
        enc->av_codec->name, av_err2str (ret), enc->held_count);
    enc->drain_failed = true;
  } else if (enc->held_count > 0 && !enc->drain_failed) {
    snprintf (enc->drain_error, sizeof (enc->drain_error),
        "The %s encoder was flushed without returning %d of its frames.",
        enc->av_codec->name, enc->held_count);
    enc->drain_failed = true;
  }
  close_codec (enc);
}

/* ---- frames in, packets out ------------------------------------------------- */

/* Brings ctx to the wanted bit rate before the next frame. */
static bool
apply_bitrate (YsEncoder *enc, int width, int height)
{
  AVCodecContext *ctx = enc->ctx;
  int64_t rate = enc->bitrate;

  if (uses_qscale (enc))
    return true;
  if (!is_libx264 (enc)) {
    /* No in-place reconfiguration known for other encoders: reopen, after
     * the old codec gave back what it held. */
    if (rate == enc->open_bitrate)
      return true;
    drain_codec (enc);
    return open_with_fallback (enc, width, height);
  }

  if (enc->vbv_pending) {
    /* The second half of a decrease: the VBV follows the bit rate. */
    ctx->rc_max_rate = ctx->bit_rate;
    ctx->rc_buffer_size = vbv_size (ctx->bit_rate);
    enc->vbv_pending = false;
  }
  if (rate == enc->open_bitrate)
    return true;
  ctx->bit_rate = rate;
  if (rate >= ctx->rc_max_rate) {
    ctx->rc_max_rate = rate;
    ctx->rc_buffer_size = vbv_size (rate);
  } else {
    enc->vbv_pending = true;
  }
  enc->open_bitrate = rate;
  return true;
}

bool
ys_encoder_send (YsEncoder *enc, const YoloFrame *frame, uint64_t tag,
    const char **error)
{
  double start = now_ms ();
  enum AVPixelFormat src_fmt;
  int planes, width, height, ret;
  Held *held;
  AVFrame *f;

  av_packet_unref (enc->packet);
  if (frame == NULL)
    goto bad_frame;
  src_fmt = av_format_of (frame->format, &planes);
  if (src_fmt == AV_PIX_FMT_NONE || !frame_usable (frame, src_fmt, planes))
    goto bad_frame;
  if (enc->held_count + enc->queue_count >= YS_ENCODER_MAX_HELD)
    goto too_many;

  width = enc->want_width ? enc->want_width : clamp_dimension (frame->width);
  height
      = enc->want_height ? enc->want_height : clamp_dimension (frame->height);
  if (enc->ctx != NULL
      && (enc->ctx->width != width || enc->ctx->height != height))
    drain_codec (enc);
  if (enc->ctx == NULL && !open_with_fallback (enc, width, height))
    goto failed;
  if (!apply_bitrate (enc, width, height))
    goto failed;

  if (!scale_frame (enc, frame, src_fmt, planes))
    goto scale_failed;

  f = enc->frame;
  f->pts = enc->pts;
  f->pict_type = AV_PICTURE_TYPE_NONE;
  f->key_frame = 0;
  if (enc->force_keyframe) {
    f->pict_type = AV_PICTURE_TYPE_I;
    f->key_frame = 1;
  }
  f->quality = 0;
  if (uses_qscale (enc))
    f->quality = (int) lrint (FF_QP2LAMBDA * enc->mjpeg_q);

  /* Recorded first: the codec may return this frame's packet at once. */
  held = held_at (enc, enc->held_count);
  held->pts = enc->pts;
  held->tag = tag;
  held->width = width;
  held->height = height;
  held->bitrate = enc->bitrate;
  held->sent_ms = start;
  enc->held_count++;

  ret = avcodec_send_frame (enc->ctx, f);
  if (ret == AVERROR (EAGAIN)) {
    /* The caller left packets in the codec: they wait in the queue. */
    ret = collect_ready (enc);
    if (ret == 0)
      ret = avcodec_send_frame (enc->ctx, f);
  }
  if (ret < 0)
    goto encode_failed;
  enc->pts++;
  enc->force_keyframe = false;
  return true;

  /* ERRORS */
bad_frame:
  *error = "The frame is unusable: unknown pixel format, a size outside "
           "1..16384, or a missing plane or a stride shorter than a row.";
  return false;
too_many:
  snprintf (enc->error, sizeof (enc->error),
      "The %s encoder holds %d frames without returning their packets, the "
      "most allowed: it is set up to delay more than offloading can use "
      "(lower its lookahead in the encoder options), or its packets are not "
      "being received.",
      enc->av_codec->name, YS_ENCODER_MAX_HELD);
  *error = enc->error;
  return false;
scale_failed:
  snprintf (enc->error, sizeof (enc->error),
      "Cannot convert a %dx%d %s frame to %dx%d for the %s encoder.",
      frame->width, frame->height, yolo_pixel_format_name (frame->format),
      width, height, enc->av_codec->name);
  *error = enc->error;
  return false;
encode_failed:
  /* Not held after all (unless its packet already came out, which a codec
   * that then fails does not do). */
  if (enc->held_count > 0
      && held_at (enc, enc->held_count - 1)->pts == enc->pts)
    enc->held_count--;
  snprintf (enc->error, sizeof (enc->error), "The %s encoder failed: %s.",
      enc->av_codec->name, av_err2str (ret));
  *error = enc->error;
  return false;
failed:
  *error = enc->error;
  return false;
}

int
ys_encoder_receive (YsEncoder *enc, YsPacket *packet, const char **error)
{
  Held frame;
  int ret;

  av_packet_unref (enc->packet);
  if (enc->queue_count > 0) {
    Queued *q = &enc->queue[enc->queue_first];

    av_packet_move_ref (enc->packet, q->packet);
    fill_packet (packet, enc->packet, &q->frame, q->out_ms);
    enc->queue_first = (enc->queue_first + 1) % YS_ENCODER_MAX_HELD;
    enc->queue_count--;
    return 1;
  }
  if (enc->drain_failed) {
    enc->drain_failed = false;
    *error = enc->drain_error;
    return -1;
  }
  if (enc->ctx == NULL)
    return 0;

  ret = avcodec_receive_packet (enc->ctx, enc->packet);
  if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
    return 0;
  if (ret < 0)
    goto codec_failed;
  if (!packet_out (enc, &frame))
    goto stray_packet;
  fill_packet (packet, enc->packet, &frame, now_ms ());
  return 1;

  /* ERRORS */
codec_failed:
  snprintf (enc->error, sizeof (enc->error),
      "The %s encoder failed: %s; the %d frames it held are lost.",
      enc->av_codec->name, av_err2str (ret), enc->held_count);
  /* What a codec can do after a failure is undefined: start again. */
  close_codec (enc);
  *error = enc->error;
  return -1;
stray_packet:
  /* Its frames can no longer be told apart: start again. */
  close_codec (enc);
  *error = enc->error;
  return -1;
}

void
ys_encoder_drain (YsEncoder *enc)
{
  av_packet_unref (enc->packet);
  drain_codec (enc);
}
