/* The edge server's decoder; see decoder.h.
 *
 * Packets come from the network, so nothing about them is trusted: every
 * packet is copied into a buffer with AV_INPUT_BUFFER_PADDING_SIZE zeroed
 * bytes after it (libavcodec's bitstream readers may read that far), an
 * empty packet is refused before it could be taken for a drain request, and
 * max_pixels bounds what a forged picture size can make the decoder
 * allocate.
 *
 * H.264 keyframe handling.  A decoder without its reference pictures
 * produces garbage (or, in FFmpeg, grey concealment) that must not reach
 * inference.  So the H.264 decoder starts "waiting for a keyframe": it
 * scans each packet's Annex B start codes and, while waiting, answers
 * YS_DECODE_NEED_KEYFRAME to any packet without an IDR slice (NAL unit type
 * 5) without decoding it.  A packet with an IDR slice is decoded; if that
 * fails or the picture comes out with errors, the answer is still
 * NEED_KEYFRAME.  A clean picture ends the wait.  After that, a packet that
 * fails to decode (or decodes with concealed errors) is YS_DECODE_ERROR,
 * the references are flushed and the decoder waits for a keyframe again:
 * every later P frame would predict from the damage.  MJPEG packets are
 * independent and never wait.
 *
 * Reordering decoders (the edge server's) take B-frames: pictures come out
 * in display order, each with the tag (pts) of the packet it was coded in,
 * possibly after later packets went in.  There a keyframe's wait ends when
 * the decoder accepts its packet; a damaged picture coming out later
 * starts it again.  Their packets' declared sizes are checked before
 * decoding (decoder_probe.c). */
#include "decoder.h"
#include "decoder_memory.h"
#include "decoder_probe.h"

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A quarter of the protocol's 16384x16384: a forged SPS or JPEG header
 * cannot make the decoder allocate more than ~100 MB for a picture. */
#define MAX_PIXELS ((int64_t) YS_MAX_DIMENSION * YS_MAX_DIMENSION / 4)
/* Room left after the last RGB row.  swscale's vector code is not
 * documented to stop at the last pixel, and its input readers do not (see
 * SWS_OVERREAD in encoder.c); no over-write was seen under valgrind, so
 * this is insurance for other CPUs and versions. */
#define SWS_OVERWRITE 128

struct YsDecoder {
  YsCodec codec;
  AVCodecContext *ctx;
  AVPacket *packet;
  AVFrame *frame; /* the packet's picture */
  AVFrame *scratch; /* receive_frame's target: it empties it on EAGAIN */
  AVBufferRef *padded; /* the packet copy, reused while nobody else holds it */
  bool waiting; /* H.264: no clean IDR since the start or the last error */
  /* ys_decoder_new_reordering: pictures in display order, tagged */
  bool reorder;
  int64_t max_pixels;
  YsSizeProbe *probe;
  YsPictureMemory *memory; /* NULL: pictures are not charged */

  struct SwsContext *sws;
  /* What the cached swscale context was last set up for: ranges and
   * matrices are not part of swscale's cache key. */
  int sws_w, sws_h, sws_range, sws_matrix;
  enum AVPixelFormat sws_fmt;

  char error[256];
};

static _Thread_local char new_error[256];

static YsDecoder *
decoder_new (YsCodec codec, bool reorder, int64_t max_pixels,
    const char **error)
{
  const char *name;
  const AVCodec *av_codec;
  YsDecoder *dec;
  int ret;

  switch (codec) {
    case YS_CODEC_H264: name = "h264"; break;
    case YS_CODEC_MJPEG: name = "mjpeg"; break;
    default: goto bad_codec;
  }
  av_codec = avcodec_find_decoder_by_name (name);
  if (av_codec == NULL)
    goto no_decoder;

  dec = calloc (1, sizeof (*dec));
  if (dec == NULL)
    goto no_memory;
  dec->codec = codec;
  dec->waiting = codec == YS_CODEC_H264;
  dec->reorder = reorder;
  dec->max_pixels = max_pixels;
  dec->sws_fmt = AV_PIX_FMT_NONE;
  dec->ctx = avcodec_alloc_context3 (av_codec);
  dec->packet = av_packet_alloc ();
  dec->frame = av_frame_alloc ();
  dec->scratch = av_frame_alloc ();
  if (dec->ctx == NULL || dec->packet == NULL || dec->frame == NULL
      || dec->scratch == NULL)
    goto no_memory_free;
  if (reorder && (dec->probe = ys_size_probe_new (codec)) == NULL)
    goto no_memory_free;

  /* One thread.  Without reordering, low delay: a picture out for every
   * packet in.  With it, pictures come out in display order, B-frames
   * included, and tags say whose each is. */
  dec->ctx->thread_count = 1;
  if (!reorder)
    dec->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
  /* The limit on what the decoder allocates, should a size get past the
   * probe (a second SPS inside one packet, say). */
  dec->ctx->max_pixels = max_pixels;
  /* A JPEG scan that fails to decode is an error, not a picture with grey
   * blocks: packets arrive over a reliable transport, so damage means a
   * bug worth seeing.  (H.264 damage is caught from the concealment flags
   * of the picture instead: its explode mode also fails on harmless SEI
   * oddities.) */
  if (codec == YS_CODEC_MJPEG)
    dec->ctx->err_recognition |= AV_EF_EXPLODE;
  ret = avcodec_open2 (dec->ctx, av_codec, NULL);
  if (ret < 0)
    goto open_failed;
  return dec;

  /* ERRORS */
bad_codec:
  *error = "The decoder supports only H.264 and MJPEG.";
  return NULL;
no_decoder:
  snprintf (new_error, sizeof (new_error),
      "This FFmpeg has no %s decoder: install one built with it.", name);
  *error = new_error;
  return NULL;
no_memory_free:
  ys_decoder_free (dec);
no_memory:
  *error = "Out of memory creating the decoder.";
  return NULL;
open_failed:
  snprintf (new_error, sizeof (new_error), "Cannot open the %s decoder: %s.",
      name, av_err2str (ret));
  ys_decoder_free (dec);
  *error = new_error;
  return NULL;
}

YsDecoder *
ys_decoder_new (YsCodec codec, const char **error)
{
  return decoder_new (codec, false, MAX_PIXELS, error);
}

YsDecoder *
ys_decoder_new_reordering (YsCodec codec, int64_t max_pixels,
    const char **error)
{
  if (max_pixels < 1 || max_pixels > MAX_PIXELS)
    max_pixels = MAX_PIXELS;
  return decoder_new (codec, true, max_pixels, error);
}

void
ys_decoder_free (YsDecoder *dec)
{
  if (dec == NULL)
    return;
  avcodec_free_context (&dec->ctx);
  av_packet_free (&dec->packet);
  av_frame_free (&dec->frame);
  av_frame_free (&dec->scratch);
  av_buffer_unref (&dec->padded);
  sws_freeContext (dec->sws);
  ys_size_probe_free (dec->probe);
  /* Last: the frames freed above counted their pictures out of it. */
  ys_picture_memory_free (dec->memory);
  free (dec);
}

bool
ys_decoder_set_memory_hook (YsDecoder *dec, YsMemoryFunc charge, void *user)
{
  if (dec->memory != NULL)
    return true;
  dec->memory = ys_picture_memory_attach (dec->ctx, charge, user);
  return dec->memory != NULL;
}

/* Why a decode failed, in buf (AV_ERROR_MAX_STRING_SIZE bytes); one that
 * failed because a picture was refused says so. */
static const char *
failure_text (YsDecoder *dec, int ret, char *buf)
{
  if (ys_picture_memory_take_refused (dec->memory))
    return "the server's memory for clients is taken (--memory-budget-bytes) "
           "and this client holds more than its share; send a keyframe "
           "later, or smaller pictures with fewer reference frames";
  return av_make_error_string (buf, AV_ERROR_MAX_STRING_SIZE, ret);
}

YsCodec
ys_decoder_codec (const YsDecoder *dec)
{
  return dec->codec;
}

/* Which NAL unit types an Annex B packet holds: whether it has any slice
 * (types 1..5) and an IDR slice (type 5). */
static void
scan_nal_units (const uint8_t *data, size_t size, bool *has_slice,
    bool *has_idr)
{
  *has_slice = *has_idr = false;
  for (size_t i = 0; i + 3 < size; i++) {
    int type;

    if (data[i] != 0 || data[i + 1] != 0 || data[i + 2] != 1)
      continue;
    type = data[i + 3] & 0x1f;
    if (type >= 1 && type <= 5)
      *has_slice = true;
    if (type == 5)
      *has_idr = true;
    i += 2;
  }
}

/* Points dec->packet at a padded copy of data. */
static bool
fill_packet (YsDecoder *dec, const uint8_t *data, size_t size)
{
  size_t need = size + AV_INPUT_BUFFER_PADDING_SIZE;

  if (dec->padded == NULL || dec->padded->size < need
      || !av_buffer_is_writable (dec->padded)) {
    av_buffer_unref (&dec->padded);
    /* Room to grow, so packet sizes that wander do not reallocate. */
    dec->padded = av_buffer_alloc (need + need / 2);
    if (dec->padded == NULL)
      return false;
  }
  memcpy (dec->padded->data, data, size);
  memset (dec->padded->data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  av_packet_unref (dec->packet);
  dec->packet->buf = av_buffer_ref (dec->padded);
  if (dec->packet->buf == NULL)
    return false;
  dec->packet->data = dec->padded->data;
  dec->packet->size = (int) size;
  return true;
}

/* The plain YUV format for a JPEG-range one, and whether it was one. */
static enum AVPixelFormat
unjpeg (enum AVPixelFormat fmt, bool *full_range)
{
  *full_range = true;
  switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P;
    default: *full_range = false; return fmt;
  }
}

/* Converts dec->frame to packed RGB24 into out. */
static bool
convert (YsDecoder *dec, YsPicture *out)
{
  AVFrame *f = dec->frame;
  bool jpeg;
  enum AVPixelFormat fmt = unjpeg ((enum AVPixelFormat) f->format, &jpeg);
  int range = jpeg || f->color_range == AVCOL_RANGE_JPEG;
  int matrix = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
  size_t need = (size_t) f->width * f->height * 3;
  uint8_t *dst[4] = { NULL };
  int dst_strides[4] = { f->width * 3, 0, 0, 0 };

  if (out->rgb == NULL || out->capacity < need + SWS_OVERWRITE) {
    uint8_t *rgb = realloc (out->rgb, need + SWS_OVERWRITE);
    if (rgb == NULL)
      goto no_memory;
    out->rgb = rgb;
    out->capacity = need + SWS_OVERWRITE;
  }

  dec->sws = sws_getCachedContext (dec->sws, f->width, f->height, fmt, f->width,
      f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (dec->sws == NULL)
    goto no_conversion;
  if (dec->sws_w != f->width || dec->sws_h != f->height || dec->sws_fmt != fmt
      || dec->sws_range != range || dec->sws_matrix != matrix) {
    const int *coefficients = sws_getCoefficients (matrix);

    sws_setColorspaceDetails (dec->sws, coefficients, range, coefficients, 0, 0,
        1 << 16, 1 << 16);
    dec->sws_w = f->width;
    dec->sws_h = f->height;
    dec->sws_fmt = fmt;
    dec->sws_range = range;
    dec->sws_matrix = matrix;
  }
  dst[0] = out->rgb;
  if (sws_scale (dec->sws, (const uint8_t *const *) f->data, f->linesize, 0,
          f->height, dst, dst_strides)
      != f->height)
    goto no_conversion;
  out->width = f->width;
  out->height = f->height;
  return true;

  /* ERRORS */
no_memory:
  snprintf (dec->error, sizeof (dec->error),
      "Out of memory for a %dx%d RGB picture.", f->width, f->height);
  return false;
no_conversion:
  snprintf (dec->error, sizeof (dec->error),
      "Cannot convert a %dx%d %s picture to RGB.", f->width, f->height,
      av_get_pix_fmt_name ((enum AVPixelFormat) f->format));
  return false;
}

/* Sends the packet and collects its picture into dec->frame.  Returns 1
 * for a clean picture, 0 for none, or a negative AVERROR with dec->error
 * set (AVERROR_INVALIDDATA for a picture decoded with errors). */
static int
decode_packet (YsDecoder *dec)
{
  bool got = false;
  int ret;
  char why[AV_ERROR_MAX_STRING_SIZE];

  av_frame_unref (dec->frame);
  ret = avcodec_send_packet (dec->ctx, dec->packet);
  av_packet_unref (dec->packet);
  if (ret < 0 && ret != AVERROR (EAGAIN))
    goto failed;
  for (;;) {
    ret = avcodec_receive_frame (dec->ctx, dec->scratch);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      break;
    if (ret < 0)
      goto failed;
    /* Only one is expected; more would mean a delay: keep the newest. */
    av_frame_unref (dec->frame);
    av_frame_move_ref (dec->frame, dec->scratch);
    got = true;
    if (dec->frame->width < 1 || dec->frame->height < 1)
      goto damaged;
    if (dec->frame->decode_error_flags != 0
        || (dec->frame->flags & AV_FRAME_FLAG_CORRUPT))
      goto damaged;
  }
  return got ? 1 : 0;

  /* ERRORS */
failed:
  snprintf (dec->error, sizeof (dec->error),
      "The %s packet does not decode: %s.",
      dec->codec == YS_CODEC_H264 ? "H.264" : "MJPEG",
      failure_text (dec, ret, why));
  return ret;
damaged:
  av_frame_unref (dec->frame);
  snprintf (dec->error, sizeof (dec->error),
      "The %s packet decoded with errors (damaged data).",
      dec->codec == YS_CODEC_H264 ? "H.264" : "MJPEG");
  return AVERROR_INVALIDDATA;
}

/* Checks a packet before it goes to the decoder and copies it into
 * dec->packet.  YS_DECODE_NO_PICTURE when it may go (*has_idr: it holds a
 * keyframe); else why not, with *error set: NEED_KEYFRAME while waiting
 * for one, ERROR for a packet nothing can decode. */
static YsDecodeResult
take_packet (YsDecoder *dec, const uint8_t *data, size_t size, bool *has_idr,
    const char **error)
{
  bool has_slice = false;

  *has_idr = false;
  if (data == NULL || size == 0)
    goto empty;
  if (size > (size_t) INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
    goto too_large;
  if (dec->codec == YS_CODEC_H264) {
    scan_nal_units (data, size, &has_slice, has_idr);
    if (dec->waiting && !*has_idr)
      goto need_keyframe;
    if (!has_slice)
      goto no_slice;
  }
  if (!fill_packet (dec, data, size))
    goto no_memory;
  return YS_DECODE_NO_PICTURE;

  /* ERRORS */
empty:
  *error = "The packet is empty.";
  return YS_DECODE_ERROR;
too_large:
  *error = "The packet is larger than the decoder can take (2 GB).";
  return YS_DECODE_ERROR;
need_keyframe:
  *error = "The H.264 decoder is waiting for a keyframe (IDR): this packet "
           "has none and its references are missing.";
  return YS_DECODE_NEED_KEYFRAME;
no_slice:
  *error = "The H.264 packet holds no coded picture (no slice NAL unit "
           "after an Annex B start code).";
  return YS_DECODE_ERROR;
no_memory:
  *error = "Out of memory copying the packet.";
  return YS_DECODE_ERROR;
}

YsDecodeResult
ys_decoder_decode (YsDecoder *dec, const uint8_t *data, size_t size,
    bool want_picture, YsPicture *out, const char **error)
{
  bool h264 = dec->codec == YS_CODEC_H264;
  bool has_idr;
  YsDecodeResult taken;
  int ret;

  taken = take_packet (dec, data, size, &has_idr, error);
  if (taken != YS_DECODE_NO_PICTURE)
    return taken;
  ret = decode_packet (dec);
  if (ret < 0)
    goto failed;
  if (ret == 0) {
    /* An MJPEG decoder has no delay to hide behind: nothing out means the
     * packet held no picture.  Nor does a keyframe: one that gives nothing
     * ends no wait. */
    if (!h264)
      goto no_picture;
    if (dec->waiting)
      goto keyframe_gave_nothing;
    return YS_DECODE_NO_PICTURE;
  }

  dec->waiting = false;
  if (want_picture && out != NULL && !convert (dec, out)) {
    av_frame_unref (dec->frame);
    *error = dec->error;
    return YS_DECODE_ERROR;
  }
  av_frame_unref (dec->frame);
  return YS_DECODE_PICTURE;

  /* ERRORS */
no_picture:
  *error = "The MJPEG packet held no complete picture.";
  return YS_DECODE_ERROR;
keyframe_gave_nothing:
  avcodec_flush_buffers (dec->ctx);
  *error = "The H.264 keyframe gave no picture: still waiting for one that "
           "decodes.";
  return YS_DECODE_NEED_KEYFRAME;
failed:
  /* Whatever the decoder half-built is no reference for anything. */
  avcodec_flush_buffers (dec->ctx);
  *error = dec->error;
  if (h264 && dec->waiting)
    return YS_DECODE_NEED_KEYFRAME;
  dec->waiting = h264;
  return YS_DECODE_ERROR;
}

/* ---- reordering decoders ------------------------------------------------ */

static const char *
codec_label (const YsDecoder *dec)
{
  return dec->codec == YS_CODEC_H264 ? "H.264" : "JPEG";
}

/* The references are gone: an H.264 decoder waits for a keyframe. */
static void
lose_references (YsDecoder *dec)
{
  avcodec_flush_buffers (dec->ctx);
  dec->waiting = dec->codec == YS_CODEC_H264;
}

YsDecodeResult
ys_decoder_send (YsDecoder *dec, const uint8_t *data, size_t size, int width,
    int height, int64_t tag, const char **error)
{
  char why[AV_ERROR_MAX_STRING_SIZE];
  bool h264 = dec->codec == YS_CODEC_H264;
  bool has_idr;
  YsDecodeResult taken;
  int w, h, ret;

  taken = take_packet (dec, data, size, &has_idr, error);
  if (taken == YS_DECODE_ERROR) /* the packet is lost: see decoder.h */
    lose_references (dec);
  if (taken != YS_DECODE_NO_PICTURE)
    return taken;
  if (dec->probe != NULL
      && ys_size_probe_read (dec->probe, dec->packet->data, size, &w, &h)) {
    if ((int64_t) w * h > dec->max_pixels)
      goto too_many_pixels;
    if ((width != 0 || height != 0) && (w != width || h != height))
      goto mismatch;
  }
  dec->packet->pts = tag;
  ret = avcodec_send_packet (dec->ctx, dec->packet);
  av_packet_unref (dec->packet);
  if (ret < 0 && ret != AVERROR (EAGAIN))
    goto failed;
  if (has_idr)
    dec->waiting = false;
  return YS_DECODE_NO_PICTURE;

  /* ERRORS */
too_many_pixels:
  av_packet_unref (dec->packet);
  snprintf (dec->error, sizeof (dec->error),
      "The %s bitstream declares a %dx%d picture, over this server's limit "
      "of %" PRId64 " pixels: scale the video down.",
      codec_label (dec), w, h, dec->max_pixels);
  *error = dec->error;
  return YS_DECODE_TOO_LARGE;
mismatch:
  av_packet_unref (dec->packet);
  snprintf (dec->error, sizeof (dec->error),
      "The FRAME header says %dx%d but its %s bitstream is %dx%d: send the "
      "encoded picture's size.",
      width, height, codec_label (dec), w, h);
  *error = dec->error;
  return YS_DECODE_SIZE_MISMATCH;
failed:
  snprintf (dec->error, sizeof (dec->error),
      "The %s packet does not decode: %s.", codec_label (dec),
      failure_text (dec, ret, why));
  *error = dec->error;
  if (h264 && dec->waiting) {
    avcodec_flush_buffers (dec->ctx);
    return YS_DECODE_NEED_KEYFRAME;
  }
  lose_references (dec);
  return YS_DECODE_ERROR;
}

void
ys_decoder_drain (YsDecoder *dec)
{
  avcodec_send_packet (dec->ctx, NULL);
}

YsDecodeResult
ys_decoder_receive (YsDecoder *dec, int64_t *tag, const char **error)
{
  AVFrame *f = dec->frame;
  int ret;
  char why[AV_ERROR_MAX_STRING_SIZE];

  *tag = -1;
  av_frame_unref (f);
  ret = avcodec_receive_frame (dec->ctx, f);
  if (ret == AVERROR (EAGAIN))
    return YS_DECODE_NO_PICTURE;
  if (ret == AVERROR_EOF) {
    /* Drained: ready for a new stream, from a keyframe. */
    lose_references (dec);
    return YS_DECODE_NO_PICTURE;
  }
  if (ret < 0)
    goto failed;
  *tag = f->pts != AV_NOPTS_VALUE ? f->pts : -1;
  if (f->width < 1 || f->height < 1 || f->decode_error_flags != 0
      || (f->flags & AV_FRAME_FLAG_CORRUPT))
    goto damaged;
  return YS_DECODE_PICTURE;

  /* ERRORS */
failed:
  snprintf (dec->error, sizeof (dec->error), "The %s decoder failed: %s.",
      codec_label (dec), failure_text (dec, ret, why));
  *error = dec->error;
  lose_references (dec);
  return YS_DECODE_ERROR;
damaged:
  av_frame_unref (f);
  snprintf (dec->error, sizeof (dec->error),
      "The %s packet decoded with errors (damaged data).", codec_label (dec));
  *error = dec->error;
  lose_references (dec);
  return YS_DECODE_ERROR;
}

bool
ys_decoder_convert (YsDecoder *dec, YsPicture *out, const char **error)
{
  bool had = dec->frame->width > 0;
  bool ok = had && convert (dec, out);

  av_frame_unref (dec->frame);
  if (!ok)
    *error = had ? dec->error : "No picture to convert.";
  return ok;
}
