/* yoloswitch-quantize: writes a model's weights as 8-bit (weights_q8.h),
 * for storage and downloads; the loader reads either file.  Prints one JSON
 * line: the model, the float and 8-bit sizes and their ratio. */
#include "cfg.h"
#include "weights_q8.h"
#include "yolo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static void
usage (FILE *out)
{
  fprintf (out,
      "Usage: yoloswitch-quantize [--model NAME [--model-dir D] | --cfg F "
      "--weights F] --out F\n"
      "Writes the model's weights as int8 with one scale per output channel "
      "(batch norm\n"
      "folded in, zstd, SHA-256 trailer).  Any model option that takes a "
      "weights file\n"
      "takes the result (weights= on the elements); where only a model "
      "name is given,\n"
      "an 8-bit file in place of NAME.weights is read the same.\n");
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "model", required_argument, NULL, 'm' },
    { "model-dir", required_argument, NULL, 'd' },
    { "cfg", required_argument, NULL, 'c' },
    { "weights", required_argument, NULL, 'w' },
    { "out", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  YoloModelSpec spec = { 0 };
  YoloModelFiles files;
  YoloStatus status;
  CfgNetwork cfg = { 0 };
  const char *out = NULL;
  struct stat st;
  size_t bytes = 0;
  int opt;

  while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
      case 'm': spec.name = optarg; break;
      case 'd': spec.model_dir = optarg; break;
      case 'c': spec.cfg_path = optarg; break;
      case 'w': spec.weights_path = optarg; break;
      case 'o': out = optarg; break;
      case 'h': usage (stdout); return 0;
      default: usage (stderr); return 2;
    }
  }
  if (out == NULL || optind != argc
      || (spec.name == NULL && spec.cfg_path == NULL)) {
    usage (stderr);
    return 2;
  }
  if (spec.name == NULL)
    spec.labels_path = "-"; /* not read: only cfg and weights are */
  if (!yolo_model_resolve (&spec, &files, &status)
      || !cfg_network_load (files.cfg_path, &cfg, &status)
      || !yolo_q8_quantize (&cfg, files.weights_path, out, &bytes, &status)
      || stat (files.weights_path, &st) != 0) {
    fprintf (stderr, "yoloswitch-quantize: %s\n", status.message);
    cfg_network_clear (&cfg);
    return 1;
  }
  printf ("{\"model\":\"%s\",\"float_bytes\":%lld,\"q8_bytes\":%zu,"
          "\"ratio\":%.4f,\"out\":\"%s\"}\n",
      files.name, (long long) st.st_size, bytes,
      (double) bytes / (double) st.st_size, out);
  cfg_network_clear (&cfg);
  return 0;
}
