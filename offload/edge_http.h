/* yoloswitch-edge's HTTP side, on the service thread: /healthz, /metrics,
 * and the model catalog (issue 16): GET /models (JSON, edge_catalog.h) and
 * GET /models/NAME/FILE, a file of a listed model with a strong ETag (its
 * sha256), If-None-Match (304) and one byte range (206, http_range.h), so
 * a device on a flaky link resumes a download.  HEAD answers the headers
 * GET would; other methods get 405.  HTTP/1.1 only (the server's ALPN).
 *
 * Every answer is sent as the socket takes it: the headers alone, then
 * the body in chunks of EDGE_HTTP_CHUNK, from memory (the catalog JSON is
 * the snapshot's own, referenced, not copied) or from a file opened at the
 * request.  A download holds one chunk of memory and one descriptor
 * whatever the file's size, and serves the bytes its ETag names: a file
 * changed in place since the catalog hashed it is answered 503 (retry),
 * and one changed while it is sent is cut off before its last byte.  At
 * most --max-downloads run at once and EDGE_HTTP_DOWNLOADS_PER_ADDRESS
 * from one address (503 with Retry-After beyond); one whose client takes
 * no bytes for --download-stall-ms, or takes them slower than
 * EDGE_HTTP_MIN_RATE on average after EDGE_HTTP_RATE_GRACE_S, is closed.
 * With --token set, /models needs "Authorization: Bearer TOKEN" (401
 * otherwise); /healthz and /metrics stay open.  File reads are assumed
 * local and fast (a catalog folder on a network file system could stall
 * the service thread: keep it on local storage). */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_HTTP_H
#define YOLOSWITCH_OFFLOAD_EDGE_HTTP_H

#include "edge_server.h"

#include <glib.h>
#include <libwebsockets.h>
#include <sys/stat.h>

#define EDGE_HTTP_CHUNK (16 << 10)
#define EDGE_HTTP_DOWNLOADS_PER_ADDRESS 2
#define EDGE_HTTP_MIN_RATE 1024 /* bytes a second, on average */
#define EDGE_HTTP_RATE_GRACE_S 30

struct EdgeCatalogSnapshot;

/* One HTTP request's answer, in the connection's storage (zeroed by
 * libwebsockets: nothing in it is ours until `started`). */
typedef struct {
  unsigned status;
  const char *type;
  /* the body from memory: `owned` (a sentence), or the catalog JSON of
   * `snap`; [pos, length) still to send */
  char *owned;
  struct EdgeCatalogSnapshot *snap;
  const char *data;
  gsize length, pos;
  char etag[72]; /* "" when none */
  char content_range[96]; /* "" when none */
  gboolean ranges; /* Accept-Ranges: bytes */
  int retry_after_s; /* 0: none */
  gboolean wants_auth; /* 401: WWW-Authenticate */
  gboolean head; /* HEAD: the headers only */
  gboolean not_allowed; /* 405: Allow */
  /* A file: bytes [file_pos, file_end) still to send from fd (-1: none),
   * which must stay as fstat found it when opened. */
  int fd;
  guint64 file_pos, file_end, file_sent;
  struct stat opened;
  gint64 started_us;
  guint8 *chunk; /* LWS_PRE + EDGE_HTTP_CHUNK, while sending a body */
  char peer[64]; /* for the per-address count */
  gboolean started; /* an answer is prepared (begin was called) */
  gboolean headers_sent;
  gboolean counted; /* in the server's downloads */
} EdgeHttp;

/* The request for path arrived (LWS_CALLBACK_HTTP): prepares the answer
 * and asks for a writeable callback. */
void edge_http_begin (EdgeServer *server, struct lws *wsi, EdgeHttp *http,
    const char *path);
/* LWS_CALLBACK_HTTP_WRITEABLE: sends the headers, then the next chunk;
 * -1 to close the connection (libwebsockets' convention). */
int edge_http_writeable (EdgeServer *server, struct lws *wsi, EdgeHttp *http);
/* The connection closed or was taken over: frees what the answer holds. */
void edge_http_end (EdgeServer *server, EdgeHttp *http);

#endif
