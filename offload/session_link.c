/* The offload session's link side: what the client's service thread
 * reports (connected, gone, ACK, RESULT, DROP, PONG, ERROR, a frame on the
 * wire) updates the estimator and ends flights, under the session's lock. */
#include "session_internal.h"

#include <inttypes.h>
#include <string.h>

/* ---- client callbacks (client's service thread) -------------------------- */

/* A split session's check of the server's HELLO: it must take split
 * frames and run the model the packets are cut from (the same hash), or
 * every frame would be refused.  NULL, or why not (to free). */
static char *
split_refusal (const YsSession *s, const YsHello *hello)
{
  bool takes = false;

  for (int i = 0; i < hello->codec_count; i++)
    takes |= hello->codecs[i] == YS_CODEC_TENSOR;
  if (!takes)
    return g_strdup ("it does not take split frames (codec 16 is not in its "
                     "HELLO: a server before protocol revision 2.2)");
  if (hello->model_hash != s->options.model_hash)
    return g_strdup_printf ("it runs model \"%.*s\" with hash %016" PRIx64
                            ", but the split frames are cut from a model with "
                            "hash %016" PRIx64
                            ": load the same cfg, weights and input size on "
                            "both ends",
        hello->model.len, hello->model.ptr, hello->model_hash,
        s->options.model_hash);
  return NULL;
}

char *
session_on_connected (void *user, const YsHello *hello)
{
  YsSession *s = user;
  const char *why = NULL;
  const char *model, *before;
  char *refused;
  bool changed;

  g_mutex_lock (&s->lock);
  /* A HELLO on a connection already up: the server swapped its model
   * (docs/PROTOCOL.md); its RESULTs from here on are of the new one. */
  changed = s->connected;
  before = s->server_model;
  /* Every RESULT of this connection is about this model (the server runs
   * one), so it is what analyses record. */
  model = session_name_locked (s, hello->model.ptr, hello->model.len, &why);
  if (model == NULL)
    session_name_refused_locked (s, "model name", hello->model.ptr,
        hello->model.len, why);
  s->server_model = model != NULL ? model : "unknown";
  s->server_takes_zstd = false;
  for (int i = 0; i < hello->codec_count; i++)
    s->server_takes_zstd |= hello->codecs[i] == YS_CODEC_TENSOR_ZSTD;
  if (s->options.codec == YS_CODEC_TENSOR
      && (refused = split_refusal (s, hello)) != NULL) {
    if (!s->warned_split) {
      s->warned_split = true;
      session_notice_locked (s, true,
          g_strdup_printf ("edge server %s cannot finish this device's split "
                           "frames: %s; the connection is closed (and "
                           "retried), frames pass with no result",
              s->server, refused));
    }
    g_mutex_unlock (&s->lock);
    return refused;
  }
  refused = session_take_label_list_locked (s, hello);
  if (refused != NULL) {
    /* The client closes the link with this as the reason. */
    if (!s->warned_list) {
      s->warned_list = true;
      session_notice_locked (s, true,
          g_strdup_printf ("edge server %s announced a label list this "
                           "client refuses: %s; the connection is closed "
                           "(and retried), frames pass with no result",
              s->server, refused));
    }
    g_mutex_unlock (&s->lock);
    return refused;
  }
  if (changed)
    session_notice_locked (s, false,
        g_strdup_printf ("edge server %s swapped its model: %s (was %s); the "
                         "connection stays",
            s->server, s->server_model, before != NULL ? before : "unknown"));
  else if (s->ever_connected)
    session_notice_locked (s, false,
        g_strdup_printf ("edge server %s is back (model %s): results resume",
            s->server, s->server_model));
  s->connected = s->ever_connected = s->first_attempt_done = true;
  /* More in flight than the server keeps waiting would come back as DROP
   * "overload" whenever a frame arrives just before a worker takes the
   * previous one (frames in transit count too, so this errs on the safe
   * side; a server for long links is run with a deeper queue). */
  s->server_capacity = hello->queue_depth;
  /* A new connection is a new decoder on the server (a model change is
   * not). */
  if (!changed)
    s->force_keyframe = true;
  g_cond_broadcast (&s->changed);
  g_mutex_unlock (&s->lock);
  return NULL;
}

void
session_on_disconnected (void *user, const char *why)
{
  YsSession *s = user;

  g_mutex_lock (&s->lock);
  if (s->connected)
    session_notice_locked (s, true,
        g_strdup_printf ("lost edge server %s (%s): frames pass with no "
                         "result while it reconnects",
            s->server, why));
  else if (!s->first_attempt_done)
    session_notice_locked (s, true,
        g_strdup_printf ("cannot reach edge server %s (%s): frames pass "
                         "with no result; retrying",
            s->server, why));
  s->connected = false;
  s->first_attempt_done = true;
  ys_est_forget_sent (&s->estimator);
  session_fail_all_locked (s, "disconnected");
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
    YoloDetection det = {
      .class_id = d->class_id,
      .label = session_label_locked (s, d),
      .confidence = d->confidence,
      .x = d->x * f->width,
      .y = d->y * f->height,
      .w = d->w * f->width,
      .h = d->h * f->height,
    };
    yolo_detections_append (&f->detections, &det);
  }
  /* The model its HELLO announced: a RESULT naming another is not taken
   * at its word (each distinct name would be kept for good downstream). */
  if (!s->warned_model
      && (r->model.len != strlen (s->server_model)
          || (r->model.len > 0
              && memcmp (r->model.ptr, s->server_model, r->model.len) != 0))) {
    char *shown = session_printable_copy (r->model.ptr, r->model.len);
    s->warned_model = true;
    session_notice_locked (s, true,
        g_strdup_printf ("edge server %s sent a result for model \"%s\" but "
                         "announced \"%s\": results are recorded as the "
                         "announced model's",
            s->server, shown, s->server_model));
    g_free (shown);
  }
  g_strlcpy (f->model, s->server_model, sizeof (f->model));
  /* The newest result, for readers that never wait. */
  if (!s->have_newest || f->frame_id > s->newest.backend_id) {
    s->have_newest = true;
    session_fill_analysis (s, &s->newest, f);
  }
}

void
session_on_message (void *user, const YsMessage *m, int64_t now)
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
      /* A frame past its deadline is given up whether or not its owner has
       * asked since: a late RESULT does not bring it back. */
      if (f != NULL && f->waiting && f->deadline_us <= now) {
        session_finish_locked (s, f, false, "deadline");
      } else if (f != NULL && f->waiting) {
        take_result_locked (s, f, m, now);
        session_finish_locked (s, f, true, NULL);
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
        session_finish_locked (s, f, false,
            ys_drop_reason_name (m->u.drop.reason));
      break;
    case YS_MSG_PONG:
      ys_est_pong (&s->estimator, (int64_t) m->header.capture_us, now);
      break;
    case YS_MSG_ERROR: {
      char *text
          = session_printable_copy (m->u.error.text.ptr, m->u.error.text.len);
      session_notice_locked (s, true,
          g_strdup_printf ("edge server %s refused this client: %s", s->server,
              text));
      g_free (text);
      break;
    }
    default: break;
  }
  g_mutex_unlock (&s->lock);
}

void
session_on_sent (void *user, uint32_t frame_id, uint32_t bytes, int64_t sent_us)
{
  YsSession *s = user;

  g_mutex_lock (&s->lock);
  ys_est_sent (&s->estimator, frame_id, bytes, sent_us);
  s->counters.frames_sent++;
  s->counters.bytes_sent += bytes;
  g_mutex_unlock (&s->lock);
}
