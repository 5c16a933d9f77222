/* yoloswitch-edge: per-address backoff after wrong tokens, so a token
 * cannot be guessed at network speed.  The first wrong token from an
 * address costs nothing (a typo); from the second on, that address's
 * HELLOs are refused unchecked for a time that doubles with each further
 * one, up to a maximum.  A right token, or a long quiet spell, forgets the
 * address.  The table is bounded: when full, the address whose last
 * failure is oldest is forgotten first.
 *
 * Plain GLib, no sockets: the service thread owns it (no lock). */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_THROTTLE_H
#define YOLOSWITCH_OFFLOAD_EDGE_THROTTLE_H

#include <glib.h>

typedef struct EdgeThrottle EdgeThrottle;

/* backoff_ms 0: never throttles.  Times are monotonic microseconds. */
EdgeThrottle *edge_throttle_new (int table_size, int backoff_ms,
    int backoff_max_ms);
void edge_throttle_free (EdgeThrottle *t);

/* Milliseconds before `address` may have a token checked again; 0: now. */
gint64 edge_throttle_wait_ms (EdgeThrottle *t, const char *address,
    gint64 now_us);

/* A wrong token from `address`; returns the wait it now has, in ms. */
gint64 edge_throttle_failed (EdgeThrottle *t, const char *address,
    gint64 now_us);

/* A right token: the address starts afresh. */
void edge_throttle_succeeded (EdgeThrottle *t, const char *address);

/* Addresses remembered (for tests). */
int edge_throttle_size (const EdgeThrottle *t);

#endif
