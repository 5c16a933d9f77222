/* Pictures charged before they are allocated; see decoder_memory.h.
 *
 * libavcodec takes every picture from get_buffer2; the default one keeps a
 * pool per size that only grows while the stream keeps its size.  So what
 * the decoder holds is the most pictures it ever had at once, and that is
 * what is charged: each picture in use is counted (its buffer is wrapped,
 * and the wrapper's free counts it out), and whenever the count would pass
 * what was charged, the difference is asked for first; it is given back
 * only when the decoder goes.
 *
 * A picture's cost: its planes as the default allocator lays them out
 * (dimensions aligned the codec's way, 32-byte strides), plus the H.264
 * decoder's own tables per picture (motion vectors, reference indices, mb
 * types), which it allocates from its own pools beside the picture:
 * about 0.6 byte a pixel, measured as RSS against 4096x4096 streams (see
 * docs/PROTOCOL.md "Limits").  And the decoder itself: its context and
 * the tables it sets up at the first packet, whatever the picture size. */
#include "decoder_memory.h"

#include <libavutil/imgutils.h>

#include <stdlib.h>

struct YsPictureMemory {
  YsMemoryFunc charge;
  void *user;
  int64_t in_use, charged;
  bool refused;
};

typedef struct {
  YsPictureMemory *memory;
  AVBufferRef *inner;
  int64_t cost;
} Held;

static int64_t
picture_cost (AVCodecContext *ctx, const AVFrame *frame)
{
  int w = frame->width, h = frame->height;
  int align[AV_NUM_DATA_POINTERS];
  int bytes;

  avcodec_align_dimensions2 (ctx, &w, &h, align);
  bytes
      = av_image_get_buffer_size ((enum AVPixelFormat) frame->format, w, h, 32);
  if (bytes < 0)
    bytes = w * h * 4; /* a format we cannot size: the largest we decode */
  /* The H.264 tables per picture, and rounding. */
  return (int64_t) bytes + (int64_t) w * h * 3 / 5 + 4096;
}

static void
release_held (void *opaque, uint8_t *data)
{
  Held *held = opaque;

  (void) data;
  held->memory->in_use -= held->cost;
  av_buffer_unref (&held->inner);
  free (held);
}

static int
get_buffer (AVCodecContext *ctx, AVFrame *frame, int flags)
{
  YsPictureMemory *m = ctx->opaque;
  int64_t cost = picture_cost (ctx, frame);
  AVBufferRef *wrapped;
  Held *held;
  int ret;

  if (m->in_use + cost > m->charged) {
    int64_t more = m->in_use + cost - m->charged;
    if (!m->charge (more, m->user)) {
      m->refused = true;
      return AVERROR (ENOMEM);
    }
    m->charged += more;
  }
  ret = avcodec_default_get_buffer2 (ctx, frame, flags);
  if (ret < 0)
    return ret;
  /* buf[0] stands for the picture: when it goes, the picture has. */
  held = malloc (sizeof (*held));
  if (held == NULL)
    goto no_memory;
  held->memory = m;
  held->inner = frame->buf[0];
  held->cost = cost;
  wrapped = av_buffer_create (held->inner->data, held->inner->size,
      release_held, held, 0);
  if (wrapped == NULL) {
    free (held);
    goto no_memory;
  }
  frame->buf[0] = wrapped;
  m->in_use += cost;
  return 0;

no_memory:
  av_frame_unref (frame);
  return AVERROR (ENOMEM);
}

YsPictureMemory *
ys_picture_memory_attach (AVCodecContext *ctx, YsMemoryFunc charge, void *user)
{
  YsPictureMemory *m = calloc (1, sizeof (*m));

  if (m == NULL)
    return NULL;
  if (!charge (YS_DECODER_FIXED_BYTES, user)) {
    free (m);
    return NULL;
  }
  m->charged = YS_DECODER_FIXED_BYTES;
  m->charge = charge;
  m->user = user;
  ctx->opaque = m;
  ctx->get_buffer2 = get_buffer;
  return m;
}

void
ys_picture_memory_free (YsPictureMemory *m)
{
  if (m == NULL)
    return;
  if (m->charged > 0)
    m->charge (-m->charged, m->user);
  free (m);
}

bool
ys_picture_memory_take_refused (YsPictureMemory *m)
{
  bool refused = m != NULL && m->refused;

  if (m != NULL)
    m->refused = false;
  return refused;
}
