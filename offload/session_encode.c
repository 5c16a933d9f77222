/* The offload session's encoder side: every packet the encoder gives back
 * is matched to the frame it was made of (the encoder may hold frames back
 * and let them out later, or lose them on a failure) and sent as a FRAME
 * message built from that frame's own flight. */
#include "session_internal.h"

#include <string.h>

/* ---- the encoder's packets (encoder_lock held) ------------------------------ */

void
session_encoding_push (YsSession *s, uint32_t frame_id, int64_t capture_us)
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
    session_finish_locked (s, f, false, "encoder-error");
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
void
session_encoder_error (YsSession *s, const char *why)
{
  if (strcmp (s->last_encoder_error, why) == 0)
    return;
  g_strlcpy (s->last_encoder_error, why, sizeof (s->last_encoder_error));
  g_mutex_lock (&s->lock);
  session_notice_locked (s, true,
      g_strdup_printf ("%s Frames pass with no result.", why));
  g_mutex_unlock (&s->lock);
}

/* Sends one packet as a FRAME built from its own frame (plain: NULL, or
 * the plain form of a zstd split packet, sent instead when the connection's
 * server turns out not to list YS_CODEC_TENSOR_ZSTD).  A flight that
 * ended while the encoder held its frame still has its packet sent: for
 * H.264 it is a reference for the frames after it (with the deadline
 * passed, the server decodes it and drops it).  false if the client
 * refused it: its flight ends "link-backlog", or "disconnected" when the
 * link went down after the frame was taken (a race a loaded machine
 * shows: the session still thought it connected). */
bool
session_send_packet (YsSession *s, const YsPacket *packet,
    const YsPacket *plain, const Encoding *e)
{
  bool unlisted = false;
  int64_t now = g_get_monotonic_time ();
  double rtt_min_ms;
  int budget_ms;
  YsMessage msg;
  Flight *f;
  const char *refused_by;

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
  if (plain == NULL ? ys_client_send (s->client, &msg)
                    : ys_client_send_if_listed (s->client, &msg,
                        YS_CODEC_TENSOR_ZSTD, &unlisted))
    return true;
  if (unlisted) {
    /* Reconnected, since the packet was made, to a server without zstd. */
    msg.u.frame.packet = plain->data;
    msg.u.frame.packet_len = (uint32_t) plain->size;
    if (ys_client_send (s->client, &msg))
      return true;
  }
  refused_by
      = ys_client_connected (s->client) ? "link-backlog" : "disconnected";

  g_mutex_lock (&s->lock);
  /* A keyframe that never left must be made again. */
  if (packet->keyframe)
    s->force_keyframe = true;
  f = g_hash_table_lookup (s->flights, GUINT_TO_POINTER (e->frame_id));
  if (f != NULL)
    session_finish_locked (s, f, false, refused_by);
  g_mutex_unlock (&s->lock);
  return false;
}

/* A drain lets out every frame the encoder held at once.  Sent together
 * they would overflow the server's queue (its depth counts the frames sent
 * and unanswered), which keeps the newest and drops the others as
 * "overload": so a drain sends each packet once the server has room, at
 * most until the oldest frame's deadline. */
static void
wait_for_server_room (YsSession *s)
{
  g_mutex_lock (&s->lock);
  while (!s->interrupted && s->connected && s->server_capacity > 0
      && (int) g_queue_get_length (&s->waiting) - s->waiting_in_encoder
          >= s->server_capacity) {
    Flight *oldest = g_queue_peek_head (&s->waiting);
    g_cond_wait_until (&s->changed, &s->lock, oldest->deadline_us);
    session_expire_locked (s, g_get_monotonic_time ());
  }
  g_mutex_unlock (&s->lock);
}

/* Sends every packet the encoder has ready, oldest first; after a drain,
 * that is all it held.  Returns what became of frame `mine` (0: none). */
Mine
session_send_ready (YsSession *s, uint32_t mine, bool drained)
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
    if (drained)
      wait_for_server_room (s);
    if (session_send_packet (s, &packet, NULL, &e))
      result = e.frame_id == mine ? MINE_SENT : result;
    else if (e.frame_id == mine)
      result = MINE_BACKLOG;
  }
  /* The frames a failure lost stay listed until a later packet passes them
   * (encoding_take) or a drain: a failure while reopening loses only the
   * old codec's frames. */
  if (got < 0)
    session_encoder_error (s, why);
  if (drained)
    encoding_lose_all (s, mine, &result);
  /* It changes only when a hardware encoder falls back to software. */
  g_mutex_lock (&s->lock);
  s->encoder_name = ys_encoder_name (s->encoder);
  g_mutex_unlock (&s->lock);
  return result;
}
