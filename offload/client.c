/* The yoloswitch.v2 client; see client.h.
 *
 * Threads: the caller's thread queues (ys_client_send) and wakes the
 * service thread with lws_cancel_service(); everything else, every lws
 * call and every callback, runs on the service thread. */
#include "client.h"

#include "offload_log.h"

#include <glib.h>
#include <libwebsockets.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* Reconnection backoff: quick at first (a server restart), then every 2 s;
 * never gives up. */
static const uint32_t backoff_ms[] = { 100, 250, 500, 1000, 2000 };
static const lws_retry_bo_t retry_policy = {
  .retry_ms_table = backoff_ms,
  .retry_ms_table_count = G_N_ELEMENTS (backoff_ms),
  .conceal_count = UINT16_MAX,
  .jitter_percent = 10,
};

typedef struct {
  uint8_t *buffer; /* LWS_PRE bytes of headroom first */
  size_t length;
  uint8_t type;
  uint32_t frame_id;
} Outgoing;

struct YsClient {
  YsClientOptions options;
  char *name, *token, *model;
  YsClientCallbacks callbacks;
  void *user;

  /* parsed URL */
  char *host, *path;
  int port;
  gboolean tls;

  struct lws_context *context;
  GThread *thread;
  gint quit; /* atomic */

  /* service thread only */
  struct lws *wsi;
  YsParser *parser;
  lws_sorted_usec_list_t reconnect_timer, ping_timer;
  uint16_t retries;
  int64_t last_rx_us;
  /* why we closed the link ourselves, for the "disconnected" that the
   * CLOSED callback reports; NULL when the server or the network did */
  char *close_reason;

  GMutex lock;
  /* locked */
  GQueue out; /* Outgoing * */
  size_t queued_bytes;
  gboolean ready; /* HELLO answered */
  /* what the server's HELLO listed, for ys_client_send_if_listed: read
   * under the same lock as ready, so a frame made for one server's codecs
   * never goes to the next one's connection */
  uint8_t server_codecs[YS_MAX_CODECS];
  uint8_t server_codec_count;
};

int64_t
ys_client_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
outgoing_free (Outgoing *o)
{
  g_free (o->buffer);
  g_free (o);
}

static Outgoing *
outgoing_new (const YsMessage *msg)
{
  size_t size = ys_message_size (msg);
  Outgoing *o;

  if (size == 0)
    return NULL;
  o = g_new0 (Outgoing, 1);
  o->buffer = g_malloc (LWS_PRE + size);
  o->length = ys_message_encode (msg, o->buffer + LWS_PRE);
  o->type = msg->header.type;
  o->frame_id = msg->header.frame_id;
  return o;
}

/* Service thread: forget the connection; frames queued for it are lost
 * (the element counts them as "no result"). */
static void
reset_connection (YsClient *c, const char *why)
{
  gboolean was_ready;

  g_mutex_lock (&c->lock);
  was_ready = c->ready;
  c->ready = FALSE;
  g_queue_clear_full (&c->out, (GDestroyNotify) outgoing_free);
  c->queued_bytes = 0;
  g_mutex_unlock (&c->lock);
  c->wsi = NULL;
  ys_parser_free (c->parser);
  c->parser = NULL;
  if (c->callbacks.disconnected != NULL && (was_ready || why != NULL))
    c->callbacks.disconnected (c->user,
        why != NULL ? why : "connection closed");
}

static void connect_now (lws_sorted_usec_list_t *sul);

static void
schedule_reconnect (YsClient *c)
{
  uint32_t delay;
  char conceal;

  if (g_atomic_int_get (&c->quit))
    return;
  delay = lws_retry_get_delay_ms (c->context, &retry_policy, &c->retries,
      &conceal);
  lws_sul_schedule (c->context, 0, &c->reconnect_timer, connect_now,
      (lws_usec_t) delay * LWS_US_PER_MS);
}

/* Service thread (timer). */
static void
connect_now (lws_sorted_usec_list_t *sul)
{
  YsClient *c = lws_container_of (sul, YsClient, reconnect_timer);
  struct lws_client_connect_info info;

  memset (&info, 0, sizeof (info));
  info.context = c->context;
  info.address = c->host;
  info.port = c->port;
  info.path = c->path;
  info.host = c->host;
  info.origin = c->host;
  info.protocol = YS_PROTOCOL_NAME;
  info.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
  info.userdata = c;
  info.pwsi = &c->wsi;
  if (lws_client_connect_via_info (&info) == NULL) {
    c->wsi = NULL;
    schedule_reconnect (c);
  }
}

/* Service thread (timer): PING while connected, and hang up on a server
 * that went silent (a dead peer behind a live TCP path never sends RST). */
static void
ping_tick (lws_sorted_usec_list_t *sul)
{
  YsClient *c = lws_container_of (sul, YsClient, ping_timer);
  int64_t now = ys_client_now_us ();
  gboolean ready;

  g_mutex_lock (&c->lock);
  ready = c->ready;
  g_mutex_unlock (&c->lock);
  if (c->wsi != NULL && ready) {
    if (now - c->last_rx_us > (int64_t) c->options.silence_timeout_ms * 1000) {
      lws_set_timeout (c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    } else {
      YsMessage ping;
      Outgoing *o;
      memset (&ping, 0, sizeof (ping));
      ping.header.type = YS_MSG_PING;
      ping.header.capture_us = (uint64_t) now;
      o = outgoing_new (&ping);
      g_mutex_lock (&c->lock);
      g_queue_push_head (&c->out, o);
      g_mutex_unlock (&c->lock);
      lws_callback_on_writable (c->wsi);
    }
  }
  lws_sul_schedule (c->context, 0, &c->ping_timer, ping_tick,
      (lws_usec_t) c->options.ping_interval_ms * LWS_US_PER_MS);
}

static bool
on_message (const YsMessage *m, void *user)
{
  YsClient *c = user;

  if (m->header.type == YS_MSG_HELLO) {
    char *refused;

    /* Ready before the owner hears of it: an owner that sends a frame the
     * moment it is told (a split session, whose frames are ready at
     * once) must not find the link not ready yet.  Until the owner
     * accepts the HELLO it sends nothing. */
    g_mutex_lock (&c->lock);
    c->ready = TRUE;
    c->server_codec_count = MIN (m->u.hello.codec_count, YS_MAX_CODECS);
    memcpy (c->server_codecs, m->u.hello.codecs, c->server_codec_count);
    g_mutex_unlock (&c->lock);
    refused = c->callbacks.connected != NULL
        ? c->callbacks.connected (c->user, &m->u.hello)
        : NULL;
    if (refused != NULL) {
      g_mutex_lock (&c->lock);
      c->ready = FALSE;
      g_mutex_unlock (&c->lock);
      /* Stops the parser: the receive callback closes the link. */
      g_free (c->close_reason);
      c->close_reason
          = g_strdup_printf ("the server's HELLO was refused: %s", refused);
      g_free (refused);
      return false;
    }
    c->retries = 0;
    return true;
  }
  if (c->callbacks.message != NULL)
    c->callbacks.message (c->user, m, ys_client_now_us ());
  return m->header.type != YS_MSG_ERROR;
}

static void
send_hello (YsClient *c)
{
  YsMessage hello;
  Outgoing *o;

  memset (&hello, 0, sizeof (hello));
  hello.header.type = YS_MSG_HELLO;
  hello.u.hello.name = ys_str (c->name);
  hello.u.hello.token = ys_str (c->token);
  hello.u.hello.model = ys_str (c->model);
  if (c->options.codec == YS_CODEC_TENSOR) {
    hello.u.hello.codec_count = 2;
    hello.u.hello.codecs[0] = YS_CODEC_TENSOR;
    hello.u.hello.codecs[1] = YS_CODEC_TENSOR_ZSTD;
  } else {
    hello.u.hello.codec_count = 2;
    hello.u.hello.codecs[0] = YS_CODEC_H264;
    hello.u.hello.codecs[1] = YS_CODEC_MJPEG;
  }
  hello.u.hello.deadline_ms = c->options.deadline_ms;
  o = outgoing_new (&hello);
  if (o == NULL)
    return;
  g_mutex_lock (&c->lock);
  g_queue_push_head (&c->out, o);
  g_mutex_unlock (&c->lock);
}

/* Service thread: one message per WRITEABLE, as lws asks. */
static int
write_one (YsClient *c, struct lws *wsi)
{
  Outgoing *o;
  gboolean more;
  int64_t now;

  g_mutex_lock (&c->lock);
  o = g_queue_pop_head (&c->out);
  if (o != NULL && o->type == YS_MSG_FRAME)
    c->queued_bytes -= o->length;
  more = !g_queue_is_empty (&c->out);
  g_mutex_unlock (&c->lock);
  if (o == NULL)
    return 0;
  now = ys_client_now_us ();
  if (lws_write (wsi, o->buffer + LWS_PRE, o->length, LWS_WRITE_BINARY)
      < (int) o->length) {
    outgoing_free (o);
    return -1;
  }
  if (o->type == YS_MSG_FRAME && c->callbacks.sent != NULL)
    c->callbacks.sent (c->user, o->frame_id,
        (uint32_t) (o->length - YS_HEADER_SIZE), now);
  outgoing_free (o);
  if (more)
    lws_callback_on_writable (wsi);
  return 0;
}

static int
callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
  YsClient *c = user;
  const char *why = NULL;
  YsParseStatus s;

  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      c->parser = ys_parser_new (0);
      /* The spec's rule holds both ways: one protocol message per
       * WebSocket message, so a server's second message in one (or a
       * payload_len that understates) closes the link before it counts. */
      if (c->parser != NULL)
        ys_parser_set_one_per_unit (c->parser, true);
      c->last_rx_us = ys_client_now_us ();
      send_hello (c);
      lws_callback_on_writable (wsi);
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      c->last_rx_us = ys_client_now_us ();
      if (c->parser == NULL)
        break;
      s = ys_parser_feed (c->parser, in, len, on_message, c, &why);
      if (s == YS_PARSE_OK && lws_is_final_fragment (wsi))
        s = ys_parser_end_unit (c->parser, on_message, c, &why);
      if (s != YS_PARSE_OK) {
        /* Stopped: the server's ERROR, or its HELLO refused (then the
         * reason is already set). */
        const char *what = s != YS_PARSE_STOPPED ? why
            : c->close_reason != NULL            ? c->close_reason
                                                 : "the server sent ERROR";
        ys_offload_log (YS_LOG_FROM_CLIENT, YS_LOG_WARNING,
            "closing the connection to %s: %s", c->host, what);
        /* A server's ERROR was already told by on_message; a message
         * that broke the protocol is told with the disconnect. */
        if (s != YS_PARSE_STOPPED) {
          g_free (c->close_reason);
          c->close_reason
              = g_strdup_printf ("the server broke the protocol: %s", what);
        }
        return -1;
      }
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: return write_one (c, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      const char *error = in != NULL ? (const char *) in : "connection failed";
      char *hint = NULL;
      /* OpenSSL's own words rarely say what to do about an untrusted
       * certificate, the usual wss:// failure on a private edge. */
      if (c->tls
          && (strstr (error, "SSL") != NULL || strstr (error, "tls") != NULL
              || strstr (error, "cert") != NULL))
        hint = g_strdup_printf ("%s; the TLS handshake failed: if the "
                                "server's certificate is self-signed or from "
                                "a private CA, set tls-ca-file to its PEM",
            error);
      reset_connection (c, hint != NULL ? hint : error);
      g_free (hint);
      schedule_reconnect (c);
      break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
      reset_connection (c,
          c->close_reason != NULL ? c->close_reason : "connection closed");
      g_clear_pointer (&c->close_reason, g_free);
      schedule_reconnect (c);
      break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      /* Woken by ys_client_send() or ys_client_free(). */
      if (c == NULL)
        c = lws_context_user (lws_get_context (wsi));
      if (c != NULL && c->wsi != NULL)
        lws_callback_on_writable (c->wsi);
      break;
    default: break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
  { YS_PROTOCOL_NAME, callback, 0, 64 * 1024, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static gpointer
service_main (gpointer data)
{
  YsClient *c = data;

  lws_sul_schedule (c->context, 0, &c->reconnect_timer, connect_now, 1);
  lws_sul_schedule (c->context, 0, &c->ping_timer, ping_tick,
      (lws_usec_t) c->options.ping_interval_ms * LWS_US_PER_MS);
  while (!g_atomic_int_get (&c->quit))
    if (lws_service (c->context, 0) < 0)
      break;
  lws_sul_cancel (&c->reconnect_timer);
  lws_sul_cancel (&c->ping_timer);
  return NULL;
}

static gboolean
parse_url (YsClient *c, const char *url)
{
  char *copy = g_strdup (url);
  const char *scheme = NULL, *host = NULL, *path = NULL;
  int port = 0;
  gboolean ok = lws_parse_uri (copy, &scheme, &host, &port, &path) == 0
      && (strcmp (scheme, "ws") == 0 || strcmp (scheme, "wss") == 0)
      && host[0] != '\0';

  if (ok) {
    c->tls = strcmp (scheme, "wss") == 0;
    c->host = g_strdup (host);
    c->port = port;
    c->path = g_strconcat ("/", path, NULL);
  }
  g_free (copy);
  return ok;
}

YsClient *
ys_client_new (const YsClientOptions *options,
    const YsClientCallbacks *callbacks, void *user, const char **error)
{
  YsClient *c = g_new0 (YsClient, 1);
  struct lws_context_creation_info info;

  c->options = *options;
  if (c->options.max_queued_bytes == 0)
    c->options.max_queued_bytes = 8u << 20;
  if (c->options.ping_interval_ms <= 0)
    c->options.ping_interval_ms = 500;
  if (c->options.silence_timeout_ms <= 0)
    c->options.silence_timeout_ms = 3000;
  c->name = g_strdup (options->name != NULL ? options->name : "yolooffload");
  c->token = g_strdup (options->token);
  c->model = g_strdup (options->model);
  c->callbacks = *callbacks;
  c->user = user;
  g_mutex_init (&c->lock);
  g_queue_init (&c->out);
  if (options->url == NULL || !parse_url (c, options->url)) {
    *error = "server must be a ws://host:port/ or wss://host:port/ URL";
    goto fail;
  }

  if (c->tls && options->ca_file != NULL
      && access (options->ca_file, R_OK) != 0) {
    *error = "tls-ca-file cannot be read: give a readable PEM file of the "
             "certificates that signed the server's";
    goto fail;
  }

  /* Through the process's log hook (the plugin's debug category), at the
   * levels it shows: lws' setting is process-wide, so set it again. */
  ys_offload_log_setup_lws ();
  memset (&info, 0, sizeof (info));
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.user = c;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  /* Read now, while the context's client TLS state is set up. */
  info.client_ssl_ca_filepath = c->tls ? options->ca_file : NULL;
  /* The retry policy also bounds idle connections: lws pings and hangs up
   * on its own below the yoloswitch.v2 PINGs. */
  info.retry_and_idle_policy = &retry_policy;
  c->context = lws_create_context (&info);
  if (c->context == NULL) {
    *error = "libwebsockets could not create a client context";
    goto fail;
  }
  c->thread = g_thread_new ("ys-client", service_main, c);
  return c;

fail:
  ys_client_free (c);
  return NULL;
}

void
ys_client_free (YsClient *c)
{
  if (c == NULL)
    return;
  g_atomic_int_set (&c->quit, 1);
  if (c->context != NULL)
    lws_cancel_service (c->context);
  if (c->thread != NULL)
    g_thread_join (c->thread);
  /* Destroying the context closes the socket; its CLOSED callback must
   * not reach the owner any more. */
  memset (&c->callbacks, 0, sizeof (c->callbacks));
  if (c->context != NULL)
    lws_context_destroy (c->context);
  ys_parser_free (c->parser);
  g_queue_clear_full (&c->out, (GDestroyNotify) outgoing_free);
  g_mutex_clear (&c->lock);
  g_free (c->name);
  g_free (c->token);
  g_free (c->model);
  g_free (c->host);
  g_free (c->path);
  g_free (c->close_reason);
  g_free (c);
}

/* Locked: the connection's HELLO listed codec. */
static bool
listed_locked (const YsClient *c, uint8_t codec)
{
  return memchr (c->server_codecs, codec, c->server_codec_count) != NULL;
}

/* Queues msg if ready (and, with needs, the server listed *needs). */
static bool
queue_message (YsClient *c, const YsMessage *msg, const uint8_t *needs,
    bool *unlisted)
{
  Outgoing *o;
  gboolean ok;

  if (unlisted != NULL)
    *unlisted = false;
  g_mutex_lock (&c->lock);
  ok = c->ready && c->queued_bytes < c->options.max_queued_bytes;
  g_mutex_unlock (&c->lock);
  if (!ok || (o = outgoing_new (msg)) == NULL)
    return false;
  g_mutex_lock (&c->lock);
  ok = c->ready;
  if (ok && needs != NULL && !listed_locked (c, *needs)) {
    ok = FALSE;
    if (unlisted != NULL)
      *unlisted = true;
  }
  if (ok) {
    g_queue_push_tail (&c->out, o);
    if (o->type == YS_MSG_FRAME)
      c->queued_bytes += o->length;
  }
  g_mutex_unlock (&c->lock);
  if (!ok)
    outgoing_free (o);
  else
    lws_cancel_service (c->context);
  return ok;
}

bool
ys_client_send (YsClient *c, const YsMessage *msg)
{
  return queue_message (c, msg, NULL, NULL);
}

bool
ys_client_send_if_listed (YsClient *c, const YsMessage *msg, uint8_t codec,
    bool *unlisted)
{
  return queue_message (c, msg, &codec, unlisted);
}

bool
ys_client_connected (YsClient *c)
{
  gboolean ready;

  g_mutex_lock (&c->lock);
  ready = c->ready;
  g_mutex_unlock (&c->lock);
  return ready;
}
