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
 *    growing it;
 *  - when the server's HELLO lists its model's labels, the list is taken
 *    as names (under the same rules: a list that breaks them refuses the
 *    HELLO) and a box is kept with its label only if that is the list's
 *    for its class_id: a server then cannot make the session take any
 *    name it did not announce. */
#include "session_internal.h"

#include <stdlib.h>
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
  /* Valid UTF-8 passes; a control byte or a broken sequence shows as
   * \xNN, so nothing the server sends can start a new log line. */
  char *escaped = ys_text_escape (ptr, len, len, YS_ESCAPE_KEEP_UTF8);
  char *copy = g_strdup (escaped != NULL ? escaped : "?");

  free (escaped);
  return copy;
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

/* ---- the label list of the server's HELLO ---------------------------------- */

char *
session_take_label_list_locked (YsSession *s, const YsHello *hello)
{
  const char **list;

  /* Each connection's HELLO says its own: none now is none. */
  g_clear_pointer (&s->list_labels, g_free);
  s->list_count = 0;
  if (hello->label_count == 0)
    return NULL;
  list = g_new (const char *, hello->label_count);
  for (int i = 0; i < hello->label_count; i++) {
    const YsStr *l = &hello->labels[i];
    const char *why = NULL;
    /* Taken like any name: its cost is counted under max-labels now, and
     * boxes that match it cost nothing more. */
    list[i] = session_name_locked (s, l->ptr, l->len, &why);
    if (list[i] == NULL) {
      char *shown = session_printable_copy (l->ptr, l->len);
      char *text = g_strdup_printf ("label %d of %u (\"%s\") is %s (a "
                                    "session keeps at most %d distinct "
                                    "labels and model names, see max-labels)",
          i, hello->label_count, shown, why, s->options.max_labels);
      g_free (shown);
      g_free (list);
      return text;
    }
  }
  s->list_labels = list;
  s->list_count = hello->label_count;
  return NULL;
}

/* Lock held: a warning the first time a box disagrees with the list. */
static void
list_refused_locked (YsSession *s, const YsDetection *d)
{
  char *sent, *says;

  if (s->warned_names)
    return;
  s->warned_names = true;
  sent = session_printable_copy (d->label.ptr, d->label.len);
  says = d->class_id < s->list_count
      ? g_strdup_printf ("its HELLO's label list says \"%s\"",
          s->list_labels[d->class_id])
      : g_strdup_printf ("its HELLO's label list has %d labels, no class %u",
          s->list_count, d->class_id);
  session_notice_locked (s, true,
      g_strdup_printf ("edge server %s sent the label \"%s\" for class %u, "
                       "but %s: boxes whose label is not the list's are "
                       "recorded as \"unknown\" from now on, kept and "
                       "counted in labels-refused; the server is not "
                       "sending what its model announced",
          s->server, sent, d->class_id, says));
  g_free (sent);
  g_free (says);
}

const char *
session_label_locked (YsSession *s, const YsDetection *d)
{
  const char *why = NULL;
  const char *label;

  if (s->list_labels != NULL) {
    const char *listed
        = d->class_id < s->list_count ? s->list_labels[d->class_id] : NULL;
    if (listed != NULL && strlen (listed) == d->label.len
        && memcmp (listed, d->label.ptr, d->label.len) == 0)
      return listed;
    s->counters.labels_refused++;
    list_refused_locked (s, d);
    return "unknown";
  }
  label = session_name_locked (s, d->label.ptr, d->label.len, &why);
  if (label != NULL)
    return label;
  s->counters.labels_refused++;
  session_name_refused_locked (s, "label", d->label.ptr, d->label.len, why);
  return "unknown";
}
