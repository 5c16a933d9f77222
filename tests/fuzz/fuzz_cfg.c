/* The model cfg checker (yolo/cfg.h) on arbitrary files: it runs in every
 * process that opens a model (the edge server, yolodetect, the CLI), before
 * Darknet sees the file, so whatever it accepts must be safe for Darknet
 * and whatever it refuses must be refused with a sentence.  Checked beyond
 * "does not crash":
 *
 *  - a refusal carries a message;
 *  - an accepted network is consistent: every layer's output is non-empty,
 *    the weight count is the sum of the layers', and each layer's input is
 *    the previous layer's output;
 *  - the text handed to Darknet (darknet_text) is itself accepted, with
 *    the same layers: what Darknet parses is what we checked;
 *  - the same cfg at another input size (multiples of 32) keeps its
 *    weights unless it has a [connected] layer (the only one whose weights
 *    depend on the input size). */
#include "fuzz.h"

#include "cfg.h"

#include <string.h>

static FuzzFile input, rewritten;

static void
check_network (const CfgNetwork *net)
{
  size_t floats = 0;

  FUZZ_CHECK (net->layer_count >= 1 && net->layers != NULL);
  FUZZ_CHECK (net->classes >= 1);
  FUZZ_CHECK (net->darknet_text != NULL);
  for (int i = 0; i < net->layer_count; i++) {
    const CfgLayer *l = &net->layers[i];
    FUZZ_CHECK (l->out_c >= 1 && l->out_h >= 1 && l->out_w >= 1);
    if (i > 0) {
      const CfgLayer *prev = &net->layers[i - 1];
      FUZZ_CHECK (l->in_c == prev->out_c && l->in_h == prev->out_h
          && l->in_w == prev->out_w);
    }
    floats += l->weight_floats;
  }
  FUZZ_CHECK (floats == net->weight_floats);
  FUZZ_CHECK (cfg_weights_bytes (net, 0, 2) >= net->weight_floats);
}

static void
check_same_layers (const CfgNetwork *a, const CfgNetwork *b)
{
  FUZZ_CHECK (a->layer_count == b->layer_count);
  FUZZ_CHECK (a->weight_floats == b->weight_floats);
  FUZZ_CHECK (a->classes == b->classes);
  for (int i = 0; i < a->layer_count; i++) {
    const CfgLayer *x = &a->layers[i], *y = &b->layers[i];
    FUZZ_CHECK (x->type == y->type && x->weight_floats == y->weight_floats);
  }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_file_open (&input, "fuzz-cfg");
  fuzz_file_open (&rewritten, "fuzz-cfg-darknet");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  CfgNetwork net, again, sized;
  YoloStatus status;

  memset (&status, 0, sizeof (status));
  fuzz_file_set (&input, data, size);
  if (!cfg_network_load (input.path, &net, &status)) {
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", status.message);
    FUZZ_CHECK (status.message[0] != '\0');
    return 0;
  }
  if (fuzz_verbose ())
    fprintf (stderr, "accepted: %d layers, %zu weights, %d classes\n",
        net.layer_count, net.weight_floats, net.classes);
  check_network (&net);

  fuzz_file_set (&rewritten, (const uint8_t *) net.darknet_text,
      strlen (net.darknet_text));
  memset (&status, 0, sizeof (status));
  if (!cfg_network_load (rewritten.path, &again, &status)) {
    fprintf (stderr, "accepted cfg, refused darknet_text: %s\n",
        status.message);
    FUZZ_CHECK (!"darknet_text refused");
  }
  check_same_layers (&net, &again);
  cfg_network_clear (&again);

  /* Another input size: shapes may stop fitting (a refusal), weights may
   * not change. */
  memset (&status, 0, sizeof (status));
  if (cfg_network_load_sized (input.path, 64, 96, &sized, &status)) {
    bool connected = false;
    check_network (&sized);
    for (int i = 0; i < net.layer_count; i++)
      connected |= net.layers[i].type == CFG_LAYER_CONNECTED;
    FUZZ_CHECK (connected || sized.weight_floats == net.weight_floats);
    cfg_network_clear (&sized);
  } else {
    FUZZ_CHECK (status.message[0] != '\0');
  }
  cfg_network_clear (&net);
  return 0;
}
