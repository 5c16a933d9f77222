/* yoloswitch-edge: unmasked client frames refused although libwebsockets
 * 4.1 cannot tell them apart (see edge_wire_check.c for why and how).
 *
 * Every function here runs on the service thread. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_WIRE_CHECK_H
#define YOLOSWITCH_OFFLOAD_EDGE_WIRE_CHECK_H

#include <glib.h>

/* A connection libwebsockets just accepted on `fd`: its bytes are looked
 * at from now on, from the start of its request; under TLS (`tls`) the
 * bytes SSL_read() decrypts, else those recv() reads. */
void edge_wire_check_watch (int fd, gboolean tls);

/* The connection on `fd` is closing, or is plain HTTP: no longer looked
 * at. */
void edge_wire_check_forget (int fd);

/* TRUE once an unmasked frame came on `fd`.  Plain TCP: libwebsockets
 * was given the bytes before it and will get nothing more.  TLS: it was
 * given every byte SSL_read() returned, those around the frame too, so
 * what it delivers from now on must not be acted on. */
gboolean edge_wire_check_unmasked (int fd);

/* How many connections saw their first unmasked frame since the last
 * call: the service loop then looks for them. */
guint edge_wire_check_take_new (void);

/* The `n` bytes SSL_read() just decrypted for the socket `fd`
 * (edge_wire_tls.c): scanned if `fd` is a watched TLS connection.  Any
 * thread; looks only on the service thread. */
void edge_wire_check_feed_tls (int fd, const void *buf, size_t n);

/* NULL when SSL_read() is interposed and libssl's own was found, else
 * why not (checked before a TLS server starts). */
const char *edge_wire_check_tls_problem (void);

#endif
