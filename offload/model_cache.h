/* The device's model cache (issue 16, docs/MODELS.md "The device cache"):
 * models named but not on the machine are fetched from an edge server's
 * catalog (model_catalog.h, model_fetch.h) into a folder, verified, kept
 * within a budget, and served from there when the network is gone.
 *
 * Layout: DIR/NAME/ holds NAME.cfg, NAME.weights (float or 8-bit: the
 * loader tells them apart) and the labels file, as a model dir the loader
 * searches, plus entry.json (version, digests, sizes, uses, last use) and
 * .lock.  A model appears there whole or not at all: its files are
 * fetched into DIR/.partial/ (parts named by their sha256, so a part is
 * resumed only for the same bytes, across runs too), checked, and the
 * folder renamed into place.
 *
 * In use: a model taken is held with a shared flock on its .lock until
 * released; eviction takes an exclusive one without waiting, so a model
 * in use by this or any other process is never evicted.
 *
 * Eviction, when a fetch would pass the budget: the cached model with the
 * least value goes first, value = (uses + 1) x accuracy / MB, accuracy the
 * best iou_accuracy the catalog listed for it (0.5 when it listed none),
 * the least recently used first among equals.  A model larger than the
 * budget, or one that cannot fit beside the models in use, is an error
 * naming them. */
#ifndef YOLOSWITCH_OFFLOAD_MODEL_CACHE_H
#define YOLOSWITCH_OFFLOAD_MODEL_CACHE_H

#include "model_fetch.h"

#include <glib.h>

typedef struct {
  const char *dir;
  gint64 budget_bytes; /* 0: no limit */
  /* the edge server: http(s)://HOST:PORT, or its ws(s):// URL; NULL:
   * only what is cached */
  const char *server;
  const char *token;
  const char *tls_ca_file;
  gboolean prefer_int8; /* fetch the 8-bit variant when listed */
  const YsFetchOptions *fetch; /* NULL: ys_fetch_options_init()'s */
  const gint *cancel; /* set: fetches give up at once (NULL: never) */
} YsModelCacheOptions;

/* What a take did, for messages and tests. */
typedef struct {
  gboolean fetched; /* the files came over the network now */
  gboolean int8;
  char version[72];
  gint64 model_bytes; /* its files */
  gint64 sent_bytes; /* over the network */
  gint64 resumed_bytes; /* parts kept from cut attempts */
  char *evicted; /* names evicted to make room, ", "-separated; NULL: none */
} YsCacheReport;

typedef struct YsModelCache YsModelCache;

/* Creates dir if needed.  NULL with *error when it cannot. */
YsModelCache *ys_model_cache_new (const YsModelCacheOptions *options,
    GError **error);
void ys_model_cache_free (YsModelCache *cache);

/* Model `name` from the cache, fetched first when not there; held until
 * ys_model_cache_release().  *model_dir: the folder to load it from
 * (g_free).  FALSE with *error saying what was tried. */
gboolean ys_model_cache_take (YsModelCache *cache, const char *name,
    char **model_dir, YsCacheReport *report, GError **error);
void ys_model_cache_release (YsModelCache *cache, const char *name);
void ys_cache_report_clear (YsCacheReport *report);

/* ws://H:P/... -> http://H:P, wss -> https, http(s) kept (path dropped);
 * NULL when it is none of those. */
char *ys_model_cache_http_base (const char *server);

#endif
