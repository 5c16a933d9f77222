/* The edge path; see edge_path.h. */
#include "edge_path.h"

#include "clock.h"
#include "pacer.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>

#define MIN_DIMENSION 16
/* The live bytes-per-frame factor is measured over windows of this many
 * frames sent under one configuration: a keyframe interval at 10 frames/s
 * (YS_KEYFRAME_INTERVAL_S), so a window holds as many keyframes as the
 * stream does; a window of the first frames alone would be mostly the new
 * configuration's keyframe. */
#define BYTES_WINDOW_FRAMES (10 * YS_KEYFRAME_INTERVAL_S)
#define BYTES_FACTOR_MIN 0.05 /* a bound on what one odd stream can claim */
#define BYTES_FACTOR_MAX 4.0

typedef struct {
  YsPath parent;
  YsSession *session;
  YsSplitHead *head; /* the split path's; NULL: the edge path */
  double pace_fps;
  int behind_after_ms;
  GMutex lock;
  /* locked: */
  double scale; /* of the frame; 0: width x height below */
  int width, height; /* 0 with scale 0: the frame's own size */
  int64_t bitrate;
  int enc_width, enc_height; /* what the session was last told */
  int64_t enc_bitrate;
  YsPacer pacer;
  int cut, bits; /* split: what the head runs next (0: as it is) */
  /* What the encoder really sends against what the profile saw it send
   * (edge path, H.264 only): the profile's footage is not the live scene,
   * which may compress better or worse at the same rate.  The profile's
   * bytes per frame of the configuration in force (0: not H.264); the
   * session's counters where the current window began and the profile's
   * bytes then; the factor (0: no window completed yet). */
  double profile_bytes;
  uint64_t window_frames, window_bytes;
  double window_profile_bytes;
  double bytes_factor;
  guint head_errors; /* split: failed heads (the first is a notice) */
  char *notice; /* locked: for take_notice, before the session's */
  GMutex head_lock; /* split: held while the head runs */
} EdgePath;

#define EDGE(p) ((EdgePath *) (p))

static void
on_session_analysis (void *user)
{
  ys_path_notify (user);
}

/* Rounds to an even number of pixels (4:2:0 chroma), at least 16. */
static int
even (double v)
{
  int i = (int) lround (v / 2) * 2;
  return MAX (i, MIN_DIMENSION);
}

static YsPathReadiness
edge_readiness (YsPath *p, int64_t frame_us)
{
  EdgePath *e = EDGE (p);
  YsSessionStats st;
  bool due;

  g_mutex_lock (&e->lock);
  due = ys_pacer_due (&e->pacer, frame_us);
  g_mutex_unlock (&e->lock);
  if (!due)
    return YS_PATH_NOT_DUE;
  ys_session_stats (e->session, &st);
  if (!st.connected)
    return YS_PATH_DOWN;
  if (st.oldest_unacked_us > 0
      && yolo_now_us () - st.oldest_unacked_us
          > (int64_t) ((e->behind_after_ms + st.rtt_ms) * 1000))
    return YS_PATH_BEHIND;
  if (st.in_flight >= st.slots)
    return YS_PATH_BUSY;
  return YS_PATH_READY;
}

/* The encoder gets the frames the pacing lets through: the stream's rate,
 * or the pace when that is slower. */
static void
edge_set_source_rate (YsPath *p, double fps)
{
  EdgePath *e = EDGE (p);
  double rate = e->pace_fps > 0 ? MIN (fps, e->pace_fps) : fps;

  g_mutex_lock (&e->lock);
  ys_pacer_set_stream_rate (&e->pacer, fps);
  g_mutex_unlock (&e->lock);
  ys_session_set_rate (e->session, (int) MAX (1, lround (rate)));
}

static void
edge_configure (YsPath *p, const YsProfileConfig *config)
{
  EdgePath *e = EDGE (p);
  g_mutex_lock (&e->lock);
  e->scale = config->scale;
  e->width = config->width;
  e->height = config->height;
  e->bitrate = config->bitrate;
  /* H.264's rate control is what misses the profile; an MJPEG row's
   * quality-driven size is not measured into the same factor. */
  e->profile_bytes
      = g_strcmp0 (config->codec, "h264") == 0 ? config->bytes_per_frame : 0;
  e->cut = config->cut;
  e->bits = config->bits;
  g_mutex_unlock (&e->lock);
}

/* The split path's submit: the head here, its packet to the server. */
static uint32_t
split_submit (EdgePath *e, const YoloFrame *frame, const YoloFrameStamp *stamp,
    int tag, YsSubmitMode mode, const char **reason)
{
  uint8_t *packet = NULL;
  size_t len = 0;
  double head_ms = 0;
  char error[512];
  uint32_t id;
  int cut, bits;

  g_mutex_lock (&e->lock);
  cut = e->cut;
  bits = e->bits;
  g_mutex_unlock (&e->lock);
  /* One submit at a time runs the head (it holds one model). */
  g_mutex_lock (&e->head_lock);
  if (cut > 0 || bits > 0)
    ys_split_head_configure (e->head,
        cut > 0 ? cut : ys_split_head_cut (e->head), bits > 0 ? bits : 8);
  if (!ys_split_head_run (e->head, frame, &packet, &len, &head_ms, error,
          sizeof error)) {
    g_mutex_unlock (&e->head_lock);
    g_mutex_lock (&e->lock);
    if (e->head_errors++ == 0)
      e->notice = g_strdup_printf ("the split path's head (layers 0 to %d of "
                                   "%s) failed: %s; frames pass with no "
                                   "result",
          ys_split_head_cut (e->head) - 1, ys_split_head_model_name (e->head),
          error);
    g_mutex_unlock (&e->lock);
    *reason = "encoder-error";
    return 0;
  }
  g_mutex_unlock (&e->head_lock);
  id = ys_session_submit_packet (e->session, packet, len, frame->width,
      frame->height, head_ms, stamp, tag, mode == YS_SUBMIT_IN_ORDER, reason);
  free (packet);
  return id;
}

static bool
edge_submit (YsPath *p, const YoloFrame *frame, const YoloFrameStamp *stamp,
    int tag, YsSubmitMode mode, uint32_t *backend_id, const char **reason)
{
  EdgePath *e = EDGE (p);
  int w, h;
  int64_t bitrate;
  bool changed;
  uint32_t id;

  if (e->head != NULL) {
    id = split_submit (e, frame, stamp, tag, mode, reason);
    goto submitted;
  }
  g_mutex_lock (&e->lock);
  if (e->scale > 0) {
    w = even (frame->width * e->scale);
    h = even (frame->height * e->scale);
  } else {
    w = e->width > 0 ? e->width : frame->width;
    h = e->height > 0 ? e->height : frame->height;
  }
  bitrate = e->bitrate;
  changed
      = w != e->enc_width || h != e->enc_height || bitrate != e->enc_bitrate;
  e->enc_width = w;
  e->enc_height = h;
  e->enc_bitrate = bitrate;
  g_mutex_unlock (&e->lock);
  if (changed)
    ys_session_set_encoding (e->session, w, h, bitrate);

  id = ys_session_submit (e->session, frame, stamp, tag,
      mode == YS_SUBMIT_IN_ORDER, reason);
submitted:
  if (id == 0)
    return false;
  if (backend_id != NULL)
    *backend_id = id;
  g_mutex_lock (&e->lock);
  ys_pacer_sent (&e->pacer, stamp->time_us);
  g_mutex_unlock (&e->lock);
  return true;
}

static bool
edge_take (YsPath *p, YoloAnalysis *out)
{
  return ys_session_take (EDGE (p)->session, out);
}

static bool
edge_drain (YsPath *p, int64_t until_us)
{
  EdgePath *e = EDGE (p);
  ys_session_drain (e->session);
  return ys_session_wait_idle (e->session, until_us);
}

static bool
edge_settle (YsPath *p, int64_t until_us)
{
  int64_t left_ms = (until_us - yolo_now_us ()) / 1000;
  return ys_session_wait_connected (EDGE (p)->session,
      (int) CLAMP (left_ms, 0, G_MAXINT));
}

/* Closes the window of frames sent under one configuration once it holds
 * BYTES_WINDOW_FRAMES, and averages its ratio with the last one's (a
 * window may hold one keyframe more or less than the stream's share).  A
 * change of configuration, or a new session's counters, starts the window
 * again. */
static double
update_bytes_factor (EdgePath *e, const YsSessionStats *st)
{
  double factor;

  g_mutex_lock (&e->lock);
  if (st->frames_sent < e->window_frames || st->bytes_sent < e->window_bytes
      || e->window_profile_bytes != e->profile_bytes) {
    e->window_frames = st->frames_sent;
    e->window_bytes = st->bytes_sent;
    e->window_profile_bytes = e->profile_bytes;
  } else if (st->frames_sent - e->window_frames >= BYTES_WINDOW_FRAMES
      && e->profile_bytes > 0) {
    double frames = (double) (st->frames_sent - e->window_frames);
    double ratio = (double) (st->bytes_sent - e->window_bytes) / frames
        / e->profile_bytes;
    ratio = CLAMP (ratio, BYTES_FACTOR_MIN, BYTES_FACTOR_MAX);
    e->bytes_factor
        = e->bytes_factor > 0 ? (e->bytes_factor + ratio) / 2 : ratio;
    e->window_frames = st->frames_sent;
    e->window_bytes = st->bytes_sent;
  }
  factor = e->bytes_factor;
  g_mutex_unlock (&e->lock);
  return factor;
}

static void
edge_estimates (YsPath *p, YsEstimates *est)
{
  EdgePath *e = EDGE (p);
  YsSessionStats st;

  ys_session_stats (e->session, &st);
  /* Split packets are what the profile measured, byte for byte. */
  if (e->head == NULL)
    est->sent_bytes_factor = update_bytes_factor (e, &st);
  est->connected = st.connected;
  est->bandwidth_bps = st.bandwidth_bps;
  est->rtt_ms = st.rtt_ms;
  est->rtt_var_ms = st.rtt_var_ms;
  est->rtt_min_ms = st.rtt_min_ms;
  est->path_rtt_ms = st.path_rtt_ms;
  est->last_bandwidth_bps = st.last_bandwidth_bps;
  est->server_ms = st.server_ms;
  est->oldest_unacked_us = st.oldest_unacked_us;
  est->oldest_unacked_bytes = (double) st.oldest_unacked_bytes;
  est->encode_ms = st.last_encode_ms;
}

/* The head's time from the per-layer model (split_head.h); the server's
 * from what it took at the cut running, scaled by the share of the model
 * left after each cut (the server runs the same layers as this machine,
 * at its own speed). */
static bool
split_predict_cut (YsPath *p, int cut, double *device_ms, double *server_ms)
{
  EdgePath *e = EDGE (p);
  double share, running_share;
  YsSessionStats st;

  if (e->head == NULL)
    return false;
  *device_ms = ys_split_head_predict (e->head, cut, &share);
  ys_split_head_predict (e->head, ys_split_head_running_cut (e->head),
      &running_share);
  ys_session_stats (e->session, &st);
  *server_ms = st.server_ms > 0 && running_share > 0
      ? st.server_ms * share / running_share
      : 0;
  return *device_ms > 0;
}

static void
edge_stats (YsPath *p, YsPathStats *out)
{
  YsSessionStats st;

  ys_session_stats (EDGE (p)->session, &st);
  memset (out, 0, sizeof (*out));
  out->submitted = st.frames_submitted;
  out->results = st.results;
  out->missing = st.no_results;
  out->connected = st.connected;
  out->bandwidth_bps = st.bandwidth_bps;
  out->throughput_bps = st.throughput_bps;
  out->rtt_ms = st.rtt_ms;
  out->rtt_min_ms = st.rtt_min_ms;
  out->server_ms = st.server_ms;
  out->in_flight = st.in_flight;
  out->frames_sent = st.frames_sent;
  out->bytes_sent = st.bytes_sent;
  out->drops = st.drops;
  out->drops_deadline = st.drops_deadline;
  out->drops_overload = st.drops_overload;
  out->labels_refused = st.labels_refused;
  out->encode_ms = st.last_encode_ms;
  out->width = st.width;
  out->height = st.height;
  out->bitrate = st.bitrate;
  out->encoder = st.encoder_name;
}

static void
edge_flush (YsPath *p)
{
  EdgePath *e = EDGE (p);
  ys_session_forget_all (e->session);
  g_mutex_lock (&e->lock);
  ys_pacer_reset (&e->pacer);
  g_mutex_unlock (&e->lock);
}

static void
edge_interrupt (YsPath *p, bool interrupted)
{
  ys_session_interrupt (EDGE (p)->session, interrupted);
}

static char *
edge_take_notice (YsPath *p, bool *is_warning)
{
  EdgePath *e = EDGE (p);
  char *notice;

  g_mutex_lock (&e->lock);
  notice = e->notice;
  e->notice = NULL;
  g_mutex_unlock (&e->lock);
  if (notice != NULL) {
    *is_warning = true;
    return notice;
  }
  return ys_session_take_notice (e->session, is_warning);
}

static void
edge_free (YsPath *p)
{
  EdgePath *e = EDGE (p);
  ys_session_free (e->session);
  ys_split_head_free (e->head);
  g_free (e->notice);
  g_mutex_clear (&e->lock);
  g_mutex_clear (&e->head_lock);
  g_free (e);
}

static const YsPathClass edge_class = {
  .readiness = edge_readiness,
  .configure = edge_configure,
  .set_source_rate = edge_set_source_rate,
  .submit = edge_submit,
  .take = edge_take,
  .drain = edge_drain,
  .settle = edge_settle,
  .estimates = edge_estimates,
  .predict_cut = split_predict_cut,
  .stats = edge_stats,
  .flush = edge_flush,
  .interrupt = edge_interrupt,
  .take_notice = edge_take_notice,
  .free = edge_free,
};

YsPath *
ys_edge_path_new (const YsEdgePathOptions *options, char **error)
{
  EdgePath *e = g_new0 (EdgePath, 1);
  YsSessionOptions so = options->session;
  const char *why = NULL;

  e->parent.klass = &edge_class;
  e->parent.kind = options->split != NULL ? YS_PATH_SPLIT : YS_PATH_EDGE;
  e->pace_fps = options->pace_fps;
  e->behind_after_ms = options->behind_after_ms > 0
      ? options->behind_after_ms
      : MAX (1, so.latency_budget_ms);
  ys_pacer_init (&e->pacer, options->pace_fps);
  e->bitrate = 1000000;
  e->scale = 1.0;
  g_mutex_init (&e->lock);
  g_mutex_init (&e->head_lock);
  so.queue_results = true;
  so.on_analysis = on_session_analysis;
  so.user = e;
  if (options->split != NULL) {
    YoloStatus status;
    e->head = ys_split_head_new (options->split, &status);
    if (e->head == NULL) {
      *error = g_strdup (status.message);
      edge_free (&e->parent);
      return NULL;
    }
    so.codec = YS_CODEC_TENSOR;
    so.model_hash = ys_split_head_model_hash (e->head);
  }
  e->session = ys_session_new (&so, &why);
  if (e->session == NULL) {
    *error = g_strdup (why);
    edge_free (&e->parent);
    return NULL;
  }
  return &e->parent;
}

YsSession *
ys_edge_path_session (YsPath *p)
{
  return EDGE (p)->session;
}
