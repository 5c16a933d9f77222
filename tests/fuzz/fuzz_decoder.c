/* The edge server's decoder (offload/decoder.h) on what clients send:
 * the input is a stream of yoloswitch.v2 messages, and every FRAME in it
 * goes to the decoder the way edge_worker.c does it (a new decoder when the
 * codec changes, pictures converted into one reused buffer).  Checked
 * beyond "does not crash": every answer but PICTURE comes with a sentence,
 * and a picture fits the buffer it was written to (every byte of it is
 * read, so ASan sees an under-sized buffer).
 *
 * FRAME flags bit 15 (unused by the protocol) asks for a decode without
 * the colour conversion, as the server does for frames it only decodes to
 * keep the H.264 reference chain. */
#include "fuzz.h"

#include "decoder.h"

#include <libavutil/log.h>

#include <stdbool.h>
#include <string.h>

#define DECODE_ONLY_FLAG 0x8000
/* Frames per input: enough for a GOP and its errors, few enough that an
 * input with thousands of tiny FRAMEs does not make a slow unit. */
#define MAX_FRAMES 64

/* Where the picture's bytes are summed to, so the reads are kept. */
static volatile unsigned sink;

typedef struct {
  YsDecoder *decoder;
  YsPicture picture;
  int frames;
} State;

static bool
on_message (const YsMessage *msg, void *user)
{
  State *s = user;
  const YsFrame *f = &msg->u.frame;
  const char *why = NULL;
  bool want = !(msg->header.flags & DECODE_ONLY_FLAG);
  YsDecodeResult r;

  if (msg->header.type != YS_MSG_FRAME)
    return true;
  if (++s->frames > MAX_FRAMES)
    return false;
  if (s->decoder == NULL || ys_decoder_codec (s->decoder) != f->codec) {
    ys_decoder_free (s->decoder);
    s->decoder = ys_decoder_new ((YsCodec) f->codec, &why);
    if (s->decoder == NULL) {
      FUZZ_CHECK (why != NULL && why[0] != '\0');
      return true;
    }
  }
  r = ys_decoder_decode (s->decoder, f->packet, f->packet_len, want,
      &s->picture, &why);
  if (fuzz_verbose ())
    fprintf (stderr, "frame %u (%s, %u bytes): %s\n", msg->header.frame_id,
        ys_codec_name (f->codec), f->packet_len,
        r == YS_DECODE_PICTURE ? "picture" : why);
  if (r == YS_DECODE_PICTURE && want) {
    const YsPicture *p = &s->picture;
    size_t bytes = (size_t) p->width * p->height * 3;
    unsigned sum = 0;

    FUZZ_CHECK (p->width > 0 && p->height > 0 && p->rgb != NULL);
    FUZZ_CHECK (bytes <= p->capacity);
    for (size_t i = 0; i < bytes; i++)
      sum += p->rgb[i];
    sink += sum;
  } else if (r != YS_DECODE_PICTURE && r != YS_DECODE_NO_PICTURE) {
    FUZZ_CHECK (why != NULL && why[0] != '\0');
  }
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
  ys_decoder_free (s.decoder);
  free (s.picture.rgb);
  return 0;
}
