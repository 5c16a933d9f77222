/* The token-failure backoff of yoloswitch-edge (offload/edge_throttle.c):
 * the free first failure, the doubling, the cap, forgiveness, and the
 * bounded table evicting the oldest address. */
#include "edge_throttle.h"

#include <glib.h>

#define S G_USEC_PER_SEC

static void
test_doubles_up_to_the_cap (void)
{
  EdgeThrottle *t = edge_throttle_new (8, 1000, 5000);

  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", 0), ==, 0);
  /* The first wrong token is a typo: no wait. */
  g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", 0), ==, 0);
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", 0), ==, 0);
  g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", 0), ==, 1000);
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", 0), ==, 1000);
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", S / 2), ==, 500);
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", S), ==, 0);
  /* Another address is not affected. */
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.2", 0), ==, 0);
  g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", S), ==, 2000);
  g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", 3 * S), ==, 4000);
  g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", 7 * S), ==, 5000);
  /* Far more failures than bits: still the cap, no overflow. */
  for (int i = 0; i < 200; i++)
    g_assert_cmpint (edge_throttle_failed (t, "10.0.0.1", 8 * S), ==, 5000);
  edge_throttle_succeeded (t, "10.0.0.1");
  g_assert_cmpint (edge_throttle_wait_ms (t, "10.0.0.1", 8 * S), ==, 0);
  g_assert_cmpint (edge_throttle_size (t), ==, 0);
  edge_throttle_free (t);
}

static void
test_quiet_address_forgiven (void)
{
  EdgeThrottle *t = edge_throttle_new (8, 1000, 5000);

  edge_throttle_failed (t, "a", 0);
  g_assert_cmpint (edge_throttle_failed (t, "a", 0), ==, 1000);
  /* Quiet for more than twice the cap: starts afresh, the next is free. */
  g_assert_cmpint (edge_throttle_failed (t, "a", 11 * S), ==, 0);
  edge_throttle_free (t);
}

static void
test_table_bounded_oldest_evicted (void)
{
  EdgeThrottle *t = edge_throttle_new (3, 1000, 60000);

  edge_throttle_failed (t, "old", 0);
  edge_throttle_failed (t, "old", 1);
  edge_throttle_failed (t, "mid", 2);
  edge_throttle_failed (t, "new", 3);
  g_assert_cmpint (edge_throttle_size (t), ==, 3);
  g_assert_cmpint (edge_throttle_wait_ms (t, "old", 10), >, 0);
  /* A fourth address takes the slot of the one failed longest ago. */
  edge_throttle_failed (t, "fourth", 4);
  g_assert_cmpint (edge_throttle_size (t), ==, 3);
  g_assert_cmpint (edge_throttle_wait_ms (t, "old", 10), ==, 0);
  edge_throttle_failed (t, "mid", 5);
  g_assert_cmpint (edge_throttle_wait_ms (t, "mid", 10), >, 0);
  edge_throttle_free (t);
}

static void
test_disabled (void)
{
  EdgeThrottle *t = edge_throttle_new (4, 0, 0);

  for (int i = 0; i < 10; i++)
    g_assert_cmpint (edge_throttle_failed (t, "x", i), ==, 0);
  g_assert_cmpint (edge_throttle_wait_ms (t, "x", 10), ==, 0);
  edge_throttle_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/edge-throttle/doubles-up-to-the-cap",
      test_doubles_up_to_the_cap);
  g_test_add_func ("/edge-throttle/quiet-address-forgiven",
      test_quiet_address_forgiven);
  g_test_add_func ("/edge-throttle/table-bounded",
      test_table_bounded_oldest_evicted);
  g_test_add_func ("/edge-throttle/disabled", test_disabled);
  return g_test_run ();
}
