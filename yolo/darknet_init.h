/* See darknet_init.c: why and how Darknet's random init is skipped. */
#pragma once

#include <stdbool.h>

/* While set on this thread, Darknet's rand_normal() returns 0 at once. */
void yolo_darknet_skip_random_init (bool skip);
