/* yoloswitch-random-weights CFG OUT [SEED]: writes well-scaled random
 * weights for a Darknet cfg, for timing models whose real weights cannot be
 * downloaded here (bench/engines.py uses it for yolov3-tiny). */
#include <stdio.h>
#include <stdlib.h>

#include "random_weights.h"

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: %s CFG OUT [SEED]\n", argv[0]);
    return 2;
  }
  return test_write_random_weights (argv[1], argv[2],
             argc > 3 ? (guint32) strtoul (argv[3], NULL, 10) : 1234)
      ? 0
      : 1;
}
