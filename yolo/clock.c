/* Timings; see clock.h. */
#include "clock.h"

#include <stdlib.h>
#include <time.h>

double
yolo_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int64_t
yolo_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

double
yolo_median (double *values, size_t n)
{
  if (n == 0)
    return 0;
  qsort (values, n, sizeof (double), compare_double);
  return values[n / 2];
}
