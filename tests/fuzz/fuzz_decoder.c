/* The edge server's decoder (offload/decoder.h) on what clients send:
 * the input is a stream of yoloswitch.v2 messages, and every FRAME in it
 * goes to a reordering decoder the way edge_decode.c drives it (a new one
 * when the codec changes; send with the FRAME's width and height and a tag,
 * then receive until nothing is ready, converting each picture into one
 * reused buffer; a drain at the end).  Checked beyond "does not crash":
 * every answer other than a picture or "nothing yet" comes with a sentence,
 * every tag that comes out was sent, and a picture fits
 * the buffer it was written to (every byte of it is read, so ASan sees an
 * under-sized buffer).
 *
 * FRAME flags bit 15 (unused by the protocol) asks for no colour
 * conversion, as the server does for frames it decodes only to keep the
 * H.264 reference chain.
 *
 * Not checked: that a tag comes out once.  A damaged stream can give two
 * clean pictures with one tag (libavcodec's concealment; corpus file
 * h264-bframes-damaged-tag-twice); edge_decode.c ignores the second (its
 * frame is no longer held). */
#include "fuzz.h"

#include "decoder.h"

#include <libavutil/log.h>

#include <stdbool.h>
#include <string.h>

#define DECODE_ONLY_FLAG 0x8000
/* Frames per input: enough for a GOP and its errors, few enough that an
 * input with thousands of tiny FRAMEs does not make a slow unit. */
#define MAX_FRAMES 64
/* The server's limit is an option (default 4096x4096); smaller here so
 * that a forged size costs milliseconds, not a second, per input. */
#define MAX_PIXELS (1024 * 1024)

/* Where the picture's bytes are summed to, so the reads are kept. */
static volatile unsigned sink;

typedef struct {
  YsDecoder *decoder;
  YsPicture picture;
  int frames;
  bool convert[MAX_FRAMES]; /* by tag: wanted as a picture */
} State;

static void
collect (State *s)
{
  for (;;) {
    const char *why = NULL;
    int64_t tag = -1;
    YsDecodeResult r = ys_decoder_receive (s->decoder, &tag, &why);

    if (r == YS_DECODE_NO_PICTURE)
      return;
    if (fuzz_verbose ())
      fprintf (stderr, "  out: tag %lld: %s\n", (long long) tag,
          r == YS_DECODE_PICTURE ? "picture" : why);
    if (r != YS_DECODE_PICTURE) {
      FUZZ_CHECK (why != NULL && why[0] != '\0');
      continue;
    }
    FUZZ_CHECK (tag >= 0 && tag < s->frames);
    if (s->convert[tag] && ys_decoder_convert (s->decoder, &s->picture, &why)) {
      const YsPicture *p = &s->picture;
      size_t bytes = (size_t) p->width * p->height * 3;
      unsigned sum = 0;

      FUZZ_CHECK (p->width > 0 && p->height > 0 && p->rgb != NULL);
      FUZZ_CHECK (bytes <= p->capacity);
      for (size_t i = 0; i < bytes; i++)
        sum += p->rgb[i];
      sink += sum;
    } else if (s->convert[tag]) {
      FUZZ_CHECK (why != NULL && why[0] != '\0');
    }
  }
}

static bool
on_message (const YsMessage *msg, void *user)
{
  State *s = user;
  const YsFrame *f = &msg->u.frame;
  const char *why = NULL;
  YsDecodeResult r;
  int tag;

  if (msg->header.type != YS_MSG_FRAME)
    return true;
  if (s->frames == MAX_FRAMES)
    return false;
  if (s->decoder == NULL || ys_decoder_codec (s->decoder) != f->codec) {
    ys_decoder_free (s->decoder);
    s->decoder
        = ys_decoder_new_reordering ((YsCodec) f->codec, MAX_PIXELS, &why);
    if (s->decoder == NULL) {
      FUZZ_CHECK (why != NULL && why[0] != '\0');
      return true;
    }
  }
  tag = s->frames++;
  s->convert[tag] = !(msg->header.flags & DECODE_ONLY_FLAG);
  r = ys_decoder_send (s->decoder, f->packet, f->packet_len, f->width,
      f->height, tag, &why);
  if (fuzz_verbose ())
    fprintf (stderr, "frame %u (%s %ux%u, %u bytes): %s\n",
        msg->header.frame_id, ys_codec_name (f->codec), f->width, f->height,
        f->packet_len, r == YS_DECODE_NO_PICTURE ? "sent" : why);
  if (r != YS_DECODE_NO_PICTURE && r != YS_DECODE_PICTURE)
    FUZZ_CHECK (why != NULL && why[0] != '\0');
  collect (s);
  return true;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* libav's per-packet complaints would bury libFuzzer's own output;
   * FUZZ_VERBOSE=1 keeps them for debugging one input. */
  if (!fuzz_verbose ())
    av_log_set_level (AV_LOG_QUIET);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  State s = { 0 };
  YsParser *parser = ys_parser_new (0);

  FUZZ_CHECK (parser != NULL);
  (void) ys_parser_feed (parser, data, size, on_message, &s, NULL);
  ys_parser_free (parser);
  if (s.decoder != NULL) {
    ys_decoder_drain (s.decoder);
    collect (&s);
  }
  ys_decoder_free (s.decoder);
  free (s.picture.rgb);
  return 0;
}
