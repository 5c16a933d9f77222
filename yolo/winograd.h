/* Internal: 3x3 stride-1 convolutions by Winograd F(2x2, 3x3); see
 * winograd.c for why and how. */
#ifndef YOLOSWITCH_YOLO_WINOGRAD_H
#define YOLOSWITCH_YOLO_WINOGRAD_H

#include "threadpool.h"

#include <darknet.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether layer l (a convolution) is one this path runs, and faster. */
bool winograd_suits (const layer *l);

/* The filters, folded weights [n][c][3][3], transformed once: returns
 * [16][n][c] (free() it), or NULL when memory runs out. */
float *winograd_pack_filters (const float *weights, int n, int c);

/* Scratch floats winograd_conv needs for l. */
size_t winograd_scratch_floats (const layer *l);

/* l->output = act(conv(input) + bias), as Darknet's forward would. */
void winograd_conv (YoloPool *pool, const layer *l, const float *u,
    const float *bias, const float *input, float *scratch);

#endif
