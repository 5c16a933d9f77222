/* The catalog's look at its folder's files (edge_catalog_internal.h):
 * whether one may be read now, and its sha256, hashed once per version of
 * the file. */
#include "edge_catalog_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK (1 << 20)

/* A file's digest, kept while its size, times, inode and device stay. */
typedef struct {
  gint64 bytes, mtime_us, ctime_us;
  guint64 inode, device;
  char sha256[65];
} CachedHash;

GHashTable *
edge_catalog_hash_cache_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* What a scan may read of a folder entry: a regular file, small enough,
 * not written to in the last EDGE_CATALOG_SETTLE_MS.  0: usable; else
 * errno-style: ENOENT absent, EAGAIN still settling, EFBIG, EINVAL. */
int
edge_catalog_probe (const char *path, struct stat *st)
{
  gint64 now_us = g_get_real_time ();
  gint64 mtime_us;

  if (stat (path, st) != 0)
    return ENOENT;
  if (!S_ISREG (st->st_mode))
    return EINVAL;
  if (st->st_size > EDGE_CATALOG_MAX_FILE_BYTES)
    return EFBIG;
  mtime_us = (gint64) st->st_mtim.tv_sec * G_USEC_PER_SEC
      + st->st_mtim.tv_nsec / 1000;
  if (now_us - mtime_us < (gint64) EDGE_CATALOG_SETTLE_MS * 1000)
    return EAGAIN;
  return 0;
}

/* sha256 of the file, from the cache when it is the same file.  The size
 * and time recorded are what the open file had (fstat), so a file
 * replaced between the stat and the open is described as it was read. */
gboolean
edge_catalog_hash (GHashTable *cache, const char *path, EdgeCatalogFile *out)
{
  CachedHash *cached = g_hash_table_lookup (cache, path);
  GChecksum *sum;
  struct stat st;
  guint8 *buffer;
  gint64 left, ctime_us;
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  gboolean ok = TRUE;

  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)
      || st.st_size > EDGE_CATALOG_MAX_FILE_BYTES) {
    close (fd);
    return FALSE;
  }
  out->bytes = st.st_size;
  out->mtime_us
      = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  out->inode = (guint64) st.st_ino;
  ctime_us
      = (gint64) st.st_ctim.tv_sec * G_USEC_PER_SEC + st.st_ctim.tv_nsec / 1000;
  if (cached != NULL && cached->bytes == out->bytes
      && cached->mtime_us == out->mtime_us && cached->ctime_us == ctime_us
      && cached->inode == out->inode && cached->device == (guint64) st.st_dev) {
    memcpy (out->sha256, cached->sha256, sizeof (out->sha256));
    close (fd);
    return TRUE;
  }
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  buffer = g_malloc (HASH_CHUNK);
  for (left = out->bytes; left > 0 && ok;) {
    ssize_t n = read (fd, buffer, (size_t) MIN (left, HASH_CHUNK));
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0; /* shorter than fstat said: being truncated, next scan */
    if (ok) {
      g_checksum_update (sum, buffer, n);
      left -= n;
    }
  }
  close (fd);
  g_free (buffer);
  if (ok) {
    cached = g_new0 (CachedHash, 1);
    cached->bytes = out->bytes;
    cached->mtime_us = out->mtime_us;
    cached->inode = out->inode;
    cached->ctime_us = ctime_us;
    cached->device = (guint64) st.st_dev;
    g_strlcpy (cached->sha256, g_checksum_get_string (sum),
        sizeof (cached->sha256));
    memcpy (out->sha256, cached->sha256, sizeof (out->sha256));
    g_hash_table_replace (cache, g_strdup (path), cached);
  }
  g_checksum_free (sum);
  return ok;
}
