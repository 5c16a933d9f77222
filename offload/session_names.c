/* Strings from the server that outlive their message: detection labels
 * and model names.  A box's label must stay valid for the life of the
 * process (yolo/detections.h: metas on buffers, the tracker, quarks of
 * region metas all keep it), so such strings are kept forever, and a
 * hostile server that sends a fresh label per box would grow the
 * pipeline without end (it did: 99 MB to 670 MB in 600 frames).  So:
 *  - only printable UTF-8 is taken (no control characters, which would
 *    forge lines in logs and results files); the parser bounds lengths;
 *  - a session accepts at most max_labels distinct names; past that, or
 *    for a string that is not printable, a label becomes "unknown" (the
 *    box is kept and counted) and the owner is warned once;
 *  - the one process-wide table is capped as well (MAX_NAMES), so even
 *    sessions started again and again against such a server stop
 *    growing it. */
#include "session_internal.h"

#include <string.h>

/* Distinct strings kept in the process, whatever the sessions: at most
 * (YS_MAX_MODEL + 1) bytes each, about 13 MB at worst. */
#define MAX_NAMES 65536

static GMutex names_lock;
static GHashTable *names; /* char * -> itself, kept forever; names_lock */

/* The server's text is shown as is only if it is printable UTF-8. */
static bool
printable (const char *ptr, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if ((unsigned char) ptr[i] < 0x20 || ptr[i] == 0x7f)
      return false;
  return g_utf8_validate_len (ptr, len, NULL);
}

char *
session_printable_copy (const char *ptr, size_t len)
{
  GString *out = g_string_sized_new (len);
  const char *p = ptr, *end = ptr + len;

  /* Valid UTF-8 passes; a control byte or a broken sequence shows as
   * \xNN, so nothing the server sends can start a new log line. */
  while (p < end) {
    gunichar c = g_utf8_get_char_validated (p, end - p);
    if (c == (gunichar) -1 || c == (gunichar) -2 || c < 0x20 || c == 0x7f) {
      g_string_append_printf (out, "\\x%02x", (unsigned char) *p);
      p++;
    } else {
      const char *next = g_utf8_next_char (p);
      g_string_append_len (out, p, next - p);
      p = next;
    }
  }
  return g_string_free (out, FALSE);
}

/* Any thread: the process-lifetime copy of a printable string, NULL when
 * the table is full. */
static const char *
table_intern (const char *ptr, size_t len)
{
  char key[YS_MAX_MODEL + 1];
  const char *kept;

  memcpy (key, ptr, len);
  key[len] = '\0';
  g_mutex_lock (&names_lock);
  if (names == NULL)
    names = g_hash_table_new (g_str_hash, g_str_equal);
  kept = g_hash_table_lookup (names, key);
  if (kept == NULL && g_hash_table_size (names) < MAX_NAMES) {
    char *copy = g_strdup (key);
    g_hash_table_add (names, copy);
    kept = copy;
  }
  g_mutex_unlock (&names_lock);
  return kept;
}

const char *
session_name_locked (YsSession *s, const char *ptr, size_t len,
    const char **why)
{
  const char *kept;

  if (len > YS_MAX_MODEL || !printable (ptr, len)) {
    *why = "not printable UTF-8";
    return NULL;
  }
  /* Names this session already has cost nothing more. */
  kept = table_intern (ptr, len);
  if (kept != NULL && g_hash_table_contains (s->names, kept))
    return kept;
  if (kept == NULL
      || (int) g_hash_table_size (s->names) >= s->options.max_labels) {
    *why = "over max-labels distinct names";
    return NULL;
  }
  g_hash_table_add (s->names, (gpointer) kept);
  return kept;
}

/* Lock held: a warning the first time the server's names are refused. */
void
session_name_refused_locked (YsSession *s, const char *what, const char *ptr,
    size_t len, const char *why)
{
  char *shown;

  if (s->warned_names)
    return;
  s->warned_names = true;
  shown = session_printable_copy (ptr, MIN (len, (size_t) YS_MAX_NAME));
  session_notice_locked (s, true,
      g_strdup_printf ("edge server %s sent the %s \"%s\", %s (a session "
                       "keeps at most %d distinct labels and model names, "
                       "see max-labels): such names are recorded as "
                       "\"unknown\" from now on, their boxes kept and "
                       "counted in labels-refused; the server or its model "
                       "is not what this pipeline expects",
          s->server, what, shown, why, s->options.max_labels));
  g_free (shown);
}
