/* HTTP GETs for the device cache; see model_fetch.h. */
#include "model_fetch.h"

#include <curl/curl.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...)                                                               \
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, __VA_ARGS__)

void
ys_fetch_options_init (YsFetchOptions *o)
{
  memset (o, 0, sizeof (*o));
  o->connect_timeout_ms = 5000;
  o->stall_ms = 10000;
  o->deadline_ms = 120000;
  o->attempts = 6;
}

static gpointer
global_init (gpointer unused)
{
  (void) unused;
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return NULL;
}

static int
on_progress (void *user, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
  const gint *cancel = user;
  (void) dltotal;
  (void) dlnow;
  (void) ultotal;
  (void) ulnow;
  return cancel != NULL && g_atomic_int_get (cancel) ? 1 : 0;
}

/* A handle set up for GET base_url + path, bounded by the options. */
static CURL *
new_handle (const YsFetchOptions *o, const char *path, char **url,
    struct curl_slist **headers, char *error_text, int remaining_ms)
{
  static GOnce once = G_ONCE_INIT;
  CURL *h;

  g_once (&once, global_init, NULL);
  h = curl_easy_init ();
  if (h == NULL)
    return NULL;
  *url = g_strconcat (o->base_url, path, NULL);
  curl_easy_setopt (h, CURLOPT_URL, *url);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, (long) o->connect_timeout_ms);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) MAX (remaining_ms, 1));
  /* Slower than 512 bytes a second for stall_ms: cut (a server that
   * drips would hold the element's start for the whole deadline). */
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 512L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME,
      (long) MAX (1, (o->stall_ms + 999) / 1000));
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "yoloswitch-model-cache");
  if (o->tls_ca_file != NULL)
    curl_easy_setopt (h, CURLOPT_CAINFO, o->tls_ca_file);
  if (o->cancel != NULL) {
    curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt (h, CURLOPT_XFERINFODATA, (void *) o->cancel);
    curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  }
  if (o->token != NULL) {
    char *auth = g_strconcat ("Authorization: Bearer ", o->token, NULL);
    *headers = curl_slist_append (*headers, auth);
    g_free (auth);
  }
  return h;
}

static const char *
curl_reason (CURLcode code, const char *error_text)
{
  return error_text[0] != '\0' ? error_text : curl_easy_strerror (code);
}

/* ---- text ------------------------------------------------------------------- */

typedef struct {
  GByteArray *data;
  gsize max;
  gboolean over;
} TextSink;

static size_t
text_write (char *p, size_t size, size_t n, void *user)
{
  TextSink *t = user;
  if (t->data->len + n > t->max) {
    t->over = TRUE;
    return 0; /* aborts the transfer */
  }
  g_byte_array_append (t->data, (const guint8 *) p, (guint) n);
  return size * n;
}

gboolean
ys_fetch_text (const YsFetchOptions *o, const char *path, gsize max_bytes,
    char **text, gsize *length, GError **error)
{
  char error_text[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = NULL;
  TextSink sink = { g_byte_array_new (), max_bytes, FALSE };
  char *url = NULL;
  long status = 0;
  CURLcode code;
  CURL *h = new_handle (o, path, &url, &headers, error_text, o->deadline_ms);
  gboolean ok = FALSE;

  if (h == NULL) {
    ERR ("libcurl could not start a transfer");
    goto out;
  }
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, text_write);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &sink);
  code = curl_easy_perform (h);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  if (sink.over)
    ERR ("%s: the answer is over %" G_GSIZE_FORMAT " bytes", url, max_bytes);
  else if (code != CURLE_OK)
    ERR ("%s: %s", url, curl_reason (code, error_text));
  else if (status == 401)
    ERR ("%s: the server wants a token (set token= to the server's --token)",
        url);
  else if (status != 200)
    ERR ("%s: HTTP %ld", url, status);
  else
    ok = TRUE;
  if (ok) {
    *length = sink.data->len;
    g_byte_array_append (sink.data, (const guint8 *) "", 1);
    *text = (char *) g_byte_array_free (g_steal_pointer (&sink.data), FALSE);
  }
out:
  if (sink.data != NULL)
    g_byte_array_unref (sink.data);
  curl_slist_free_all (headers);
  if (h != NULL)
    curl_easy_cleanup (h);
  g_free (url);
  return ok;
}

/* ---- files ------------------------------------------------------------------ */

typedef struct {
  int fd;
  gint64 offset; /* where the body's first byte goes */
  gint64 written; /* of this attempt's body */
  gint64 limit; /* the file's size: nothing past it is written */
  gboolean over, io_error;
  long status; /* of the answer being received */
  CURL *handle;
} FileSink;

static size_t
file_write (char *p, size_t size, size_t n, void *user)
{
  FileSink *f = user;
  gsize done = 0;

  if (f->status == 0)
    curl_easy_getinfo (f->handle, CURLINFO_RESPONSE_CODE, &f->status);
  if (f->status != 200 && f->status != 206)
    return size * n; /* an error page: read, not kept */
  /* A whole file where a part was asked for (If-Range did not match, or
   * the server ignores ranges): it goes from the start. */
  if (f->status == 200)
    f->offset = 0;
  if (f->offset + f->written + (gint64) n > f->limit) {
    f->over = TRUE;
    return 0;
  }
  while (done < n) {
    ssize_t w = pwrite (f->fd, p + done, n - done,
        (off_t) (f->offset + f->written + (gint64) done));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      f->io_error = TRUE;
      return 0;
    }
    done += (gsize) w;
  }
  f->written += (gint64) n;
  return size * n;
}

static gboolean
digest_matches (const char *path, const char *sha256)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buffer[1 << 16];
  gboolean ok = FALSE;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd >= 0) {
    while ((n = read (fd, buffer, sizeof (buffer))) > 0)
      g_checksum_update (sum, buffer, n);
    ok = n == 0 && strcmp (g_checksum_get_string (sum), sha256) == 0;
    close (fd);
  }
  g_checksum_free (sum);
  return ok;
}

/* One GET of [from, end) into fd at `from`; the answer's status, or 0 on
 * a transport failure (reason in error_text). */
static long
get_range (const YsFetchOptions *o, const char *path, int fd, gint64 from,
    gint64 bytes, const char *sha256, int remaining_ms, gint64 *received,
    CURLcode *code, char *error_text, gboolean *over)
{
  struct curl_slist *headers = NULL;
  char *url = NULL;
  FileSink sink = { fd, from, 0, bytes, FALSE, FALSE, 0, NULL };
  CURL *h = new_handle (o, path, &url, &headers, error_text, remaining_ms);

  *received = 0;
  if (h == NULL)
    return 0;
  sink.handle = h;
  if (from > 0) {
    char *range = g_strdup_printf ("Range: bytes=%" G_GINT64_FORMAT "-", from);
    char *if_range = g_strdup_printf ("If-Range: \"%s\"", sha256);
    headers = curl_slist_append (headers, range);
    headers = curl_slist_append (headers, if_range);
    g_free (range);
    g_free (if_range);
  }
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, file_write);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &sink);
  *code = curl_easy_perform (h);
  if (sink.status == 0)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &sink.status);
  *received = sink.written;
  *over = sink.over;
  if (sink.io_error)
    g_strlcpy (error_text, "writing the file failed", CURL_ERROR_SIZE);
  curl_slist_free_all (headers);
  curl_easy_cleanup (h);
  g_free (url);
  return sink.io_error ? 0 : sink.status;
}

gboolean
ys_fetch_file (const YsFetchOptions *o, const char *path, const char *dest,
    gint64 bytes, const char *sha256, gint64 *sent_bytes, gint64 *resumed_bytes,
    GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) o->deadline_ms * 1000;
  gint64 have = 0, sent = 0, resumed = 0;
  gboolean restarted = FALSE, ok = FALSE;
  char *url = g_strconcat (o->base_url, path, NULL);
  char last_error[CURL_ERROR_SIZE] = "no attempt made";
  struct stat st;
  int fd = open (dest, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

  if (fd < 0) {
    ERR ("cannot write %s: %s", dest, g_strerror (errno));
    goto out;
  }
  /* A part from an earlier attempt (the caller keeps it only for this
   * sha256): resume after it; more than the file is junk. */
  if (fstat (fd, &st) == 0 && st.st_size <= bytes)
    have = st.st_size;
  if (have > 0)
    resumed = have;
  if (ftruncate (fd, have) != 0) {
    ERR ("cannot write %s: %s", dest, g_strerror (errno));
    goto out;
  }
  for (int attempt = 0; attempt < MAX (o->attempts, 1); attempt++) {
    int remaining_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000);
    char error_text[CURL_ERROR_SIZE] = "";
    gint64 received = 0;
    gboolean over = FALSE;
    CURLcode code = CURLE_OK;
    long status;

    if (remaining_ms <= 0) {
      g_strlcpy (last_error, "the fetch's deadline passed",
          sizeof (last_error));
      break;
    }
    if (o->cancel != NULL && g_atomic_int_get (o->cancel)) {
      g_strlcpy (last_error, "cancelled", sizeof (last_error));
      break;
    }
    if (have < bytes) {
      if (ftruncate (fd, have) != 0) {
        g_strlcpy (last_error, g_strerror (errno), sizeof (last_error));
        break;
      }
      status = get_range (o, path, fd, have, bytes, sha256, remaining_ms,
          &received, &code, error_text, &over);
      sent += received;
      if (status == 200 && have > 0) {
        resumed -= have; /* the server sent it all again */
        have = 0;
      }
      if (status == 200 || status == 206)
        have += received;
      if (over) {
        g_snprintf (last_error, sizeof (last_error),
            "the server sent more than the catalog's %" G_GINT64_FORMAT
            " bytes",
            bytes);
        break;
      }
      if (status == 401) {
        g_strlcpy (last_error,
            "the server wants a token (set token= to the server's --token)",
            sizeof (last_error));
        break;
      }
      if (status == 404 || status == 416) {
        g_snprintf (last_error, sizeof (last_error),
            "HTTP %ld: the file is no longer what the catalog listed", status);
        break;
      }
      if (status != 200 && status != 206 && status != 0)
        g_snprintf (last_error, sizeof (last_error), "HTTP %ld", status);
      else if (status == 0)
        g_snprintf (last_error, sizeof (last_error), "%s",
            curl_reason (code, error_text));
      else if (code != CURLE_OK)
        g_snprintf (last_error, sizeof (last_error),
            "cut after %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes: %s",
            have, bytes, curl_reason (code, error_text));
    }
    if (have == bytes) {
      if (digest_matches (dest, sha256)) {
        ok = TRUE;
        break;
      }
      /* Whole and wrong: the part kept was of other bytes, or the transfer
       * was damaged.  Once more from the start, then give up. */
      g_strlcpy (last_error,
          "its sha256 does not match the catalog's (damaged in transit, or "
          "the server's file changed)",
          sizeof (last_error));
      if (restarted)
        break;
      restarted = TRUE;
      resumed = 0;
      have = 0;
      if (ftruncate (fd, 0) != 0)
        break;
      continue;
    }
    /* Cut: wait a little, more each time, then resume. */
    g_usleep ((gulong) MIN (2000, 100 << MIN (attempt, 5)) * 1000);
  }
  if (!ok)
    ERR ("%s: %s", url, last_error);
out:
  if (fd >= 0)
    close (fd);
  if (sent_bytes != NULL)
    *sent_bytes = sent;
  if (resumed_bytes != NULL)
    *resumed_bytes = MAX (resumed, 0);
  g_free (url);
  return ok;
}
