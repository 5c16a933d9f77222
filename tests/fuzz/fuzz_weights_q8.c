/* An 8-bit weights file (yolo/weights_q8.c's yolo_q8_decode) from arbitrary
 * bytes, against a fixed two-convolution cfg (the one make_seeds.py's
 * weights_q8 seeds are written for).  The first byte chooses the framing:
 * even, the rest gets its correct SHA-256 appended by the harness, so the
 * fuzzer explores what lies behind the checksum (no input could forge it);
 * odd, the rest is taken as it is.  Beyond memory safety:
 *
 * - an accepted file expands to exactly the float file the cfg needs
 *   (every byte read, under ASan), its Darknet header the file's own;
 * - a refusal always says why and hands nothing out. */
#include "fuzz.h"

#include "cfg.h"
#include "weights_q8.h"

#include <glib.h>
#include <string.h>

static const char cfg_text[] = "[net]\nwidth=8\nheight=8\nchannels=3\n"
                               "[convolutional]\nbatch_normalize=1\nfilters=4\n"
                               "size=3\nstride=1\npad=1\nactivation=leaky\n"
                               "[convolutional]\nfilters=18\nsize=1\nstride=1\n"
                               "pad=1\nactivation=linear\n"
                               "[yolo]\nmask=0,1,2\nanchors=1,1, 2,2, 3,3\n"
                               "classes=1\nnum=3\n";
static CfgNetwork cfg;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  YoloStatus status;

  (void) argc;
  (void) argv;
  if (!cfg_network_parse ("fuzz.cfg", cfg_text, sizeof cfg_text - 1, 0, 0, &cfg,
          &status)) {
    fprintf (stderr, "fuzz_weights_q8: %s\n", status.message);
    abort ();
  }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t *input, *out = NULL;
  size_t len, out_len = 0;
  char error[256] = "";
  bool ok;

  if (size < 1 || size > (1u << 16))
    return 0;
  if (cfg.layer_count == 0)
    LLVMFuzzerInitialize (NULL, NULL);
  len = size - 1;
  input = malloc (len + 32);
  memcpy (input, data + 1, len);
  if ((data[0] & 1) == 0) {
    GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
    gsize n = 32;
    g_checksum_update (c, input, (gssize) len);
    g_checksum_get_digest (c, input + len, &n);
    g_checksum_free (c);
    len += 32;
  }
  ok = yolo_q8_decode (input, len, &cfg, &out, &out_len, error, sizeof error);
  if (!ok) {
    FUZZ_CHECK (error[0] != '\0' && out == NULL && out_len == 0);
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", error);
  } else {
    int32_t major, minor;
    memcpy (&major, out, 4);
    memcpy (&minor, out + 4, 4);
    if (fuzz_verbose ())
      fprintf (stderr, "accepted: %zu bytes\n", out_len);
    FUZZ_CHECK (out_len == cfg_weights_bytes (&cfg, major, minor));
    /* read every byte (ASan); volatile, so the loop stays */
    {
      volatile unsigned sum = 0;
      for (size_t i = 0; i < out_len; i++)
        sum += out[i];
    }
    FUZZ_CHECK (memcmp (out, input + 24, 16) == 0);
  }
  free (out);
  free (input);
  return 0;
}
