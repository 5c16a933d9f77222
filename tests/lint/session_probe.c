/* Links the offload session and nothing else, so check-layering.sh can
 * see what it pulls in: offload/ must not need Darknet or OpenBLAS. */
#include "session.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  YsSessionOptions o = { 0 };
  const char *error = NULL;

  /* Never run with arguments by the check; the call makes the linker keep
   * the whole session (encoder, client, estimator). */
  if (argc > 99) {
    YsSession *s = ys_session_new (&o, &error);
    ys_session_free (s);
  }
  puts ("ok");
  return 0;
}
