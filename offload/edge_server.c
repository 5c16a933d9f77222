/* yoloswitch-edge: the libwebsockets context, its callback, HTTP and the
 * life cycle, on the service thread; see edge_server.h.  Each client's
 * messages are edge_conn.c's.  Every function here runs on the service
 * thread unless its comment says otherwise. */
#include "edge_catalog.h"
#include "edge_http.h"
#include "edge_internal.h"
#include "edge_log.h"
#include "edge_wire_check.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_ERROR_REASON "closed after the client's ERROR"

/* Per-connection storage libwebsockets allocates for us (zeroed). */
typedef struct {
  EdgeConn *conn; /* WebSocket connections */
  EdgeHttp http; /* HTTP requests: the answer being sent */
} EdgeSession;

/* ---- the libwebsockets callback -------------------------------------------- */

static int
callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
  EdgeSession *s = user;
  EdgeServer *server;
  EdgeConn *conn;

  if (wsi == NULL)
    return 0;
  server = lws_context_user (lws_get_context (wsi));
  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      /* Before libwebsockets reads a byte of it (edge_wire_check.c);
       * under TLS what SSL_read() decrypts (edge_wire_tls.c). */
      edge_wire_check_watch ((int) (lws_intptr_t) in,
          server->config.tls_cert != NULL);
      break;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      /* Who may open a WebSocket, answered with an HTTP status and a
       * sentence when not (draining, full, wrong subprotocol): a silent
       * close tells a camera's operator nothing. */
      return edge_guard_confirm_upgrade (server, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
      conn = g_new0 (EdgeConn, 1);
      conn->refs = 1;
      conn->server = server;
      conn->wsi = wsi;
      conn->parser = ys_parser_new (EDGE_PRE_HELLO_MAX_PAYLOAD);
      ys_parser_set_memory_hook (conn->parser, edge_budget_charge_message,
          conn);
      ys_parser_set_one_per_unit (conn->parser, TRUE);
      if (lws_get_peer_simple (wsi, conn->peer, sizeof (conn->peer)) == NULL)
        g_strlcpy (conn->peer, "?", sizeof (conn->peer));
      s->conn = conn;
      server->conns = g_list_prepend (server->conns, conn);
      g_atomic_int_inc (&server->metrics.clients);
      edge_metrics_add (&server->metrics.connections_total, 1);
      edge_guard_established (conn);
      /* An unmasked frame right behind the upgrade request. */
      if (edge_wire_check_unmasked (lws_get_socket_fd (wsi)))
        edge_guard_refuse_unmasked (conn);
      break;
    case LWS_CALLBACK_RECEIVE:
      if ((conn = s->conn) == NULL)
        break;
      /* Under TLS libwebsockets gets the bytes around an unmasked frame
       * (edge_wire_tls.c): nothing it delivers after the flag is acted
       * on; the timer closes with 1002.  (Plain TCP: it only gets those
       * before the frame, which are answered.) */
      if (server->config.tls_cert != NULL
          && (conn->unmasked
              || edge_wire_check_unmasked (lws_get_socket_fd (wsi)))) {
        if (!conn->unmasked)
          edge_guard_refuse_unmasked (conn);
        break;
      }
      conn->last_rx_us = g_get_monotonic_time ();
      edge_conn_on_receive (conn, in, len, lws_frame_is_binary (wsi),
          lws_is_final_fragment (wsi));
      if (conn->close_now) {
        /* The client said ERROR: its slot is freed now, not when it
         * gets round to closing. */
        edge_metrics_add (&server->metrics.closed[EDGE_CLOSE_CLIENT_ERROR], 1);
        lws_close_reason (wsi, LWS_CLOSE_STATUS_NORMAL,
            (unsigned char *) CLIENT_ERROR_REASON,
            sizeof (CLIENT_ERROR_REASON) - 1);
        return -1;
      }
      edge_guard_update_flow (conn, wsi);
      lws_callback_on_writable (wsi);
      edge_budget_close_over (server);
      break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if ((conn = s->conn) == NULL)
        break;
      if (!edge_conn_write_one (conn, wsi))
        return -1;
      edge_guard_update_flow (conn, wsi);
      break;
    case LWS_CALLBACK_TIMER:
      if (s->conn != NULL && !edge_guard_on_timer (s->conn, wsi))
        return -1;
      break;
    case LWS_CALLBACK_CLOSED:
      edge_wire_check_forget (lws_get_socket_fd (wsi));
      if (s->conn != NULL)
        edge_conn_on_closed (s->conn);
      s->conn = NULL;
      break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      edge_budget_close_over (server);
      /* A worker queued results: ask to write where there is output,
       * and stop reading from clients whose output is full. */
      for (GList *l = server->conns; l != NULL; l = l->next) {
        EdgeConn *c = l->data;
        gboolean output;
        if (c->wsi == NULL)
          continue;
        g_mutex_lock (&server->lock);
        output = c->out_bytes > 0;
        g_mutex_unlock (&server->lock);
        if (output)
          lws_callback_on_writable (c->wsi);
        edge_guard_update_flow (c, c->wsi);
      }
      break;
    case LWS_CALLBACK_HTTP:
      edge_wire_check_forget (lws_get_socket_fd (wsi)); /* not WebSocket */
      edge_http_begin (server, wsi, &s->http,
          in != NULL ? (const char *) in : "/");
      return 0;
    case LWS_CALLBACK_HTTP_BODY:
      return 0; /* a request body (a POST's): not read, answered 405 */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      /* libwebsockets holds the answer of a request with a body until the
       * body is in: ask again. */
      lws_callback_on_writable (wsi);
      return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return s != NULL ? edge_http_writeable (server, wsi, &s->http) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
      if (reason == LWS_CALLBACK_CLOSED_HTTP)
        edge_wire_check_forget (lws_get_socket_fd (wsi));
      if (s != NULL)
        edge_http_end (server, &s->http);
      break;
    default: break;
  }
  return lws_callback_http_dummy (wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
  { YS_PROTOCOL_NAME, callback, sizeof (EdgeSession), 64 * 1024, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- life cycle ------------------------------------------------------------ */

/* The catalog of --catalog-dir, or of the served model's folder. */
static gboolean
open_catalog (EdgeServer *server, GError **error)
{
  const char *dir = server->config.catalog_dir;
  YoloModelSpec spec
      = { .name = server->config.model, .model_dir = server->config.model_dir };
  YoloModelFiles files;
  YoloStatus status;
  char *model_dir = NULL;

  if (g_strcmp0 (dir, "none") == 0)
    return TRUE;
  if (dir == NULL && yolo_model_resolve (&spec, &files, &status))
    dir = model_dir = g_path_get_dirname (files.cfg_path);
  if (dir != NULL)
    server->catalog
        = edge_catalog_new (dir, server->config.catalog_scan_ms, error);
  g_free (model_dir);
  return dir == NULL || server->catalog != NULL;
}

EdgeServer *
edge_server_new (const EdgeConfig *config, GError **error)
{
  EdgeServer *server = g_new0 (EdgeServer, 1);
  struct lws_context_creation_info info;
  struct lws_vhost *vhost;

  server->config = *config;
  server->config.address = g_strdup (config->address);
  server->config.name = g_strdup (config->name);
  server->config.model = g_strdup (config->model);
  server->config.model_dir = g_strdup (config->model_dir);
  server->config.catalog_dir = g_strdup (config->catalog_dir);
  server->config.token = g_strdup (config->token);
  server->config.tls_cert = g_strdup (config->tls_cert);
  server->config.tls_key = g_strdup (config->tls_key);
  g_mutex_init (&server->lock);
  g_mutex_init (&server->budget_lock);
  server->metrics.budget_limit = server->config.memory_budget_bytes;
  g_cond_init (&server->work);
  g_queue_init (&server->ready);
  server->throttle = edge_throttle_new (config->auth_table_size,
      config->auth_backoff_ms, config->auth_backoff_max_ms);
  edge_log_route_lws ();

  if (!edge_workers_start (server, error))
    goto fail;

  if (!open_catalog (server, error))
    goto fail;
  server->downloads_by_peer
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  memset (&info, 0, sizeof (info));
  info.port = config->port;
  info.iface = config->address;
  info.protocols = protocols;
  info.user = server;
  info.vhost_name = "yoloswitch-edge";
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  /* HTTP/1.1 only: our answers write headers and body the HTTP/1 way, and
   * no client here speaks WebSocket over HTTP/2. */
  info.alpn = "http/1.1";
  if (config->tls_cert != NULL) {
    const char *problem = edge_wire_check_tls_problem ();
    if (problem != NULL) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", problem);
      goto fail;
    }
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = config->tls_cert;
    info.ssl_private_key_filepath = config->tls_key;
  }
  server->context = lws_create_context (&info);
  if (server->context == NULL) {
    if (config->tls_cert != NULL)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "Cannot listen on %s:%d with TLS: the port may be taken, or %s and "
          "%s are not a matching PEM certificate and key (see the log above)",
          config->address, config->port, config->tls_cert, config->tls_key);
    else
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "Cannot listen on %s:%d: the port is taken or the address is not "
          "this machine's; pick another --port or --address",
          config->address, config->port);
    goto fail;
  }
  vhost = lws_get_vhost_by_name (server->context, "yoloswitch-edge");
  server->port = vhost != NULL ? lws_get_vhost_listen_port (vhost) : -1;
  return server;

fail:
  edge_server_free (server);
  return NULL;
}

int
edge_server_port (const EdgeServer *server)
{
  return server->port;
}

/* Any thread, signal handlers included. */
void
edge_server_request_reload (EdgeServer *server)
{
  edge_reload_request (server);
}

/* Any thread, signal handlers included. */
void
edge_server_request_stop (EdgeServer *server)
{
  g_atomic_int_set (&server->stop_requested, 1);
  if (server->context != NULL)
    lws_cancel_service (server->context);
}

/* True when every frame received has been answered and sent. */
static gboolean
drained (EdgeServer *server)
{
  gboolean idle;

  g_mutex_lock (&server->lock);
  idle = server->busy_workers == 0 && g_queue_is_empty (&server->ready);
  for (GList *l = server->conns; idle && l != NULL; l = l->next) {
    EdgeConn *c = l->data;
    /* drain_at_us: pictures still inside a reordering decoder */
    idle = g_queue_is_empty (&c->pending) && !c->decoding && c->drain_at_us == 0
        && g_queue_is_empty (&c->out_urgent)
        && g_queue_is_empty (&c->out_normal);
  }
  g_mutex_unlock (&server->lock);
  return idle;
}

/* Connections that sent an unmasked frame during the last service round
 * (edge_wire_check.c) are closed from their timers. */
static void
refuse_unmasked (EdgeServer *server)
{
  for (GList *l = server->conns; l != NULL; l = l->next) {
    EdgeConn *c = l->data;
    if (c->wsi != NULL && !c->unmasked
        && edge_wire_check_unmasked (lws_get_socket_fd (c->wsi)))
      edge_guard_refuse_unmasked (c);
  }
}

static void
housekeeping (lws_sorted_usec_list_t *sul)
{
  (void) sul;
}

void
edge_server_run (EdgeServer *server)
{
  lws_sorted_usec_list_t tick;

  memset (&tick, 0, sizeof (tick));
  for (;;) {
    /* A timer 50 ms out bounds how long lws_service() sleeps, so a drain
     * deadline is noticed even on an idle server. */
    lws_sul_schedule (server->context, 0, &tick, housekeeping,
        50 * LWS_US_PER_MS);
    if (lws_service (server->context, 0) < 0)
      break;
    if (edge_wire_check_take_new () > 0)
      refuse_unmasked (server);
    if (server->drain_deadline_us == 0)
      edge_reload_poll (server);
    if (g_atomic_int_get (&server->stop_requested)
        && server->drain_deadline_us == 0) {
      server->drain_deadline_us = g_get_monotonic_time ()
          + (gint64) server->config.drain_timeout_ms * 1000;
      edge_log (EDGE_LOG_INFO, "stopping: finishing the frames in flight");
    }
    if (server->drain_deadline_us != 0
        && (drained (server)
            || g_get_monotonic_time () > server->drain_deadline_us))
      break;
  }
  lws_sul_cancel (&tick);
}

void
edge_server_free (EdgeServer *server)
{
  if (server == NULL)
    return;
  /* Workers first (they wake the service thread through the context),
   * then the context, whose CLOSED callbacks drop our connections. */
  edge_reload_stop (server);
  edge_workers_stop (server);
  if (server->context != NULL)
    lws_context_destroy (server->context);
  server->context = NULL;
  edge_catalog_free (server->catalog);
  if (server->downloads_by_peer != NULL)
    g_hash_table_unref (server->downloads_by_peer);
  edge_throttle_free (server->throttle);
  g_queue_clear (&server->ready);
  g_mutex_clear (&server->lock);
  g_mutex_clear (&server->budget_lock);
  g_cond_clear (&server->work);
  edge_config_clear (&server->config);
  g_free (server);
}
