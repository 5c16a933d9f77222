/* A split-inference FRAME's tensor packet (offload/tensor_packet.c) from
 * arbitrary bytes.  Beyond memory safety:
 *
 * - an accepted packet encodes back to the same bytes (its reserved field
 *   as 0), so the parser and the encoder read one format;
 * - every accepted tensor dequantizes (reading exactly its codes, under
 *   ASan) to finite values inside its range;
 * - a refusal always says why. */
#include "fuzz.h"

#include "tensor_packet.h"

#include <math.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

static YoloQuantRange ranges[YS_TENSOR_MAX_RANGES];

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  YsTensorPacket p;
  char error[256] = "";
  uint8_t *again, *canonical;
  float *values;

  /* Deep enough to cover every field, small enough to keep runs quick. */
  if (size > (1u << 20))
    return 0;

  if (!ys_tensor_packet_parse (data, size, &p, ranges, error, sizeof error)) {
    FUZZ_CHECK (error[0] != '\0');
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", error);
    return 0;
  }
  if (fuzz_verbose ())
    fprintf (stderr, "accepted: %u tensors, cut %u\n", p.count, p.cut);
  FUZZ_CHECK (ys_tensor_packet_size (&p) == size);
  again = malloc (size);
  canonical = malloc (size);
  memcpy (canonical, data, size);
  canonical[6] = canonical[7] = 0;
  FUZZ_CHECK (ys_tensor_packet_encode (&p, again) == size);
  FUZZ_CHECK (memcmp (again, canonical, size) == 0);
  for (int i = 0; i < p.count; i++) {
    const YsTensor *t = &p.tensors[i];
    size_t plane = (size_t) t->h * t->w, n = plane * t->c;
    values = malloc (n * sizeof (float));
    yolo_dequantize_planes (t->codes, t->c, plane, t->ranges,
        p.flags & YS_TENSOR_PER_CHANNEL, p.bits, values);
    for (size_t k = 0; k < n; k++)
      FUZZ_CHECK (isfinite (values[k]));
    free (values);
  }
  free (again);
  free (canonical);
  return 0;
}
