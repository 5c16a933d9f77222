/* yoloswitch-edge's HTTP side, on the service thread: /healthz, /metrics,
 * and the model catalog (issue 16): GET /models (JSON, edge_catalog.h) and
 * GET /models/NAME/FILE, a file of a listed model with a strong ETag (its
 * sha256), If-None-Match (304) and one byte range (206, http_range.h), so
 * a device on a flaky link resumes a download.
 *
 * Files are sent in chunks of EDGE_HTTP_CHUNK as the socket takes them,
 * from a descriptor opened at the request: a download holds one chunk of
 * memory whatever the file's size, and serves the bytes the ETag named
 * even if the folder changes meanwhile (a file changed in place since the
 * catalog hashed it is answered 503, retry, until the next scan).  At most
 * --max-downloads run at once (503 with Retry-After beyond); one whose
 * client takes no bytes for --download-stall-ms is closed.  With --token
 * set, /models needs "Authorization: Bearer TOKEN" (401 otherwise);
 * /healthz and /metrics stay open. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_HTTP_H
#define YOLOSWITCH_OFFLOAD_EDGE_HTTP_H

#include "edge_server.h"

#include <glib.h>
#include <libwebsockets.h>

#define EDGE_HTTP_CHUNK (16 << 10)

/* One HTTP request's answer, in the connection's storage. */
typedef struct {
  unsigned status;
  const char *type;
  char *body; /* an answer from memory; NULL with fd >= 0: a file */
  gsize body_length;
  char etag[72]; /* "" when none */
  char content_range[96]; /* "" when none */
  gboolean ranges; /* Accept-Ranges: bytes */
  int retry_after_s; /* 0: none */
  gboolean wants_auth; /* 401: WWW-Authenticate */
  /* A file: bytes [pos, end) still to send from fd; -1: none. */
  int fd;
  guint64 pos, end;
  guint8 *chunk; /* LWS_PRE + EDGE_HTTP_CHUNK, while sending a file */
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
