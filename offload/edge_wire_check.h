/* yoloswitch-edge: unmasked client frames refused although libwebsockets
 * 4.1 cannot tell them apart (see edge_wire_check.c for why and how).
 *
 * Every function here runs on the service thread. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_WIRE_CHECK_H
#define YOLOSWITCH_OFFLOAD_EDGE_WIRE_CHECK_H

#include <glib.h>

/* A connection libwebsockets just accepted on `fd` (plain TCP, not TLS):
 * its bytes are looked at from now on, from the start of its request. */
void edge_wire_check_watch (int fd);

/* The connection on `fd` is closing, or is plain HTTP: no longer looked
 * at. */
void edge_wire_check_forget (int fd);

/* TRUE once an unmasked frame came on `fd`: libwebsockets was given the
 * bytes before it and will get nothing more. */
gboolean edge_wire_check_unmasked (int fd);

/* How many connections saw their first unmasked frame since the last
 * call: the service loop then looks for them. */
guint edge_wire_check_take_new (void);

#endif
