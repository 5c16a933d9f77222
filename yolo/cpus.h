/* How many cores this process may really use: the CPUs of its affinity
 * mask (taskset, cpusets), fewer when its cgroup's CPU quota allows less
 * (a container started with --cpus=1.5 counts 2).  sysconf's count of
 * online CPUs ignores both, so a model sized by it on a board or in a
 * container runs more threads than it has cores, and every layer waits
 * for the descheduled one. */
#ifndef YOLOSWITCH_YOLO_CPUS_H
#define YOLOSWITCH_YOLO_CPUS_H

/* At least 1. */
int yolo_usable_cores (void);

/* The cgroup v2 `cpu.max` text ("max 100000", "150000 100000") as cores,
 * rounded up; 0 when there is no limit or the text is not understood.
 * Separate for the tests. */
int yolo_cgroup_quota_cores (const char *cpu_max);

#endif
