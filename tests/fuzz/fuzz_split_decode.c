/* A split FRAME's packet as the server takes it (offload/split_codec.c's
 * ys_split_decode), plain or zstd-compressed (offload/split_zstd.c), from
 * arbitrary bytes, against a fixed two-tensor handover at cut 12 (the one
 * make_seeds.py's split_decode seeds are cut from).  Beyond memory safety:
 *
 * - an accepted packet yields exactly the layout's tensors, every value
 *   finite (the dequantized codes, read in full under ASan);
 * - a refusal always says why and leaves no tensors behind;
 * - nothing is decompressed beyond the layout's own size (ASan's heap
 *   checks and the unpacker's exact-size buffer). */
#include "fuzz.h"

#include "split_codec.h"

#include <math.h>
#include <string.h>

#define HASH 0x0123456789ABCDEFull

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  YoloTensor want[2] = { { 3, 2, 3, 3, NULL }, { 9, 3, 2, 2, NULL } };
  YoloHandover layout, out;
  YsSplitFault fault;
  char error[256] = "";

  if (size > (1u << 16))
    return 0;
  yolo_handover_init (&layout);
  layout.cut = 12;
  layout.count = 2;
  layout.tensors = want;
  yolo_handover_init (&out);
  if (!ys_split_decode (data, size, &layout, HASH, 640, 480, &out, &fault,
          error, sizeof error)) {
    FUZZ_CHECK (error[0] != '\0');
    FUZZ_CHECK (out.count == 0 && fault != YS_SPLIT_FAULT_NONE);
    if (fuzz_verbose ())
      fprintf (stderr, "refused: %s\n", error);
    return 0;
  }
  if (fuzz_verbose ())
    fprintf (stderr, "accepted: %zu tensors\n", out.count);
  FUZZ_CHECK (out.count == 2 && out.cut == 12);
  for (size_t i = 0; i < out.count; i++) {
    const YoloTensor *t = &out.tensors[i];
    FUZZ_CHECK (t->layer == want[i].layer && t->c == want[i].c
        && t->h == want[i].h && t->w == want[i].w);
    for (int k = 0; k < t->c * t->h * t->w; k++)
      FUZZ_CHECK (isfinite (t->data[k]));
  }
  yolo_handover_free (&out);
  return 0;
}
