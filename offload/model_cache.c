/* The device's model cache; see model_cache.h. */
#include "model_cache.h"

#include "model_cache_internal.h"
#include "model_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...)                                                               \
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, __VA_ARGS__)
#define PARTIAL_DIR ".partial"
#define UNKNOWN_ACCURACY 0.5

struct YsModelCache {
  char *dir;
  gint64 budget;
  char *base_url; /* NULL: offline */
  gboolean prefer_int8;
  YsFetchOptions fetch;
  char *token, *tls_ca_file;
  GMutex lock;
  GHashTable *held; /* name -> GINT_TO_POINTER (lock fd + 1) */
  GHashTable *held_count; /* name -> count */
};

/* ---- folders and locks -------------------------------------------------------- */

static char *
model_folder (YsModelCache *c, const char *name)
{
  return g_build_filename (c->dir, name, NULL);
}

/* A file's or folder's bytes on the disk before a rename publishes them:
 * a board whose power is cut right after a fetch must find the model
 * whole or not at all, not a folder of empty files (ext4 delays writes
 * of new files by seconds).  FALSE with errno when it cannot. */
static gboolean
sync_path (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean ok;
  int saved;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  saved = errno;
  close (fd);
  errno = saved;
  return ok;
}

/* Removes what a model folder holds (files only; the cache made it flat),
 * then the folder. */
static void
remove_folder (const char *folder)
{
  GDir *d = g_dir_open (folder, 0, NULL);
  const char *n;
  if (d != NULL) {
    while ((n = g_dir_read_name (d)) != NULL) {
      char *p = g_build_filename (folder, n, NULL);
      g_unlink (p);
      g_free (p);
    }
    g_dir_close (d);
  }
  g_rmdir (folder);
}

/* A model folder out of the way at once (renamed into .partial, whose
 * name no take looks at), then removed: a take that locks its .lock
 * meanwhile finds that the lock it holds is not the folder's (below). */
static void
discard_folder (YsModelCache *c, const char *folder)
{
  char *trash = g_strdup_printf ("%s/%s/trash-%" G_GINT64_FORMAT "-%u", c->dir,
      PARTIAL_DIR, g_get_real_time (), g_random_int ());
  char *partial = g_build_filename (c->dir, PARTIAL_DIR, NULL);
  g_mkdir_with_parents (partial, 0755);
  if (g_rename (folder, trash) == 0)
    remove_folder (trash);
  else
    remove_folder (folder);
  g_free (trash);
  g_free (partial);
}

/* The lock fd is the folder's current .lock (not one of a folder evicted
 * or replaced since it was opened). */
static gboolean
lock_is_current (int fd, const char *folder)
{
  char *path = g_build_filename (folder, ".lock", NULL);
  struct stat a, b;
  gboolean same = fstat (fd, &a) == 0 && g_stat (path, &b) == 0
      && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
  g_free (path);
  return same;
}

/* The folder's .lock, opened (created) and locked; -1 when it cannot be
 * (exclusive without waiting: someone holds it). */
static int
lock_folder (const char *folder, int how)
{
  char *path = g_build_filename (folder, ".lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  g_free (path);
  if (fd < 0)
    return -1;
  while (flock (fd, how) != 0) {
    if (errno != EINTR) {
      close (fd);
      return -1;
    }
  }
  return fd;
}

/* ---- eviction ----------------------------------------------------------------- */

static double
value_of (const Entry *e)
{
  double accuracy = e->accuracy >= 0 ? e->accuracy : UNKNOWN_ACCURACY;
  double mb = MAX ((double) e->bytes / (1 << 20), 1e-3);
  return (double) (e->uses + 1) * MAX (accuracy, 0.01) / mb;
}

/* Every complete model in the cache but `except`. */
static GArray *
cached_entries (YsModelCache *c, const char *except)
{
  GArray *list = g_array_new (FALSE, TRUE, sizeof (Entry));
  GDir *d = g_dir_open (c->dir, 0, NULL);
  const char *n;

  while (d != NULL && (n = g_dir_read_name (d)) != NULL && list->len < 4096) {
    char *folder;
    Entry e;
    if (!ys_catalog_valid_name (n) || g_strcmp0 (n, except) == 0)
      continue;
    folder = model_folder (c, n);
    if (ys_cache_entry_read (folder, n, &e))
      g_array_append_val (list, e);
    g_free (folder);
  }
  if (d != NULL)
    g_dir_close (d);
  return list;
}

static void
entries_free (GArray *list)
{
  for (guint i = 0; i < list->len; i++)
    g_free (g_array_index (list, Entry, i).name);
  g_array_free (list, TRUE);
}

static int
by_value (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;
  double vx = value_of (x), vy = value_of (y);
  if (vx != vy)
    return vx < vy ? -1 : 1;
  return x->last_used_us < y->last_used_us ? -1
      : x->last_used_us > y->last_used_us  ? 1
                                           : 0;
}

/* Room for `need` bytes beside the cached models but `name`: evicts by
 * value until it fits.  FALSE with *error when it cannot. */
static gboolean
make_room (YsModelCache *c, const char *name, gint64 need, GString *evicted,
    GError **error)
{
  GArray *list;
  GString *in_use = g_string_new (NULL);
  gint64 total = 0;
  gboolean ok;

  if (c->budget <= 0)
    return TRUE;
  if (need > c->budget) {
    ERR ("model \"%s\" needs %.1f MB, more than cache-budget-mb (%.1f MB)",
        name, need / 1048576.0, c->budget / 1048576.0);
    g_string_free (in_use, TRUE);
    return FALSE;
  }
  list = cached_entries (c, name);
  g_array_sort (list, by_value);
  for (guint i = 0; i < list->len; i++)
    total += g_array_index (list, Entry, i).bytes;
  for (guint i = 0; i < list->len && total + need > c->budget; i++) {
    Entry *e = &g_array_index (list, Entry, i);
    char *folder = model_folder (c, e->name);
    int fd = lock_folder (folder, LOCK_EX | LOCK_NB);
    if (fd >= 0) {
      discard_folder (c, folder);
      close (fd);
      total -= e->bytes;
      g_string_append_printf (evicted, "%s%s", evicted->len > 0 ? ", " : "",
          e->name);
    } else {
      g_string_append_printf (in_use, "%s%s", in_use->len > 0 ? ", " : "",
          e->name);
    }
    g_free (folder);
  }
  ok = total + need <= c->budget;
  if (!ok)
    ERR ("model \"%s\" (%.1f MB) does not fit in cache-budget-mb (%.1f MB) "
         "beside the models in use (%s)",
        name, need / 1048576.0, c->budget / 1048576.0, in_use->str);
  g_string_free (in_use, TRUE);
  entries_free (list);
  return ok;
}

/* ---- fetching ----------------------------------------------------------------- */

/* Fetches `name` into DIR/NAME (replacing what is there); the caller holds
 * the fetch lock. */
static gboolean
fetch_model (YsModelCache *c, const char *name, YsCacheReport *report,
    GError **error)
{
  YsFetchOptions fo = c->fetch;
  YsCatalogEntry ce;
  char *text = NULL, *partial, *staging = NULL, *folder = NULL, *parts = NULL;
  gsize length = 0;
  GString *evicted = g_string_new (NULL);
  const YsCatalogFile *files[3];
  Entry e;
  gboolean ok = FALSE;
  GError *local = NULL;

  memset (&ce, 0, sizeof (ce));
  fo.base_url = c->base_url;
  fo.token = c->token;
  fo.tls_ca_file = c->tls_ca_file;
  partial = g_build_filename (c->dir, PARTIAL_DIR, NULL);
  if (!ys_fetch_text (&fo, "/models", YS_CATALOG_MAX_BYTES, &text, &length,
          &local)
      || !ys_catalog_find (text, length, name, c->prefer_int8, &ce, &local)) {
    g_propagate_error (error, local);
    goto out;
  }
  files[0] = &ce.cfg;
  files[1] = &ce.weights;
  files[2] = &ce.labels;
  /* This model's parts, under its fetch lock: a part is resumed only by
   * the fetch of the same model, and named by the digest it must reach,
   * so only for the same bytes (in this run or a later one). */
  parts = g_build_filename (partial, name, NULL);
  staging = g_strconcat (parts, ".staging", NULL);
  remove_folder (staging);
  if (g_mkdir_with_parents (staging, 0755) != 0
      || g_mkdir_with_parents (parts, 0755) != 0) {
    ERR ("cannot make %s: %s", staging, g_strerror (errno));
    goto out;
  }
  memset (&e, 0, sizeof (e));
  for (int i = 0; i < 3; i++) {
    char *part_name = g_strconcat (files[i]->sha256, ".part", NULL);
    char *part = g_build_filename (parts, part_name, NULL);
    char *path = g_strdup_printf ("/models/%s/%s", name, files[i]->file);
    /* Stored where the loader looks for them by name first: NAME.cfg,
     * NAME.weights (8-bit too: the loader tells them apart), NAME.names. */
    char *stored_name = g_strconcat (name,
        i == 0       ? ".cfg"
            : i == 1 ? ".weights"
                     : ".names",
        NULL);
    char *dest = g_build_filename (staging, stored_name, NULL);
    YsFetchOptions file_fo = fo;
    gint64 sent = 0, resumed = 0;
    gboolean got;
    struct stat st;

    /* A large file on a slow link: at least 32 KB/s's worth of time. */
    file_fo.deadline_ms = (int) MIN (G_MAXINT,
        MAX ((gint64) fo.deadline_ms, files[i]->bytes / 32));
    got = ys_fetch_file (&file_fo, path, part, files[i]->bytes,
        files[i]->sha256, &sent, &resumed, error);
    report->sent_bytes += sent;
    report->resumed_bytes += resumed;
    if (got && (!sync_path (part) || g_rename (part, dest) != 0)) {
      ERR ("cannot move %s to %s: %s", part, dest, g_strerror (errno));
      got = FALSE;
    }
    /* A whole part that is wrong goes; a cut one stays, to resume. */
    if (!got && g_stat (part, &st) == 0 && st.st_size >= files[i]->bytes)
      g_unlink (part);
    g_strlcpy (e.files[i], stored_name, sizeof (e.files[i]));
    e.bytes += files[i]->bytes;
    g_free (part_name);
    g_free (part);
    g_free (path);
    g_free (stored_name);
    g_free (dest);
    if (!got)
      goto out;
  }
  /* Room for it only now that it is here and verified: a server whose
   * files fail cannot make the cache evict. */
  if (!make_room (c, name, e.bytes, evicted, error))
    goto out;
  e.name = (char *) name;
  g_strlcpy (e.version, ce.version, sizeof (e.version));
  e.accuracy = ce.best_accuracy;
  e.int8 = ce.int8;
  e.last_used_us = g_get_real_time ();
  if (!ys_cache_entry_write (staging, &e) || !sync_path (staging)) {
    ERR ("cannot write %s/%s", staging, ENTRY_FILE);
    goto out;
  }
  /* Into place whole.  What is there (an incomplete folder: a complete
   * one is not fetched) goes first, unless someone holds it. */
  folder = model_folder (c, name);
  if (g_file_test (folder, G_FILE_TEST_EXISTS)) {
    int held = lock_folder (folder, LOCK_EX | LOCK_NB);
    if (held < 0) {
      ERR ("%s is in use and incomplete: stop what uses it", folder);
      goto out;
    }
    discard_folder (c, folder);
    close (held);
  }
  if (g_rename (staging, folder) != 0) {
    ERR ("cannot move %s to %s: %s", staging, folder, g_strerror (errno));
    goto out;
  }
  /* The rename itself on the disk (best effort: it is in place now). */
  sync_path (c->dir);
  report->fetched = TRUE;
  report->int8 = ce.int8;
  report->model_bytes = e.bytes;
  g_strlcpy (report->version, ce.version, sizeof (report->version));
  ok = TRUE;
out:
  if (evicted->len > 0)
    report->evicted = g_strdup (evicted->str);
  g_string_free (evicted, TRUE);
  if (!ok && staging != NULL)
    remove_folder (staging);
  ys_catalog_entry_clear (&ce);
  g_free (text);
  if (ok && parts != NULL)
    g_rmdir (parts); /* empty once every part was moved */
  g_free (parts);
  g_free (partial);
  g_free (staging);
  g_free (folder);
  return ok;
}

/* ---- taking and releasing ----------------------------------------------------- */

/* The fetch lock of `name` (DIR/.partial/NAME.fetching): one fetch of a
 * model at a time across processes.  Waits for another process's fetch,
 * giving up when the cache's cancel flag is set; -1 then. */
static int
lock_fetch (YsModelCache *c, const char *name)
{
  char *partial = g_build_filename (c->dir, PARTIAL_DIR, NULL);
  char *path = g_strdup_printf ("%s/%s.fetching", partial, name);
  int fd;

  g_mkdir_with_parents (partial, 0755);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  while (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) != 0) {
    if ((errno != EWOULDBLOCK && errno != EINTR)
        || (c->fetch.cancel != NULL && g_atomic_int_get (c->fetch.cancel))) {
      close (fd);
      fd = -1;
      break;
    }
    g_usleep (100000);
  }
  g_free (path);
  g_free (partial);
  return fd;
}

/* Holds model `name` if its folder is complete: a shared lock on the
 * folder's current .lock, entry.json readable and its files there. */
static gboolean
hold_if_complete (YsModelCache *c, const char *name, const char *folder,
    YsCacheReport *report)
{
  int fd = lock_folder (folder, LOCK_SH);
  Entry e;

  if (fd < 0)
    return FALSE;
  /* Evicted or replaced between the open and the lock: not this one. */
  if (!lock_is_current (fd, folder)
      || !ys_cache_entry_read (folder, name, &e)) {
    close (fd);
    return FALSE;
  }
  g_mutex_lock (&c->lock);
  if (!g_hash_table_contains (c->held, name))
    g_hash_table_insert (c->held, g_strdup (name), GINT_TO_POINTER (fd + 1));
  else
    close (fd);
  g_hash_table_insert (c->held_count, g_strdup (name),
      GINT_TO_POINTER (
          GPOINTER_TO_INT (g_hash_table_lookup (c->held_count, name)) + 1));
  g_mutex_unlock (&c->lock);
  e.uses++;
  e.last_used_us = g_get_real_time ();
  ys_cache_entry_write (folder, &e);
  if (!report->fetched) {
    g_strlcpy (report->version, e.version, sizeof (report->version));
    report->model_bytes = e.bytes;
    report->int8 = e.int8;
  }
  g_free (e.name);
  return TRUE;
}

gboolean
ys_model_cache_take (YsModelCache *c, const char *name, char **model_dir,
    YsCacheReport *report, GError **error)
{
  GError *fetch_error = NULL;
  gboolean ok = FALSE;
  char *folder;

  memset (report, 0, sizeof (*report));
  *model_dir = NULL;
  if (!ys_catalog_valid_name (name)) {
    ERR ("model name \"%s\" is not a file stem", name);
    return FALSE;
  }
  folder = model_folder (c, name);
  g_mkdir_with_parents (c->dir, 0755);
  /* Cached: held.  Else fetched (once, under the fetch lock, unless
   * another process fetched it meanwhile), then held. */
  for (int round = 0; round < 2 && !ok; round++) {
    int fetch_fd;
    Entry e;

    if (hold_if_complete (c, name, folder, report)) {
      ok = TRUE;
      break;
    }
    if (round > 0 || c->base_url == NULL)
      break;
    fetch_fd = lock_fetch (c, name);
    if (fetch_fd < 0) {
      g_set_error (&fetch_error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "cancelled while another process fetched it");
      break;
    }
    if (!ys_cache_entry_read (folder, name, &e))
      fetch_model (c, name, report, &fetch_error);
    else
      g_free (e.name);
    close (fetch_fd);
    if (fetch_error != NULL)
      break;
  }
  if (ok)
    *model_dir = g_strdup (folder);
  else if (fetch_error != NULL)
    ERR ("model \"%s\" is not in model-cache-dir %s and could not be "
         "fetched: %s",
        name, c->dir, fetch_error->message);
  else if (c->base_url == NULL)
    ERR ("model \"%s\" is not in model-cache-dir %s, and no edge server is "
         "set to fetch it from (server= or catalog=)",
        name, c->dir);
  else
    ERR ("model \"%s\" could not be had from model-cache-dir %s", name, c->dir);
  g_clear_error (&fetch_error);
  g_free (folder);
  return ok;
}

void
ys_model_cache_release (YsModelCache *c, const char *name)
{
  int count;
  g_mutex_lock (&c->lock);
  count = GPOINTER_TO_INT (g_hash_table_lookup (c->held_count, name));
  if (count > 1) {
    g_hash_table_insert (c->held_count, g_strdup (name),
        GINT_TO_POINTER (count - 1));
  } else if (count == 1) {
    int fd = GPOINTER_TO_INT (g_hash_table_lookup (c->held, name)) - 1;
    if (fd >= 0)
      close (fd);
    g_hash_table_remove (c->held, name);
    g_hash_table_remove (c->held_count, name);
  }
  g_mutex_unlock (&c->lock);
}

void
ys_cache_report_clear (YsCacheReport *r)
{
  g_free (r->evicted);
  memset (r, 0, sizeof (*r));
}

char *
ys_model_cache_http_base (const char *server)
{
  const char *rest;
  const char *scheme;
  gsize host_len;

  if (server == NULL)
    return NULL;
  if (g_str_has_prefix (server, "ws://")) {
    scheme = "http://";
    rest = server + 5;
  } else if (g_str_has_prefix (server, "wss://")) {
    scheme = "https://";
    rest = server + 6;
  } else if (g_str_has_prefix (server, "http://")) {
    scheme = "http://";
    rest = server + 7;
  } else if (g_str_has_prefix (server, "https://")) {
    scheme = "https://";
    rest = server + 8;
  } else {
    return NULL;
  }
  host_len = strcspn (rest, "/?#");
  if (host_len == 0)
    return NULL;
  return g_strdup_printf ("%s%.*s", scheme, (int) host_len, rest);
}

/* Leftovers of fetches and evictions that a killed process did not
 * finish (parts, staging and trash folders), once they are a day old: a
 * part younger than that may still be resumed. */
#define PARTIAL_MAX_AGE_S (24 * 3600)
static void
collect_old_parts (YsModelCache *c)
{
  char *partial = g_build_filename (c->dir, PARTIAL_DIR, NULL);
  GDir *d = g_dir_open (partial, 0, NULL);
  const char *n;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;

  while (d != NULL && (n = g_dir_read_name (d)) != NULL) {
    char *path = g_build_filename (partial, n, NULL);
    struct stat st;
    if (g_stat (path, &st) == 0 && now_s - st.st_mtime > PARTIAL_MAX_AGE_S) {
      if (S_ISDIR (st.st_mode))
        remove_folder (path);
      else if (!g_str_has_suffix (n, ".fetching"))
        g_unlink (path);
    }
    g_free (path);
  }
  if (d != NULL)
    g_dir_close (d);
  g_free (partial);
}

YsModelCache *
ys_model_cache_new (const YsModelCacheOptions *o, GError **error)
{
  YsModelCache *c;
  char *base_url;

  if (o->dir == NULL || *o->dir == '\0') {
    ERR ("no model-cache-dir given");
    return NULL;
  }
  if (g_mkdir_with_parents (o->dir, 0755) != 0) {
    ERR ("cannot make model-cache-dir %s: %s", o->dir, g_strerror (errno));
    return NULL;
  }
  base_url = ys_model_cache_http_base (o->server);
  if (o->server != NULL && base_url == NULL) {
    ERR ("edge server \"%s\" is not a ws://, wss://, http:// or https:// URL",
        o->server);
    return NULL;
  }
  c = g_new0 (YsModelCache, 1);
  c->dir = g_canonicalize_filename (o->dir, NULL);
  collect_old_parts (c);
  c->budget = o->budget_bytes;
  c->base_url = base_url;
  c->prefer_int8 = o->prefer_int8;
  c->token = g_strdup (o->token);
  c->tls_ca_file = g_strdup (o->tls_ca_file);
  if (o->fetch != NULL)
    c->fetch = *o->fetch;
  else
    ys_fetch_options_init (&c->fetch);
  if (o->cancel != NULL)
    c->fetch.cancel = o->cancel;
  g_mutex_init (&c->lock);
  c->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->held_count = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return c;
}

void
ys_model_cache_free (YsModelCache *c)
{
  GHashTableIter it;
  gpointer key, value;

  if (c == NULL)
    return;
  g_hash_table_iter_init (&it, c->held);
  while (g_hash_table_iter_next (&it, &key, &value))
    close (GPOINTER_TO_INT (value) - 1);
  g_hash_table_unref (c->held);
  g_hash_table_unref (c->held_count);
  g_mutex_clear (&c->lock);
  g_free (c->dir);
  g_free (c->base_url);
  g_free (c->token);
  g_free (c->tls_ca_file);
  g_free (c);
}
