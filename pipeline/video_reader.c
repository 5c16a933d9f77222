/* Video file -> I420 frames; see video_reader.h. */
#include "video_reader.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

struct YsVideoReader {
  AVFormatContext *format;
  AVCodecContext *codec;
  int stream;
  AVPacket *packet;
  AVFrame *decoded;
  struct SwsContext *sws;
  uint8_t *planes[4];
  int strides[4];
  double fps;
  bool draining;
};

static void
set_av_error (GError **error, const char *path, const char *what, int ret)
{
  char text[AV_ERROR_MAX_STRING_SIZE] = "";
  av_strerror (ret, text, sizeof (text));
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s (%s)", path,
      what, text);
}

YsVideoReader *
ys_video_reader_open (const char *path, GError **error)
{
  YsVideoReader *r = g_new0 (YsVideoReader, 1);
  const AVCodec *codec = NULL;
  AVStream *st;
  int ret;

  ret = avformat_open_input (&r->format, path, NULL, NULL);
  if (ret < 0) {
    set_av_error (error, path, "cannot open this video", ret);
    goto fail;
  }
  ret = avformat_find_stream_info (r->format, NULL);
  if (ret < 0) {
    set_av_error (error, path, "cannot read the streams", ret);
    goto fail;
  }
  r->stream
      = av_find_best_stream (r->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (r->stream < 0 || codec == NULL) {
    set_av_error (error, path, "has no video stream FFmpeg can decode",
        r->stream < 0 ? r->stream : AVERROR_DECODER_NOT_FOUND);
    goto fail;
  }
  st = r->format->streams[r->stream];
  r->codec = avcodec_alloc_context3 (codec);
  if (r->codec == NULL
      || avcodec_parameters_to_context (r->codec, st->codecpar) < 0
      || (ret = avcodec_open2 (r->codec, codec, NULL)) < 0) {
    set_av_error (error, path, "cannot open its decoder", ret);
    goto fail;
  }
  r->fps = st->avg_frame_rate.num > 0 ? av_q2d (st->avg_frame_rate)
      : st->r_frame_rate.num > 0      ? av_q2d (st->r_frame_rate)
                                      : 30.0;
  r->packet = av_packet_alloc ();
  r->decoded = av_frame_alloc ();
  if (av_image_alloc (r->planes, r->strides, r->codec->width, r->codec->height,
          AV_PIX_FMT_YUV420P, 32)
      < 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
        "%s: out of memory for a %dx%d frame", path, r->codec->width,
        r->codec->height);
    goto fail;
  }
  return r;

fail:
  ys_video_reader_close (r);
  return NULL;
}

void
ys_video_reader_close (YsVideoReader *r)
{
  if (r == NULL)
    return;
  if (r->planes[0] != NULL)
    av_freep (&r->planes[0]);
  sws_freeContext (r->sws);
  av_frame_free (&r->decoded);
  av_packet_free (&r->packet);
  avcodec_free_context (&r->codec);
  avformat_close_input (&r->format);
  g_free (r);
}

int
ys_video_reader_width (const YsVideoReader *r)
{
  return r->codec->width;
}

int
ys_video_reader_height (const YsVideoReader *r)
{
  return r->codec->height;
}

double
ys_video_reader_fps (const YsVideoReader *r)
{
  return r->fps;
}

bool
ys_video_reader_next (YsVideoReader *r, YoloFrame *frame, GError **error)
{
  int ret;

  for (;;) {
    ret = avcodec_receive_frame (r->codec, r->decoded);
    if (ret == 0)
      break;
    if (ret == AVERROR_EOF)
      return false;
    if (ret != AVERROR (EAGAIN)) {
      set_av_error (error, "video", "decoding failed", ret);
      return false;
    }
    if (r->draining)
      return false;
    ret = av_read_frame (r->format, r->packet);
    if (ret < 0) {
      /* End of file: flush the decoder's last frames. */
      r->draining = true;
      avcodec_send_packet (r->codec, NULL);
      continue;
    }
    if (r->packet->stream_index == r->stream)
      avcodec_send_packet (r->codec, r->packet);
    av_packet_unref (r->packet);
  }

  /* To I420 at the stream's size, whatever the decoder produced. */
  r->sws = sws_getCachedContext (r->sws, r->decoded->width, r->decoded->height,
      r->decoded->format, r->codec->width, r->codec->height, AV_PIX_FMT_YUV420P,
      SWS_BILINEAR, NULL, NULL, NULL);
  if (r->sws == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "video: cannot convert %s frames to I420",
        av_get_pix_fmt_name (r->decoded->format));
    return false;
  }
  sws_scale (r->sws, (const uint8_t *const *) r->decoded->data,
      r->decoded->linesize, 0, r->decoded->height, r->planes, r->strides);
  av_frame_unref (r->decoded);
  frame->format = YOLO_PIXEL_I420;
  frame->width = r->codec->width;
  frame->height = r->codec->height;
  for (int i = 0; i < 3; i++) {
    frame->planes[i] = r->planes[i];
    frame->strides[i] = r->strides[i];
  }
  return true;
}
