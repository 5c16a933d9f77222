/* Picture sizes from bitstream headers; see decoder_probe.h.
 *
 * H.264: libavcodec's parser reads the SPS (and the slice header naming
 * it), which costs a few microseconds and allocates nothing picture-sized;
 * its width and height are the cropped ones, as the decoder's pictures.
 * JPEG: the frame header (SOFn) is found by walking the marker segments,
 * each skipped by its own length, never past the packet. */
#include "decoder_probe.h"

#include <libavcodec/avcodec.h>

#include <limits.h>
#include <stdlib.h>

struct YsSizeProbe {
  YsCodec codec;
  AVCodecParserContext *parser; /* H.264 */
  AVCodecContext *ctx; /* the parser's: profile and level land here */
};

YsSizeProbe *
ys_size_probe_new (YsCodec codec)
{
  YsSizeProbe *probe = calloc (1, sizeof (*probe));

  if (probe == NULL)
    return NULL;
  probe->codec = codec;
  if (codec == YS_CODEC_H264) {
    probe->parser = av_parser_init (AV_CODEC_ID_H264);
    /* Without a codec: one allocated for the H.264 decoder would carry
     * that decoder's private state, ~750 KB a connection for nothing (the
     * parser's log lines say [NULL @ ...] instead of [h264 @ ...]). */
    probe->ctx = avcodec_alloc_context3 (NULL);
    if (probe->parser == NULL || probe->ctx == NULL) {
      ys_size_probe_free (probe);
      return NULL;
    }
    /* Each packet is one whole access unit: no frame assembly. */
    probe->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
  } else if (codec != YS_CODEC_MJPEG) {
    free (probe);
    return NULL;
  }
  return probe;
}

void
ys_size_probe_free (YsSizeProbe *probe)
{
  if (probe == NULL)
    return;
  av_parser_close (probe->parser);
  avcodec_free_context (&probe->ctx);
  free (probe);
}

static unsigned
be16 (const uint8_t *p)
{
  return (unsigned) p[0] << 8 | p[1];
}

/* The first frame header's size; false if the scan starts first. */
static bool
jpeg_size (const uint8_t *data, size_t size, int *width, int *height)
{
  size_t i = 2;

  if (size < 4 || data[0] != 0xff || data[1] != 0xd8)
    return false;
  while (i + 4 <= size) {
    unsigned marker;

    if (data[i] != 0xff)
      return false;
    marker = data[i + 1];
    if (marker == 0xff) { /* fill byte */
      i++;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2; /* no length: TEM, RSTn, SOI */
      continue;
    }
    if (marker == 0xd9 || marker == 0xda)
      return false; /* EOI or a scan before any frame header */
    /* SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
    if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8
        && marker != 0xcc) {
      if (i + 9 > size)
        return false;
      *height = (int) be16 (data + i + 5);
      *width = (int) be16 (data + i + 7);
      return *width > 0 && *height > 0;
    }
    if (be16 (data + i + 2) < 2)
      return false;
    i += 2 + be16 (data + i + 2);
  }
  return false;
}

bool
ys_size_probe_read (YsSizeProbe *probe, const uint8_t *data, size_t size,
    int *width, int *height)
{
  uint8_t *out = NULL;
  int out_size = 0;

  *width = *height = 0;
  if (probe->codec == YS_CODEC_MJPEG)
    return jpeg_size (data, size, width, height);
  if (size > INT_MAX)
    return false;
  av_parser_parse2 (probe->parser, probe->ctx, &out, &out_size, data,
      (int) size, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
  *width = probe->parser->width;
  *height = probe->parser->height;
  return *width > 0 && *height > 0;
}
