/* Skipping Darknet's random weight initialisation while we load a model.
 *
 * Darknet's cfg parser fills every new convolution weight with rand_normal()
 * (Box-Muller: a log, a sqrt and a cosine each) before load_weights()
 * overwrites them all from the file.  For yolo-fastest-1.1-xl that is about
 * a million calls, half of a cold load.  libdarknet calls rand_normal()
 * through its PLT, so the definition below, which the dynamic linker finds
 * before Darknet's own, takes its place.  Outside our loads it forwards to
 * Darknet's, so anything else in the process that trains or initialises a
 * network gets the usual random numbers. */
#include "darknet_init.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

/* Loads run one at a time under model.c's lock, but a second thread may call
 * rand_normal() for its own reasons meanwhile: the flag is per thread. */
static _Thread_local bool skip_random_init;

void
yolo_darknet_skip_random_init (bool skip)
{
  skip_random_init = skip;
}

typedef float (*RandNormalFn) (void);

/* Darknet's own prototype lives in its private utils.h. */
float rand_normal (void);

__attribute__ ((visibility ("default"))) float
rand_normal (void)
{
  /* Looked up once; racing threads store the same pointer. */
  static RandNormalFn darknet_rand_normal;
  RandNormalFn fn;

  if (skip_random_init)
    return 0.0f;
  fn = __atomic_load_n (&darknet_rand_normal, __ATOMIC_ACQUIRE);
  if (fn == NULL) {
    fn = (RandNormalFn) dlsym (RTLD_NEXT, "rand_normal");
    __atomic_store_n (&darknet_rand_normal, fn, __ATOMIC_RELEASE);
  }
  return fn != NULL ? fn () : 0.0f;
}
