/* Internal to the catalog (edge_catalog*.c): its look at files. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_CATALOG_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_EDGE_CATALOG_INTERNAL_H

#include "edge_catalog.h"

#include <json-glib/json-glib.h>
#include <sys/stat.h>

struct EdgeCatalog {
  char *dir;
  int scan_ms;
  GMutex lock;
  GCond wake;
  gboolean stopping; /* locked */
  EdgeCatalogSnapshot *current; /* locked */
  char *current_body; /* the last scan's models JSON, to tell changes */
  guint64 generation;
  GHashTable *hashes; /* edge_catalog_hash()'s cache; the scan's */
  GHashTable *seen; /* during a scan: the paths hashed (owned copies) */
  gint stopping_flag; /* atomic: stopping, for a scan under way */
  GThread *thread;
};

/* One scan's work in progress (edge_catalog.c builds it, runs
 * edge_catalog_scan_model on each NAME.cfg, then makes the snapshot). */
typedef struct {
  EdgeCatalog *cat;
  GPtrArray *files; /* the snapshot's */
  GHashTable *by_url;
  JsonBuilder *models, *refused;
  GHashTable *accuracy, *latency;
  int model_count;
  char read_error[256]; /* take_file's last problem reading a file */
} Scan;

/* edge_catalog_model.c: NAME.cfg and its files into the scan, or under
 * "refused" with the reason; a file still settling leaves the model out
 * of this scan. */
void edge_catalog_scan_model (Scan *scan, const char *name);
void edge_catalog_refuse (Scan *scan, const char *file, const char *problem);
/* A model name as a file stem: no path, no hidden file, printable. */
gboolean edge_catalog_valid_name (const char *name);
/* edge_catalog.c: frees an EdgeCatalogFile. */
void edge_catalog_file_free (gpointer file);

/* What a scan may read of a folder entry: a regular file under
 * EDGE_CATALOG_MAX_FILE_BYTES, not written to in the last
 * EDGE_CATALOG_SETTLE_MS.  0: usable; else ENOENT (absent), EAGAIN (still
 * settling), EFBIG or EINVAL (not a regular file).  Follows links. */
int edge_catalog_probe (const char *path, struct stat *st);

/* path -> its digest while size, time and inode stay (g_hash_table_unref). */
GHashTable *edge_catalog_hash_cache_new (void);
/* Fills out's bytes, mtime_us, inode and sha256 from the open file (what
 * was read, whatever a stat before said), from the cache when unchanged.
 * FALSE when it cannot be read whole. */
gboolean edge_catalog_hash (GHashTable *cache, const char *path,
    EdgeCatalogFile *out);

#endif
