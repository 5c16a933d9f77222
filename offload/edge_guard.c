/* yoloswitch-edge: what one connection, or one address, may hold, so that
 * no client can exhaust the server (docs/PROTOCOL.md "Limits"):
 *
 * - the WebSocket upgrade is refused with an HTTP status and a sentence
 *   (400: no or another subprotocol; 503: draining, too many connections
 *   from the address, too many still without HELLO, max-clients);
 * - connections without a valid HELLO are counted apart from max-clients
 *   and closed after hello-timeout-ms; when they fill max-unauthenticated,
 *   a new one takes the place of the oldest if that one has had a second
 *   to say HELLO (a real client says it within a round trip), so silent
 *   sockets delay a camera by a second, not by the HELLO timeout; after
 *   HELLO, a connection is closed after idle-timeout-ms without a byte;
 * - a client whose answers pile up unread past send-queue-bytes is no
 *   longer read (so it cannot make us queue more) and is closed when that
 *   lasts send-stall-ms;
 * - wrong tokens are throttled per address (edge_throttle.c).
 *
 * Every function here runs on the service thread. */
#include "edge_internal.h"
#include "edge_log.h"

#include <libwebsockets.h>
#include <string.h>
#include <sys/socket.h>

/* ---- the upgrade ----------------------------------------------------------- */

/* At most one refusal line a second in the log, with a count of the ones
 * left out: a client retrying in a loop must not flood it. */
static void
log_refusal (const char *peer, unsigned status, const char *text)
{
  static gint64 last_us;
  static unsigned quiet;
  gint64 now = g_get_monotonic_time ();

  if (now - last_us < G_USEC_PER_SEC) {
    quiet++;
    return;
  }
  edge_log (EDGE_LOG_INFO, "%s: WebSocket upgrade refused (HTTP %u): %s%s",
      peer, status, text, quiet > 0 ? " (and earlier ones not logged)" : "");
  last_us = now;
  quiet = 0;
}

/* Answers the upgrade request with `status` and `text` as a plain-text
 * body (a person reads it in a client's error), then the connection closes;
 * 1, or -1 to hang up when even that cannot be written.
 *
 * The status line is written by hand: at this point libwebsockets has not
 * read the request's HTTP version yet and would say "HTTP/1.0", which
 * WebSocket clients refuse to parse. */
static int
refuse (EdgeServer *server, struct lws *wsi, const char *peer, unsigned status,
    EdgeRefuseReason reason, const char *text)
{
  uint8_t buffer[LWS_PRE + 2048];
  uint8_t *start = buffer + LWS_PRE, *p = start,
          *end = buffer + sizeof (buffer);
  char body[640], line[64], length[16];
  int n = g_snprintf (body, sizeof (body), "%s\n", text);
  int line_len = g_snprintf (line, sizeof (line), "HTTP/1.1 %u %s", status,
      status == HTTP_STATUS_BAD_REQUEST ? "Bad Request"
                                        : "Service Unavailable");
  int length_len;

  n = MIN (n, (int) sizeof (body) - 1);
  length_len = g_snprintf (length, sizeof (length), "%d", n);
  edge_metrics_add (&server->metrics.refused[reason], 1);
  log_refusal (peer, status, text);
  if (lws_add_http_header_by_name (wsi, NULL, (unsigned char *) line, line_len,
          &p, end)
      || lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
          (const unsigned char *) "text/plain; charset=utf-8", 25, &p, end)
      || lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
          (const unsigned char *) length, length_len, &p, end)
      || lws_add_http_header_by_token (wsi, WSI_TOKEN_CONNECTION,
          (const unsigned char *) "close", 5, &p, end))
    return -1;
  /* Capacity comes back as connections close or time out. */
  if (status == HTTP_STATUS_SERVICE_UNAVAILABLE
      && lws_add_http_header_by_name (wsi,
          (const unsigned char *) "retry-after:", (const unsigned char *) "5",
          1, &p, end))
    return -1;
  if (lws_finalize_http_header (wsi, &p, end) || end - p < n)
    return -1;
  memcpy (p, body, (size_t) n);
  p += n;
  if (lws_write (wsi, start, (size_t) (p - start), LWS_WRITE_HTTP)
      != (int) (p - start))
    return -1;
  return 1;
}

/* TRUE if the comma-separated Sec-WebSocket-Protocol list names ours. */
static gboolean
offers_our_protocol (const char *list)
{
  gchar **names = g_strsplit (list, ",", -1);
  gboolean found = FALSE;

  for (int i = 0; names[i] != NULL && !found; i++)
    found = strcmp (g_strstrip (names[i]), YS_PROTOCOL_NAME) == 0;
  g_strfreev (names);
  return found;
}

/* A connection without HELLO this old may lose its slot to a new one. */
#define EVICTABLE_AFTER_US G_USEC_PER_SEC

/* The oldest connection still without HELLO and not already on its way
 * out, if it has had EVICTABLE_AFTER_US; NULL if none. */
static EdgeConn *
evictable (EdgeServer *server)
{
  gint64 now = g_get_monotonic_time ();
  EdgeConn *oldest = NULL;

  for (GList *l = server->conns; l != NULL; l = l->next) {
    EdgeConn *c = l->data;
    if (!c->authenticated && !c->evicted && c->wsi != NULL
        && (oldest == NULL || c->established_us < oldest->established_us))
      oldest = c;
  }
  return oldest != NULL && now - oldest->established_us >= EVICTABLE_AFTER_US
      ? oldest
      : NULL;
}

static int
connections_from (EdgeServer *server, const char *peer)
{
  int n = 0;

  for (GList *l = server->conns; l != NULL; l = l->next)
    n += strcmp (((EdgeConn *) l->data)->peer, peer) == 0;
  return n;
}

int
edge_guard_confirm_upgrade (EdgeServer *server, struct lws *wsi,
    const char *upgrade)
{
  const EdgeConfig *c = &server->config;
  char peer[64], offered[256], *text, *shown;
  EdgeConn *victim;
  int n, r;

  if (lws_get_peer_simple (wsi, peer, sizeof (peer)) == NULL)
    g_strlcpy (peer, "?", sizeof (peer));
  if (upgrade == NULL || g_ascii_strcasecmp (upgrade, "websocket") != 0)
    return refuse (server, wsi, peer, HTTP_STATUS_BAD_REQUEST,
        EDGE_REFUSE_SUBPROTOCOL,
        "only WebSocket upgrades are served here (yoloswitch.v2)");
  n = lws_hdr_copy (wsi, offered, sizeof (offered), WSI_TOKEN_PROTOCOL);
  if (n <= 0)
    return refuse (server, wsi, peer, HTTP_STATUS_BAD_REQUEST,
        EDGE_REFUSE_SUBPROTOCOL,
        n < 0 ? "Sec-WebSocket-Protocol is too long: ask for yoloswitch.v2"
              : "no subprotocol: ask for Sec-WebSocket-Protocol: "
                "yoloswitch.v2 (docs/PROTOCOL.md)");
  if (!offers_our_protocol (offered)) {
    /* The client's bytes are escaped and cut: they go into our log. */
    offered[64] = '\0';
    shown = g_strescape (offered, NULL);
    text = g_strdup_printf ("subprotocol \"%s\" is not spoken here: ask for "
                            "Sec-WebSocket-Protocol: yoloswitch.v2",
        shown);
    r = refuse (server, wsi, peer, HTTP_STATUS_BAD_REQUEST,
        EDGE_REFUSE_SUBPROTOCOL, text);
    g_free (text);
    g_free (shown);
    return r;
  }
  if (server->drain_deadline_us != 0)
    return refuse (server, wsi, peer, HTTP_STATUS_SERVICE_UNAVAILABLE,
        EDGE_REFUSE_DRAINING,
        "draining: the server is stopping; connect to another one or retry");
  if (connections_from (server, peer) >= c->max_per_address) {
    text = g_strdup_printf ("%s already has %d connections, the most one "
                            "address may have (--max-per-address)",
        peer, c->max_per_address);
    r = refuse (server, wsi, peer, HTTP_STATUS_SERVICE_UNAVAILABLE,
        EDGE_REFUSE_PER_ADDRESS, text);
    g_free (text);
    return r;
  }
  if (server->authenticated >= c->max_clients) {
    text = g_strdup_printf ("server full: %d clients (--max-clients); retry "
                            "later or use another server",
        c->max_clients);
    r = refuse (server, wsi, peer, HTTP_STATUS_SERVICE_UNAVAILABLE,
        EDGE_REFUSE_FULL, text);
    g_free (text);
    return r;
  }
  if (server->unauthenticated - server->evicting >= c->max_unauthenticated
      && (victim = evictable (server)) != NULL) {
    /* Closed from its own timer callback, as soon as this one returns;
     * until then it still counts, so the cap is passed by the connections
     * being closed at most. */
    victim->evicted = TRUE;
    server->evicting++;
    lws_set_timer_usecs (victim->wsi, 1);
  } else if (server->unauthenticated - server->evicting
      >= c->max_unauthenticated) {
    text = g_strdup_printf ("%d connections are waiting for their HELLO, the "
                            "most allowed (--max-unauthenticated); retry in a "
                            "second",
        c->max_unauthenticated);
    r = refuse (server, wsi, peer, HTTP_STATUS_SERVICE_UNAVAILABLE,
        EDGE_REFUSE_UNAUTHENTICATED, text);
    g_free (text);
    return r;
  }
  return 0;
}

/* ---- timers ---------------------------------------------------------------- */

/* One lws timer per connection, set to the nearest of its deadlines. */
static void
schedule (EdgeConn *conn)
{
  const EdgeConfig *c = &conn->server->config;
  gint64 now = g_get_monotonic_time (), due = G_MAXINT64;

  if (conn->wsi == NULL)
    return;
  if (conn->evicted || conn->budget_victim || conn->unmasked)
    due = now;
  else if (!conn->authenticated)
    due = conn->established_us + (gint64) c->hello_timeout_ms * 1000;
  else if (c->idle_timeout_ms > 0)
    due = conn->last_rx_us + (gint64) c->idle_timeout_ms * 1000;
  if (conn->full_since_us != 0)
    due = MIN (due, conn->full_since_us + (gint64) c->send_stall_ms * 1000);
  if (due == G_MAXINT64)
    lws_set_timer_usecs (conn->wsi, LWS_SET_TIMER_USEC_CANCEL);
  else
    lws_set_timer_usecs (conn->wsi, (lws_usec_t) MAX (due - now, 1000));
}

void
edge_guard_established (EdgeConn *conn)
{
  EdgeServer *server = conn->server;

  conn->established_us = conn->last_rx_us = g_get_monotonic_time ();
  /* A fixed kernel buffer: what a client that does not read leaves in the
   * kernel is bounded too, and our queue fills at once instead of
   * emptying in bursts into a buffer the kernel keeps growing (each burst
   * would resume reading and restart the stall timer). */
  if (server->config.socket_send_bytes > 0) {
    int fd = lws_get_socket_fd (conn->wsi);
    int bytes = server->config.socket_send_bytes;
    if (fd >= 0)
      setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof (bytes));
  }
  server->unauthenticated++;
  g_atomic_int_inc (&server->metrics.clients_unauthenticated);
  schedule (conn);
}

void
edge_guard_closed (EdgeConn *conn)
{
  EdgeServer *server = conn->server;

  if (conn->authenticated) {
    server->authenticated--;
  } else {
    server->evicting -= conn->evicted;
    server->unauthenticated--;
    g_atomic_int_add (&server->metrics.clients_unauthenticated, -1);
  }
}

gboolean
edge_guard_authenticate (EdgeConn *conn, char **why)
{
  EdgeServer *server = conn->server;

  if (conn->authenticated)
    return TRUE;
  if (conn->evicted) {
    *why = g_strdup ("HELLO too late: a newer connection took this one's "
                     "place (--max-unauthenticated); send HELLO at once");
    return FALSE;
  }
  /* Only when several connections upgraded while one slot was left. */
  if (server->authenticated >= server->config.max_clients) {
    *why = g_strdup_printf ("server full: %d clients (--max-clients); retry "
                            "later or use another server",
        server->config.max_clients);
    return FALSE;
  }
  conn->authenticated = TRUE;
  server->unauthenticated--;
  server->authenticated++;
  g_atomic_int_add (&server->metrics.clients_unauthenticated, -1);
  schedule (conn);
  return TRUE;
}

gint64
edge_guard_token_wait_ms (EdgeConn *conn)
{
  EdgeServer *server = conn->server;
  gint64 wait = edge_throttle_wait_ms (server->throttle, conn->peer,
      g_get_monotonic_time ());

  if (wait > 0)
    edge_metrics_add (&server->metrics.auth_throttled, 1);
  return wait;
}

void
edge_guard_token_checked (EdgeConn *conn, gboolean right)
{
  EdgeServer *server = conn->server;

  if (right) {
    edge_throttle_succeeded (server->throttle, conn->peer);
    return;
  }
  edge_metrics_add (&server->metrics.auth_failures, 1);
  edge_throttle_failed (server->throttle, conn->peer, g_get_monotonic_time ());
}

static gboolean
close_for (EdgeConn *conn, struct lws *wsi, EdgeCloseReason reason, int code,
    const char *text)
{
  edge_log (EDGE_LOG_INFO, "%s %s: closing (%d): %s", conn->peer,
      conn->client_name != NULL ? conn->client_name : "(no HELLO yet)", code,
      text);
  edge_metrics_add (&conn->server->metrics.closed[reason], 1);
  conn->stop_reading = TRUE;
  /* A close reason is at most 123 bytes (RFC 6455 5.5). */
  lws_close_reason (wsi, (enum lws_close_status) code, (unsigned char *) text,
      MIN (strlen (text), 123));
  return FALSE;
}

gboolean
edge_guard_on_timer (EdgeConn *conn, struct lws *wsi)
{
  const EdgeConfig *c = &conn->server->config;
  gint64 now = g_get_monotonic_time ();
  char text[124];

  if (conn->unmasked)
    return close_for (conn, wsi, EDGE_CLOSE_UNMASKED,
        LWS_CLOSE_STATUS_PROTOCOL_ERR,
        "unmasked frame: clients must mask (RFC 6455 5.1)");
  if (conn->budget_victim) {
    edge_conn_give_back_memory (conn);
    g_snprintf (text, sizeof (text),
        "holds more than its share of the server's memory while others "
        "need it (--memory-budget-bytes)");
    return close_for (conn, wsi, EDGE_CLOSE_MEMORY_BUDGET,
        EDGE_CLOSE_CODE_MEMORY_BUDGET, text);
  }
  if (conn->evicted) {
    g_snprintf (text, sizeof (text),
        "no HELLO after %" G_GINT64_FORMAT " ms while new connections "
        "waited (--max-unauthenticated)",
        (now - conn->established_us) / 1000);
    return close_for (conn, wsi, EDGE_CLOSE_EVICTED,
        EDGE_CLOSE_CODE_HELLO_TIMEOUT, text);
  }
  if (!conn->authenticated
      && now >= conn->established_us + (gint64) c->hello_timeout_ms * 1000) {
    g_snprintf (text, sizeof (text),
        "no valid HELLO within %d ms (--hello-timeout-ms): send HELLO first",
        c->hello_timeout_ms);
    return close_for (conn, wsi, EDGE_CLOSE_HELLO_TIMEOUT,
        EDGE_CLOSE_CODE_HELLO_TIMEOUT, text);
  }
  if (conn->authenticated && c->idle_timeout_ms > 0
      && now >= conn->last_rx_us + (gint64) c->idle_timeout_ms * 1000) {
    g_snprintf (text, sizeof (text),
        "nothing received for %d ms (--idle-timeout-ms): PING while idle",
        c->idle_timeout_ms);
    return close_for (conn, wsi, EDGE_CLOSE_IDLE_TIMEOUT,
        EDGE_CLOSE_CODE_IDLE_TIMEOUT, text);
  }
  if (conn->full_since_us != 0
      && now >= conn->full_since_us + (gint64) c->send_stall_ms * 1000) {
    g_snprintf (text, sizeof (text),
        "answers left unread for %d ms (--send-stall-ms): read what the "
        "server sends",
        c->send_stall_ms);
    return close_for (conn, wsi, EDGE_CLOSE_SEND_STALLED,
        EDGE_CLOSE_CODE_SEND_STALLED, text);
  }
  schedule (conn);
  return TRUE;
}

void
edge_guard_refuse_unmasked (EdgeConn *conn)
{
  conn->unmasked = TRUE;
  schedule (conn);
}

/* ---- backpressure ---------------------------------------------------------- */

/* Lock held. */
gboolean
edge_guard_send_full_locked (const EdgeConn *conn)
{
  return conn->out_bytes >= (gsize) conn->server->config.send_queue_bytes;
}

void
edge_guard_update_flow (EdgeConn *conn, struct lws *wsi)
{
  EdgeServer *server = conn->server;
  gsize limit = (gsize) server->config.send_queue_bytes, bytes;

  g_mutex_lock (&server->lock);
  bytes = conn->out_bytes;
  g_mutex_unlock (&server->lock);
  if (!conn->reading_paused && bytes >= limit) {
    /* Every message we queue answers one we read: not reading bounds
     * what this client can make us hold. */
    lws_rx_flow_control (wsi, 0);
    conn->reading_paused = TRUE;
    conn->full_since_us = g_get_monotonic_time ();
    edge_metrics_add (&server->metrics.reading_paused, 1);
    schedule (conn);
  } else if (conn->reading_paused && bytes <= limit / 2) {
    /* Half empty, not just below the limit: a client reading slowly is
     * not paused and resumed at every message. */
    lws_rx_flow_control (wsi, 1);
    conn->reading_paused = FALSE;
    conn->full_since_us = 0;
    schedule (conn);
  }
}
