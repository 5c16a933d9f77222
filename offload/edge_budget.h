/* yoloswitch-edge: the memory budget all clients share
 * (--memory-budget-bytes); see edge_budget.c for the rules. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_BUDGET_H
#define YOLOSWITCH_OFFLOAD_EDGE_BUDGET_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct EdgeConn EdgeConn;
typedef struct EdgeServer EdgeServer;

/* Any thread, no server lock needed (the budget has its own): `bytes` > 0
 * asks for memory before it is allocated, false when refused; < 0 gives
 * it back (always true).  The signature of YsMemoryFunc (protocol.h), so
 * the parser and the decoder charge their connection directly. */
bool edge_budget_charge (int64_t bytes, void *conn);
/* The same for a message being received: past the budget, a client under
 * its fair share is let in while room is made (edge_budget.c, rule 2). */
bool edge_budget_charge_message (int64_t bytes, void *conn);

/* Service thread: when charges went past the budget, marks the
 * connections furthest over their fair shares to be closed (close code
 * 4004, edge_guard.c) and starts their timers. */
void edge_budget_close_over (EdgeServer *server);

#endif
