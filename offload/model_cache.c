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
      remove_folder (folder);
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
  char *text = NULL, *partial, *staging = NULL, *folder = NULL;
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
  if (!make_room (c, name, ce.cfg.bytes + ce.weights.bytes + ce.labels.bytes,
          evicted, error))
    goto out;
  staging = g_build_filename (partial, name, NULL);
  remove_folder (staging);
  if (g_mkdir_with_parents (staging, 0755) != 0) {
    ERR ("cannot make %s: %s", staging, g_strerror (errno));
    goto out;
  }
  memset (&e, 0, sizeof (e));
  for (int i = 0; i < 3; i++) {
    /* The part is named by its digest: resumed only for these bytes. */
    char *part_name = g_strconcat (files[i]->sha256, ".part", NULL);
    char *part = g_build_filename (partial, part_name, NULL);
    char *path = g_strdup_printf ("/models/%s/%s", name, files[i]->file);
    /* Stored where the loader looks for them by name: NAME.cfg,
     * NAME.weights (8-bit too) and the labels under their own name. */
    char *stored_name = i == 0 ? g_strconcat (name, ".cfg", NULL)
        : i == 1               ? g_strconcat (name, ".weights", NULL)
                               : g_strdup (files[i]->file);
    char *dest = g_build_filename (staging, stored_name, NULL);
    gint64 sent = 0, resumed = 0;
    gboolean got = ys_fetch_file (&fo, path, part, files[i]->bytes,
        files[i]->sha256, &sent, &resumed, error);

    report->sent_bytes += sent;
    report->resumed_bytes += resumed;
    if (got && g_rename (part, dest) != 0) {
      ERR ("cannot move %s to %s: %s", part, dest, g_strerror (errno));
      got = FALSE;
    }
    if (!got)
      g_unlink (part); /* a wrong whole file; a cut one is kept to resume */
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
  e.name = (char *) name;
  g_strlcpy (e.version, ce.version, sizeof (e.version));
  e.accuracy = ce.best_accuracy;
  e.int8 = ce.int8;
  e.last_used_us = g_get_real_time ();
  if (!ys_cache_entry_write (staging, &e)) {
    ERR ("cannot write %s/%s", staging, ENTRY_FILE);
    goto out;
  }
  /* Into place whole: the old folder (an older version, or junk) first. */
  folder = model_folder (c, name);
  remove_folder (folder);
  if (g_rename (staging, folder) != 0) {
    ERR ("cannot move %s to %s: %s", staging, folder, g_strerror (errno));
    goto out;
  }
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
  g_free (partial);
  g_free (staging);
  g_free (folder);
  return ok;
}

/* ---- taking and releasing ----------------------------------------------------- */

gboolean
ys_model_cache_take (YsModelCache *c, const char *name, char **model_dir,
    YsCacheReport *report, GError **error)
{
  char *folder, *fetch_lock_dir;
  int fd, fetch_fd = -1;
  Entry e;
  GError *fetch_error = NULL;
  gboolean ok = FALSE;

  memset (report, 0, sizeof (*report));
  *model_dir = NULL;
  if (!ys_catalog_valid_name (name)) {
    ERR ("model name \"%s\" is not a file stem", name);
    return FALSE;
  }
  folder = model_folder (c, name);
  /* One fetch of a model at a time, across processes. */
  fetch_lock_dir = g_build_filename (c->dir, PARTIAL_DIR, name, NULL);
  g_mkdir_with_parents (c->dir, 0755);
  for (int round = 0; round < 2 && !ok; round++) {
    if (ys_cache_entry_read (folder, name, &e)) {
      fd = lock_folder (folder, LOCK_SH);
      /* Evicted or replaced between the look and the lock: again. */
      if (fd >= 0 && ys_cache_entry_read (folder, name, &e)) {
        g_mutex_lock (&c->lock);
        if (!g_hash_table_contains (c->held, name))
          g_hash_table_insert (c->held, g_strdup (name),
              GINT_TO_POINTER (fd + 1));
        else
          close (fd);
        g_hash_table_insert (c->held_count, g_strdup (name),
            GINT_TO_POINTER (
                GPOINTER_TO_INT (g_hash_table_lookup (c->held_count, name))
                + 1));
        g_mutex_unlock (&c->lock);
        e.uses++;
        e.last_used_us = g_get_real_time ();
        ys_cache_entry_write (folder, &e);
        if (!report->fetched) {
          g_strlcpy (report->version, e.version, sizeof (report->version));
          report->model_bytes = e.bytes;
          report->int8 = e.int8;
        }
        *model_dir = g_strdup (folder);
        ok = TRUE;
      } else if (fd >= 0) {
        close (fd);
      }
      g_free (e.name);
      if (ok)
        break;
    }
    if (round > 0 || c->base_url == NULL)
      break;
    {
      char *lock_path = g_strconcat (fetch_lock_dir, ".fetching", NULL);
      char *partial = g_build_filename (c->dir, PARTIAL_DIR, NULL);
      g_mkdir_with_parents (partial, 0755);
      fetch_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fetch_fd >= 0)
        flock (fetch_fd, LOCK_EX);
      /* Another process may have fetched it meanwhile. */
      if (!ys_cache_entry_read (folder, name, &e))
        fetch_model (c, name, report, &fetch_error);
      else
        g_free (e.name);
      if (fetch_fd >= 0)
        close (fetch_fd);
      fetch_fd = -1;
      g_free (lock_path);
      g_free (partial);
    }
  }
  if (!ok) {
    if (fetch_error != NULL)
      ERR ("model \"%s\" is not in model-cache-dir %s and could not be "
           "fetched: %s",
          name, c->dir, fetch_error->message);
    else if (c->base_url == NULL)
      ERR ("model \"%s\" is not in model-cache-dir %s, and no edge server "
           "is set to fetch it from (server= or catalog=)",
          name, c->dir);
    else
      ERR ("model \"%s\" could not be had from model-cache-dir %s", name,
          c->dir);
  }
  g_clear_error (&fetch_error);
  g_free (fetch_lock_dir);
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

gint64
ys_model_cache_bytes (YsModelCache *c)
{
  GArray *list = cached_entries (c, NULL);
  gint64 total = 0;
  for (guint i = 0; i < list->len; i++)
    total += g_array_index (list, Entry, i).bytes;
  entries_free (list);
  return total;
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

YsModelCache *
ys_model_cache_new (const YsModelCacheOptions *o, GError **error)
{
  YsModelCache *c;

  if (o->dir == NULL || *o->dir == '\0') {
    ERR ("no model-cache-dir given");
    return NULL;
  }
  if (g_mkdir_with_parents (o->dir, 0755) != 0) {
    ERR ("cannot make model-cache-dir %s: %s", o->dir, g_strerror (errno));
    return NULL;
  }
  if (o->server != NULL && ys_model_cache_http_base (o->server) == NULL) {
    ERR ("edge server \"%s\" is not a ws://, wss://, http:// or https:// URL",
        o->server);
    return NULL;
  }
  c = g_new0 (YsModelCache, 1);
  c->dir = g_canonicalize_filename (o->dir, NULL);
  c->budget = o->budget_bytes;
  c->base_url = ys_model_cache_http_base (o->server);
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
