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

/* NULL with *error set when the codec is not one we decode. */
YsDecoder *ys_decoder_new (YsCodec codec, const char **error);
void ys_decoder_free (YsDecoder *decoder);
YsCodec ys_decoder_codec (const YsDecoder *decoder);

typedef enum {
  YS_DECODE_PICTURE, /* a picture came out (into *out when want_picture) */
  YS_DECODE_NO_PICTURE, /* accepted, nothing out yet (should not happen: no delay) */
  YS_DECODE_ERROR, /* corrupt packet; *error says why */
  YS_DECODE_NEED_KEYFRAME, /* H.264 without its references: send a keyframe */
} YsDecodeResult;
/* H.264: a new decoder, and one after a packet that failed to decode,
 * answers NEED_KEYFRAME to every packet without an IDR slice until a
 * keyframe decodes cleanly; see decoder.c. */

/* Decodes one packet.  When want_picture, the picture is converted into
 * out (grown with realloc as needed; free out->rgb when done). */
YsDecodeResult ys_decoder_decode (YsDecoder *decoder, const uint8_t *data,
    size_t size, bool want_picture, YsPicture *out, const char **error);

#endif
