/* Internal: the inner loops of the fast engine, written so the compiler
 * vectorizes them.  On x86-64 each also has an AVX2 clone picked at load
 * time (GCC/Clang target_clones), so one binary runs everywhere and uses
 * 8-wide vectors where the CPU has them; other architectures (aarch64:
 * NEON is baseline) build the plain C. */
#ifndef YOLOSWITCH_YOLO_KERNELS_H
#define YOLOSWITCH_YOLO_KERNELS_H

#include <darknet.h>

/* x[i] = act(x[i] + bias) for i < n, with Darknet's activation formulas. */
void kernel_bias_activate (float *x, int n, float bias, ACTIVATION act);

/* out (oh x ow) = act(bias + depthwise size x size filter k, stride s) over
 * a zero-padded plane pad, pw floats wide. */
void kernel_depthwise_plane (const float *pad, int pw, const float *k, int size,
    int s, float *out, int oh, int ow, float bias, ACTIVATION act);

/* out[ox] = max over the size x size window at input column ox*s + off of
 * the size rows starting at `rows` (w floats each), for ox in [lo, hi):
 * every window must lie inside the input. */
void kernel_maxpool_row (const float *rows, int w, int size, int s, int off,
    float *out, int lo, int hi);

/* out[i] = act(a * x[i] + b * y[i]) for i < n: Darknet's shortcut. */
void kernel_shortcut (const float *x, const float *y, float a, float b,
    float *out, int n, ACTIVATION act);

#endif
