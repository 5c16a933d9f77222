/* The edge server's model catalog (issue 16): what GET /models lists and
 * GET /models/NAME/FILE serves (edge_http.c), read from one folder and
 * kept current by a thread that rescans it, so a model copied in appears
 * without a restart.
 *
 * A model is NAME.cfg with NAME.weights (float or 8-bit, told by its
 * magic) or NAME.q8.weights (yoloswitch-quantize's output), both optional
 * but one needed, and its labels file (yolo_model_resolve()'s rules, in
 * the same folder).  Its version is the first line of NAME.version when
 * there is one, else the first 12 hex digits of its sha256 (over the cfg's
 * and the weights' digests).  Accuracy and latency come from any
 * yoloswitch-profile output (*.profile.json) in the folder.  What cannot
 * be listed (a cfg that does not parse, weights of the wrong size) is
 * listed under "refused" with the reason.
 *
 * The folder is the operator's, but its files are still read as hostile:
 * the limits below bound a scan's memory and work, a file still being
 * written (modified in the last EDGE_CATALOG_SETTLE_MS) waits for the next
 * scan, and a file is hashed again only when its size, time or inode
 * changed.  The JSON is docs/MODELS.md "The catalog". */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_CATALOG_H
#define YOLOSWITCH_OFFLOAD_EDGE_CATALOG_H

#include <glib.h>

#define EDGE_CATALOG_MAX_ENTRIES 4096 /* folder entries read per scan */
#define EDGE_CATALOG_MAX_MODELS 256
#define EDGE_CATALOG_MAX_FILE_BYTES ((gint64) 2 << 30) /* any one file */
#define EDGE_CATALOG_MAX_PROFILE_BYTES (4 << 20) /* a *.profile.json */
#define EDGE_CATALOG_MAX_PROFILES 16
#define EDGE_CATALOG_SETTLE_MS 1000
/* What one profile may add to the listing: rows taken, and the length of
 * any string copied from it (longer strings are cut). */
#define EDGE_CATALOG_MAX_PROFILE_ROWS 256
#define EDGE_CATALOG_MAX_PROFILE_STRING 128

typedef struct {
  char *file; /* name in the folder, e.g. "yolo-fastest-1.1.cfg" */
  const char *role; /* "cfg", "weights", "weights-q8" or "labels" */
  char *path;
  gint64 bytes;
  gint64 mtime_us;
  guint64 inode;
  char sha256[65]; /* hex */
} EdgeCatalogFile;

typedef struct EdgeCatalogSnapshot EdgeCatalogSnapshot;
typedef struct EdgeCatalog EdgeCatalog;

/* Scans dir once (so the first request has an answer) and starts the
 * rescanning thread (every scan_ms).  NULL with *error when dir cannot be
 * read. */
EdgeCatalog *edge_catalog_new (const char *dir, int scan_ms, GError **error);
void edge_catalog_free (EdgeCatalog *catalog);

/* The current snapshot, a reference the caller unrefs; any thread. */
EdgeCatalogSnapshot *edge_catalog_get (EdgeCatalog *catalog);
void edge_catalog_snapshot_unref (EdgeCatalogSnapshot *snapshot);
/* GET /models: the JSON. */
const char *edge_catalog_json (const EdgeCatalogSnapshot *snapshot,
    gsize *length);
/* Its ETag ("..." around a digest of the JSON), made once per snapshot. */
const char *edge_catalog_etag (const EdgeCatalogSnapshot *snapshot);
/* FILE of model NAME, exactly as listed; NULL when not. */
const EdgeCatalogFile *edge_catalog_find (const EdgeCatalogSnapshot *snapshot,
    const char *model, const char *file);

/* A yoloswitch-profile file's local rows (text, length bytes, called
 * file in the listing), appended to per-model JSON arrays: accuracy
 * ({input, iou_accuracy, f1, reference, video, profile}) and latency
 * ({device, input, infer_ms, source}), tables of model name -> JsonArray
 * (g_str_hash, owned keys, json_array_unref).  Rows the catalog's schema
 * cannot carry are skipped.  The number of rows taken; no I/O: fuzzed. */
int edge_catalog_read_profile (const char *text, gsize length, const char *file,
    GHashTable *accuracy, GHashTable *latency);

#endif
