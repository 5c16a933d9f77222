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
 * Frames go in with ys_encoder_send and packets come out with
 * ys_encoder_receive, as with libavcodec itself: an encoder may hold
 * frames back (most hardware encoders, libx264 with a lookahead), so a
 * packet can come out several sends after its frame went in.  The whole
 * contract is: after each send, call receive until it returns 0; at the end
 * of the stream, drain, then receive until 0 again.  Each packet carries
 * the tag its frame was sent with.  Our own settings hold no frame back
 * (one packet out after each send), but options given in av_options may.
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

/* The most frames an encoder may hold: sent, their packet not yet returned
 * by ys_encoder_receive (about 2 s at 30 frames/s, far beyond any useful
 * offloading delay).  A send beyond it fails instead of queueing more. */
#define YS_ENCODER_MAX_HELD 64

/* The H.264 keyframe interval the session and the profiler use, in
 * seconds of the encoder's rate.  At the low rates a small uplink allows
 * (100-250 kbit/s) a keyframe a second spent a large share of the bits:
 * on vtest.avi a 3 s interval scored 0.807 at ~1.2 KB a frame against
 * 0.761 with 1 s (docs/SPLIT.md).  Longer costs no recovery: TCP loses
 * nothing, and a server that misses a reference asks for a keyframe
 * (YS_FLAG_NEED_KEYFRAME). */
#define YS_KEYFRAME_INTERVAL_S 3

typedef struct {
  YsCodec codec; /* YS_CODEC_H264 or YS_CODEC_MJPEG */
  const char *hw_encoder; /* NULL/"": software; else an FFmpeg encoder name */
  int fps; /* nominal frame rate, for rate control (e.g. 30) */
  int gop; /* H.264 keyframe interval in frames (e.g. 30) */
  /* NULL/"" or FFmpeg options of the encoder, applied when it opens, after
   * ours: "key=value:key=value".  ':' separates pairs and the first '='
   * a key from its value; a backslash makes the next character literal and
   * '...' quotes a span (FFmpeg's av_get_token rules), so a value holding
   * ':' is written x264-params=rc-lookahead=10\:sync-lookahead=5 or
   * x264-params='rc-lookahead=10:sync-lookahead=5'.  The codec's private
   * options and AVCodecContext's generic ones are both accepted; one the
   * encoder has neither of fails the open, naming it.
   *
   * For libx264 the user's x264-params are merged with ours: repeat-headers=1
   * (SPS/PPS at every keyframe, which the server needs) is always kept.
   * Names inside x264-params are read by x264 itself, and FFmpeg 5.1 only
   * logs a warning for one it does not know.  B-frames (bf, x264's bframes)
   * fail the open: the server cannot reorder frames.
   *
   * The options are for the encoder asked for (hw_encoder, else the
   * software one): when a hardware encoder falls back to software they are
   * not applied to it. */
  const char *av_options;
} YsEncoderOptions;

/* What came out for one frame.  `data` stays valid until the next call on
 * the encoder. */
typedef struct {
  const uint8_t *data;
  size_t size;
  uint64_t tag; /* what ys_encoder_send was given with this frame */
  bool keyframe;
  /* Of this packet's own frame, not the current settings: */
  int width, height; /* encoded size: the size set when it was sent */
  /* bits/s the codec ran at when it encoded the frame: the rate set when
   * the frame was sent, except for a libx264 frame held across an in-place
   * change (see ys_encoder_set_bitrate), which gets the new one. */
  int64_t bitrate;
  /* Wall clock from the send of this frame (scaling included) to the
   * packet out of the codec: for an encoder that holds frames, that
   * includes the wait for the later frames it needed. */
  double encode_ms;
} YsPacket;

/* NULL and *error set to a sentence (static or owned by nobody: do not
 * free) when the codec cannot be opened at all or av_options are
 * unreadable or unknown to it. */
YsEncoder *ys_encoder_new (const YsEncoderOptions *options, const char **error);
void ys_encoder_free (YsEncoder *encoder);

/* Takes effect from the next frame sent.  width/height are rounded down to
 * even numbers, at least 16. bitrate in bits per second (> 0).
 * Until set_size is called, frames are encoded at their own size (rounded
 * the same way); until set_bitrate, at 1 Mbit/s.  Bit rates below
 * 10 kbit/s are raised to it.
 *
 * A size change, and a bit-rate change on a hardware encoder, reopen the
 * codec: the next frame is a keyframe, and the frames the old codec still
 * held are drained first, so their packets come out (at the old size)
 * before any of the new codec's.  libx264 and MJPEG change the bit rate in
 * place, without draining.  MJPEG holds no frame.  libx264 applies the new
 * rate to the next frame it encodes, which with a lookahead is the oldest
 * one it holds: the frames already inside come out at the new rate too
 * (measured with rc-lookahead=10: of the ten frames sent before a change
 * from 1 Mbit/s to 100 kbit/s, nine came out five times smaller than
 * without the change), and their packets say so. */
void ys_encoder_set_size (YsEncoder *encoder, int width, int height);
void ys_encoder_set_bitrate (YsEncoder *encoder, int64_t bitrate);

/* The frames' real rate, once known (the stream's caps): rate control
 * spreads the bit rate over fps frames a second, and the keyframe
 * interval keeps its length in seconds.  An open encoder reopens at its
 * next frame (a keyframe), as for a new size.  fps <= 0: no change. */
void ys_encoder_set_rate (YsEncoder *encoder, int fps);
/* The next frame sent will be a keyframe (the server asked for one). */
void ys_encoder_force_keyframe (YsEncoder *encoder);

/* Scales frame to the current size and gives it to the codec; tag comes
 * back on its packet.  false with *error set if the frame is unusable, the
 * codec failed, or YS_ENCODER_MAX_HELD frames are already held (an encoder
 * set up to delay more than that, or a caller that stopped receiving).  A
 * frame that fails is not held: no packet will carry its tag.  After a
 * drain, the next send reopens the codec (a keyframe). */
bool ys_encoder_send (YsEncoder *encoder, const YoloFrame *frame, uint64_t tag,
    const char **error);

/* The next packet, oldest first: 1 and *packet filled when one is ready, 0
 * when none is now (send more frames, or after a drain: all are out), < 0
 * with *error set when the codec failed: it is then closed, the frames it
 * held get no packet, and the next send reopens it.  Packets come out in
 * the order their frames were sent, each exactly once. */
int ys_encoder_receive (YsEncoder *encoder, YsPacket *packet,
    const char **error);

/* End of stream: the codec is flushed and closed, and every packet it
 * still held becomes ready for ys_encoder_receive (which then returns
 * them, then 0; or, if the flush failed, < 0 once after the packets it
 * did give).  The next send reopens the codec (a keyframe). */
void ys_encoder_drain (YsEncoder *encoder);

/* The FFmpeg encoder actually in use ("libx264", "mjpeg", "h264_v4l2m2m"). */
const char *ys_encoder_name (const YsEncoder *encoder);

#endif
