/* Internal to the model cache (model_cache*.c): what entry.json records
 * of a cached model, read and written by model_cache_entry.c. */
#ifndef YOLOSWITCH_OFFLOAD_MODEL_CACHE_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_MODEL_CACHE_INTERNAL_H

#include <glib.h>

#define ENTRY_FILE "entry.json"
#define ENTRY_MAX_BYTES (64 << 10) /* what a read of entry.json takes */

/* What entry.json records of a cached model. */
typedef struct {
  char *name;
  char version[72];
  char files[3][256]; /* cfg, weights, labels as stored */
  gint64 bytes;
  gint64 uses, last_used_us;
  double accuracy; /* -1: unknown */
  gboolean int8;
} Entry;

/* Writes folder/entry.json (a temporary renamed over it: a reader sees
 * the old one or the new one). */
gboolean ys_cache_entry_write (const char *folder, const Entry *entry);
/* The entry of folder (model `name`) when the model there is complete:
 * entry.json readable, naming `name`, and every file it names there with
 * the sizes it says in all.  entry->name is g_strdup'd. */
gboolean ys_cache_entry_read (const char *folder, const char *name,
    Entry *entry);

#endif
