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
  g_free (s->list_labels);
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

/* ---- the label list of the server's HELLO ---- */

static YsHello
hello_with (const YsStr *labels, int count)
{
  YsHello h = { 0 };
  h.label_count = (uint16_t) count;
  h.labels = labels;
  return h;
}

static YsDetection
box (uint16_t class_id, const char *label)
{
  YsDetection d = { class_id, 0.9f, 0.1f, 0.1f, 0.2f, 0.2f, ys_str (label) };
  return d;
}

/* With a list, a box keeps its label only if it is the list's for its
 * class; any other (another class's label, a fresh string, a class the
 * list does not have) is "unknown", counted, warned once with what the
 * server sent and what the list says. */
static void
test_list_checks_results (void)
{
  static const YsStr coco[]
      = { { "person", 6 }, { "bicycle", 7 }, { "car", 3 } };
  YsSession *s = session_new (100);
  YsHello h = hello_with (coco, 3);
  YsDetection d;
  const char *person;

  g_assert_null (session_take_label_list_locked (s, &h));
  g_assert_cmpint (s->list_count, ==, 3);
  /* The list's labels are names of the session now. */
  g_assert_cmpuint (g_hash_table_size (s->names), ==, 3);
  d = box (0, "person");
  person = session_label_locked (s, &d);
  g_assert_cmpstr (person, ==, "person");
  g_assert_true (person == s->list_labels[0]);
  d = box (2, "car");
  g_assert_cmpstr (session_label_locked (s, &d), ==, "car");
  g_assert_cmpuint (s->counters.labels_refused, ==, 0);
  g_assert_cmpuint (g_queue_get_length (&s->notices), ==, 0);

  d = box (1, "car"); /* another class's label */
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  g_assert_cmpuint (s->counters.labels_refused, ==, 1);
  g_assert_cmpuint (notices (s,
                        "sent the label \"car\" for class 1, but its "
                        "HELLO's label list says \"bicycle\""),
      ==, 1);
  g_assert_cmpuint (notices (s, "labels-refused"), ==, 1);
  d = box (0, "zebra-123"); /* a fresh string: not taken as a name */
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  d = box (3, "car"); /* past the list */
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  d = box (0, "person\n"); /* not the list's, whatever it is */
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  g_assert_cmpuint (s->counters.labels_refused, ==, 4);
  g_assert_cmpuint (g_queue_get_length (&s->notices), ==, 1);
  g_assert_cmpuint (g_hash_table_size (s->names), ==, 3);
  session_free (s);

  /* The first refusal is the out-of-range one: the warning says so. */
  s = session_new (100);
  g_assert_null (session_take_label_list_locked (s, &h));
  d = box (7, "car");
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  g_assert_cmpuint (notices (s,
                        "sent the label \"car\" for class 7, but its "
                        "HELLO's label list has 3 labels, no class "
                        "7"),
      ==, 1);
  session_free (s);
}

/* Without a list (an older server, or a HELLO that says 0), labels are
 * checked one by one as before; each HELLO replaces the last one's list. */
static void
test_no_list_checks_as_before (void)
{
  static const YsStr one[] = { { "person", 6 } };
  YsSession *s = session_new (100);
  YsHello with = hello_with (one, 1), without = hello_with (NULL, 0);
  YsDetection d = box (4, "kite");

  g_assert_null (session_take_label_list_locked (s, &without));
  g_assert_null (s->list_labels);
  g_assert_cmpstr (session_label_locked (s, &d), ==, "kite");
  g_assert_null (session_take_label_list_locked (s, &with));
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  g_assert_null (session_take_label_list_locked (s, &without));
  g_assert_cmpstr (session_label_locked (s, &d), ==, "kite");
  g_assert_cmpuint (s->counters.labels_refused, ==, 1);
  d = box (4,
      "ki\x1b"
      "te");
  g_assert_cmpstr (session_label_locked (s, &d), ==, "unknown");
  g_assert_cmpuint (s->counters.labels_refused, ==, 2);
  session_free (s);
}

/* A list is held to the rules of names: a label that is not printable,
 * or more names than max_labels, refuses the HELLO with a sentence that
 * names the label, and no list is kept. */
static void
test_list_refused (void)
{
  static const YsStr bad[] = { { "person", 6 }, { "bi\x1b[31mke", 9 } };
  static const YsStr four[]
      = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 } };
  YsSession *s = session_new (100);
  YsHello h = hello_with (bad, 2);
  char *why = session_take_label_list_locked (s, &h);

  g_assert_nonnull (why);
  g_assert_nonnull (strstr (why,
      "label 1 of 2 (\"bi\\x1b[31mke\") is not "
      "printable UTF-8"));
  g_assert_null (strchr (why, '\x1b'));
  g_assert_null (s->list_labels);
  g_assert_cmpint (s->list_count, ==, 0);
  g_free (why);
  session_free (s);

  s = session_new (3);
  h = hello_with (four, 4);
  why = session_take_label_list_locked (s, &h);
  g_assert_nonnull (why);
  g_assert_nonnull (strstr (why,
      "label 3 of 4 (\"d\") is over max-labels "
      "distinct names"));
  g_assert_nonnull (strstr (why, "at most 3 distinct"));
  g_assert_null (s->list_labels);
  g_free (why);
  session_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session-names/cap-per-session", test_cap_per_session);
  g_test_add_func ("/session-names/not-printable", test_not_printable_refused);
  g_test_add_func ("/session-names/printable-copy", test_printable_copy);
  g_test_add_func ("/session-names/list-checks-results",
      test_list_checks_results);
  g_test_add_func ("/session-names/no-list", test_no_list_checks_as_before);
  g_test_add_func ("/session-names/list-refused", test_list_refused);
  return g_test_run ();
}
