/* Frames into the offload encoder: any yolo/ pixel layout and stride,
 * scaled and converted by libswscale to the codec's format and size; and
 * MJPEG's quantizer, chosen per frame from the last packet's size. */
#include "encoder_internal.h"

enum AVPixelFormat
ys_enc_av_format_of (YoloPixelFormat format, int *planes)
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
bool
ys_enc_frame_usable (const YoloFrame *frame, enum AVPixelFormat fmt, int planes)
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
bool
ys_enc_scale_frame (YsEncoder *enc, const YoloFrame *frame,
    enum AVPixelFormat src_fmt, int planes)
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
void
ys_enc_mjpeg_update_q (YsEncoder *enc, size_t bytes)
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
