/* yoloswitch-split-packet MODEL IMAGE CUT OUT [BITS]: what a device sends
 * for a split frame, for the tests of the server's side (test_edge_split.py):
 * runs layers [0, CUT) of MODEL (the fast engine) on IMAGE (a JPEG, looked
 * up as test_images.h says), writes the 8-bit (or BITS) per-channel packet
 * (offload/tensor_packet.h) to OUT, and prints one JSON line: the image's
 * size, the model's layer count and hash, the packet's bytes, the
 * handover's float count (what the server dequantizes into), and the
 * unsplit model's detections, normalized to the image, to compare the
 * server's RESULT with. */
#include "split_codec.h"
#include "test_images.h"
#include "yolo.h"

#include <stdio.h>
#include <stdlib.h>

static int
fail (const char *what, const char *why)
{
  fprintf (stderr, "yoloswitch-split-packet: %s: %s\n", what, why);
  return 1;
}

int
main (int argc, char **argv)
{
  YoloModelSpec spec = { 0 };
  YsSplitOptions options = { 8, true, YS_SPLIT_RANGE_MINMAX, 0 };
  YoloInferOptions infer;
  YoloHandover head;
  YoloDetections full;
  YoloStatus status;
  YoloModel *model;
  YoloInput *input;
  TestImage *image;
  uint8_t *packet;
  size_t len, floats = 0;
  char error[512];
  FILE *out;
  int cut;

  if (argc < 5) {
    fprintf (stderr, "usage: %s MODEL IMAGE CUT OUT [BITS]\n", argv[0]);
    return 2;
  }
  cut = atoi (argv[3]);
  if (argc > 5)
    options.bits = atoi (argv[5]);
  spec.name = argv[1];
  spec.model_dir = test_models_dir ();
  spec.threads = 1;
  if ((model = yolo_model_open (&spec, &status)) == NULL)
    return fail (argv[1], status.message);
  if ((image = test_image_load (argv[2], 1.0, YOLO_PIXEL_RGB, 0)) == NULL)
    return fail (argv[2], "cannot load the image");
  if (!yolo_model_hash (model, &options.model_hash, &status))
    return fail ("model hash", status.message);
  input = yolo_input_new (model);
  yolo_infer_options_init (&infer);
  yolo_handover_init (&head);
  yolo_detections_init (&full);
  if (!yolo_input_fill (input, &image->frame, false, &status)
      || !yolo_model_run (model, input, &infer, &full, &status)
      || !yolo_model_run_layers (model, 0, cut, input, NULL, NULL, &head, NULL,
          &status))
    return fail ("head", status.message);
  if (!ys_split_encode (&head, &options, &packet, &len, error, sizeof error))
    return fail ("packet", error);
  if ((out = fopen (argv[4], "wb")) == NULL
      || fwrite (packet, 1, len, out) != len || fclose (out) != 0)
    return fail (argv[4], "cannot write the packet");

  for (size_t i = 0; i < head.count; i++)
    floats
        += (size_t) head.tensors[i].c * head.tensors[i].h * head.tensors[i].w;
  printf ("{\"width\": %d, \"height\": %d, \"layers\": %d, "
          "\"hash\": \"%016llx\", \"bytes\": %zu, \"floats\": %zu, "
          "\"detections\": [",
      image->frame.width, image->frame.height, yolo_model_layer_count (model),
      (unsigned long long) options.model_hash, len, floats);
  for (size_t i = 0; i < full.count; i++) {
    const YoloDetection *d = &full.items[i];
    printf ("%s{\"class_id\": %d, \"confidence\": %.6f, \"x\": %.6f, "
            "\"y\": %.6f, \"w\": %.6f, \"h\": %.6f}",
        i > 0 ? ", " : "", d->class_id, d->confidence,
        d->x / image->frame.width, d->y / image->frame.height,
        d->w / image->frame.width, d->h / image->frame.height);
  }
  printf ("]}\n");
  free (packet);
  yolo_handover_free (&head);
  yolo_detections_free (&full);
  yolo_input_free (input);
  test_image_free (image);
  yolo_model_close (model);
  return 0;
}
