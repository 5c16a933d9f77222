/* yolo_usable_cores(): the affinity mask and the cgroup quota, not the
 * machine's online CPUs (threads=0 of every model and of the edge server). */
#include <glib.h>
#include <sched.h>

#include "cpus.h"

static void
test_quota_text (void)
{
  g_assert_cmpint (yolo_cgroup_quota_cores ("max 100000\n"), ==, 0);
  g_assert_cmpint (yolo_cgroup_quota_cores ("100000 100000\n"), ==, 1);
  g_assert_cmpint (yolo_cgroup_quota_cores ("150000 100000\n"), ==, 2);
  g_assert_cmpint (yolo_cgroup_quota_cores ("50000 100000"), ==, 1);
  g_assert_cmpint (yolo_cgroup_quota_cores ("400000 100000"), ==, 4);
  /* Not understood: no limit rather than a wrong one. */
  g_assert_cmpint (yolo_cgroup_quota_cores (""), ==, 0);
  g_assert_cmpint (yolo_cgroup_quota_cores ("100000"), ==, 0);
  g_assert_cmpint (yolo_cgroup_quota_cores ("100000 0"), ==, 0);
  g_assert_cmpint (yolo_cgroup_quota_cores ("-5 100000"), ==, 0);
  g_assert_cmpint (yolo_cgroup_quota_cores ("9223372036854775807 1"), ==, 4096);
}

/* Pinned to one CPU, the process may use one core whatever the machine
 * has; the mask restored, as many as it holds (or the quota allows). */
static void
test_affinity (void)
{
  cpu_set_t all, one;
  int first = -1;

  g_assert_cmpint (sched_getaffinity (0, sizeof (all), &all), ==, 0);
  g_assert_cmpint (yolo_usable_cores (), >=, 1);
  g_assert_cmpint (yolo_usable_cores (), <=, CPU_COUNT (&all));
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET (i, &all))
      first = i;
  CPU_ZERO (&one);
  CPU_SET (first, &one);
  g_assert_cmpint (sched_setaffinity (0, sizeof (one), &one), ==, 0);
  g_assert_cmpint (yolo_usable_cores (), ==, 1);
  g_assert_cmpint (sched_setaffinity (0, sizeof (all), &all), ==, 0);
  g_assert_cmpint (yolo_usable_cores (), <=, CPU_COUNT (&all));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpus/quota-text", test_quota_text);
  g_test_add_func ("/cpus/affinity", test_affinity);
  return g_test_run ();
}
