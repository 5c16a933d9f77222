/* Internal to the encoder: its state and the functions its files share.
 * encoder.c: the API, frames held and packets queued; encoder_open.c:
 * opening the codec (options, hardware fallback); encoder_frames.c: input
 * frames into the codec's pixel format and size. */
#ifndef YOLOSWITCH_OFFLOAD_ENCODER_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_ENCODER_INTERNAL_H

#include "encoder.h"

#include <libavcodec/avcodec.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_FPS 30
#define DEFAULT_GOP 30
#define DEFAULT_BITRATE 1000000
#define MIN_DIMENSION 16
/* x264 counts in kbit/s; below this no encoder does anything useful. */
#define MIN_BITRATE 10000
/* x264's VBV buffer, in seconds of the bit rate (with max rate = bit
 * rate).  Measured on vtest.avi at 640x480, 1 Mbit/s -> 200 kbit/s: the
 * frames right after the change are ~30% smaller, the new rate is reached
 * in about a second; 0.25 s reaches it faster but lets x264 spend less on
 * keyframes. */
#define VBV_SECONDS 1.0
/* How far past a row's last pixel swscale's SIMD input readers may load
 * (16 bytes seen for RGB24 and NV12 under valgrind; AVX2 loads 32). */
#define SWS_OVERREAD 64

/* MJPEG quantizer range and controller: q starts at MJPEG_Q_START, and
 * after each frame moves by (size / target)^MJPEG_Q_GAIN, at most by a
 * factor of MJPEG_Q_STEP either way.  JPEG bytes fall roughly as 1/q, so a
 * gain below one converges without overshooting on noisy frame sizes. */
#define MJPEG_Q_MIN 2.0
#define MJPEG_Q_MAX 31.0
#define MJPEG_Q_START 8.0
#define MJPEG_Q_GAIN 0.7
#define MJPEG_Q_STEP 2.0

/* open_codec: the user's encoder options are wrong for the encoder, which
 * is no reason to fall back to another one. */
#define OPTIONS_REFUSED FFERRTAG ('Y', 'S', 'O', 'P')

/* A frame given to the codec whose packet has not come out. */

typedef struct {
  int64_t pts;
  uint64_t tag;
  int width, height;
  int64_t bitrate;
  double sent_ms;
} Held;

typedef struct {
  AVPacket *packet; /* allocated on first use, then reused */
  Held frame;
  double out_ms;
} Queued;

struct YsEncoder {
  YsCodec codec;
  int fps, gop;
  char hw_name[64]; /* asked for; "" when software */
  const AVCodec *av_codec; /* the encoder in use */

  AVDictionary *av_options; /* the user's, parsed */

  AVCodecContext *ctx; /* NULL after a drain or a failure: reopened */
  AVFrame *frame; /* reused; see av_frame_make_writable in scale_frame */
  AVPacket *packet; /* the last packet, valid until the next call */
  enum AVPixelFormat pix_fmt; /* of ctx and frame */

  /* The wanted output: 0x0 follows the input frame's size. */
  int want_width, want_height;
  int64_t bitrate; /* wanted */
  int64_t open_bitrate; /* what ctx was opened or last reconfigured with */
  /* libx264 lowers its VBV one frame after the bit rate: its wrapper applies
   * the VBV first, and a max rate below the old bit rate makes x264 warn
   * ("assuming CBR") for what is a correct transition. */
  bool vbv_pending;
  bool force_keyframe;
  double mjpeg_q;
  int64_t pts;

  struct SwsContext *sws;
  /* What the cached swscale context was last set up for: swscale does not
   * keep colour ranges in its cache key, so they are set again whenever
   * anything here changes. */
  int sws_src_w, sws_src_h, sws_dst_w, sws_dst_h;
  enum AVPixelFormat sws_src_fmt, sws_dst_fmt;
  int sws_src_range, sws_dst_range;
  uint8_t *tail; /* the frame's last rows, padded (feed_tail) */
  size_t tail_capacity;

  /* Frames inside the codec, oldest first. */
  Held held[YS_ENCODER_MAX_HELD];
  int held_first, held_count;
  /* Packets out of the codec, not yet returned by receive, oldest first. */
  Queued queue[YS_ENCODER_MAX_HELD];
  int queue_first, queue_count;
  /* A drain that failed: told by the receive after its packets. */
  bool drain_failed;

  char error[256];
  char drain_error[256];
};

double ys_enc_now_ms (void);
int ys_enc_clamp_dimension (int v);
int ys_enc_vbv_size (int64_t bitrate);
bool ys_enc_is_libx264 (const YsEncoder *enc);
const char *ys_enc_software_name (YsCodec codec);
bool ys_enc_uses_qscale (const YsEncoder *enc);
void ys_enc_close_codec (YsEncoder *enc);
bool ys_enc_open_with_fallback (YsEncoder *enc, int width, int height);
enum AVPixelFormat ys_enc_av_format_of (YoloPixelFormat format, int *planes);
bool ys_enc_frame_usable (const YoloFrame *frame, enum AVPixelFormat fmt,
    int planes);
bool ys_enc_scale_frame (YsEncoder *enc, const YoloFrame *frame,
    enum AVPixelFormat src_fmt, int planes);
void ys_enc_mjpeg_update_q (YsEncoder *enc, size_t bytes);

#endif
