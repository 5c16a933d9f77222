/* yoloswitch-edge's key file (offload/edge_config.c, --config FILE) on
 * arbitrary bytes.  A config file is written by an operator, but it is
 * also what a deployment tool templates from other inputs: a wrong one
 * must be refused with a sentence, never crash the server or start it
 * with values outside the documented ranges.
 *
 * The harness writes one token file, /tmp/yoloswitch-fuzz-token.txt, for
 * token-file= to find; inputs naming /dev, /proc or /sys are skipped (a
 * token-file of /dev/zero would only measure the machine's memory, one of
 * /dev/stdin would wait). */
#include "fuzz.h"

#include "edge_config.h"

#include <stdbool.h>
#include <string.h>

static FuzzFile input;

/* In the dictionary and the seeds; a fixed path so that they can name it. */
#define TOKEN_FILE "/tmp/yoloswitch-fuzz-token.txt"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  FUZZ_CHECK (g_file_set_contents (TOKEN_FILE, "s3cret\n", -1, NULL));
  fuzz_file_open (&input, "fuzz-edge-config");
  return 0;
}

static bool
names_device (const uint8_t *data, size_t size)
{
  static const char *const roots[] = { "/dev", "/proc", "/sys" };

  for (size_t k = 0; k < G_N_ELEMENTS (roots); k++) {
    size_t n = strlen (roots[k]);
    for (size_t i = 0; i + n <= size; i++)
      if (memcmp (data + i, roots[k], n) == 0)
        return true;
  }
  return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *args[] = { "yoloswitch-edge", "--config", input.path, NULL };
  char **argv = args;
  int argc = 3;
  EdgeConfig config;
  GError *error = NULL;

  if (names_device (data, size))
    return 0;
  fuzz_file_set (&input, data, size);
  if (!edge_config_parse (&config, &argc, &argv, &error)) {
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", error->message);
    FUZZ_CHECK (error != NULL && error->message[0] != '\0');
    g_error_free (error);
    edge_config_clear (&config);
    return 0;
  }
  if (fuzz_verbose ())
    fprintf (stderr, "accepted: port %d, %d workers\n", config.port,
        config.workers);
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (config.address != NULL && config.name != NULL);
  FUZZ_CHECK (config.port >= 0 && config.port <= 65535);
  FUZZ_CHECK (config.workers >= 1 && config.threads >= 1);
  FUZZ_CHECK (config.queue_depth >= 1 && config.max_clients >= 1);
  edge_config_clear (&config);
  return 0;
}
