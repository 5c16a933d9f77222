/* The profile reader (pipeline/profile.h) on arbitrary bytes: the
 * yoloswitch element reads a profile file named by a property, and users
 * edit them.  Checked beyond "does not crash": a refusal carries a
 * sentence, no GLib warning or critical is logged (they mean a json-glib
 * accessor was called on the wrong kind of node), and an accepted profile
 * written back out (ys_profile_to_json) reads back and writes out the same
 * text. */
#include "fuzz.h"

#include "profile.h"

#include <string.h>

/* A warning or critical is a finding: printed, then abort ().  Not
 * g_log_set_always_fatal (): GLib ends a fatal message with G_BREAKPOINT,
 * a SIGTRAP that neither libFuzzer nor ASan handles, so the process died
 * with no report and no saved input (a -fork run counted a "crash" and
 * kept nothing).  abort () is reported and its input saved like any crash.
 * Every g_log () goes through the writer, the old-style ones too. */
static GLogWriterOutput
abort_on_warning (GLogLevelFlags level, const GLogField *fields, gsize n,
    gpointer user_data)
{
  GLogWriterOutput out = g_log_writer_default (level, fields, n, user_data);

  if (level
      & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
    fprintf (stderr, "%s:%d: check failed: no GLib warning or critical\n",
        __FILE__, __LINE__);
    abort ();
  }
  return out;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_writer_func (abort_on_warning, NULL, NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  YsProfile *p, *back;
  char *text, *again;

  p = ys_profile_parse ((const char *) data, (gssize) size, "fuzz.json",
      &error);
  if (p == NULL) {
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", error->message);
    FUZZ_CHECK (error != NULL && error->message[0] != '\0');
    g_error_free (error);
    return 0;
  }
  if (fuzz_verbose ())
    fprintf (stderr, "accepted: %d configurations\n", p->config_count);
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (p->config_count >= 1);
  for (int i = 0; i < p->config_count; i++) {
    char *d = ys_profile_config_describe (&p->configs[i]);
    FUZZ_CHECK (d != NULL && d[0] != '\0');
    g_free (d);
  }
  text = ys_profile_to_json (p);
  back = ys_profile_parse (text, -1, "written.json", &error);
  if (back == NULL) {
    fprintf (stderr, "a profile read, written, does not read back: %s\n%s\n",
        error->message, text);
    FUZZ_CHECK (!"profile round trip");
  }
  FUZZ_CHECK (back->config_count == p->config_count);
  again = ys_profile_to_json (back);
  if (strcmp (text, again) != 0)
    fprintf (stderr, "written:\n%s\nread back and written:\n%s\n", text, again);
  FUZZ_CHECK (strcmp (text, again) == 0);
  g_free (again);
  g_free (text);
  ys_profile_free (back);
  ys_profile_free (p);
  return 0;
}
