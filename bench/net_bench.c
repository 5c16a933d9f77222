/* Times yolo/nn's whole network (net.h) on a model: the median of --reps
 * full runs, then each layer run alone (nn_net_forward over one layer, in
 * order) summed per implementation ("conv1x1_packed", "conv_gemm"...),
 * and the process's peak RSS.  Random input in [0, 1): the speed does not
 * depend on the values.
 *
 *   yoloswitch-net-bench [--threads N] [--reps N] [--isa NAME|plain] [--cpu]
 *       model.cfg model.weights [width height]
 *
 * --isa sets YOLOSWITCH_ISA (the kernels table; plain: no kernels).  --cpu
 * times the process's CPU time instead of the wall clock: on a machine
 * other jobs share, the wall clock counts their time slices too (with more
 * than one thread it sums the threads').  Not a test: figures from a busy
 * machine are indications only. */
#include "cfg.h"
#include "net.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_KINDS 32

typedef struct {
  const char *name;
  double *ms; /* per rep */
} Kind;

static clockid_t clock_id = CLOCK_MONOTONIC;

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (clock_id, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
usage (void)
{
  fprintf (stderr,
      "usage: yoloswitch-net-bench [--threads N] [--reps N] "
      "[--isa NAME|plain] [--cpu] model.cfg model.weights [width "
      "height]\n");
  return 2;
}

int
main (int argc, char **argv)
{
  int threads = 1, reps = 15, argi = 1, width = 0, height = 0, n, kinds = 0;
  CfgNetwork cfg;
  YoloStatus status;
  NnNet *net;
  NnNetBytes bytes;
  Kind kind[MAX_KINDS];
  double *full, load_ms;
  float *input;
  size_t in_floats;
  struct rusage ru;

  for (; argi < argc && strncmp (argv[argi], "--", 2) == 0; argi += 2) {
    if (strcmp (argv[argi], "--cpu") == 0) {
      clock_id = CLOCK_PROCESS_CPUTIME_ID;
      argi--;
      continue;
    }
    if (argi + 1 >= argc)
      return usage ();
    if (strcmp (argv[argi], "--threads") == 0)
      threads = atoi (argv[argi + 1]);
    else if (strcmp (argv[argi], "--reps") == 0)
      reps = atoi (argv[argi + 1]);
    else if (strcmp (argv[argi], "--isa") == 0)
      setenv ("YOLOSWITCH_ISA", argv[argi + 1], 1);
    else
      return usage ();
  }
  if (argc - argi != 2 && argc - argi != 4)
    return usage ();
  if (argc - argi == 4) {
    width = atoi (argv[argi + 2]);
    height = atoi (argv[argi + 3]);
  }
  if (reps < 1)
    reps = 1;
  if (!(width > 0 ? cfg_network_load_sized (argv[argi], width, height, &cfg,
            &status)
                  : cfg_network_load (argv[argi], &cfg, &status))) {
    fprintf (stderr, "%s\n", status.message);
    return 1;
  }
  load_ms = now_ms ();
  net = nn_net_new (&cfg, argv[argi + 1], threads, false, &status);
  load_ms = now_ms () - load_ms;
  if (net == NULL) {
    fprintf (stderr, "%s\n", status.message);
    return 1;
  }
  n = nn_net_layer_count (net);
  in_floats = (size_t) cfg.channels * cfg.width * cfg.height;
  input = malloc (sizeof (float) * in_floats);
  full = calloc ((size_t) reps, sizeof (double));
  srand (1);
  for (size_t i = 0; i < in_floats; i++)
    input[i] = (float) rand () / ((float) RAND_MAX + 1);

  /* Warm-up, then whole runs. */
  nn_net_forward (net, 0, n, input, &status);
  for (int r = 0; r < reps; r++) {
    double t = now_ms ();
    if (!nn_net_forward (net, 0, n, input, &status)) {
      fprintf (stderr, "%s\n", status.message);
      return 1;
    }
    full[r] = now_ms () - t;
  }
  /* Layer by layer, summed per implementation. */
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < kinds; k++)
      kind[k].ms[r] = 0;
    for (int l = 0; l < n; l++) {
      const char *name = nn_net_layer_impl (net, l);
      int k = 0;
      double t;
      while (k < kinds && strcmp (kind[k].name, name) != 0)
        k++;
      if (k == kinds) {
        if (kinds == MAX_KINDS)
          return 1;
        kind[k].name = name;
        kind[k].ms = calloc ((size_t) reps, sizeof (double));
        kinds++;
      }
      t = now_ms ();
      nn_net_forward (net, l, l + 1, l == 0 ? input : NULL, &status);
      kind[k].ms[r] += now_ms () - t;
    }
  }
  nn_net_bytes (net, &bytes);
  getrusage (RUSAGE_SELF, &ru);
  printf ("%s %dx%d, kernels %s, %d thread(s), %d reps, %s time\n", argv[argi],
      cfg.width, cfg.height, nn_net_isa (net), threads, reps,
      clock_id == CLOCK_MONOTONIC ? "wall" : "CPU");
  {
    double med = median (full, reps); /* sorts full */
    printf ("  total              %8.2f ms median (min %.2f, max %.2f)\n", med,
        full[0], full[reps - 1]);
  }
  for (int k = 0; k < kinds; k++)
    printf ("  %-18s %8.2f ms\n", kind[k].name, median (kind[k].ms, reps));
  printf ("  load %.1f ms; arena %.2f MB, workspace %.2f MB, weights %.2f MB; "
          "peak RSS %.1f MB\n",
      load_ms, bytes.arena_bytes / 1e6, bytes.workspace_bytes / 1e6,
      bytes.weight_bytes / 1e6, ru.ru_maxrss / 1024.0);
  nn_net_free (net);
  cfg_network_clear (&cfg);
  free (input);
  free (full);
  for (int k = 0; k < kinds; k++)
    free (kind[k].ms);
  return 0;
}
