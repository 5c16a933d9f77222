/* yoloswitch-edge: why this file exists.  RFC 6455 5.1: a server must
 * fail the connection of a client that sends an unmasked frame.
 * libwebsockets 4.1 (Debian 12's; 4.4 too) unmasks a frame whose mask bit
 * is 0 with a zero key and tells the application nothing: no callback, no
 * option and no accessor exposes the bit (lws_frame_is_binary() and
 * lws_is_final_fragment() are all of the header it hands out).
 *
 * Why an interposer: libwebsockets reads a plain-TCP socket with recv()
 * only (lws_ssl_capable_read_no_ssl, lib/core-net/output.c), and a recv()
 * defined in this executable is the one the library's calls bind to.  Ours
 * is libc's (recvfrom() without an address is recv()) followed, for the
 * sockets the service thread registered, by wire_scan.c over the bytes
 * that came.  At the first unmasked frame libwebsockets is handed only
 * the bytes before it, so it never acts on that frame nor on anything
 * after it (an unmasked PING gets no PONG); later bytes are read and
 * dropped; the service loop closes the connection with 1002
 * (edge_server.c, edge_guard.c).  Every byte reaches the scanner exactly
 * once and in order, however libwebsockets buffers afterwards.
 *
 * Under TLS the bytes at recv() are encrypted (and OpenSSL reads with
 * read()): edge_wire_tls.c shows this scanner the bytes SSL_read()
 * decrypted instead, without truncating them, so there the connection is
 * only flagged and edge_server.c refuses what libwebsockets delivers
 * after.  A socket no longer registered, or recv() on any other thread,
 * is libc's recv() untouched (nothing else in the server uses sockets:
 * GLib gives us no networking here, libav decodes memory).
 *
 * Every function here runs on the service thread, but recv(), which runs
 * on any. */
#undef _FORTIFY_SOURCE /* it may define recv() inline */

#include "edge_wire_check.h"
#include "wire_scan.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A socket being looked at, and which reads show it its bytes. */
typedef struct {
  YsWireState scan;
  gboolean tls; /* SSL_read()'s, never recv()'s */
} Watched;

/* fd -> Watched *: the sockets being looked at.  No lock: the service
 * thread, the only one that reads sockets, is the only one touching it
 * (asserted at each registration, and recv() elsewhere does not look). */
static GHashTable *watched;
static GThread *service_thread;
static __thread gboolean on_service_thread;
static guint new_unmasked;

void
edge_wire_check_watch (int fd, gboolean tls)
{
  Watched *w = g_new0 (Watched, 1);

  if (service_thread == NULL) {
    service_thread = g_thread_self ();
    on_service_thread = TRUE;
    watched = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  }
  g_assert (service_thread == g_thread_self ());
  /* A new connection may reuse a closed one's number: it starts afresh. */
  w->tls = tls;
  g_hash_table_replace (watched, GINT_TO_POINTER (fd), w);
}

void
edge_wire_check_forget (int fd)
{
  if (watched != NULL && fd >= 0)
    g_hash_table_remove (watched, GINT_TO_POINTER (fd));
}

gboolean
edge_wire_check_unmasked (int fd)
{
  Watched *w = watched != NULL && fd >= 0
      ? g_hash_table_lookup (watched, GINT_TO_POINTER (fd))
      : NULL;

  return w != NULL && w->scan.phase == YS_WIRE_UNMASKED;
}

/* Any thread (edge_wire_tls.c's SSL_read). */
void
edge_wire_check_feed_tls (int fd, const void *buf, size_t n)
{
  Watched *w;

  if (!on_service_thread || fd < 0
      || (w = g_hash_table_lookup (watched, GINT_TO_POINTER (fd))) == NULL
      || !w->tls || w->scan.phase == YS_WIRE_UNMASKED)
    return;
  ys_wire_scan (&w->scan, buf, n);
  if (w->scan.phase == YS_WIRE_UNMASKED)
    new_unmasked++;
}

guint
edge_wire_check_take_new (void)
{
  guint n = new_unmasked;

  new_unmasked = 0;
  return n;
}

/* Any thread. */
__attribute__ ((visibility ("default"))) ssize_t
recv (int fd, void *buf, size_t len, int flags)
{
  ssize_t n = recvfrom (fd, buf, len, flags, NULL, NULL);
  Watched *w;
  YsWireState *s;
  size_t keep;

  /* A TLS socket's bytes here are encrypted (libwebsockets may peek at
   * them to tell TLS from plain HTTP). */
  if (n <= 0 || !on_service_thread || (flags & MSG_PEEK) != 0
      || (w = g_hash_table_lookup (watched, GINT_TO_POINTER (fd))) == NULL
      || w->tls)
    return n;
  s = &w->scan;
  if (s->phase == YS_WIRE_UNMASKED) {
    errno = EAGAIN; /* dropped: the connection is being failed */
    return -1;
  }
  keep = ys_wire_scan (s, buf, (size_t) n);
  if (s->phase == YS_WIRE_UNMASKED)
    new_unmasked++;
  if (keep == 0) {
    errno = EAGAIN; /* 0 would say end of stream */
    return -1;
  }
  return (ssize_t) keep;
}
