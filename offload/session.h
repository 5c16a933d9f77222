/* One camera's offload path, without GStreamer: the adaptive encoder, the
 * WebSocket client, the link estimator and the frames in flight.
 *
 * The yolooffload element is a thin adapter around it, and the yoloswitch
 * element (which also runs a local model) holds one too.
 *
 * Frames are pipelined: submitting never waits for a result, only for a
 * free slot when max_in_flight frames are unanswered (and even then only
 * until the oldest one's deadline).  The server's HELLO says how many
 * frames it keeps waiting per client; the session never has more than
 * that in flight, since the rest could be dropped as overload.  Each frame
 * ends exactly one way: a RESULT, a DROP from the server, its deadline, the
 * connection going away, or its packet failing to leave; an outcome says
 * which.
 *
 * A frame is in flight from submit on, also while the encoder holds it:
 * with an encoder set up to delay output (encoder_options), each frame's
 * packet is sent when it comes out, during a later submit or
 * ys_session_drain, and meanwhile the frame counts against max_in_flight
 * and ends by its deadline.  (Not against the server's queue, which holds
 * only frames sent.)  Such an encoder needs max_in_flight above the
 * frames it holds and a latency budget above its delay, or its frames end
 * by their deadline before their packets are out.
 *
 * Threads: any thread may call any function; callbacks from the client's
 * service thread update the state under the session's lock. */
#ifndef YOLOSWITCH_OFFLOAD_SESSION_H
#define YOLOSWITCH_OFFLOAD_SESSION_H

#include "analysis.h"
#include "encoder.h"
#include "frame.h"
#include "protocol.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct YsSession YsSession;

/* Distinct label strings and model names a session takes from its server
 * (session_names.c): a model has tens of classes, a server one model. */
#define YS_SESSION_DEFAULT_MAX_LABELS 1000

typedef struct {
  const char *server; /* ws:// or wss:// URL */
  const char *token;
  /* wss://: certificates to trust (NULL: the system's) */
  const char *tls_ca_file;
  const char *model; /* wanted on the server; NULL: its default */
  const char *client_name;
  /* YS_CODEC_TENSOR: split frames, made by the caller (the head of the
   * server's model, offload/split_codec.h) and sent with
   * ys_session_submit_packet; no encoder. */
  YsCodec codec;
  /* With YS_CODEC_TENSOR: yolo_model_hash() of the model the packets are
   * cut from.  A server whose HELLO names another hash, or that does not
   * take split frames, is refused (closed, retried, a notice says why). */
  uint64_t model_hash;
  const char *hw_encoder; /* NULL: software */
  /* FFmpeg options of the encoder, "key=value:key=value": see
   * YsEncoderOptions.av_options.  NULL: none. */
  const char *encoder_options;
  int fps; /* nominal, for the encoder's rate control */
  int max_in_flight; /* >= 1 */
  /* Distinct labels (and model names) taken from the server; a box with
   * a label past it, or one that is not printable UTF-8, is named
   * "unknown" and counted.  0: YS_SESSION_DEFAULT_MAX_LABELS. */
  int max_labels;
  /* Capture to result; frames past it are given up: a RESULT that comes
   * later ends its frame "deadline", whenever the owner next asks. */
  int latency_budget_ms;
  /* Every frame's ending (its RESULT, or why it got none) is queued as
   * an analysis for ys_session_take (the edge path); without, a frame
   * submitted with wait_for_slot is waited for with ys_session_wait. */
  bool queue_results;
  /* With queue_results: called when an analysis was queued, from any
   * thread and with the session's lock held, so it may only signal. */
  void (*on_analysis) (void *user);
  void *user;
} YsSessionOptions;

typedef struct {
  bool connected;
  double bandwidth_bps, last_bandwidth_bps, throughput_bps;
  double rtt_ms, rtt_var_ms, rtt_min_ms, path_rtt_ms, server_ms;
  int in_flight; /* frames unanswered, those inside the encoder too */
  int slots; /* in_flight may grow to this (max in flight, server queue) */
  int64_t oldest_unacked_us; /* monotonic send time; 0: every frame acked */
  uint64_t oldest_unacked_bytes; /* its own and those ahead of it */
  uint64_t frames_submitted; /* given to the encoder */
  uint64_t frames_sent, bytes_sent, results, drops, no_results;
  uint64_t drops_deadline,
      drops_overload; /* of drops, by the server's reason */
  /* boxes whose label was refused (named "unknown"), see max_labels */
  uint64_t labels_refused;
  double last_encode_ms;
  int width, height; /* encoded size of the last frame */
  int64_t bitrate;
  const char *encoder_name;
} YsSessionStats;

/* NULL with *error (a sentence) on a bad URL or codec. */
YsSession *ys_session_new (const YsSessionOptions *options, const char **error);
void ys_session_free (YsSession *session);

/* The frames' real rate (the stream's caps), from the next frame on: what
 * the encoder's rate control spreads `bitrate` over in place of
 * options.fps.  fps <= 0: no change; a split session ignores it. */
void ys_session_set_rate (YsSession *session, int fps);

/* From the next frame on; width/height 0: the frame's own size. */
void ys_session_set_encoding (YsSession *session, int width, int height,
    int64_t bitrate);

/* Encodes a frame (stamp->arrival_us is its capture time, tag goes into
 * its analysis) and sends every packet the encoder gives back (with our
 * encoder settings, this frame's own).  Returns its frame id, or 0 when it
 * was not sent (*reason says why: "disconnected", "in-flight-limit",
 * "link-backlog" when its packet came out at once and the client refused
 * it, "encoder-error").  With wait_for_slot it blocks while max_in_flight
 * frames are unanswered, at most until the oldest one's deadline; without,
 * a full pipeline means "not sent". */
uint32_t ys_session_submit (YsSession *session, const YoloFrame *frame,
    const YoloFrameStamp *stamp, int tag, bool wait_for_slot,
    const char **reason);

/* With YS_CODEC_TENSOR: sends a split frame's packet (len bytes at
 * packet) for a width x height camera frame, as ys_session_submit sends an
 * encoded one (the same slots, deadlines and outcomes); head_ms, the time
 * the device took to make it, is the stats' last_encode_ms. */
uint32_t ys_session_submit_packet (YsSession *session, const uint8_t *packet,
    size_t len, int width, int height, double head_ms,
    const YoloFrameStamp *stamp, int tag, bool wait_for_slot,
    const char **reason);

/* End of stream: the frames the encoder still holds are encoded and their
 * packets sent, so that the last frames get results too (call it before
 * waiting for them).  The next submit starts the encoder again, with a
 * keyframe.  With our encoder settings nothing is held, and it only closes
 * the codec. */
void ys_session_drain (YsSession *session);

/* Without queue_results: blocks until frame_id is answered, its deadline
 * passes or ys_session_interrupt() is called; fills *out (initialised)
 * and forgets the frame.  false only when interrupted (out untouched). */
bool ys_session_wait (YsSession *session, uint32_t frame_id, YoloAnalysis *out);

/* With queue_results: the oldest frame's ending (RESULT or why none),
 * into an initialised record; the last 64 are kept.  false when none is
 * waiting.  Frames past their deadline end here at the latest. */
bool ys_session_take (YsSession *session, YoloAnalysis *out);

/* The newest RESULT so far: false if none yet. */
bool ys_session_newest (YsSession *session, YoloAnalysis *out);

/* Blocks until every frame has ended, at most until until_us (monotonic)
 * or an interrupt: true when none is left. */
bool ys_session_wait_idle (YsSession *session, int64_t until_us);

/* Wakes every waiter (flush, shutdown); while set, waits return false
 * at once and submit does not block. */
void ys_session_interrupt (YsSession *session, bool interrupted);

/* Forgets every frame in flight (flush): they will get no outcome. */
void ys_session_forget_all (YsSession *session);

/* Blocks until the first connection attempt succeeded or failed, at most
 * timeout_ms: true if connected. */
bool ys_session_wait_connected (YsSession *session, int timeout_ms);

void ys_session_stats (YsSession *session, YsSessionStats *out);

/* A sentence for the bus when something a user should know happened
 * (server lost, refused, back), or NULL; the caller frees it.  *is_error
 * tells a warning from an informational note. */
char *ys_session_take_notice (YsSession *session, bool *is_warning);

#endif
