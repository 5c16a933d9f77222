/* Internal to the catalog (edge_catalog*.c): its look at files. */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_CATALOG_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_EDGE_CATALOG_INTERNAL_H

#include "edge_catalog.h"

#include <sys/stat.h>

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
