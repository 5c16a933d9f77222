/* yoloswitch-edge's HTTP answers; see edge_http.h. */
#include "edge_http.h"

#include "edge_catalog.h"
#include "edge_internal.h"
#include "http_range.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_ROOM 1024
#define TEXT "text/plain; charset=utf-8"

static void
answer_text (EdgeHttp *h, unsigned status, const char *text)
{
  h->status = status;
  h->type = TEXT;
  h->body = g_strdup (text);
  h->body_length = strlen (text);
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

/* Constant time in the token's length: how long a wrong guess takes says
 * nothing about how much of it was right. */
static gboolean
authorized (EdgeServer *server, struct lws *wsi)
{
  const char *token = server->config.token;
  char given[512], *expected;
  gsize a, b;
  guint diff;

  if (token == NULL)
    return TRUE;
  header (wsi, WSI_TOKEN_HTTP_AUTHORIZATION, given, sizeof (given));
  expected = g_strconcat ("Bearer ", token, NULL);
  a = strlen (given);
  b = strlen (expected);
  diff = a != b;
  for (gsize i = 0; i < b; i++)
    diff |= (guint) (i < a ? given[i] : 0) ^ (guint) expected[i];
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
answer_catalog (EdgeServer *server, struct lws *wsi, EdgeHttp *h)
{
  EdgeCatalogSnapshot *snap = edge_catalog_get (server->catalog);
  gsize length;
  const char *json = edge_catalog_json (snap, &length);
  char *digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      (const guchar *) json, length);

  g_snprintf (h->etag, sizeof (h->etag), "\"%.32s\"", digest);
  g_free (digest);
  if (not_modified (wsi, h->etag)) {
    h->status = HTTP_STATUS_NOT_MODIFIED;
    h->type = TEXT;
  } else {
    h->status = HTTP_STATUS_OK;
    h->type = "application/json";
    h->body = g_memdup2 (json, length);
    h->body_length = length;
  }
  edge_catalog_snapshot_unref (snap);
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
  struct stat st;

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
    h->status = HTTP_STATUS_NOT_MODIFIED;
    h->type = TEXT;
    goto out;
  }
  if (server->downloads >= server->config.max_downloads) {
    h->retry_after_s = 1;
    answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE,
        "busy: as many downloads as --max-downloads allows are running; "
        "retry\n");
    goto out;
  }
  /* The file as the catalog hashed it, or no answer: the tag must name
   * the bytes sent. */
  h->fd = open (f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (h->fd < 0 || fstat (h->fd, &st) != 0 || !S_ISREG (st.st_mode)
      || st.st_size != f->bytes || (guint64) st.st_ino != f->inode
      || (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000
          != f->mtime_us) {
    if (h->fd >= 0)
      close (h->fd);
    h->fd = -1;
    h->retry_after_s = 2;
    answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE,
        "changed: the file changed since the catalog read it; retry once "
        "GET /models lists its new sha256\n");
    goto out;
  }
  header (wsi, WSI_TOKEN_HTTP_RANGE, range_text, sizeof (range_text));
  header (wsi, WSI_TOKEN_HTTP_IF_RANGE, if_range, sizeof (if_range));
  range = http_range_parse (range_text[0] != '\0' ? range_text : NULL,
      strlen (range_text), (guint64) f->bytes);
  /* If-Range with another tag: the client's part is of other bytes. */
  if (if_range[0] != '\0' && strcmp (if_range, h->etag) != 0)
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
      h->pos = range.first;
      h->end = range.last + 1;
      g_snprintf (h->content_range, sizeof (h->content_range),
          "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GINT64_FORMAT,
          range.first, range.last, f->bytes);
      break;
    case HTTP_RANGE_NONE:
      h->status = HTTP_STATUS_OK;
      h->pos = 0;
      h->end = (guint64) f->bytes;
      break;
  }
  if (h->fd >= 0) {
    server->downloads++;
    h->counted = TRUE;
    h->chunk = g_malloc (LWS_PRE + EDGE_HTTP_CHUNK);
  }
out:
  edge_catalog_snapshot_unref (snap);
}

void
edge_http_begin (EdgeServer *server, struct lws *wsi, EdgeHttp *h,
    const char *path)
{
  GString *body;

  edge_http_end (server, h);
  memset (h, 0, sizeof (*h));
  h->fd = -1;
  h->started = TRUE;
  if (strcmp (path, "/healthz") == 0) {
    if (server->drain_deadline_us != 0)
      answer_text (h, HTTP_STATUS_SERVICE_UNAVAILABLE, "draining\n");
    else
      answer_text (h, HTTP_STATUS_OK, "ok\n");
  } else if (strcmp (path, "/metrics") == 0) {
    body = g_string_new (NULL);
    edge_metrics_render (&server->metrics, server->config.workers, body);
    h->status = HTTP_STATUS_OK;
    h->type = "text/plain; version=0.0.4; charset=utf-8";
    h->body_length = body->len;
    h->body = g_string_free (body, FALSE);
  } else if (server->catalog != NULL
      && (strcmp (path, "/models") == 0 || g_str_has_prefix (path, "/models/"))
      && !authorized (server, wsi)) {
    h->wants_auth = TRUE;
    answer_text (h, HTTP_STATUS_UNAUTHORIZED,
        "unauthorized: this server has a token; send \"Authorization: "
        "Bearer TOKEN\"\n");
  } else if (server->catalog != NULL
      && (strcmp (path, "/models") == 0 || strcmp (path, "/models/") == 0)) {
    answer_catalog (server, wsi, h);
  } else if (server->catalog != NULL && g_str_has_prefix (path, "/models/")) {
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
write_headers (struct lws *wsi, EdgeHttp *h, uint8_t **p, uint8_t *end)
{
  guint64 length = h->fd >= 0 ? h->end - h->pos : h->body_length;
  char retry[16];
  gboolean ok;

  ok = lws_add_http_common_headers (wsi, h->status, h->type, length, p, end)
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
    ok = lws_add_http_header_by_name (wsi,
             (const uint8_t *) "retry-after:", (const uint8_t *) retry,
             (int) strlen (retry), p, end)
        == 0;
  }
  if (ok && h->wants_auth)
    ok = lws_add_http_header_by_name (wsi,
             (const uint8_t *) "www-authenticate:", (const uint8_t *) "Bearer",
             6, p, end)
        == 0;
  return ok && lws_finalize_http_header (wsi, p, end) == 0;
}

/* A client that stops reading is closed after the stall time. */
static void
set_stall_timeout (EdgeServer *server, struct lws *wsi)
{
  lws_set_timeout (wsi, PENDING_TIMEOUT_HTTP_CONTENT,
      MAX (1, (server->config.download_stall_ms + 999) / 1000));
}

int
edge_http_writeable (EdgeServer *server, struct lws *wsi, EdgeHttp *h)
{
  if (!h->started)
    return 0;
  if (!h->headers_sent) {
    /* Headers, and a body from memory with them. */
    uint8_t *buffer = g_malloc (LWS_PRE + HEADER_ROOM + h->body_length);
    uint8_t *start = buffer + LWS_PRE, *p = start, *end = start + HEADER_ROOM;
    gboolean ok = write_headers (wsi, h, &p, end);
    gboolean last = h->fd < 0 || h->pos >= h->end;

    if (ok && h->fd < 0 && h->body_length > 0) {
      memcpy (p, h->body, h->body_length);
      p += h->body_length;
    }
    ok = ok
        && lws_write (wsi, start, (size_t) (p - start),
               last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP_HEADERS)
            == (int) (p - start);
    g_free (buffer);
    h->headers_sent = TRUE;
    if (!ok)
      return -1;
    if (last) {
      edge_http_end (server, h);
      return lws_http_transaction_completed (wsi) ? -1 : 0;
    }
    set_stall_timeout (server, wsi);
    lws_callback_on_writable (wsi);
    return 0;
  }
  if (h->fd >= 0 && h->pos < h->end) {
    size_t want = (size_t) MIN (h->end - h->pos, EDGE_HTTP_CHUNK);
    ssize_t n = pread (h->fd, h->chunk + LWS_PRE, want, (off_t) h->pos);
    gboolean last;

    if (n < 0 && errno == EINTR) {
      lws_callback_on_writable (wsi);
      return 0;
    }
    if (n <= 0)
      return -1; /* truncated under us: the client sees a short body */
    h->pos += (guint64) n;
    last = h->pos >= h->end;
    if (lws_write (wsi, h->chunk + LWS_PRE, (size_t) n,
            last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        != (int) n)
      return -1;
    if (last) {
      edge_http_end (server, h);
      lws_set_timeout (wsi, NO_PENDING_TIMEOUT, 0);
      return lws_http_transaction_completed (wsi) ? -1 : 0;
    }
    set_stall_timeout (server, wsi);
    lws_callback_on_writable (wsi);
  }
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
    server->downloads--;
  h->counted = FALSE;
  g_clear_pointer (&h->chunk, g_free);
  g_clear_pointer (&h->body, g_free);
  h->started = FALSE;
}
