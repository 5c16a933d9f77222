/* One camera's offload path; see session.h. */
#include "session.h"

#include "session_internal.h"
#include "split_codec.h"
#include "split_zstd.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEPT_RESULTS 64 /* untaken analyses of detached frames */
/* Untaken sentences: a server that refuses us on every reconnect while
 * nobody reads them (a paused pipeline) must not grow the queue. */
#define MAX_KEPT_NOTICES 64

static void
analysis_free (YoloAnalysis *a)
{
  yolo_analysis_clear (a);
  g_free (a);
}

static void
flight_free (Flight *f)
{
  yolo_detections_free (&f->detections);
  g_free (f);
}

void
session_notice_locked (YsSession *s, bool warning, char *text)
{
  Notice *n = g_new (Notice, 1);
  n->text = text;
  n->warning = warning;
  g_queue_push_tail (&s->notices, n);
  while (g_queue_get_length (&s->notices) > MAX_KEPT_NOTICES) {
    n = g_queue_pop_head (&s->notices);
    g_free (n->text);
    g_free (n);
  }
}

/* The path's name in its records: a split session's frames went as
 * tensors, not pixels. */
static const char *
session_source (const YsSession *s)
{
  return s->options.codec == YS_CODEC_TENSOR ? "split" : "edge";
}

/* The record of how a flight ended (yolo/analysis.h). */
void
session_fill_analysis (const YsSession *s, YoloAnalysis *a, const Flight *f)
{
  const char *model = f->ok || s->model == NULL ? f->model : s->model;

  yolo_analysis_clear (a);
  a->source = session_source (s);
  yolo_analysis_set_model (a, model, strlen (model));
  a->frame = f->stamp;
  a->backend_id = f->frame_id;
  a->tag = f->tag;
  a->status = f->ok ? YOLO_ANALYSIS_OK : YOLO_ANALYSIS_MISSING;
  a->reason = f->ok ? NULL : f->reason;
  a->latency_ms = ((f->ok ? f->answered_us : g_get_monotonic_time ())
                      - f->stamp.arrival_us)
      / 1000.0;
  a->server_ms = f->server_ms;
  a->infer_ms = f->infer_ms;
  a->width = f->encoded_width;
  a->height = f->encoded_height;
  a->bitrate = f->bitrate;
  a->cut = f->cut;
  yolo_detections_copy (&a->detections, &f->detections);
}

/* Lock held: the flight's one ending.  A detached flight's ending is
 * queued for ys_session_take and the owner told (on_analysis may only
 * signal: it is called with the session's lock held). */
void
session_finish_locked (YsSession *s, Flight *f, bool ok, const char *reason)
{
  if (!f->waiting)
    return;
  f->waiting = false;
  if (f->in_encoder)
    s->waiting_in_encoder--;
  f->ok = ok;
  f->reason = reason;
  g_queue_remove (&s->waiting, f);
  if (!ok)
    s->counters.no_results++;
  if (f->detached && s->options.queue_results) {
    YoloAnalysis *a = g_new (YoloAnalysis, 1);
    yolo_analysis_init (a);
    session_fill_analysis (s, a, f);
    g_queue_push_tail (&s->results, a);
    /* Bounded: an owner that stopped taking loses the oldest. */
    while (g_queue_get_length (&s->results) > MAX_KEPT_RESULTS)
      analysis_free (g_queue_pop_head (&s->results));
    if (s->options.on_analysis != NULL)
      s->options.on_analysis (s->options.user);
  }
  if (f->detached)
    g_hash_table_remove (s->flights, GUINT_TO_POINTER (f->frame_id));
  g_cond_broadcast (&s->changed);
}

void
session_expire_locked (YsSession *s, int64_t now)
{
  Flight *f;

  while ((f = g_queue_peek_head (&s->waiting)) != NULL && f->deadline_us <= now)
    session_finish_locked (s, f, false, "deadline");
}

void
session_fail_all_locked (YsSession *s, const char *reason)
{
  Flight *f;

  while ((f = g_queue_peek_head (&s->waiting)) != NULL)
    session_finish_locked (s, f, false, reason);
}

/* ---- API ------------------------------------------------------------------- */

YsSession *
ys_session_new (const YsSessionOptions *options, const char **error)
{
  YsSession *s = g_new0 (YsSession, 1);
  YsEncoderOptions eo = { 0 };
  YsClientOptions co = { 0 };
  YsClientCallbacks cb = { session_on_connected, session_on_disconnected,
    session_on_message, session_on_sent };

  s->options = *options;
  s->server = g_strdup (options->server);
  s->token = g_strdup (options->token);
  s->model = g_strdup (options->model);
  s->client_name = g_strdup (options->client_name);
  s->hw_encoder = g_strdup (options->hw_encoder);
  s->encoder_options = g_strdup (options->encoder_options);
  if (s->options.max_in_flight < 1)
    s->options.max_in_flight = 1;
  if (s->options.latency_budget_ms < 1)
    s->options.latency_budget_ms = 1;
  if (s->options.max_labels <= 0)
    s->options.max_labels = YS_SESSION_DEFAULT_MAX_LABELS;
  s->names = g_hash_table_new (g_direct_hash, g_direct_equal);
  s->server_model = "unknown";
  g_mutex_init (&s->lock);
  g_mutex_init (&s->encoder_lock);
  g_cond_init (&s->changed);
  s->flights = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
      (GDestroyNotify) flight_free);
  g_queue_init (&s->waiting);
  g_queue_init (&s->notices);
  g_queue_init (&s->results);
  ys_est_init (&s->estimator);
  yolo_analysis_init (&s->newest);
  s->bitrate = 1000000;

  eo.codec = options->codec;
  eo.hw_encoder = s->hw_encoder;
  eo.av_options = s->encoder_options;
  eo.fps = options->fps > 0 ? options->fps : 30;
  eo.gop = YS_KEYFRAME_INTERVAL_S * eo.fps;
  if (options->codec == YS_CODEC_TENSOR) {
    s->encoder_name = "split";
  } else {
    s->encoder = ys_encoder_new (&eo, error);
    if (s->encoder == NULL)
      goto fail;
    ys_encoder_set_bitrate (s->encoder, s->bitrate);
    s->encoder_name = ys_encoder_name (s->encoder);
  }

  co.url = s->server;
  co.name = s->client_name;
  co.token = s->token;
  co.model = s->model;
  co.ca_file = options->tls_ca_file;
  co.deadline_ms = (uint32_t) s->options.latency_budget_ms;
  co.codec = (uint8_t) options->codec;
  s->client = ys_client_new (&co, &cb, s, error);
  if (s->client == NULL)
    goto fail;
  return s;

fail:
  ys_session_free (s);
  return NULL;
}

void
ys_session_free (YsSession *s)
{
  Notice *n;

  if (s == NULL)
    return;
  /* The client first: after this no callback touches the session. */
  ys_client_free (s->client);
  ys_encoder_free (s->encoder);
  g_queue_clear (&s->waiting);
  g_hash_table_destroy (s->flights);
  /* The strings themselves stay: boxes on buffers may still point there. */
  g_hash_table_destroy (s->names);
  g_free (s->list_labels);
  while ((n = g_queue_pop_head (&s->notices)) != NULL) {
    g_free (n->text);
    g_free (n);
  }
  yolo_analysis_clear (&s->newest);
  g_queue_clear_full (&s->results, (GDestroyNotify) analysis_free);
  g_mutex_clear (&s->lock);
  g_mutex_clear (&s->encoder_lock);
  g_cond_clear (&s->changed);
  g_free (s->server);
  g_free (s->token);
  g_free (s->model);
  g_free (s->client_name);
  g_free (s->hw_encoder);
  g_free (s->encoder_options);
  g_free (s);
}

void
ys_session_set_rate (YsSession *s, int fps)
{
  g_mutex_lock (&s->lock);
  if (fps > 0)
    s->rate_fps = fps;
  g_mutex_unlock (&s->lock);
}

void
ys_session_set_encoding (YsSession *s, int width, int height, int64_t bitrate)
{
  g_mutex_lock (&s->lock);
  s->want_width = width;
  s->want_height = height;
  if (bitrate > 0)
    s->bitrate = bitrate;
  g_mutex_unlock (&s->lock);
}

/* Lock held: room for one more frame.  max_in_flight counts every frame
 * unanswered, those the encoder holds too; the server's capacity only the
 * frames sent, as it is what it keeps waiting: a frame the encoder holds
 * is not there yet, and each submit lets out about one packet. */
static bool
slot_free_locked (YsSession *s)
{
  int waiting = (int) g_queue_get_length (&s->waiting);

  if (s->server_capacity > 0
      && waiting - s->waiting_in_encoder >= s->server_capacity)
    return false;
  return waiting < s->options.max_in_flight;
}

/* Lock held: waits for a free slot, at most until the oldest frame's
 * deadline (which then frees one). */
static void
wait_for_slot_locked (YsSession *s)
{
  while (!s->interrupted && s->connected && !slot_free_locked (s)) {
    Flight *oldest = g_queue_peek_head (&s->waiting);
    g_cond_wait_until (&s->changed, &s->lock, oldest->deadline_us);
    session_expire_locked (s, g_get_monotonic_time ());
  }
}

/* ---- submit, drain ----------------------------------------------------------- */

/* Lock held: forgets the flight of a frame submit() returns 0 for (it is
 * counted among frames without a result once). */
static void
unsubmit_locked (YsSession *s, uint32_t frame_id, const char *reason)
{
  Flight *f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (frame_id));

  if (f != NULL && f->waiting)
    session_finish_locked (s, f, false, reason);
  g_hash_table_remove (s->flights, GUINT_TO_POINTER (frame_id));
}

/* Lock held: a slot, then a flight for a frame of the caller's (a
 * width x height camera frame, to be sent encoded_width x encoded_height
 * at bitrate); its id, or 0 with *reason when it cannot go. */
static uint32_t
open_flight_locked (YsSession *s, const YoloFrameStamp *stamp, int tag,
    bool wait_for_slot, int width, int height, int encoded_width,
    int encoded_height, int64_t bitrate, bool in_encoder, const char **reason)
{
  uint32_t id;
  Flight *f;

  session_expire_locked (s, g_get_monotonic_time ());
  if (wait_for_slot)
    wait_for_slot_locked (s);
  if (!s->connected || s->interrupted) {
    s->counters.no_results++;
    *reason = "disconnected";
    return 0;
  }
  if (!slot_free_locked (s)) {
    s->counters.no_results++;
    *reason = "in-flight-limit";
    return 0;
  }
  id = ++s->next_id;
  /* In flight from now: a frame the encoder holds takes a slot and ends by
   * its deadline like one on the link. */
  f = g_new0 (Flight, 1);
  f->frame_id = id;
  f->stamp = *stamp;
  f->tag = tag;
  f->deadline_us
      = stamp->arrival_us + (int64_t) s->options.latency_budget_ms * 1000;
  f->width = width;
  f->height = height;
  /* As asked for, until its packet says what the encoder made. */
  f->encoded_width = encoded_width;
  f->encoded_height = encoded_height;
  f->bitrate = bitrate;
  f->waiting = true;
  f->in_encoder = in_encoder;
  /* With queue_results every ending goes to ys_session_take; nobody will
   * call ys_session_wait for it. */
  f->detached = !wait_for_slot || s->options.queue_results;
  yolo_detections_init (&f->detections);
  g_hash_table_insert (s->flights, GUINT_TO_POINTER (id), f);
  g_queue_push_tail (&s->waiting, f);
  s->waiting_in_encoder += in_encoder;
  s->counters.frames_submitted++;
  return id;
}

/* What became of a frame submit() sent: its id, or 0 and *reason when its
 * flight ended already (counted; nobody will wait for an id not
 * returned). */
static uint32_t
submitted (YsSession *s, uint32_t id, Mine mine, const char **reason)
{
  if (mine != MINE_BACKLOG && mine != MINE_LOST)
    return id;
  *reason = mine == MINE_BACKLOG ? "link-backlog" : "encoder-error";
  g_mutex_lock (&s->lock);
  unsubmit_locked (s, id, *reason);
  g_mutex_unlock (&s->lock);
  return 0;
}

uint32_t
ys_session_submit (YsSession *s, const YoloFrame *frame,
    const YoloFrameStamp *stamp, int tag, bool wait_for_slot,
    const char **reason)
{
  int width, height, rate_fps;
  int64_t bitrate;
  bool keyframe;
  uint32_t id;
  const char *why = NULL;
  Mine mine;

  if (s->encoder == NULL) {
    *reason = "encoder-error"; /* a split session sends packets only */
    return 0;
  }
  g_mutex_lock (&s->lock);
  width = s->want_width > 0 ? s->want_width : frame->width;
  height = s->want_height > 0 ? s->want_height : frame->height;
  bitrate = s->bitrate;
  rate_fps = s->rate_fps;
  id = open_flight_locked (s, stamp, tag, wait_for_slot, frame->width,
      frame->height, width, height, bitrate, true, reason);
  if (id == 0) {
    g_mutex_unlock (&s->lock);
    return 0;
  }
  keyframe = s->force_keyframe;
  s->force_keyframe = false;
  g_mutex_unlock (&s->lock);

  g_mutex_lock (&s->encoder_lock);
  ys_encoder_set_size (s->encoder, width, height);
  ys_encoder_set_bitrate (s->encoder, bitrate);
  ys_encoder_set_rate (s->encoder, rate_fps);
  if (keyframe)
    ys_encoder_force_keyframe (s->encoder);
  if (!ys_encoder_send (s->encoder, frame, id, &why)) {
    session_encoder_error (s, why);
    g_mutex_unlock (&s->encoder_lock);
    g_mutex_lock (&s->lock);
    unsubmit_locked (s, id, "encoder-error");
    g_mutex_unlock (&s->lock);
    *reason = "encoder-error";
    return 0;
  }
  session_encoding_push (s, id, stamp->arrival_us);
  mine = session_send_ready (s, id, false);
  g_mutex_unlock (&s->encoder_lock);
  return submitted (s, id, mine, reason);
}

uint32_t
ys_session_submit_packet (YsSession *s, const uint8_t *packet, size_t len,
    int width, int height, double head_ms, const YoloFrameStamp *stamp, int tag,
    bool wait_for_slot, const char **reason)
{
  YsPacket p = { packet, len, 0, true, width, height, 0, head_ms };
  YsPacket plain = p;
  uint8_t *packed = NULL;
  size_t packed_len;
  bool zstd;
  Encoding e;
  uint32_t id;
  Flight *f;

  g_mutex_lock (&s->lock);
  id = open_flight_locked (s, stamp, tag, wait_for_slot, width, height, width,
      height, 0, false, reason);
  /* A hint (the HELLO of a reconnect may change it before the send, which
   * checks again: session_send_packet). */
  zstd = s->server_takes_zstd;
  g_mutex_unlock (&s->lock);
  if (id == 0)
    return 0;
  /* Compressed only for a server that said it takes it, and only when
   * smaller (the 4-bit codes of cut 61 go to 85 %, docs/SPLIT.md). */
  if (zstd && ys_split_zstd_pack (packet, len, &packed, &packed_len)) {
    p.data = packed;
    p.size = packed_len;
  }
  e.frame_id = id;
  e.capture_us = stamp->arrival_us;
  g_mutex_lock (&s->lock);
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (id));
  if (f != NULL)
    f->cut = ys_split_packet_cut (packet, len);
  g_mutex_unlock (&s->lock);
  g_mutex_lock (&s->encoder_lock);
  p.tag = plain.tag = id;
  id = submitted (s, id,
      session_send_packet (s, &p, packed != NULL ? &plain : NULL, &e)
          ? MINE_SENT
          : MINE_BACKLOG,
      reason);
  g_mutex_unlock (&s->encoder_lock);
  free (packed);
  return id;
}

void
ys_session_drain (YsSession *s)
{
  if (s->encoder == NULL)
    return; /* split frames are sent as they are submitted */
  g_mutex_lock (&s->encoder_lock);
  ys_encoder_drain (s->encoder);
  session_send_ready (s, 0, true);
  g_mutex_unlock (&s->encoder_lock);
}

bool
ys_session_wait (YsSession *s, uint32_t frame_id, YoloAnalysis *out)
{
  Flight *f;

  g_mutex_lock (&s->lock);
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (frame_id));
  if (f == NULL) {
    g_mutex_unlock (&s->lock);
    yolo_analysis_clear (out);
    out->source = session_source (s);
    out->backend_id = frame_id;
    out->status = YOLO_ANALYSIS_MISSING;
    out->reason = "not-sent";
    return true;
  }
  while (f->waiting && !s->interrupted) {
    if (g_get_monotonic_time () >= f->deadline_us)
      session_expire_locked (s, f->deadline_us);
    else
      g_cond_wait_until (&s->changed, &s->lock, f->deadline_us);
  }
  if (f->waiting) {
    g_mutex_unlock (&s->lock);
    return false;
  }
  session_fill_analysis (s, out, f);
  g_hash_table_remove (s->flights, GUINT_TO_POINTER (frame_id));
  g_mutex_unlock (&s->lock);
  return true;
}

bool
ys_session_take (YsSession *s, YoloAnalysis *out)
{
  YoloAnalysis *a;

  g_mutex_lock (&s->lock);
  /* Late frames end now, not at the next submit: a sync reader waits. */
  session_expire_locked (s, g_get_monotonic_time ());
  a = g_queue_pop_head (&s->results);
  g_mutex_unlock (&s->lock);
  if (a == NULL)
    return false;
  yolo_analysis_move (out, a);
  g_free (a);
  return true;
}

bool
ys_session_newest (YsSession *s, YoloAnalysis *out)
{
  bool have;

  g_mutex_lock (&s->lock);
  session_expire_locked (s, g_get_monotonic_time ());
  have = s->have_newest;
  if (have)
    yolo_analysis_copy (out, &s->newest);
  g_mutex_unlock (&s->lock);
  return have;
}

bool
ys_session_wait_idle (YsSession *s, int64_t until_us)
{
  bool idle;

  g_mutex_lock (&s->lock);
  for (;;) {
    Flight *oldest;
    int64_t wake;
    session_expire_locked (s, g_get_monotonic_time ());
    if (g_queue_is_empty (&s->waiting) || s->interrupted
        || g_get_monotonic_time () >= until_us)
      break;
    oldest = g_queue_peek_head (&s->waiting);
    wake = MIN (until_us, oldest->deadline_us);
    g_cond_wait_until (&s->changed, &s->lock, wake);
  }
  idle = g_queue_is_empty (&s->waiting);
  g_mutex_unlock (&s->lock);
  return idle;
}

void
ys_session_interrupt (YsSession *s, bool interrupted)
{
  g_mutex_lock (&s->lock);
  s->interrupted = interrupted;
  g_cond_broadcast (&s->changed);
  g_mutex_unlock (&s->lock);
}

void
ys_session_forget_all (YsSession *s)
{
  g_mutex_lock (&s->lock);
  g_queue_clear (&s->waiting);
  s->waiting_in_encoder = 0;
  g_hash_table_remove_all (s->flights);
  s->have_newest = false;
  g_queue_clear_full (&s->results, (GDestroyNotify) analysis_free);
  g_cond_broadcast (&s->changed);
  g_mutex_unlock (&s->lock);
}

bool
ys_session_wait_connected (YsSession *s, int timeout_ms)
{
  int64_t end = g_get_monotonic_time () + (int64_t) timeout_ms * 1000;
  bool connected;

  g_mutex_lock (&s->lock);
  while (!s->first_attempt_done && !s->interrupted
      && g_cond_wait_until (&s->changed, &s->lock, end))
    ;
  connected = s->connected;
  g_mutex_unlock (&s->lock);
  return connected;
}

void
ys_session_stats (YsSession *s, YsSessionStats *out)
{
  int64_t now = g_get_monotonic_time ();

  g_mutex_lock (&s->lock);
  *out = s->counters;
  out->connected = s->connected;
  out->bandwidth_bps = ys_est_bandwidth_bps (&s->estimator, now);
  out->throughput_bps = ys_est_throughput_bps (&s->estimator, now);
  out->rtt_ms = ys_est_rtt_ms (&s->estimator);
  out->rtt_var_ms = ys_est_rtt_var_ms (&s->estimator);
  out->rtt_min_ms = ys_est_rtt_min_ms (&s->estimator, now);
  out->path_rtt_ms = ys_est_path_rtt_ms (&s->estimator, now);
  out->last_bandwidth_bps = ys_est_last_bandwidth_bps (&s->estimator, now);
  out->server_ms = ys_est_server_ms (&s->estimator);
  out->in_flight = (int) g_queue_get_length (&s->waiting);
  out->slots = s->options.max_in_flight;
  if (s->server_capacity > 0)
    out->slots = MIN (out->slots, s->server_capacity + s->waiting_in_encoder);
  out->oldest_unacked_us
      = ys_est_oldest_unacked_us (&s->estimator, &out->oldest_unacked_bytes);
  g_mutex_unlock (&s->lock);
  g_mutex_lock (&s->lock);
  out->encoder_name = s->encoder_name;
  g_mutex_unlock (&s->lock);
}

char *
ys_session_take_notice (YsSession *s, bool *is_warning)
{
  Notice *n;
  char *text = NULL;

  g_mutex_lock (&s->lock);
  n = g_queue_pop_head (&s->notices);
  g_mutex_unlock (&s->lock);
  if (n != NULL) {
    text = n->text;
    *is_warning = n->warning;
    g_free (n);
  }
  return text;
}
