/* Opening the offload encoder's codec: our settings for each encoder, the
 * user's FFmpeg options (checked: an option the codec lacks is an error),
 * and the fallback from a hardware encoder that does not open to the
 * software one.  See encoder.c for why each change costs what it costs. */
#include "encoder_internal.h"

double
ys_enc_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
ys_enc_clamp_dimension (int v)
{
  if (v > YS_MAX_DIMENSION)
    v = YS_MAX_DIMENSION;
  v &= ~1;
  return v < MIN_DIMENSION ? MIN_DIMENSION : v;
}

/* The VBV buffer in bits for a bit rate. */
int
ys_enc_vbv_size (int64_t bitrate)
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

bool
ys_enc_is_libx264 (const YsEncoder *enc)
{
  return strcmp (enc->av_codec->name, "libx264") == 0;
}

const char *
ys_enc_software_name (YsCodec codec)
{
  return codec == YS_CODEC_H264 ? "libx264" : "mjpeg";
}

static bool
is_software (const YsEncoder *enc)
{
  return strcmp (enc->av_codec->name, ys_enc_software_name (enc->codec)) == 0;
}

/* The software MJPEG encoder: its rate is each frame's quantizer. */
bool
ys_enc_uses_qscale (const YsEncoder *enc)
{
  return enc->codec == YS_CODEC_MJPEG && is_software (enc);
}

/* The frames the codec held go with it: no packet will come for them. */
void
ys_enc_close_codec (YsEncoder *enc)
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
  const char *asked = enc->hw_name[0] != '\0'
      ? enc->hw_name
      : ys_enc_software_name (enc->codec);
  AVDictionary *opts = NULL;
  AVDictionaryEntry *user;

  *no_memory = false;
  *users = strcmp (enc->av_codec->name, asked) == 0
      && av_dict_count (enc->av_options) > 0;
  if (*users && av_dict_copy (&opts, enc->av_options, 0) < 0)
    goto no_memory;
  if (!ys_enc_is_libx264 (enc))
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

  ys_enc_close_codec (enc);
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

  if (ys_enc_uses_qscale (enc)) {
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
    ctx->rc_buffer_size = ys_enc_vbv_size (enc->bitrate);
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_SMPTE170M;
    ctx->color_primaries = AVCOL_PRI_SMPTE170M;
    ctx->color_trc = AVCOL_TRC_SMPTE170M;
    if (ys_enc_is_libx264 (enc)) {
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
  ys_enc_close_codec (enc);
  return ret;
unknown_option:
  snprintf (enc->error, sizeof (enc->error),
      "%s has no option '%s' (given in the encoder options): see "
      "`ffmpeg -h encoder=%s` for the ones it has.",
      codec->name, unknown->key, codec->name);
  av_dict_free (&opts);
  ys_enc_close_codec (enc);
  return OPTIONS_REFUSED;
open_failed:
  snprintf (enc->error, sizeof (enc->error),
      "Cannot open the %s encoder at %dx%d: %s.", codec->name, width, height,
      av_err2str (ret));
  ys_enc_close_codec (enc);
  return ret;
open_failed_options:
  snprintf (enc->error, sizeof (enc->error),
      "Cannot open the %s encoder at %dx%d with the encoder options given: "
      "%s (a value it refuses?).",
      codec->name, width, height, av_err2str (ret));
  ys_enc_close_codec (enc);
  return ret;
reorders:
  snprintf (enc->error, sizeof (enc->error),
      "The %s encoder is set up with B-frames (from the encoder options): "
      "the edge server decodes frames in the order they are sent, so "
      "B-frames must stay off.",
      codec->name);
  ys_enc_close_codec (enc);
  return OPTIONS_REFUSED;
}

/* Opens the encoder in use at width x height.  A hardware encoder is
 * tried with NV12, then YUV420P software frames (h264_v4l2m2m takes
 * either); one that opens with neither is replaced by the software
 * encoder for good.  h264_vaapi is in that case: it wants hardware frames,
 * and uploading to VA-API surfaces is not implemented, so asking for it
 * gives libx264.  Options it does not know are the user's mistake, not a
 * reason to fall back. */
bool
ys_enc_open_with_fallback (YsEncoder *enc, int width, int height)
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
    software = avcodec_find_encoder_by_name (ys_enc_software_name (enc->codec));
    if (software == NULL) {
      snprintf (enc->error, sizeof (enc->error),
          "The %s encoder does not open and this FFmpeg has no %s to fall "
          "back to.",
          enc->av_codec->name, ys_enc_software_name (enc->codec));
      return false;
    }
    enc->av_codec = software;
  }
  return open_codec (enc, width, height,
             enc->codec == YS_CODEC_MJPEG ? AV_PIX_FMT_YUVJ420P
                                          : AV_PIX_FMT_YUV420P)
      == 0;
}
