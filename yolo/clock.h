/* The one clock every timing in yoloswitch is taken with (monotonic), and
 * the median the tools report timings by. */
#ifndef YOLOSWITCH_YOLO_CLOCK_H
#define YOLOSWITCH_YOLO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic clock in milliseconds, for the timings reported above. */
double yolo_now_ms (void);

/* The same clock in microseconds (g_get_monotonic_time's). */
int64_t yolo_now_us (void);

/* Median of n timings (0 when n is 0); sorts values in place, so callers
 * can read other percentiles from it afterwards. */
double yolo_median (double *values, size_t n);

#ifdef __cplusplus
}
#endif
#endif
