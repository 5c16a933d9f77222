/* One camera's offload path; see session.h. */
#include "session.h"

#include "client.h"
#include "estimator.h"

#include <glib.h>
#include <string.h>

#define MAX_KEPT_RESULTS 64 /* untaken analyses of detached frames */

typedef struct {
  uint32_t frame_id;
  YoloFrameStamp stamp; /* as given; stamp.arrival_us is the capture time */
  int tag;
  int64_t deadline_us;
  int64_t answered_us; /* when its RESULT arrived */
  double server_ms, infer_ms; /* what the RESULT said */
  int width, height; /* the submitted frame: boxes come back as fractions */
  int encoded_width, encoded_height;
  int64_t bitrate;
  bool waiting;
  bool in_encoder; /* its packet has not come out yet */
  bool detached; /* nobody will wait(): freed as soon as it ends */
  bool ok;
  const char *reason;
  YoloDetections detections;
  char model[YS_MAX_MODEL + 1];
} Flight;

typedef struct {
  char *text;
  bool warning;
} Notice;

/* A frame inside the encoder: what its FRAME message needs when its packet
 * comes out, whether or not its flight is still waiting by then. */
typedef struct {
  uint32_t frame_id;
  int64_t capture_us;
} Encoding;

/* What became of the frame submit() just gave the encoder. */
typedef enum {
  MINE_HELD, /* still inside the encoder */
  MINE_SENT,
  MINE_BACKLOG, /* its packet came out and the client refused it */
  MINE_LOST, /* the encoder lost it (skipped it, or failed in a drain) */
} Mine;

struct YsSession {
  YsSessionOptions options;
  char *server, *token, *model, *client_name, *hw_encoder, *encoder_options;
  YsClient *client;

  GMutex encoder_lock; /* the encoder is used by one submit at a time */
  /* everything down to `lock`: under encoder_lock */
  YsEncoder *encoder;
  uint32_t config_id; /* bumped with every encoding change */
  int last_width, last_height;
  int64_t last_bitrate;
  /* Frames given to the encoder whose packets have not come out, oldest
   * first.  The encoder holds at most YS_ENCODER_MAX_HELD. */
  Encoding encoding[YS_ENCODER_MAX_HELD];
  int encoding_first, encoding_count;
  char last_encoder_error[256]; /* the last one noticed; "": none since */

  GMutex lock;
  GCond changed; /* a flight ended, the link came or went, an interrupt */
  /* everything below: locked */
  GHashTable *flights; /* frame id -> Flight */
  GQueue waiting; /* Flight *, oldest first: slots and deadlines */
  int waiting_in_encoder; /* of them, those the encoder still holds */
  uint32_t next_id;
  bool interrupted;
  bool connected, ever_connected, first_attempt_done;
  bool force_keyframe;
  int server_capacity; /* 0: unknown */
  int want_width, want_height;
  int64_t bitrate;
  YsLinkEstimator estimator;
  YoloAnalysis newest;
  bool have_newest;
  GQueue results; /* YoloAnalysis *: endings of detached frames, oldest first */
  YsSessionStats counters; /* the counting fields only */
  GQueue notices; /* Notice * */
};

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

static void
notice_locked (YsSession *s, bool warning, char *text)
{
  Notice *n = g_new (Notice, 1);
  n->text = text;
  n->warning = warning;
  g_queue_push_tail (&s->notices, n);
}

/* The record of how a flight ended (yolo/analysis.h). */
static void
fill_analysis (const YsSession *s, YoloAnalysis *a, const Flight *f)
{
  const char *model = f->ok || s->model == NULL ? f->model : s->model;

  yolo_analysis_clear (a);
  a->source = "edge";
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
  yolo_detections_copy (&a->detections, &f->detections);
}

/* Lock held: the flight's one ending.  A detached flight's ending is
 * queued for ys_session_take and the owner told (on_analysis may only
 * signal: it is called with the session's lock held). */
static void
finish_locked (YsSession *s, Flight *f, bool ok, const char *reason)
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
    fill_analysis (s, a, f);
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

static void
expire_locked (YsSession *s, int64_t now)
{
  Flight *f;

  while ((f = g_queue_peek_head (&s->waiting)) != NULL && f->deadline_us <= now)
    finish_locked (s, f, false, "deadline");
}

static void
fail_all_locked (YsSession *s, const char *reason)
{
  Flight *f;

  while ((f = g_queue_peek_head (&s->waiting)) != NULL)
    finish_locked (s, f, false, reason);
}

/* ---- client callbacks (client's service thread) -------------------------- */

static void
on_connected (void *user, const YsHello *hello)
{
  YsSession *s = user;

  g_mutex_lock (&s->lock);
  if (s->ever_connected)
    notice_locked (s, false,
        g_strdup_printf ("edge server %s is back (model %.*s): results resume",
            s->server, (int) hello->model.len, hello->model.ptr));
  s->connected = s->ever_connected = s->first_attempt_done = true;
  /* More in flight than the server keeps waiting would come back as DROP
   * "overload" whenever a frame arrives just before a worker takes the
   * previous one (frames in transit count too, so this errs on the safe
   * side; a server for long links is run with a deeper queue). */
  s->server_capacity = hello->queue_depth;
  /* A new connection is a new decoder on the server. */
  s->force_keyframe = true;
  g_cond_broadcast (&s->changed);
  g_mutex_unlock (&s->lock);
}

static void
on_disconnected (void *user, const char *why)
{
  YsSession *s = user;

  g_mutex_lock (&s->lock);
  if (s->connected)
    notice_locked (s, true,
        g_strdup_printf ("lost edge server %s (%s): frames pass with no "
                         "result while it reconnects",
            s->server, why));
  else if (!s->first_attempt_done)
    notice_locked (s, true,
        g_strdup_printf ("cannot reach edge server %s (%s): frames pass "
                         "with no result; retrying",
            s->server, why));
  s->connected = false;
  s->first_attempt_done = true;
  ys_est_forget_sent (&s->estimator);
  fail_all_locked (s, "disconnected");
  g_cond_broadcast (&s->changed);
  g_mutex_unlock (&s->lock);
}

static void
take_result_locked (YsSession *s, Flight *f, const YsMessage *m, int64_t now)
{
  const YsResult *r = &m->u.result;

  f->answered_us = now;
  f->ok = true;
  f->server_ms = (r->queue_us + r->decode_us + r->infer_us) / 1000.0;
  f->infer_ms = r->infer_us / 1000.0;
  yolo_detections_clear (&f->detections);
  for (int i = 0; i < r->count; i++) {
    const YsDetection *d = &r->detections[i];
    char *label = g_strndup (d->label.ptr, d->label.len);
    YoloDetection det = {
      .class_id = d->class_id,
      .label = g_intern_string (label),
      .confidence = d->confidence,
      .x = d->x * f->width,
      .y = d->y * f->height,
      .w = d->w * f->width,
      .h = d->h * f->height,
    };
    g_free (label);
    yolo_detections_append (&f->detections, &det);
  }
  g_snprintf (f->model, sizeof (f->model), "%.*s", (int) r->model.len,
      r->model.ptr);
  /* The newest result, for readers that never wait. */
  if (!s->have_newest || f->frame_id > s->newest.backend_id) {
    s->have_newest = true;
    fill_analysis (s, &s->newest, f);
  }
}

static void
on_message (void *user, const YsMessage *m, int64_t now)
{
  YsSession *s = user;
  Flight *f;

  g_mutex_lock (&s->lock);
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (m->header.frame_id));
  switch (m->header.type) {
    case YS_MSG_ACK:
      ys_est_ack (&s->estimator, m->header.frame_id, m->u.ack.bytes,
          m->u.ack.receive_span_us, now);
      break;
    case YS_MSG_RESULT:
      ys_est_result (&s->estimator,
          m->u.result.queue_us + m->u.result.decode_us + m->u.result.infer_us);
      s->counters.results++;
      if (f != NULL && f->waiting) {
        take_result_locked (s, f, m, now);
        finish_locked (s, f, true, NULL);
      }
      break;
    case YS_MSG_DROP:
      s->counters.drops++;
      if (m->u.drop.reason == YS_DROP_DEADLINE)
        s->counters.drops_deadline++;
      else if (m->u.drop.reason == YS_DROP_OVERLOAD)
        s->counters.drops_overload++;
      if (m->header.flags & YS_FLAG_NEED_KEYFRAME)
        s->force_keyframe = true;
      if (f != NULL)
        finish_locked (s, f, false, ys_drop_reason_name (m->u.drop.reason));
      break;
    case YS_MSG_PONG:
      ys_est_pong (&s->estimator, (int64_t) m->header.capture_us, now);
      break;
    case YS_MSG_ERROR:
      notice_locked (s, true,
          g_strdup_printf ("edge server %s refused this client: %.*s",
              s->server, (int) m->u.error.text.len, m->u.error.text.ptr));
      break;
    default: break;
  }
  g_mutex_unlock (&s->lock);
}

static void
on_sent (void *user, uint32_t frame_id, uint32_t bytes, int64_t sent_us)
{
  YsSession *s = user;

  g_mutex_lock (&s->lock);
  ys_est_sent (&s->estimator, frame_id, bytes, sent_us);
  s->counters.frames_sent++;
  s->counters.bytes_sent += bytes;
  g_mutex_unlock (&s->lock);
}

/* ---- API ------------------------------------------------------------------- */

YsSession *
ys_session_new (const YsSessionOptions *options, const char **error)
{
  YsSession *s = g_new0 (YsSession, 1);
  YsEncoderOptions eo = { 0 };
  YsClientOptions co = { 0 };
  YsClientCallbacks cb = { on_connected, on_disconnected, on_message, on_sent };

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
  eo.gop = eo.fps;
  s->encoder = ys_encoder_new (&eo, error);
  if (s->encoder == NULL)
    goto fail;
  ys_encoder_set_bitrate (s->encoder, s->bitrate);

  co.url = s->server;
  co.name = s->client_name;
  co.token = s->token;
  co.model = s->model;
  co.ca_file = options->tls_ca_file;
  co.deadline_ms = (uint32_t) s->options.latency_budget_ms;
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
    expire_locked (s, g_get_monotonic_time ());
  }
}

/* ---- the encoder's packets (encoder_lock held) ------------------------------ */

static void
encoding_push (YsSession *s, uint32_t frame_id, int64_t capture_us)
{
  Encoding *e;

  /* Full only if the encoder lost frames without saying so: those are the
   * oldest ones listed. */
  if (s->encoding_count == YS_ENCODER_MAX_HELD) {
    s->encoding_first = (s->encoding_first + 1) % YS_ENCODER_MAX_HELD;
    s->encoding_count--;
  }
  e = &s->encoding[(s->encoding_first + s->encoding_count)
      % YS_ENCODER_MAX_HELD];
  e->frame_id = frame_id;
  e->capture_us = capture_us;
  s->encoding_count++;
}

/* Lock held: the flight of a frame whose packet will never come. */
static void
lose_locked (YsSession *s, uint32_t frame_id, uint32_t mine, Mine *result)
{
  Flight *f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (frame_id));

  if (frame_id == mine)
    *result = MINE_LOST;
  if (f != NULL)
    finish_locked (s, f, false, "encoder-error");
}

/* Takes the frame a packet tagged frame_id was made of off the list into
 * *out.  Frames listed before it got no packet (an encoder that skips
 * frames): their flights end. */
static bool
encoding_take (YsSession *s, uint32_t frame_id, uint32_t mine, Mine *result,
    Encoding *out)
{
  int i = 0;

  while (i < s->encoding_count
      && s->encoding[(s->encoding_first + i) % YS_ENCODER_MAX_HELD].frame_id
          != frame_id)
    i++;
  if (i == s->encoding_count)
    return false;
  if (i > 0) {
    g_mutex_lock (&s->lock);
    for (int k = 0; k < i; k++)
      lose_locked (s,
          s->encoding[(s->encoding_first + k) % YS_ENCODER_MAX_HELD].frame_id,
          mine, result);
    g_mutex_unlock (&s->lock);
  }
  *out = s->encoding[(s->encoding_first + i) % YS_ENCODER_MAX_HELD];
  s->encoding_first = (s->encoding_first + i + 1) % YS_ENCODER_MAX_HELD;
  s->encoding_count -= i + 1;
  return true;
}

/* Every frame still listed gets no packet: the encoder was drained and
 * returned all it had. */
static void
encoding_lose_all (YsSession *s, uint32_t mine, Mine *result)
{
  g_mutex_lock (&s->lock);
  for (int k = 0; k < s->encoding_count; k++)
    lose_locked (s,
        s->encoding[(s->encoding_first + k) % YS_ENCODER_MAX_HELD].frame_id,
        mine, result);
  g_mutex_unlock (&s->lock);
  s->encoding_first = s->encoding_count = 0;
}

/* An encoder error is a notice once, not once per frame. */
static void
encoder_error (YsSession *s, const char *why)
{
  if (strcmp (s->last_encoder_error, why) == 0)
    return;
  g_strlcpy (s->last_encoder_error, why, sizeof (s->last_encoder_error));
  g_mutex_lock (&s->lock);
  notice_locked (s, true,
      g_strdup_printf ("%s Frames pass with no result.", why));
  g_mutex_unlock (&s->lock);
}

/* Sends one packet as a FRAME built from its own frame.  A flight that
 * ended while the encoder held its frame still has its packet sent: for
 * H.264 it is a reference for the frames after it (with the deadline
 * passed, the server decodes it and drops it).  false if the client
 * refused it: its flight ends "link-backlog". */
static bool
send_packet (YsSession *s, const YsPacket *packet, const Encoding *e)
{
  int64_t now = g_get_monotonic_time ();
  double rtt_min_ms;
  int budget_ms;
  YsMessage msg;
  Flight *f;

  g_mutex_lock (&s->lock);
  rtt_min_ms = ys_est_rtt_min_ms (&s->estimator, now);
  s->counters.last_encode_ms = packet->encode_ms;
  s->counters.width = packet->width;
  s->counters.height = packet->height;
  s->counters.bitrate = packet->bitrate;
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (e->frame_id));
  if (f != NULL) {
    if (f->waiting && f->in_encoder)
      s->waiting_in_encoder--;
    f->in_encoder = false;
    f->encoded_width = packet->width;
    f->encoded_height = packet->height;
    f->bitrate = packet->bitrate;
  }
  g_mutex_unlock (&s->lock);

  /* The server echoes it: a client that switches configurations can tell
   * which one a result came from. */
  if (packet->width != s->last_width || packet->height != s->last_height
      || packet->bitrate != s->last_bitrate) {
    s->config_id++;
    s->last_width = packet->width;
    s->last_height = packet->height;
    s->last_bitrate = packet->bitrate;
  }

  /* The server's share of the budget: what is left after capture and
   * encoding, less the trip there (half the round trip). */
  budget_ms = s->options.latency_budget_ms
      - (int) ((now - e->capture_us) / 1000) - (int) (rtt_min_ms / 2);
  memset (&msg, 0, sizeof (msg));
  msg.header.type = YS_MSG_FRAME;
  msg.header.flags = packet->keyframe ? YS_FLAG_KEYFRAME : 0;
  msg.header.frame_id = e->frame_id;
  msg.header.config_id = s->config_id;
  msg.header.capture_us = (uint64_t) e->capture_us;
  msg.u.frame.codec = (uint8_t) s->options.codec;
  msg.u.frame.width = (uint16_t) packet->width;
  msg.u.frame.height = (uint16_t) packet->height;
  msg.u.frame.deadline_ms = (uint32_t) MAX (budget_ms, 1);
  msg.u.frame.packet = packet->data;
  msg.u.frame.packet_len = (uint32_t) packet->size;
  if (ys_client_send (s->client, &msg))
    return true;

  g_mutex_lock (&s->lock);
  /* A keyframe that never left must be made again. */
  if (packet->keyframe)
    s->force_keyframe = true;
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (e->frame_id));
  if (f != NULL)
    finish_locked (s, f, false, "link-backlog");
  g_mutex_unlock (&s->lock);
  return false;
}

/* Sends every packet the encoder has ready, oldest first; after a drain,
 * that is all it held.  Returns what became of frame `mine` (0: none). */
static Mine
send_ready (YsSession *s, uint32_t mine, bool drained)
{
  Mine result = MINE_HELD;
  YsPacket packet;
  Encoding e;
  const char *why = NULL;
  int got;

  while ((got = ys_encoder_receive (s->encoder, &packet, &why)) > 0) {
    s->last_encoder_error[0] = '\0';
    /* Every tag is a frame id listed by submit; should one not be, its
     * packet still goes: the frames after it may refer to it. */
    if (!encoding_take (s, (uint32_t) packet.tag, mine, &result, &e)) {
      e.frame_id = (uint32_t) packet.tag;
      e.capture_us = g_get_monotonic_time ();
    }
    if (send_packet (s, &packet, &e))
      result = e.frame_id == mine ? MINE_SENT : result;
    else if (e.frame_id == mine)
      result = MINE_BACKLOG;
  }
  /* The frames a failure lost stay listed until a later packet passes them
   * (encoding_take) or a drain: a failure while reopening loses only the
   * old codec's frames. */
  if (got < 0)
    encoder_error (s, why);
  if (drained)
    encoding_lose_all (s, mine, &result);
  return result;
}

/* ---- submit, drain ----------------------------------------------------------- */

/* Lock held: forgets the flight of a frame submit() returns 0 for (it is
 * counted among frames without a result once). */
static void
unsubmit_locked (YsSession *s, uint32_t frame_id, const char *reason)
{
  Flight *f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (frame_id));

  if (f != NULL && f->waiting)
    finish_locked (s, f, false, reason);
  g_hash_table_remove (s->flights, GUINT_TO_POINTER (frame_id));
}

uint32_t
ys_session_submit (YsSession *s, const YoloFrame *frame,
    const YoloFrameStamp *stamp, int tag, bool wait_for_slot,
    const char **reason)
{
  int64_t capture_us = stamp->arrival_us;
  int width, height;
  int64_t bitrate;
  bool keyframe;
  uint32_t id;
  Flight *f;
  const char *why = NULL;
  Mine mine;

  g_mutex_lock (&s->lock);
  expire_locked (s, g_get_monotonic_time ());
  if (wait_for_slot)
    wait_for_slot_locked (s);
  if (!s->connected || s->interrupted) {
    s->counters.no_results++;
    g_mutex_unlock (&s->lock);
    *reason = "disconnected";
    return 0;
  }
  if (!slot_free_locked (s)) {
    s->counters.no_results++;
    g_mutex_unlock (&s->lock);
    *reason = "in-flight-limit";
    return 0;
  }
  id = ++s->next_id;
  width = s->want_width > 0 ? s->want_width : frame->width;
  height = s->want_height > 0 ? s->want_height : frame->height;
  bitrate = s->bitrate;
  keyframe = s->force_keyframe;
  s->force_keyframe = false;

  /* In flight from now: a frame the encoder holds takes a slot and ends by
   * its deadline like one on the link. */
  f = g_new0 (Flight, 1);
  f->frame_id = id;
  f->stamp = *stamp;
  f->tag = tag;
  f->deadline_us = capture_us + (int64_t) s->options.latency_budget_ms * 1000;
  f->width = frame->width;
  f->height = frame->height;
  /* As asked for, until its packet says what the encoder made. */
  f->encoded_width = width;
  f->encoded_height = height;
  f->bitrate = bitrate;
  f->waiting = true;
  f->in_encoder = true;
  /* With queue_results every ending goes to ys_session_take; nobody will
   * call ys_session_wait for it. */
  f->detached = !wait_for_slot || s->options.queue_results;
  yolo_detections_init (&f->detections);
  g_hash_table_insert (s->flights, GUINT_TO_POINTER (id), f);
  g_queue_push_tail (&s->waiting, f);
  s->waiting_in_encoder++;
  s->counters.frames_submitted++;
  g_mutex_unlock (&s->lock);

  g_mutex_lock (&s->encoder_lock);
  ys_encoder_set_size (s->encoder, width, height);
  ys_encoder_set_bitrate (s->encoder, bitrate);
  if (keyframe)
    ys_encoder_force_keyframe (s->encoder);
  if (!ys_encoder_send (s->encoder, frame, id, &why)) {
    encoder_error (s, why);
    g_mutex_unlock (&s->encoder_lock);
    g_mutex_lock (&s->lock);
    unsubmit_locked (s, id, "encoder-error");
    g_mutex_unlock (&s->lock);
    *reason = "encoder-error";
    return 0;
  }
  encoding_push (s, id, capture_us);
  mine = send_ready (s, id, false);
  g_mutex_unlock (&s->encoder_lock);

  if (mine == MINE_BACKLOG || mine == MINE_LOST) {
    /* Its flight has ended (counted); nobody will wait for an id not
     * returned. */
    *reason = mine == MINE_BACKLOG ? "link-backlog" : "encoder-error";
    g_mutex_lock (&s->lock);
    unsubmit_locked (s, id, *reason);
    g_mutex_unlock (&s->lock);
    return 0;
  }
  return id;
}

void
ys_session_drain (YsSession *s)
{
  g_mutex_lock (&s->encoder_lock);
  ys_encoder_drain (s->encoder);
  send_ready (s, 0, true);
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
    out->source = "edge";
    out->backend_id = frame_id;
    out->status = YOLO_ANALYSIS_MISSING;
    out->reason = "not-sent";
    return true;
  }
  while (f->waiting && !s->interrupted) {
    if (g_get_monotonic_time () >= f->deadline_us)
      expire_locked (s, f->deadline_us);
    else
      g_cond_wait_until (&s->changed, &s->lock, f->deadline_us);
  }
  if (f->waiting) {
    g_mutex_unlock (&s->lock);
    return false;
  }
  fill_analysis (s, out, f);
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
  expire_locked (s, g_get_monotonic_time ());
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
  expire_locked (s, g_get_monotonic_time ());
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
    expire_locked (s, g_get_monotonic_time ());
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
  g_mutex_lock (&s->encoder_lock);
  out->encoder_name = ys_encoder_name (s->encoder);
  g_mutex_unlock (&s->encoder_lock);
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
