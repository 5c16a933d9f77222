#include "cpus.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
yolo_cgroup_quota_cores (const char *cpu_max)
{
  char quota[32];
  long long q, period;

  if (sscanf (cpu_max, "%31s %lld", quota, &period) != 2 || period <= 0)
    return 0;
  if (sscanf (quota, "%lld", &q) != 1 || q <= 0)
    return 0; /* "max": no limit */
  /* Rounded up without q + period - 1, which overflows near LLONG_MAX. */
  q = q / period + (q % period != 0);
  return q > 4096 ? 4096 : (int) q;
}

/* The quota of the cgroup v2 this process is in, read where systemd and
 * container runtimes mount it (the process's own cgroup is the root of
 * the mount inside a container). */
static int
cgroup_cores (void)
{
  char text[128];
  FILE *f = fopen ("/sys/fs/cgroup/cpu.max", "r");
  int cores = 0;

  if (f == NULL)
    return 0;
  if (fgets (text, sizeof (text), f) != NULL)
    cores = yolo_cgroup_quota_cores (text);
  fclose (f);
  return cores;
}

int
yolo_usable_cores (void)
{
  cpu_set_t set;
  int cores = 0, quota;

  if (sched_getaffinity (0, sizeof (set), &set) == 0)
    cores = CPU_COUNT (&set);
  if (cores < 1) {
    long online = sysconf (_SC_NPROCESSORS_ONLN);
    cores = online > 0 ? (int) online : 1;
  }
  quota = cgroup_cores ();
  if (quota > 0 && quota < cores)
    cores = quota;
  return cores;
}
