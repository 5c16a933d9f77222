/* Runtime choice of the kernels table (cpu.h).  meson.build defines
 * NN_HAVE_<ISA> for each table it compiled for this architecture. */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#endif

#ifdef NN_HAVE_AVX512
extern const NnKernels nn_kernels_avx512;
#endif
#ifdef NN_HAVE_AVX2
extern const NnKernels nn_kernels_avx2;
#endif
#ifdef NN_HAVE_SSE4
extern const NnKernels nn_kernels_sse4;
#endif
#ifdef NN_HAVE_NEON
extern const NnKernels nn_kernels_neon;
#endif
extern const NnKernels nn_kernels_generic;

static const NnKernels *const compiled[] = {
#ifdef NN_HAVE_AVX512
  &nn_kernels_avx512,
#endif
#ifdef NN_HAVE_AVX2
  &nn_kernels_avx2,
#endif
#ifdef NN_HAVE_SSE4
  &nn_kernels_sse4,
#endif
#ifdef NN_HAVE_NEON
  &nn_kernels_neon,
#endif
  &nn_kernels_generic,
};

#define N_COMPILED (int) (sizeof compiled / sizeof compiled[0])

int
nn_kernels_compiled (const NnKernels **list, int max)
{
  int n = 0;
  for (int i = 0; i < N_COMPILED && n < max; i++)
    list[n++] = compiled[i];
  return n;
}

bool
nn_kernels_runnable (const NnKernels *k)
{
  const char *n = k->name;
  if (strcmp (n, "generic") == 0)
    return true;
#if defined(__x86_64__) || defined(__i386__)
  /* libgcc's answer includes the OS's (XGETBV): AVX state saved on
   * context switches, not only the CPUID bits. */
  __builtin_cpu_init ();
  if (strcmp (n, "avx512") == 0)
    return __builtin_cpu_supports ("avx512f")
        && __builtin_cpu_supports ("avx512vl")
        && __builtin_cpu_supports ("fma");
  if (strcmp (n, "avx2") == 0)
    return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  if (strcmp (n, "sse4") == 0)
    return __builtin_cpu_supports ("sse4.1");
#endif
#if defined(__aarch64__)
  if (strcmp (n, "neon") == 0) {
#if defined(__linux__)
    return (getauxval (AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
    return true; /* Advanced SIMD is part of the AArch64 baseline */
#endif
  }
#endif
  return false;
}

int
nn_kernels_available (const NnKernels **list, int max)
{
  int n = 0;
  for (int i = 0; i < N_COMPILED && n < max; i++)
    if (nn_kernels_runnable (compiled[i]))
      list[n++] = compiled[i];
  return n;
}

const NnKernels *
nn_kernels_by_name (const char *name, char *err, size_t err_len)
{
  for (int i = 0; i < N_COMPILED; i++) {
    if (strcmp (compiled[i]->name, name) != 0)
      continue;
    if (nn_kernels_runnable (compiled[i]))
      return compiled[i];
    snprintf (err, err_len,
        "This CPU cannot run the %s kernels: unset YOLOSWITCH_ISA or pick "
        "one it has",
        name);
    return NULL;
  }
  {
    size_t used = (size_t) snprintf (err, err_len,
        "Unknown ISA '%s': this build has", name);
    for (int i = 0; i < N_COMPILED && used < err_len; i++)
      used += (size_t) snprintf (err + used, err_len - used, " %s",
          compiled[i]->name);
  }
  return NULL;
}

const NnKernels *
nn_kernels_select (char *err, size_t err_len)
{
  const char *forced = getenv ("YOLOSWITCH_ISA");
  if (forced && *forced)
    return nn_kernels_by_name (forced, err, err_len);
  for (int i = 0; i < N_COMPILED; i++)
    if (nn_kernels_runnable (compiled[i]))
      return compiled[i];
  return &nn_kernels_generic; /* unreachable: generic always runs */
}
