/* A device's reading of an edge server's GET /models answer
 * (docs/MODELS.md "The catalog", docs/schemas/catalog.schema.json): the
 * entry of one model, with the files a device fetches for it.  The answer
 * comes from the network: it is read within YS_CATALOG_MAX_BYTES, every
 * name that becomes a file name is checked (no path, no hidden file),
 * every digest is 64 hex digits and every size bounded; nothing else of
 * it is trusted (URLs are built from the model and file names, never
 * taken from the answer).  No I/O: fuzzed. */
#ifndef YOLOSWITCH_OFFLOAD_MODEL_CATALOG_H
#define YOLOSWITCH_OFFLOAD_MODEL_CATALOG_H

#include <glib.h>

#define YS_CATALOG_MAX_BYTES (4 << 20)
#define YS_CATALOG_MAX_FILE_BYTES ((gint64) 2 << 30)

typedef struct {
  char *file; /* a plain file name */
  char sha256[65]; /* lower-case hex */
  gint64 bytes;
} YsCatalogFile;

/* What a device needs of one model: its cfg, the weights it chose (the
 * 8-bit variant when asked for and listed, else the float one; stored as
 * NAME.weights either way: the loader tells them apart) and its labels. */
typedef struct {
  char *name;
  char *version;
  char sha256[65];
  gboolean int8; /* the weights are the 8-bit variant */
  double best_accuracy; /* highest iou_accuracy listed; -1: none */
  YsCatalogFile cfg, weights, labels;
} YsCatalogEntry;

/* A file name the catalog may give: letters, digits, '-', '_', '.', not
 * starting with '.', at most 200 bytes. */
gboolean ys_catalog_valid_name (const char *name);

/* Finds model `name` in the answer (text, length bytes).  FALSE with
 * *error (a sentence naming the problem) when the answer is not a
 * catalog, does not list the model, or lists it without a usable cfg,
 * weights or labels. */
gboolean ys_catalog_find (const char *text, gsize length, const char *name,
    gboolean prefer_int8, YsCatalogEntry *entry, GError **error);
void ys_catalog_entry_clear (YsCatalogEntry *entry);

#endif
