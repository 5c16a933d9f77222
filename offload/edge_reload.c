/* yoloswitch-edge's model reload (issue 16, hot swap on the edge): SIGHUP
 * loads the --model's files again (a new version put in --model-dir) on a
 * thread of its own while the old model keeps serving; the service
 * thread puts the new one in place, between two rounds, and queues every
 * client a HELLO naming it, in order with its RESULTs; the workers take
 * it up between two frames (edge_worker.c).  No connection is closed: the
 * model keeps its name (the same --model), so a client that asked for it
 * by name still has it; split clients, whose head was cut from the old
 * model, see the new hash in the HELLO and stop.  A load that fails
 * leaves the old model serving, said in the log and /metrics; the same
 * model again (same hash) changes nothing. */
#include "edge_internal.h"
#include "edge_log.h"

#include <libwebsockets.h>
#include <string.h>

void
edge_reload_request (EdgeServer *server)
{
  g_atomic_int_set (&server->reload_requested, 1);
  if (server->context != NULL)
    lws_cancel_service (server->context);
}

static gpointer
load_main (gpointer data)
{
  EdgeServer *server = data;
  GError *error = NULL;
  EdgeModel *m = edge_model_load (&server->config, server->config.workers, 0,
      &server->reload_cancel, &error);

  g_mutex_lock (&server->lock);
  server->reload_loaded = m;
  server->reload_error = m == NULL ? g_strdup (error->message) : NULL;
  server->reload_done = TRUE;
  g_mutex_unlock (&server->lock);
  g_clear_error (&error);
  lws_cancel_service (server->context);
  return NULL;
}

static void
start_load (EdgeServer *server)
{
  edge_log (EDGE_LOG_INFO, "model reload: loading %s again from %s",
      server->config.model,
      server->config.model_dir != NULL ? server->config.model_dir
                                       : "the model search path");
  server->reload_thread = g_thread_new ("edge-reload", load_main, server);
}

/* Service thread: m replaces the model; every client that took the old
 * one is told. */
static void
install (EdgeServer *server, EdgeModel *m)
{
  EdgeModel *old = server->model;
  int told = 0;

  m->generation = old->generation + 1;
  g_mutex_lock (&server->lock);
  server->model = m;
  for (GList *l = server->conns; l != NULL; l = l->next) {
    EdgeConn *c = l->data;
    if (!c->hello_done || c->closed || c->refused || c->stop_reading)
      continue;
    edge_conn_queue_hello_locked (c, m, FALSE);
    told++;
  }
  /* Idle workers take it up now, not at their next frame. */
  g_cond_broadcast (&server->work);
  g_mutex_unlock (&server->lock);

  edge_log (EDGE_LOG_INFO,
      "model reload: %s (hash %016" G_GINT64_MODIFIER "x) took over from %s "
      "(hash %016" G_GINT64_MODIFIER "x), loaded in %.1f ms beside it; %d "
      "client(s) told, none closed",
      m->name, m->hash, old->name, old->hash, m->load_ms, told);
  edge_metrics_add (&server->metrics.model_swaps, 1);
  edge_metrics_set (&server->metrics.model_generation, m->generation);
  edge_metrics_set (&server->metrics.model_load_us,
      (gint64) (m->load_ms * 1000));
  /* The workers hold their own references until they take m up. */
  edge_model_unref (old);
  lws_cancel_service (server->context);
}

void
edge_reload_poll (EdgeServer *server)
{
  EdgeModel *loaded;
  char *error;
  gboolean done;

  if (g_atomic_int_compare_and_exchange (&server->reload_requested, 1, 0)) {
    if (server->reload_thread != NULL)
      server->reload_again = TRUE; /* the files may have changed since */
    else
      start_load (server);
  }
  if (server->reload_thread == NULL)
    return;
  g_mutex_lock (&server->lock);
  done = server->reload_done;
  loaded = g_steal_pointer (&server->reload_loaded);
  error = g_steal_pointer (&server->reload_error);
  server->reload_done = FALSE;
  g_mutex_unlock (&server->lock);
  if (!done)
    return;
  g_thread_join (server->reload_thread);
  server->reload_thread = NULL;
  if (loaded == NULL) {
    edge_log (EDGE_LOG_WARN,
        "model reload failed: %s; %s (generation %u) serves on", error,
        server->model->name, server->model->generation);
    edge_metrics_add (&server->metrics.model_swaps_failed, 1);
  } else if (loaded->hash == server->model->hash
      && strcmp (loaded->name, server->model->name) == 0
      && edge_model_same_labels (loaded, server->model)) {
    /* The hash covers the cfg, the weights and the input size; a names
     * file changed alone is a new version too. */
    edge_log (EDGE_LOG_INFO,
        "model reload: %s is unchanged (hash %016" G_GINT64_MODIFIER
        "x, the same labels)",
        loaded->name, loaded->hash);
    edge_metrics_add (&server->metrics.model_swaps_unchanged, 1);
    edge_model_unref (loaded);
  } else {
    install (server, loaded);
  }
  g_free (error);
  if (server->reload_again) {
    server->reload_again = FALSE;
    start_load (server);
  }
}

void
edge_reload_stop (EdgeServer *server)
{
  if (server->reload_thread == NULL)
    return;
  /* Stopping: the load ends after the copy it is opening. */
  g_atomic_int_set (&server->reload_cancel, 1);
  g_thread_join (server->reload_thread);
  server->reload_thread = NULL;
  g_clear_pointer (&server->reload_loaded, edge_model_unref);
  g_clear_pointer (&server->reload_error, g_free);
}
