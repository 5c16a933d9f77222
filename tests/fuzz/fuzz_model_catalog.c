/* A device's reading of an edge server's GET /models answer
 * (offload/model_catalog.c, ys_catalog_find): any bytes from the network.
 * Input: one byte of flags (bit 0: prefer the 8-bit variant; the rest
 * picks the model name asked for), then the answer.  Beyond memory
 * safety:
 *
 * - no GLib warning or critical (they are made fatal);
 * - a refusal has a sentence and leaves the entry empty;
 * - an accepted entry is the model asked for, with a cfg, weights and
 *   labels whose names are plain file names (no '/', not hidden), whose
 *   digests are 64 lower-case hex digits and sizes within the limit;
 *   the 8-bit weights only when they were listed as such. */
#include "fuzz.h"

#include "model_catalog.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  g_log_set_always_fatal (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
  return 0;
}

static void
check_file (const YsCatalogFile *f)
{
  FUZZ_CHECK (f->file != NULL && ys_catalog_valid_name (f->file));
  FUZZ_CHECK (strchr (f->file, '/') == NULL && f->file[0] != '.');
  FUZZ_CHECK (strlen (f->sha256) == 64);
  for (int i = 0; i < 64; i++)
    FUZZ_CHECK (g_ascii_isdigit (f->sha256[i])
        || (f->sha256[i] >= 'a' && f->sha256[i] <= 'f'));
  FUZZ_CHECK (f->bytes >= 0 && f->bytes <= YS_CATALOG_MAX_FILE_BYTES);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *names[] = { "m", "yolo-fastest-1.1", "", "../x" };
  YsCatalogEntry e;
  GError *error = NULL;
  const char *name;
  gboolean ok;

  if (size < 1)
    return 0;
  name = names[(data[0] >> 1) & 3];
  ok = ys_catalog_find ((const char *) data + 1, size - 1, name, data[0] & 1,
      &e, &error);
  if (fuzz_verbose ())
    fprintf (stderr, "%s: %s\n", name, ok ? "accepted" : error->message);
  if (!ok) {
    FUZZ_CHECK (error != NULL && error->message[0] != '\0');
    FUZZ_CHECK (e.name == NULL && e.cfg.file == NULL && e.weights.file == NULL);
    g_error_free (error);
    return 0;
  }
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (strcmp (e.name, name) == 0);
  FUZZ_CHECK (e.version != NULL && e.version[0] != '\0');
  FUZZ_CHECK (strlen (e.sha256) == 64);
  check_file (&e.cfg);
  check_file (&e.weights);
  check_file (&e.labels);
  FUZZ_CHECK (
      e.best_accuracy == -1 || (e.best_accuracy >= 0 && e.best_accuracy <= 1));
  ys_catalog_entry_clear (&e);
  return 0;
}
