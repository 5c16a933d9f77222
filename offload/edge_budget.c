/* yoloswitch-edge: the memory budget all clients share.
 *
 * What a client can make the server hold grows with the number of clients:
 * the message being received (up to --max-message-bytes), frames waiting
 * to be decoded (--max-pending-bytes), the decoder's pictures (up to 16
 * references of --max-frame-pixels: ~600 MB for one hostile 4096x4096
 * stream).  Per-client limits bound one client; 64 at their limits would
 * still hold tens of gigabytes.  So each of those is charged to its
 * connection here before it is allocated (the parser's payload buffer,
 * edge_conn.c's copy of a waiting packet, every picture libavcodec asks
 * for, decoder_memory.c), against --memory-budget-bytes for all of them.
 *
 * The rules, in the order they are applied to a charge:
 * 1. within the budget: granted;
 * 2. past it, by a connection still under its fair share (the budget
 *    divided among the connections holding any of it): the connections
 *    furthest over their shares are closed (code 4004) until what they
 *    hold makes room, so a camera that needs little is not locked out by
 *    clients holding a lot.  Meanwhile a decoder, a picture or a waiting
 *    frame is refused (that frame is lost; the next one finds room), and
 *    a message being received is let in (refusing it would close the
 *    camera: the budget is passed by such messages until the victims
 *    are gone, by BUDGET_PASS_BYTES at most);
 * 3. past it, by a connection over its share: refused.  The caller drops
 *    that frame (DROP backlog, or decode-error with NEED_KEYFRAME for a
 *    picture) or fails that message (ERROR too-large).
 *
 * Locking: the budget's own mutex, taken alone (callers may hold the
 * server lock; the charge never takes it), guards the totals and each
 * connection's `budget_*` fields. */
#include "edge_budget.h"

#include "edge_internal.h"
#include "edge_log.h"

#include <libwebsockets.h>

/* How far messages being received may take the total past the budget
 * while room is made (rule 2): a camera's keyframe gets in, 48 clients'
 * 1 MiB messages do not (they took it 50 MB past). */
#define BUDGET_PASS_BYTES ((gint64) 16 << 20)

/* Lock held. */
static gint64
fair_share_locked (EdgeServer *server)
{
  return server->config.memory_budget_bytes / MAX (1, server->budget_holders);
}

static bool
charge (int64_t bytes, EdgeConn *conn, bool may_pass)
{
  EdgeServer *server = conn->server;
  gint64 limit = server->config.memory_budget_bytes;
  bool granted = true, wake = false;

  if (bytes == 0)
    return true;
  g_mutex_lock (&server->budget_lock);
  if (bytes < 0) {
    bytes = MAX (bytes, -conn->budget_charged);
    conn->budget_charged += bytes;
    server->budget_used += bytes;
    server->budget_holders -= conn->budget_charged == 0 && bytes != 0;
    g_mutex_unlock (&server->budget_lock);
    edge_metrics_add (&server->metrics.budget_used, bytes);
    return true;
  }
  if (conn->budget_charged == 0)
    server->budget_holders++;
  if (server->budget_used + bytes <= limit) {
    /* rule 1 */
  } else if (!conn->budget_victim
      && conn->budget_charged + bytes <= fair_share_locked (server)) {
    /* rule 2: room is made; a message is let in meanwhile */
    wake = !server->budget_over;
    server->budget_over = TRUE;
    if (!may_pass || server->budget_used + bytes > limit + BUDGET_PASS_BYTES) {
      server->budget_wanted += bytes;
      granted = false;
    }
  } else {
    granted = false; /* rule 3 */
  }
  if (!granted)
    server->budget_holders -= conn->budget_charged == 0;
  if (granted) {
    conn->budget_charged += bytes;
    server->budget_used += bytes;
  }
  g_mutex_unlock (&server->budget_lock);
  edge_metrics_add (granted ? &server->metrics.budget_used
                            : &server->metrics.budget_refused,
      granted ? bytes : 1);
  if (wake)
    lws_cancel_service (server->context);
  return granted;
}

bool
edge_budget_charge (int64_t bytes, void *conn)
{
  return charge (bytes, conn, false);
}

bool
edge_budget_charge_message (int64_t bytes, void *conn)
{
  return charge (bytes, conn, true);
}

void
edge_budget_close_over (EdgeServer *server)
{
  GPtrArray *victims = NULL;
  gint64 excess, share;

  g_mutex_lock (&server->budget_lock);
  if (!server->budget_over) {
    g_mutex_unlock (&server->budget_lock);
    return;
  }
  server->budget_over = FALSE;
  excess = server->budget_used + server->budget_wanted
      - server->config.memory_budget_bytes;
  server->budget_wanted = 0;
  share = fair_share_locked (server);
  /* What victims already marked hold comes back when they close. */
  for (GList *l = server->conns; l != NULL; l = l->next) {
    EdgeConn *c = l->data;
    if (c->budget_victim)
      excess -= c->budget_charged;
  }
  while (excess > 0) {
    EdgeConn *worst = NULL;
    for (GList *l = server->conns; l != NULL; l = l->next) {
      EdgeConn *c = l->data;
      if (!c->budget_victim && c->wsi != NULL && c->budget_charged > share
          && (worst == NULL || c->budget_charged > worst->budget_charged))
        worst = c;
    }
    if (worst == NULL)
      break; /* all at or under their shares: it comes back as they go */
    worst->budget_victim = TRUE;
    excess -= worst->budget_charged;
    if (victims == NULL)
      victims = g_ptr_array_new ();
    g_ptr_array_add (victims, worst);
    edge_log (EDGE_LOG_WARN,
        "%s %s: holds %" G_GINT64_FORMAT " KiB of the memory budget, more "
        "than its share of %" G_GINT64_FORMAT " KiB, while other clients need "
        "room (--memory-budget-bytes %" G_GINT64_FORMAT "): closing it",
        worst->peer, worst->client_name != NULL ? worst->client_name : "?",
        worst->budget_charged / 1024, share / 1024,
        server->config.memory_budget_bytes);
  }
  g_mutex_unlock (&server->budget_lock);
  for (guint i = 0; victims != NULL && i < victims->len; i++) {
    EdgeConn *c = g_ptr_array_index (victims, i);
    /* The timer callback closes it (edge_guard_on_timer). */
    lws_set_timer_usecs (c->wsi, 1);
  }
  if (victims != NULL)
    g_ptr_array_free (victims, TRUE);
}
