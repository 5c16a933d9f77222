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
#include "encoder_internal.h"

#include <math.h>

/* ys_encoder_new has no encoder to keep its error in. */
static _Thread_local char new_error[256];

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

  sw_name = ys_enc_software_name (enc->codec);
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
  if (!ys_enc_open_with_fallback (enc, 640, 480))
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
  ys_enc_close_codec (enc);
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
  enc->want_width = ys_enc_clamp_dimension (width);
  enc->want_height = ys_enc_clamp_dimension (height);
}

void
ys_encoder_set_bitrate (YsEncoder *enc, int64_t bitrate)
{
  if (bitrate > 0)
    enc->bitrate = bitrate < MIN_BITRATE ? MIN_BITRATE : bitrate;
}

void
ys_encoder_set_rate (YsEncoder *enc, int fps)
{
  long gop;

  if (fps <= 0 || fps == enc->fps)
    return;
  gop = lround ((double) enc->gop * fps / enc->fps);
  enc->gop = gop > 1 ? (int) gop : 1;
  enc->fps = fps;
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
  if (ys_enc_uses_qscale (enc))
    ys_enc_mjpeg_update_q (enc, (size_t) enc->packet->size);
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
    if (packet_out (enc, &frame) && !queue_push (enc, &frame, ys_enc_now_ms ()))
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
          && !queue_push (enc, &frame, ys_enc_now_ms ()))
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
  ys_enc_close_codec (enc);
}

/* ---- frames in, packets out ------------------------------------------------- */

/* Brings ctx to the wanted bit rate before the next frame. */
static bool
apply_bitrate (YsEncoder *enc, int width, int height)
{
  AVCodecContext *ctx = enc->ctx;
  int64_t rate = enc->bitrate;

  if (ys_enc_uses_qscale (enc))
    return true;
  if (!ys_enc_is_libx264 (enc)) {
    /* No in-place reconfiguration known for other encoders: reopen, after
     * the old codec gave back what it held. */
    if (rate == enc->open_bitrate)
      return true;
    drain_codec (enc);
    return ys_enc_open_with_fallback (enc, width, height);
  }

  if (enc->vbv_pending) {
    /* The second half of a decrease: the VBV follows the bit rate. */
    ctx->rc_max_rate = ctx->bit_rate;
    ctx->rc_buffer_size = ys_enc_vbv_size (ctx->bit_rate);
    enc->vbv_pending = false;
  }
  if (rate == enc->open_bitrate)
    return true;
  ctx->bit_rate = rate;
  if (rate >= ctx->rc_max_rate) {
    ctx->rc_max_rate = rate;
    ctx->rc_buffer_size = ys_enc_vbv_size (rate);
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
  double start = ys_enc_now_ms ();
  enum AVPixelFormat src_fmt;
  int planes, width, height, ret;
  Held *held;
  AVFrame *f;

  av_packet_unref (enc->packet);
  if (frame == NULL)
    goto bad_frame;
  src_fmt = ys_enc_av_format_of (frame->format, &planes);
  if (src_fmt == AV_PIX_FMT_NONE
      || !ys_enc_frame_usable (frame, src_fmt, planes))
    goto bad_frame;
  if (enc->held_count + enc->queue_count >= YS_ENCODER_MAX_HELD)
    goto too_many;

  width = enc->want_width ? enc->want_width
                          : ys_enc_clamp_dimension (frame->width);
  height = enc->want_height ? enc->want_height
                            : ys_enc_clamp_dimension (frame->height);
  if (enc->ctx != NULL
      && (enc->ctx->width != width || enc->ctx->height != height
          || enc->ctx->framerate.num != enc->fps))
    drain_codec (enc);
  if (enc->ctx == NULL && !ys_enc_open_with_fallback (enc, width, height))
    goto failed;
  if (!apply_bitrate (enc, width, height))
    goto failed;

  if (!ys_enc_scale_frame (enc, frame, src_fmt, planes))
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
  if (ys_enc_uses_qscale (enc))
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
  fill_packet (packet, enc->packet, &frame, ys_enc_now_ms ());
  return 1;

  /* ERRORS */
codec_failed:
  snprintf (enc->error, sizeof (enc->error),
      "The %s encoder failed: %s; the %d frames it held are lost.",
      enc->av_codec->name, av_err2str (ret), enc->held_count);
  /* What a codec can do after a failure is undefined: start again. */
  ys_enc_close_codec (enc);
  *error = enc->error;
  return -1;
stray_packet:
  /* Its frames can no longer be told apart: start again. */
  ys_enc_close_codec (enc);
  *error = enc->error;
  return -1;
}

void
ys_encoder_drain (YsEncoder *enc)
{
  av_packet_unref (enc->packet);
  drain_codec (enc);
}
