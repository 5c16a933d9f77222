/* What a session keeps of the server's strings (offload/session_names.c):
 * printable UTF-8 only, at most max_labels distinct names per session,
 * one process-lifetime copy shared by sessions, the refusal warned about
 * once, and the server's text escaped for sentences.  The session is
 * built by hand: only the fields these functions use. */
#include <glib.h>
#include <string.h>

#include "session_internal.h"

static YsSession *
session_new (int max_labels)
{
  YsSession *s = g_new0 (YsSession, 1);
  s->options.max_labels = max_labels;
  s->server = g_strdup ("ws://hostile/");
  s->names = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_queue_init (&s->notices);
  return s;
}

static guint
notices (YsSession *s, const char *containing)
{
  guint n = 0;
  for (GList *l = s->notices.head; l != NULL; l = l->next) {
    const Notice *notice = l->data;
    n += strstr (notice->text, containing) != NULL;
  }
  return n;
}

static void
session_free (YsSession *s)
{
  Notice *n;
  while ((n = g_queue_pop_head (&s->notices)) != NULL) {
    g_free (n->text);
    g_free (n);
  }
  g_hash_table_destroy (s->names);
  g_free (s->server);
  g_free (s);
}

static const char *
name (YsSession *s, const char *text, const char **why)
{
  const char *kept = session_name_locked (s, text, strlen (text), why);
  if (kept == NULL)
    session_name_refused_locked (s, "label", text, strlen (text), *why);
  return kept;
}

static void
test_cap_per_session (void)
{
  YsSession *a = session_new (3), *b = session_new (3);
  const char *why = NULL;
  const char *person = name (a, "person", &why);

  g_assert_nonnull (person);
  g_assert_cmpstr (person, ==, "person");
  g_assert_nonnull (name (a, "dog", &why));
  g_assert_nonnull (name (a, "car", &why));
  /* A name it has costs nothing; a fourth is refused, warned once. */
  g_assert_true (name (a, "person", &why) == person);
  g_assert_null (name (a, "cat", &why));
  g_assert_cmpstr (why, ==, "over max-labels distinct names");
  g_assert_null (name (a, "horse", &why));
  g_assert_cmpuint (notices (a, "see max-labels"), ==, 1);
  g_assert_cmpuint (notices (a, "\"cat\""), ==, 1);
  /* Another session has its own count and shares the copy. */
  g_assert_true (name (b, "person", &why) == person);
  g_assert_nonnull (name (b, "cat", &why));
  g_assert_cmpuint (g_queue_get_length (&b->notices), ==, 0);
  session_free (a);
  session_free (b);
}

static void
test_not_printable_refused (void)
{
  YsSession *s = session_new (100);
  const char *why = NULL;

  g_assert_null (name (s, "per\nson", &why));
  g_assert_cmpstr (why, ==, "not printable UTF-8");
  g_assert_null (name (s, "bad\xff utf8", &why));
  g_assert_null (name (s, "esc\x1b[31m", &why));
  g_assert_null (name (s, "del\x7f", &why));
  /* Warned once, with the bytes escaped: no new line in the sentence. */
  g_assert_cmpuint (g_queue_get_length (&s->notices), ==, 1);
  g_assert_cmpuint (notices (s, "per\\x0ason"), ==, 1);
  g_assert_null (strchr (((Notice *) s->notices.head->data)->text, '\n'));
  /* UTF-8 beyond ASCII is printable. */
  g_assert_cmpstr (name (s, "bücher", &why), ==, "bücher");
  g_assert_cmpstr (name (s, "", &why), ==, "");
  session_free (s);
}

static void
test_printable_copy (void)
{
  const char text[] = "line1\nline2\r\x1b[0m caf\xc3\xa9 \xff\xfe end";
  char *shown = session_printable_copy (text, sizeof (text) - 1);

  g_assert_cmpstr (shown, ==,
      "line1\\x0aline2\\x0d\\x1b[0m caf\xc3\xa9 \\xff\\xfe end");
  g_assert_true (g_utf8_validate (shown, -1, NULL));
  g_free (shown);
  /* A string cut inside a character. */
  shown = session_printable_copy ("caf\xc3", 4);
  g_assert_cmpstr (shown, ==, "caf\\xc3");
  g_free (shown);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session-names/cap-per-session", test_cap_per_session);
  g_test_add_func ("/session-names/not-printable", test_not_printable_refused);
  g_test_add_func ("/session-names/printable-copy", test_printable_copy);
  return g_test_run ();
}
