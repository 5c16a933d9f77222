/* Decoder for the edge server: one per client connection, H.264 or MJPEG
 * packets in, packed RGB frames out (libswscale does the colour
 * conversion, full range for JPEG, BT.601 limited range for H.264).
 *
 * H.264 frames must all be decoded in order even when the server will not
 * run inference on them (they are references for later ones): that is why
 * `want_picture` exists: a frame decoded only to keep the reference chain
 * skips the colour conversion. */
#ifndef YOLOSWITCH_OFFLOAD_DECODER_H
#define YOLOSWITCH_OFFLOAD_DECODER_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YsDecoder YsDecoder;

/* A decoded picture, packed RGB24, owned by the caller's buffer. */
typedef struct {
  uint8_t *rgb; /* width * height * 3 bytes, rows packed (stride width*3) */
  size_t capacity; /* bytes allocated at rgb; grown by the decoder (to a
                    * little more than width * height * 3) */
  int width, height;
} YsPicture;

/* NULL with *error set when the codec is not one we decode.  A decoder
 * made by ys_decoder_new() has no delay (one packet in, its picture out,
 * ys_decoder_decode); see ys_decoder_new_reordering() for B-frames. */
YsDecoder *ys_decoder_new (YsCodec codec, const char **error);

/* A decoder for ys_decoder_send()/ys_decoder_receive(): H.264 pictures
 * come out in display order, so with B-frames a packet's picture may come
 * out only after later packets went in; each carries its packet's tag.
 * No picture is allocated over max_pixels (width * height, > 0). */
YsDecoder *ys_decoder_new_reordering (YsCodec codec, int64_t max_pixels,
    const char **error);
void ys_decoder_free (YsDecoder *decoder);
YsCodec ys_decoder_codec (const YsDecoder *decoder);

/* Before the first packet: the decoder's own cost, then every picture it
 * allocates, is asked of `charge` first (decoder_memory.c); a refused
 * picture makes that packet fail with an error saying so.  False when the
 * decoder's own cost is refused (or out of memory): free it. */
bool ys_decoder_set_memory_hook (YsDecoder *decoder, YsMemoryFunc charge,
    void *user);

typedef enum {
  YS_DECODE_PICTURE, /* a picture came out (into *out when want_picture) */
  YS_DECODE_NO_PICTURE, /* accepted, nothing out yet */
  YS_DECODE_ERROR, /* corrupt packet; *error says why */
  YS_DECODE_NEED_KEYFRAME, /* H.264 without its references: send a keyframe */
  /* ys_decoder_send: refused before decoding, nothing changed */
  YS_DECODE_TOO_LARGE, /* the bitstream's picture is over max_pixels */
  YS_DECODE_SIZE_MISMATCH, /* the bitstream's size is not the one expected */
} YsDecodeResult;
/* H.264: a new decoder, and one after a packet that failed to decode,
 * answers NEED_KEYFRAME to every packet without an IDR slice until a
 * keyframe decodes cleanly; see decoder.c. */

/* Decodes one packet.  When want_picture, the picture is converted into
 * out (grown with realloc as needed; free out->rgb when done). */
YsDecodeResult ys_decoder_decode (YsDecoder *decoder, const uint8_t *data,
    size_t size, bool want_picture, YsPicture *out, const char **error);

/* ---- reordering decoders ---- */

/* Reads the picture size the packet's bitstream declares (H.264: its SPS,
 * or the last one seen; JPEG: its frame header) before anything is
 * decoded: YS_DECODE_TOO_LARGE over max_pixels, YS_DECODE_SIZE_MISMATCH
 * when it is not width x height (the sender's claim; 0 x 0: unchecked),
 * both with nothing decoded.  Otherwise decodes the packet, tagged: NO_PICTURE
 * (accepted: collect with ys_decoder_receive), NEED_KEYFRAME or ERROR as
 * for ys_decoder_decode.  After an ERROR the decoder has dropped every
 * picture it held: the tags still inside are lost. */
YsDecodeResult ys_decoder_send (YsDecoder *decoder, const uint8_t *data,
    size_t size, int width, int height, int64_t tag, const char **error);

/* Ends the stream: the pictures held back come out of ys_decoder_receive;
 * the next packet must then be a keyframe. */
void ys_decoder_drain (YsDecoder *decoder);

/* The next picture out: PICTURE with *tag (convert it with
 * ys_decoder_convert before the next call), NO_PICTURE when none is ready,
 * or ERROR with *tag when it came out damaged (the decoder dropped what
 * it held and waits for a keyframe, as after a send ERROR). */
YsDecodeResult ys_decoder_receive (YsDecoder *decoder, int64_t *tag,
    const char **error);

/* The picture ys_decoder_receive gave, as RGB into out. */
bool ys_decoder_convert (YsDecoder *decoder, YsPicture *out,
    const char **error);

#endif
