/* yoloswitch-edge: unmasked client frames found under TLS (wss://), the
 * half of edge_wire_check.c that recv() cannot do: there the socket's
 * bytes are encrypted.
 *
 * Why SSL_read() and why it returns what libssl's returned: libwebsockets
 * 4.1.6 reads a TLS connection with SSL_read() only (no SSL_read_ex, no
 * SSL_peek: lws_ssl_capable_read, lib/tls/openssl/openssl-ssl.c), and
 * when it gets n <= 0 it decides between retrying and closing from
 * SSL_get_error() and SSL_want(); handing it fewer bytes than were
 * decrypted, or none, would need those faked too.  So the decrypted bytes
 * are only shown to the scanner, which flags the connection at an
 * unmasked frame; libwebsockets parses all of them, and edge_server.c
 * refuses every message it delivers once the flag is up (those before the
 * bad frame in the same read too) and closes with 1002.
 *
 * Why RTLD_NEXT: libssl exports SSL_read under no second name (SSL_read_ex
 * returns 0 where SSL_read returns -1), and a call to SSL_read from here
 * would bind to this very function.  dlsym(RTLD_NEXT) finds the next
 * definition in load order, libssl.so.3's, loaded for libwebsockets; it
 * is looked up once and its absence stops a TLS server from starting.
 *
 * Nothing else in the server calls SSL_read (libav decodes memory, GLib
 * does no networking here); a call on another thread, or for a socket not
 * watched, is libssl's untouched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "edge_wire_check.h"

#include <dlfcn.h>
#include <lws_config.h>
#include <openssl/ssl.h>

#if defined(LWS_WITH_MBEDTLS)
/* SSL_read would never be called: wss:// would go unchecked. */
#error "libwebsockets built with mbedTLS: see edge_wire_tls.c"
#endif

typedef int (*SslRead) (SSL *ssl, void *buf, int num);

/* Any thread.  NULL if libssl is not loaded. */
static SslRead
real_ssl_read (void)
{
  static gsize once; /* 1: looked for, not found */

  if (g_once_init_enter (&once)) {
    gsize found = (gsize) dlsym (RTLD_NEXT, "SSL_read");
    g_once_init_leave (&once, found != 0 ? found : 1);
  }
  return once != 1 ? (SslRead) once : NULL;
}

const char *
edge_wire_check_tls_problem (void)
{
  if (real_ssl_read () == NULL)
    return "libssl's SSL_read() was not found behind yoloswitch-edge's own "
           "(is libwebsockets built with OpenSSL?): wss:// cannot be checked "
           "for unmasked frames";
  return NULL;
}

/* Any thread. */
__attribute__ ((visibility ("default"))) int
SSL_read (SSL *ssl, void *buf, int num)
{
  SslRead real = real_ssl_read ();
  int n;

  if (real == NULL) /* only libssl itself could have called us */
    g_error ("SSL_read() called but libssl's was not found");
  n = real (ssl, buf, num);
  if (n > 0)
    edge_wire_check_feed_tls (SSL_get_fd (ssl), buf, (size_t) n);
  return n;
}
