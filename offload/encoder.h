/* Adaptive video encoder for the offload path: libavcodec H.264 (libx264,
 * ultrafast/zerolatency, no B-frames, short GOP) or MJPEG, with the output
 * size (libswscale) and bit rate changeable between any two frames.
 *
 *  - a size change reopens the codec, so the next frame is a keyframe;
 *  - a bit-rate change needs no keyframe: x264 is reconfigured in place,
 *    MJPEG picks the next frame's quantizer from the target bytes per frame;
 *  - hardware encoders (h264_v4l2m2m on ARM boards, h264_vaapi) are used
 *    when asked for by name and they open; otherwise the encoder says so
 *    (ys_encoder_name) and falls back to libx264.  VA-API encoders need
 *    hardware frames, which are not uploaded: they always fall back.
 *
 * One encoder per stream, used by one thread at a time. */
#ifndef YOLOSWITCH_OFFLOAD_ENCODER_H
#define YOLOSWITCH_OFFLOAD_ENCODER_H

#include "protocol.h"
#include "frame.h" /* YoloFrame: the input pixel layouts */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YsEncoder YsEncoder;

typedef struct {
  YsCodec codec; /* YS_CODEC_H264 or YS_CODEC_MJPEG */
  const char *hw_encoder; /* NULL/"": software; else an FFmpeg encoder name */
  int fps; /* nominal frame rate, for rate control (e.g. 30) */
  int gop; /* H.264 keyframe interval in frames (e.g. 30) */
} YsEncoderOptions;

/* What one encode produced.  `data` stays valid until the next call. */
typedef struct {
  const uint8_t *data;
  size_t size;
  bool keyframe;
  int width, height; /* encoded size */
  double encode_ms; /* scaling + encoding, wall clock */
} YsPacket;

/* NULL and *error set to a sentence (static or owned by nobody: do not
 * free) when the codec cannot be opened at all. */
YsEncoder *ys_encoder_new (const YsEncoderOptions *options, const char **error);
void ys_encoder_free (YsEncoder *encoder);

/* Takes effect from the next frame.  width/height are rounded down to even
 * numbers, at least 16. bitrate in bits per second (> 0).
 * Until set_size is called, frames are encoded at their own size (rounded
 * the same way); until set_bitrate, at 1 Mbit/s.  Bit rates below
 * 10 kbit/s are raised to it.  A hardware encoder is reopened for a new
 * bit rate (a keyframe); libx264 and MJPEG change it in place. */
void ys_encoder_set_size (YsEncoder *encoder, int width, int height);
void ys_encoder_set_bitrate (YsEncoder *encoder, int64_t bitrate);
/* The next frame will be a keyframe (the server asked for one). */
void ys_encoder_force_keyframe (YsEncoder *encoder);

/* Scales frame to the current size and encodes it: exactly one packet per
 * frame (the encoders are set up with no delay).  false with *error set if
 * encoding failed. */
bool ys_encoder_encode (YsEncoder *encoder, const YoloFrame *frame,
    YsPacket *packet, const char **error);

/* The FFmpeg encoder actually in use ("libx264", "mjpeg", "h264_v4l2m2m"). */
const char *ys_encoder_name (const YsEncoder *encoder);

#endif
