/* HTTP GETs of a model catalog and its files for the device cache
 * (model_cache.h), with libcurl: bounded in size and time, resumed with a
 * byte range when the connection is cut, checked against the sha256 the
 * catalog gave.  Blocking: called at an element's start or on a loading
 * thread, never on the streaming thread. */
#ifndef YOLOSWITCH_OFFLOAD_MODEL_FETCH_H
#define YOLOSWITCH_OFFLOAD_MODEL_FETCH_H

#include <glib.h>

typedef struct {
  const char *base_url; /* http(s)://HOST:PORT, no trailing slash */
  const char *token; /* sent as Authorization: Bearer; NULL: none */
  const char *tls_ca_file; /* https: a private CA; NULL: the system's */
  int connect_timeout_ms; /* per attempt */
  int stall_ms; /* an attempt that gets no byte this long is cut */
  int deadline_ms; /* all attempts of one file together */
  int attempts; /* of one file, resuming after each cut */
  /* Set (from any thread) to give up at once: an element stopping while
   * a swap's fetch runs.  NULL: never. */
  const gint *cancel;
} YsFetchOptions;

/* The defaults above: 5 s, 10 s, 120 s, 6 attempts. */
void ys_fetch_options_init (YsFetchOptions *options);

/* GET base_url + path into memory, at most max_bytes.  FALSE with *error
 * naming the URL and what went wrong. */
gboolean ys_fetch_text (const YsFetchOptions *options, const char *path,
    gsize max_bytes, char **text, gsize *length, GError **error);

/* GET base_url + path into `dest`, which must end up `bytes` long with
 * that sha256: a part already there (from a cut attempt, this run or an
 * earlier one, of the same sha256) is resumed with Range and If-Range; a
 * cut connection is resumed up to `attempts` times; a whole file with
 * another digest is deleted and fetched once more from the start.
 * *resumed_bytes (may be NULL) counts bytes that did not have to be sent
 * again, *sent_bytes what came over the network.  FALSE with *error. */
gboolean ys_fetch_file (const YsFetchOptions *options, const char *path,
    const char *dest, gint64 bytes, const char *sha256, gint64 *sent_bytes,
    gint64 *resumed_bytes, GError **error);

#endif
