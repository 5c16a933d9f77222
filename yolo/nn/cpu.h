/* Which nn kernels table (kernels.h) this process runs: chosen by what the
 * CPU can do (cpuid through __builtin_cpu_supports on x86-64, AT_HWCAP on
 * AArch64), never by its model name or by what some library recognises. */
#ifndef YOLOSWITCH_NN_CPU_H
#define YOLOSWITCH_NN_CPU_H

#include "kernels.h"

#include <stdbool.h>
#include <stddef.h>

/* Tables this build has, best first, whether the CPU can run them or not
 * (benchmarks list the ones they skip).  Returns how many (at most max). */
int nn_kernels_compiled (const NnKernels **list, int max);
/* Whether this CPU (and OS) can run the table's instructions. */
bool nn_kernels_runnable (const NnKernels *k);
/* The runnable ones, best first: what tests loop over. */
int nn_kernels_available (const NnKernels **list, int max);

/* The table named name ("avx512", "avx2", "sse4", "neon", "generic");
 * NULL with a message in err when this build has none by that name or
 * the CPU cannot run it. */
const NnKernels *nn_kernels_by_name (const char *name, char *err,
    size_t err_len);
/* The table to use: YOLOSWITCH_ISA's when set (NULL with a message when
 * it cannot be honoured: an override that silently fell back would make a
 * benchmark measure something else), else the best runnable one. */
const NnKernels *nn_kernels_select (char *err, size_t err_len);

#endif
