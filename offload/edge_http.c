/* yoloswitch-edge's HTTP answers; see edge_http.h. */
#include "edge_http.h"

#include "edge_catalog.h"
#include "edge_internal.h"
#include "edge_log.h"
#include "http_range.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define HEADER_ROOM 1024
#define TEXT "text/plain; charset=utf-8"
#define MAX_AUTHORIZATION 4096 /* longer: refused unread */

static void
answer_text (EdgeHttp *h, unsigned status, const char *text)
{
  h->status = status;
  h->type = TEXT;
  g_free (h->owned);
  h->owned = g_strdup (text);
  h->data = h->owned;
  h->length = strlen (text);
}

/* The request's header, up to max - 1 bytes; "" when absent or longer
 * (client bytes: never more than the buffer). */
static void
header (struct lws *wsi, enum lws_token_indexes token, char *out, int max)
{
  int length = lws_hdr_total_length (wsi, token);
  out[0] = '\0';
  if (length <= 0 || length >= max || lws_hdr_copy (wsi, out, max, token) < 0)
    out[0] = '\0';
}

static gboolean
has_header (struct lws *wsi, enum lws_token_indexes token)
{
  return lws_hdr_total_length (wsi, token) > 0;
}

/* Constant time in the token's length: how long a wrong guess takes says
 * nothing about how much of it was right. */
static gboolean
authorized (EdgeServer *server, struct lws *wsi)
{
  const char *token = server->config.token;
  int n = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  char *given, *expected;
  gsize a, b;
  guint diff;

  if (token == NULL)
    return TRUE;
  if (n <= 0 || n > MAX_AUTHORIZATION)
    return FALSE;
  given = g_malloc0 ((gsize) n + 1);
  if (lws_hdr_copy (wsi, given, n + 1, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
    given[0] = '\0';
  expected = g_strconcat ("Bearer ", token, NULL);
  a = strlen (given);
  b = strlen (expected);
  diff = a != b;
  for (gsize i = 0; i < b; i++)
    diff |= (guint) (i < a ? given[i] : 0) ^ (guint) expected[i];
  g_free (given);
  g_free (expected);
  return diff == 0;
}

/* If-None-Match names our tag (or is "*"): the client has these bytes. */
static gboolean
not_modified (struct lws *wsi, const char *etag)
{
  char given[512];
  header (wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, given, sizeof (given));
  return given[0] != '\0'
      && (strcmp (g_strstrip (given), "*") == 0
          || strstr (given, etag) != NULL);
}

static void
answer_not_modified (EdgeHttp *h)
{
  h->status = HTTP_STATUS_NOT_MODIFIED;
  h->data = NULL;
  h->length = 0;
}

static void
answer_catalog (EdgeServer *server, struct lws *wsi, EdgeHttp *h)
{
  h->snap = edge_catalog_get (server->catalog);
  g_strlcpy (h->etag, edge_catalog_etag (h->snap), sizeof (h->etag));
  if (not_modified (wsi, h->etag)) {
    answer_not_modified (h);
    return;
  }
  h->status = HTTP_STATUS_OK;
  h->type = "application/json";
  h->data = edge_catalog_json (h->snap, &h->length);
}

static int
downloads_from (EdgeServer *server, const char *peer)
{
  return GPOINTER_TO_INT (
      g_hash_table_lookup (server->downloads_by_peer, peer));
}

static void
count_download (EdgeServer *server, EdgeHttp *h, int by)
{
  int n = downloads_from (server, h->peer) + by;
  server->downloads += by;
  if (n > 0)
    g_hash_table_insert (server->downloads_by_peer, g_strdup (h->peer),
        GINT_TO_POINTER (n));
  else
    g_hash_table_remove (server->downloads_by_peer, h->peer);
}

static gboolean
same_file (const struct stat *a, const struct stat *b)
{
  return a->st_size == b->st_size && a->st_ino == b->st_ino
      && a->st_dev == b->st_dev && a->st_mtim.tv_sec == b->st_mtim.tv_sec
      && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
      && a->st_ctim.tv_sec == b->st_ctim.tv_sec
      && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Opens f as the catalog hashed it; FALSE with the answer set. */
static gboolean
open_listed (EdgeHttp *h, const EdgeCatalogFile *f)
{
  int fd = open (f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int err = errno;

  if (fd >= 0 && fstat (fd, &h->opened) == 0 && S_ISREG (h->opened.st_mode)
      && h->opened.st_size == f->bytes && (guint64) h->opened.st_ino == f->inode
      && (gint64) h->opened.st_mtim.tv_sec * G_USEC_PER_SEC
              + h->opened.st_mtim.tv_nsec / 1000
          == f->mtime_us) {
    h->fd = fd;
    return TRUE;
  }
  if (fd >= 0)
    close (fd);
  if (fd < 0 && err != ENOENT) {
    edge_log (EDGE_LOG_WARN, "catalog: cannot open %s: %s", f->path,
        g_strerror (err));
    h->retry_after_s = err == EMFILE || err == ENFILE ? 2 : 0;
    answer_text (h,
        h->retry_after_s ? HTTP_STATUS_SERVICE_UNAVAILABLE
                         : HTTP_STATUS_INTERNAL_SERVER_ERROR,
        h->retry_after_s ? "busy: the server is out of file descriptors; "
                           "retry\n"
                         : "the server cannot read this file (its log "
                           "says why)\n");
    return FALSE;
  }
  /* Gone or changed: the next scan lists what is there now. */
  h->retry_after_s = 2;
  answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE,
      "changed: the file changed since the catalog read it; retry once GET "
      "/models lists its new sha256\n");
  return FALSE;
}

/* GET /models/NAME/FILE. */
static void
answer_file (EdgeServer *server, struct lws *wsi, EdgeHttp *h, const char *rest)
{
  const char *slash = strchr (rest, '/');
  EdgeCatalogSnapshot *snap;
  const EdgeCatalogFile *f;
  char *model;
  char range_text[HTTP_RANGE_MAX_TEXT + 1], if_range[128];
  HttpRange range;

  if (slash == NULL || strchr (slash + 1, '/') != NULL) {
    answer_text (h, HTTP_STATUS_NOT_FOUND,
        "not found: model files are /models/NAME/FILE, as GET /models "
        "lists them\n");
    return;
  }
  model = g_strndup (rest, (gsize) (slash - rest));
  snap = edge_catalog_get (server->catalog);
  f = edge_catalog_find (snap, model, slash + 1);
  g_free (model);
  if (f == NULL) {
    answer_text (h, HTTP_STATUS_NOT_FOUND,
        "not found: no such model file in the catalog; GET /models lists "
        "what this server holds\n");
    goto out;
  }
  g_snprintf (h->etag, sizeof (h->etag), "\"%s\"", f->sha256);
  h->ranges = TRUE;
  if (not_modified (wsi, h->etag)) {
    answer_not_modified (h);
    goto out;
  }
  if (server->downloads >= server->config.max_downloads
      || downloads_from (server, h->peer) >= EDGE_HTTP_DOWNLOADS_PER_ADDRESS) {
    h->retry_after_s = 1;
    answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE,
        server->downloads >= server->config.max_downloads
            ? "busy: as many downloads as --max-downloads allows are "
              "running; retry\n"
            : "busy: this address already has its downloads running; "
              "retry\n");
    goto out;
  }
  if (!open_listed (h, f))
    goto out;
  header (wsi, WSI_TOKEN_HTTP_RANGE, range_text, sizeof (range_text));
  header (wsi, WSI_TOKEN_HTTP_IF_RANGE, if_range, sizeof (if_range));
  range = http_range_parse (range_text[0] != '\0' ? range_text : NULL,
      strlen (range_text), (guint64) f->bytes);
  /* If-Range with another tag (or one too long to be ours): the client's
   * part is of other bytes. */
  if (has_header (wsi, WSI_TOKEN_HTTP_IF_RANGE)
      && strcmp (if_range, h->etag) != 0)
    range.kind = HTTP_RANGE_NONE;
  h->type = strcmp (f->role, "cfg") == 0 || strcmp (f->role, "labels") == 0
      ? TEXT
      : "application/octet-stream";
  switch (range.kind) {
    case HTTP_RANGE_UNSATISFIABLE:
      close (h->fd);
      h->fd = -1;
      g_snprintf (h->content_range, sizeof (h->content_range),
          "bytes */%" G_GINT64_FORMAT, f->bytes);
      answer_text (h, HTTP_STATUS_REQ_RANGE_NOT_SATISFIABLE,
          "range not satisfiable: it starts past the file's end\n");
      break;
    case HTTP_RANGE_PARTIAL:
      h->status = HTTP_STATUS_PARTIAL_CONTENT;
      h->file_pos = range.first;
      h->file_end = range.last + 1;
      g_snprintf (h->content_range, sizeof (h->content_range),
          "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GINT64_FORMAT,
          range.first, range.last, f->bytes);
      break;
    case HTTP_RANGE_NONE:
      h->status = HTTP_STATUS_OK;
      h->file_pos = 0;
      h->file_end = (guint64) f->bytes;
      break;
  }
  if (h->fd >= 0 && !h->head) {
    count_download (server, h, 1);
    h->counted = TRUE;
  }
out:
  edge_catalog_snapshot_unref (snap);
}

void
edge_http_begin (EdgeServer *server, struct lws *wsi, EdgeHttp *h,
    const char *path)
{
  GString *body;
  gboolean models;

  edge_http_end (server, h);
  memset (h, 0, sizeof (*h));
  h->fd = -1;
  h->started = TRUE;
  h->started_us = g_get_monotonic_time ();
  if (lws_get_peer_simple (wsi, h->peer, sizeof (h->peer)) == NULL)
    g_strlcpy (h->peer, "?", sizeof (h->peer));
  h->head = has_header (wsi, WSI_TOKEN_HEAD_URI);
  models = server->catalog != NULL
      && (strcmp (path, "/models") == 0 || g_str_has_prefix (path, "/models/"));
  if (!h->head && !has_header (wsi, WSI_TOKEN_GET_URI)) {
    h->not_allowed = TRUE;
    answer_text (h, HTTP_STATUS_METHOD_NOT_ALLOWED,
        "method not allowed: GET or HEAD\n");
  } else if (strcmp (path, "/healthz") == 0) {
    if (server->drain_deadline_us != 0)
      answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE, "draining\n");
    else
      answer_text (h, HTTP_STATUS_OK, "ok\n");
  } else if (strcmp (path, "/metrics") == 0) {
    body = g_string_new (NULL);
    edge_metrics_render (&server->metrics, server->config.workers, body);
    h->status = HTTP_STATUS_OK;
    h->type = "text/plain; version=0.0.4; charset=utf-8";
    h->length = body->len;
    h->owned = g_string_free (body, FALSE);
    h->data = h->owned;
  } else if (models && !authorized (server, wsi)) {
    h->wants_auth = TRUE;
    answer_text (h, HTTP_STATUS_UNAUTHORIZED,
        "unauthorized: this server has a token; send \"Authorization: "
        "Bearer TOKEN\"\n");
  } else if (models
      && (strcmp (path, "/models") == 0 || strcmp (path, "/models/") == 0)) {
    answer_catalog (server, wsi, h);
  } else if (models) {
    answer_file (server, wsi, h, path + strlen ("/models/"));
  } else {
    answer_text (h, HTTP_STATUS_NOT_FOUND,
        server->catalog != NULL
            ? "not found: this is a yoloswitch.v2 WebSocket server; HTTP "
              "has /healthz, /metrics, /models and /models/NAME/FILE\n"
            : "not found: this is a yoloswitch.v2 WebSocket server; HTTP "
              "has /healthz and /metrics (no model catalog: --catalog-dir "
              "none)\n");
  }
  lws_callback_on_writable (wsi);
}

static gboolean
add_header (struct lws *wsi, enum lws_token_indexes token, const char *value,
    uint8_t **p, uint8_t *end)
{
  return lws_add_http_header_by_token (wsi, token, (const uint8_t *) value,
             (int) strlen (value), p, end)
      == 0;
}

static gboolean
add_named (struct lws *wsi, const char *name, const char *value, uint8_t **p,
    uint8_t *end)
{
  return lws_add_http_header_by_name (wsi, (const uint8_t *) name,
             (const uint8_t *) value, (int) strlen (value), p, end)
      == 0;
}

static guint64
body_length (const EdgeHttp *h)
{
  return h->fd >= 0 ? h->file_end - h->file_pos : h->length;
}

static gboolean
write_headers (struct lws *wsi, EdgeHttp *h, uint8_t **p, uint8_t *end)
{
  char retry[16];
  gboolean ok;

  /* A 304 has no body and must not describe one (RFC 9110 15.4.5). */
  if (h->status == HTTP_STATUS_NOT_MODIFIED)
    ok = lws_add_http_header_status (wsi, h->status, p, end) == 0;
  else
    ok = lws_add_http_common_headers (wsi, h->status, h->type, body_length (h),
             p, end)
        == 0;
  if (ok && h->etag[0] != '\0')
    ok = add_header (wsi, WSI_TOKEN_HTTP_ETAG, h->etag, p, end)
        && add_header (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, "no-cache", p, end);
  if (ok && h->ranges)
    ok = add_header (wsi, WSI_TOKEN_HTTP_ACCEPT_RANGES, "bytes", p, end);
  if (ok && h->content_range[0] != '\0')
    ok = add_header (wsi, WSI_TOKEN_HTTP_CONTENT_RANGE, h->content_range, p,
        end);
  if (ok && h->retry_after_s > 0) {
    g_snprintf (retry, sizeof (retry), "%d", h->retry_after_s);
    ok = add_named (wsi, "retry-after:", retry, p, end);
  }
  if (ok && h->wants_auth)
    ok = add_named (wsi, "www-authenticate:", "Bearer", p, end);
  if (ok && h->not_allowed)
    ok = add_named (wsi, "allow:", "GET, HEAD", p, end);
  return ok && lws_finalize_http_header (wsi, p, end) == 0;
}

/* A client that stops reading is closed after the stall time. */
static void
set_stall_timeout (EdgeServer *server, struct lws *wsi)
{
  lws_set_timeout (wsi, PENDING_TIMEOUT_HTTP_CONTENT,
      MAX (1, (server->config.download_stall_ms + 999) / 1000));
}

/* The answer is complete: -1 when the connection is to close. */
static int
complete (EdgeServer *server, struct lws *wsi, EdgeHttp *h)
{
  edge_http_end (server, h);
  return lws_http_transaction_completed (wsi) ? -1 : 0;
}

/* The next chunk of a file body into h->chunk; its length, or -1 when
 * the file cannot be read or changed under us (the client is cut off
 * before the last byte: it never takes other bytes for the tag's). */
static gssize
read_file_chunk (EdgeHttp *h, gsize want)
{
  struct stat now;
  ssize_t n;

  do
    n = pread (h->fd, h->chunk + LWS_PRE, want, (off_t) h->file_pos);
  while (n < 0 && errno == EINTR);
  if (n <= 0 || fstat (h->fd, &now) != 0 || !same_file (&now, &h->opened))
    return -1;
  return n;
}

int
edge_http_writeable (EdgeServer *server, struct lws *wsi, EdgeHttp *h)
{
  gsize want;
  gssize n;
  gboolean last;

  if (!h->started)
    return 0;
  if (!h->headers_sent) {
    uint8_t buffer[LWS_PRE + HEADER_ROOM];
    uint8_t *start = buffer + LWS_PRE, *p = start, *end = start + HEADER_ROOM;

    if (!write_headers (wsi, h, &p, end)
        || lws_write (wsi, start, (size_t) (p - start), LWS_WRITE_HTTP_HEADERS)
            != (int) (p - start))
      return -1;
    h->headers_sent = TRUE;
    if (h->head || h->status == HTTP_STATUS_NOT_MODIFIED
        || body_length (h) == 0)
      return complete (server, wsi, h);
    h->chunk = g_malloc (LWS_PRE + EDGE_HTTP_CHUNK);
    set_stall_timeout (server, wsi);
    lws_callback_on_writable (wsi);
    return 0;
  }
  if (h->chunk == NULL)
    return 0;
  if (h->fd >= 0) {
    gint64 elapsed_s
        = (g_get_monotonic_time () - h->started_us) / G_USEC_PER_SEC;
    /* A client that drips: it would hold a download place forever. */
    if (elapsed_s > EDGE_HTTP_RATE_GRACE_S
        && h->file_sent / (guint64) elapsed_s < EDGE_HTTP_MIN_RATE) {
      edge_log (EDGE_LOG_INFO,
          "catalog: closing a download from %s taking %" G_GUINT64_FORMAT
          " B/s (below %d)",
          h->peer, h->file_sent / (guint64) elapsed_s, EDGE_HTTP_MIN_RATE);
      return -1;
    }
    want = (gsize) MIN (h->file_end - h->file_pos, EDGE_HTTP_CHUNK);
    n = read_file_chunk (h, want);
    if (n < 0)
      return -1;
    h->file_pos += (guint64) n;
    h->file_sent += (guint64) n;
    last = h->file_pos >= h->file_end;
  } else {
    want = MIN (h->length - h->pos, EDGE_HTTP_CHUNK);
    memcpy (h->chunk + LWS_PRE, h->data + h->pos, want);
    n = (gssize) want;
    h->pos += want;
    last = h->pos >= h->length;
  }
  if (lws_write (wsi, h->chunk + LWS_PRE, (size_t) n,
          last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
      != (int) n)
    return -1;
  if (last)
    return complete (server, wsi, h);
  set_stall_timeout (server, wsi);
  lws_callback_on_writable (wsi);
  return 0;
}

void
edge_http_end (EdgeServer *server, EdgeHttp *h)
{
  /* The storage starts zeroed (fd 0 is not ours until begin set it). */
  if (h == NULL || !h->started)
    return;
  if (h->fd >= 0)
    close (h->fd);
  h->fd = -1;
  if (h->counted)
    count_download (server, h, -1);
  h->counted = FALSE;
  g_clear_pointer (&h->chunk, g_free);
  g_clear_pointer (&h->owned, g_free);
  if (h->snap != NULL)
    edge_catalog_snapshot_unref (h->snap);
  h->snap = NULL;
  h->data = NULL;
  h->started = FALSE;
}
