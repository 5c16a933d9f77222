/* Internal: filling a YoloStatus. */
#ifndef YOLOSWITCH_YOLO_STATUS_H
#define YOLOSWITCH_YOLO_STATUS_H

#include "yolo.h"

#if defined(__GNUC__)
#define YOLO_PRINTF(fmt, args) __attribute__ ((format (printf, fmt, args)))
#else
#define YOLO_PRINTF(fmt, args)
#endif

/* Sets code and message (status may be NULL); always returns false so
 * callers can write `return yolo_fail (...)`. */
bool yolo_fail (YoloStatus *status, YoloError code, const char *fmt, ...)
    YOLO_PRINTF (3, 4);
void yolo_status_ok (YoloStatus *status);

#endif
